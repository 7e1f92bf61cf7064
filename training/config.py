"""Typed experiment configs: frozen pydantic models loaded from YAML.

A config file sets any subset of the fields below; ``base: other.yaml`` (a path
relative to the file, or a bundled config name) inherits from another file. Unknown
keys are rejected with a close-match suggestion, and ``--set key=value`` overrides
(dotted keys, values parsed as YAML then checked against the field's type) are
applied last. The bundled files in ``training/configs/`` reproduce the paper's
settings per benchmark, plus SynthAU configs that run on a CPU.

The sections live in ``_config_schema`` and the YAML in/out in ``_config_io``;
this module re-exports the public names.

Example:
    >>> cfg = load_config("synthau_tiny", overrides=["loss.temperature=0.3"])
    >>> cfg.loss.temperature
    0.3
"""

from __future__ import annotations

from aunce_rt.training._config_io import (
    CONFIG_DIR,
    apply_overrides,
    config_path,
    from_dict,
    list_configs,
    load_config,
    parse_override,
    read_yaml,
    save_config,
    to_dict,
)
from aunce_rt.training._config_schema import (
    CLPConfig,
    DataConfig,
    ExperimentConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
)

__all__ = [
    "CONFIG_DIR",
    "CLPConfig",
    "DataConfig",
    "ExperimentConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "apply_overrides",
    "config_path",
    "from_dict",
    "list_configs",
    "load_config",
    "parse_override",
    "read_yaml",
    "save_config",
    "to_dict",
]
