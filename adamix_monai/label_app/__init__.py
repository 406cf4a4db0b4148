# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""A MONAI Label app for the AdaMix bundles: MONAI's ``monaibundle`` app plus active learning by AdaMix confidence.

``adamix-monai label_app <folder> --bundles acdc`` writes an app folder (``main.py`` and ``model/<bundle>``);
``monailabel start_server --app <folder> --studies <images> --conf models adamix_acdc --conf zoo_source local`` then
serves every bundle's inference and training as the ``monaibundle`` app does (``BundleInferTask``,
``BundleTrainTask``), and the strategy ``adamix_uncertainty`` (``POST /activelearning/adamix_uncertainty``) returns
the unlabeled study the model is least sure of (:mod:`adamix_monai.active_learning`). ``--conf uncertainty_model
<bundle>`` picks the model that ranks (default: the first served one).

Importing :mod:`adamix_monai.label_app.app` needs ``monailabel`` (a separate environment, see the README); this
package itself imports nothing of it.
"""

MAIN_PY = '''# A MONAI Label app written by `adamix-monai label_app`: the AdaMix bundles in model/, served with active learning
# by AdaMix confidence (strategy "adamix_uncertainty"). Start it with
#   monailabel start_server --app <this folder> --studies <images> --conf models adamix_acdc --conf zoo_source local
from adamix_monai.label_app.app import AdaMixLabelApp  # noqa: F401  (MONAI Label finds the app class here)
'''

__all__ = ["MAIN_PY"]
