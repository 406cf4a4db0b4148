# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""MONAI's own exports of the bundles' networks: ``ckpt_export`` (TorchScript) for every bundle and
``onnx_export`` for the 2D ones, each checked against the eager network's logits."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO_ROOT

# bundle -> (network, input shape of the check)
NETWORKS = {
    "adamix_acdc": (lambda: _unet(1, 4), (1, 1, 64, 64)),
    "adamix_isic": (lambda: _unet(3, 2), (1, 3, 64, 64)),
    "adamix_la": (lambda: _vnet(), (1, 1, 16, 32, 32)),
}


def _unet(channels: int, classes: int) -> torch.nn.Module:
    from adamix_monai.networks import AdaMixUNet

    return AdaMixUNet(2, channels, classes)


def _vnet() -> torch.nn.Module:
    from adamix_monai.networks import AdaMixVNet

    return AdaMixVNet(in_channels=1, out_channels=2)


def _export(command: str, bundle: str, tmp_path, *extra: str) -> subprocess.CompletedProcess:
    folder = REPO_ROOT / "bundles" / bundle
    return subprocess.run(
        [sys.executable, "-m", "monai.bundle", command, "network_def", "--ckpt_file", str(tmp_path / "model.pt"),
         "--meta_file", str(folder / "configs" / "metadata.json"),
         "--config_file", str(folder / "configs" / "inference.json"), "--bundle_root", str(folder), *extra],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env=dict(os.environ, OMP_NUM_THREADS="1"),
    )  # fmt: skip


def _weights(bundle: str, tmp_path) -> tuple[torch.nn.Module, torch.Tensor]:
    make, shape = NETWORKS[bundle]
    torch.manual_seed(0)
    net = make().eval()
    torch.save(net.state_dict(), tmp_path / "model.pt")
    return net, torch.randn(*shape)


@pytest.mark.parametrize("bundle", sorted(NETWORKS))
def test_ckpt_export_gives_a_torchscript_model_with_the_same_logits(bundle, tmp_path):
    net, x = _weights(bundle, tmp_path)
    proc = _export("ckpt_export", bundle, tmp_path, "--filepath", str(tmp_path / "model.ts"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    scripted = torch.jit.load(str(tmp_path / "model.ts"))
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), net(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("bundle", ["adamix_acdc", "adamix_isic"])
def test_onnx_export_gives_a_model_with_the_same_logits(bundle, tmp_path):
    pytest.importorskip("onnxscript")
    onnx = pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    net, x = _weights(bundle, tmp_path)
    shape = "[" + ",".join(str(s) for s in x.shape) + "]"
    proc = _export("onnx_export", bundle, tmp_path, "--filepath", str(tmp_path / "model.onnx"), "--input_shape", shape)
    assert proc.returncode == 0, proc.stderr[-3000:]
    model = onnx.load(str(tmp_path / "model.onnx"))
    onnx.checker.check_model(model)
    session = ReferenceEvaluator(model)
    (out,) = session.run(None, {model.graph.input[0].name: x.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.as_tensor(out), net(x), rtol=1e-3, atol=1e-4)
