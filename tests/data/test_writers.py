# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Atomic prediction writers: a complete file or the old one, never half a file."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor, NibabelWriter, PILWriter
from monai.transforms import SaveImage
from PIL import Image

from adamix_monai.data.writers import atomic_writer


def _save(folder, writer, ext, name="a.b.nii.gz", shape=(1, 10, 8, 3)):
    saver = SaveImage(output_dir=folder, output_postfix="seg", output_ext=ext, writer=writer, separate_folder=False,
                      print_log=False, output_dtype=torch.uint8)  # fmt: skip
    values = torch.randint(0, 4, shape, generator=torch.Generator().manual_seed(0)).float()
    x = MetaTensor(values, meta={"filename_or_obj": name, "affine": torch.eye(4)})
    saver(x)
    return x


def test_atomic_writers_write_what_monais_writers_write(tmp_path):
    assert issubclass(atomic_writer(".nii.gz"), NibabelWriter)  # MONAI's choice for the extension
    assert issubclass(atomic_writer(".png", "PILWriter"), PILWriter) and atomic_writer(".png", PILWriter)
    x = _save(tmp_path / "atomic", atomic_writer(".nii.gz"), ".nii.gz")
    _save(tmp_path / "plain", NibabelWriter, ".nii.gz")
    ours, theirs = nib.load(tmp_path / "atomic" / "a.b_seg.nii.gz"), nib.load(tmp_path / "plain" / "a.b_seg.nii.gz")
    np.testing.assert_array_equal(ours.get_fdata(), x[0].numpy())
    np.testing.assert_array_equal(ours.get_fdata(), theirs.get_fdata())
    np.testing.assert_array_equal(ours.affine, theirs.affine)
    assert [p.name for p in (tmp_path / "atomic").iterdir()] == ["a.b_seg.nii.gz"]  # no temporary left
    _save(tmp_path / "png", atomic_writer(".png", "PILWriter"), ".png", name="img.jpg", shape=(1, 6, 5))
    assert np.asarray(Image.open(tmp_path / "png" / "img_seg.png")).shape == (5, 6)  # MONAI's (W, H) convention
    with pytest.raises(ValueError, match="'NoWriter' is not a MONAI image writer"):
        atomic_writer(".png", "NoWriter")


def test_a_write_that_fails_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    _save(tmp_path, atomic_writer(".nii.gz"), ".nii.gz")
    before = (tmp_path / "a.b_seg.nii.gz").read_bytes()

    def half_then_die(image, filename):  # what a kill or a full disk does mid-write
        with open(filename, "wb") as f:
            f.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nib, "save", half_then_die)
    with pytest.raises(RuntimeError):  # SaveImage reports its writers' failures so
        _save(tmp_path, atomic_writer(".nii.gz"), ".nii.gz")
    assert [p.name for p in tmp_path.iterdir()] == ["a.b_seg.nii.gz"]
    assert (tmp_path / "a.b_seg.nii.gz").read_bytes() == before
