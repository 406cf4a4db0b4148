# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Data for semi-supervised training, grouped by job.

* :mod:`~adamix_monai.data.sources`: where items come from (ACDC, LA, ISIC folders, users' datalists), one protocol.
* :mod:`~adamix_monai.data.io`: readers (h5, NIfTI/PNG/JPG through MONAI, PIL-only images).
* :mod:`~adamix_monai.data.labels`: label checks (class values, single-channel labels, binary masks).
* :mod:`~adamix_monai.data.file_checks`: a dataset's files checked before a run.
* :mod:`~adamix_monai.data.views` and :mod:`~adamix_monai.data.views_3d`: weak and strong views.
* :mod:`~adamix_monai.data.loaders`: exactly resumable samplers, loaders and streams.
* :mod:`~adamix_monai.data.writers`: atomic prediction writers.
"""

from adamix_monai.data.loaders import ResumableSampler, SeededDataset, derive_loader, make_loader

__all__ = ["ResumableSampler", "SeededDataset", "derive_loader", "make_loader"]
