# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Figures, in one place (as MONAI keeps its own in ``monai.visualize``).

* :mod:`~adamix_monai.visualize.palette`: the colours of classes and of the two mix directions, class names.
* :mod:`~adamix_monai.visualize.patches`: a mixed image with its replaced patches outlined; atomic PNG files.
* :mod:`~adamix_monai.visualize.plots`: matplotlib figures (training curves, mixed samples, method comparison,
  qualitative predictions).
* :mod:`~adamix_monai.visualize.run_figures`: all figures of a set of bundle runs.
"""

from adamix_monai.visualize.palette import CLASS_COLORS, EASY_COLOR, HARD_COLOR
from adamix_monai.visualize.patches import outline_mixed_patches, save_png
from adamix_monai.visualize.plots import (
    mix_sample_files,
    plot_method_comparison,
    plot_mix_samples,
    plot_qualitative,
    plot_training_curves,
)
from adamix_monai.visualize.run_figures import make_run_figures

__all__ = [
    "CLASS_COLORS",
    "EASY_COLOR",
    "HARD_COLOR",
    "make_run_figures",
    "mix_sample_files",
    "outline_mixed_patches",
    "plot_method_comparison",
    "plot_mix_samples",
    "plot_qualitative",
    "plot_training_curves",
    "save_png",
]
