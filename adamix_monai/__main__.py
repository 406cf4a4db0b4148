# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""``python -m adamix_monai`` runs the ``adamix-monai`` command line."""

from adamix_monai.cli import main

main()
