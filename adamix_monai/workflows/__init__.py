"""Helpers shared by the bundles' configs (paths, run names, input checks, model publishing)."""

from adamix_monai.reporting import describe_run as describe
from adamix_monai.workflows.bundle import (
    BundleInputError,
    bundle_dir,
    checked_weights_path,
    choice,
    config_literal,
    default_dataset_dir,
    first_existing,
    image_datalist,
    install_error_hook,
    labeled_label,
    load_weights,
    lock_run,
    model_info,
    publish_model,
    require_dataset,
    run_name,
    save_model,
    write_model_info,
)
from adamix_monai.workflows.settings import SettingsError, check_settings, warn_unknown_overrides

__all__ = [
    "BundleInputError",
    "SettingsError",
    "bundle_dir",
    "check_settings",
    "checked_weights_path",
    "choice",
    "config_literal",
    "default_dataset_dir",
    "describe",
    "first_existing",
    "image_datalist",
    "install_error_hook",
    "labeled_label",
    "load_weights",
    "lock_run",
    "model_info",
    "publish_model",
    "require_dataset",
    "run_name",
    "save_model",
    "warn_unknown_overrides",
    "write_model_info",
]
