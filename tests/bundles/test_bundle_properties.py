# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""MONAI's own bundle property check (``ConfigWorkflow.check_properties``) passes for training, evaluation and
inference of every bundle, as it does for the model zoo's bundles."""

from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser, ConfigWorkflow
from PIL import Image

from tests.helpers.acdc_fixtures import make_mini_acdc
from tests.conftest import REPO_ROOT
from tests.helpers.isic_fixtures import make_mini_isic
from tests.helpers.la_fixtures import make_mini_la

BUNDLES = ["adamix_acdc", "adamix_la", "adamix_isic"]


def _dataset(bundle, root):
    if bundle == "adamix_acdc":
        return make_mini_acdc(root)
    if bundle == "adamix_la":
        return make_mini_la(root, train=6, test=2)
    return make_mini_isic(root, layout="plain", n=10)


def _workflow(bundle, files, workflow_type, **overrides) -> ConfigWorkflow:
    configs = REPO_ROOT / "bundles" / bundle / "configs"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flow = ConfigWorkflow(
            config_file=[str(configs / f) for f in files], meta_file=str(configs / "metadata.json"),
            logging_file=str(configs / "logging.conf"), workflow_type=workflow_type, **overrides,
        )  # fmt: skip
        flow.initialize()
    return flow


@pytest.mark.parametrize("bundle", BUNDLES)
def test_monai_bundle_property_check_passes(bundle, tmp_path):
    data = _dataset(bundle, tmp_path / "data")
    common = {"dataset_dir": str(data), "bundle_root": str(tmp_path / "root"), "batch_size": 2}
    if bundle == "adamix_la":
        common["labeled_cases"] = 2  # of the mini dataset's 6
    for files in (["train.json"], ["train.json", "evaluate.json"]):
        assert _workflow(bundle, files, "train", **common).check_properties() == [], files
    images = tmp_path / "images"
    images.mkdir()
    if bundle == "adamix_isic":
        Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(images / "x.png")
    else:
        shape = (24, 24, 3) if bundle == "adamix_acdc" else (24, 24, 24)
        nib.save(nib.Nifti1Image(np.zeros(shape, np.float32), np.eye(4)), images / "x.nii.gz")
    inference = REPO_ROOT / "bundles" / bundle / "configs" / "inference.json"
    parser = ConfigParser(ConfigParser.load_config_file(str(inference)))
    weights = tmp_path / "model.pt"
    torch.save(parser.get_parsed_content("network_def").state_dict(), weights)
    flow = _workflow(bundle, ["inference.json"], "infer", dataset_dir=str(images), checkpoint=str(weights),
                     bundle_root=str(tmp_path / "root"))  # fmt: skip
    assert flow.check_properties() == []
