# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Data loading for exactly resumable semi-supervised training."""

from adamix_monai.data.loaders import ResumableSampler, SeededDataset, derive_loader, make_loader

__all__ = ["ResumableSampler", "SeededDataset", "derive_loader", "make_loader"]
