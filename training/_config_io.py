"""Configs in and out: YAML files with ``base:`` inheritance, ``key=value`` overrides, one-line errors.

pydantic does the type checking; this module turns its first complaint into an
``InputError`` naming the dotted key, with a close-match suggestion for an unknown
key ("did you mean 'loss.temperature'?").
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from aunce_rt.errors import InputError
from aunce_rt.training._config_schema import ExperimentConfig

__all__ = [
    "CONFIG_DIR",
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

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def _section_at(cls: type[BaseModel], loc: Sequence[Any]) -> type[BaseModel] | None:
    """The model class of the section at ``loc`` (field names only), or None."""
    for part in loc:
        field = cls.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        cls = annotation
    return cls


def _one_line(exc: ValidationError, cls: type[BaseModel]) -> InputError:
    """The first error of ``exc`` as an InputError naming the dotted key."""
    err = exc.errors(include_url=False)[0]
    names = [str(p) for p in err["loc"]]
    loc = names[: next((i for i, p in enumerate(err["loc"]) if isinstance(p, int)), len(names))]
    key = ".".join(loc)  # a tuple's item index is not part of the key
    if err["type"] == "extra_forbidden":
        section = _section_at(cls, loc[:-1])
        known = list(section.model_fields) if section is not None else []
        prefix = ".".join(loc[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.5)
        hint = f"; did you mean {(prefix + '.' if prefix else '') + close[0]!r}?" if close else ""
        return InputError(f"unknown config key {key!r}{hint} (known here: {', '.join(known)})")
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "value_error" and msg.startswith("config key"):  # our range checks name the key
        return InputError(msg)
    if len(loc) < len(names) and err["type"] != "missing":  # a bad item of a tuple field
        return InputError(
            f"config key {key!r}, item {names[len(loc)]}: {msg[:1].lower()}{msg[1:]}; got {_get(exc, loc)!r}"
        )
    if len(loc) < len(names):  # a tuple field given too few values
        fixed = _section_at(cls, loc[:-1])
        field = fixed.model_fields[loc[-1]] if fixed is not None else None
        got = _get(exc, loc)
        n = len(getattr(field, "default", ()) or ())
        want = f"{n} values" if n else "a list of values"
        return InputError(f"config key {key!r} needs {want}; got {got!r} ({msg})")
    where = f"config key {key!r}" if key else "the config"
    return InputError(f"{where}: {msg[:1].lower()}{msg[1:]}; got {err.get('input')!r}")


def _get(exc: ValidationError, loc: Sequence[str]) -> Any:
    """The raw value given at ``loc`` (kept on the exception by from_dict), or "?"."""
    node: Any = getattr(exc, "_aunce_input", None)
    for part in loc:
        if not isinstance(node, Mapping) or part not in node:
            return "?"
        node = node[part]
    return node


def from_dict(cls: type[BaseModel], data: Mapping[str, Any]) -> Any:
    """Build config model ``cls`` from a mapping; InputError (did-you-mean for unknown keys) otherwise."""
    if not isinstance(data, Mapping):
        raise InputError(f"a config must be a mapping of keys; got {type(data).__name__}")
    try:
        return cls.model_validate(dict(data))
    except ValidationError as exc:
        exc._aunce_input = data  # type: ignore[attr-defined]
        raise _one_line(exc, cls) from None


def to_dict(cfg: BaseModel) -> dict[str, Any]:
    """Config -> plain dict (tuples as lists), for YAML/JSON."""
    return cfg.model_dump(mode="json")


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out


def list_configs() -> list[str]:
    """Bundled experiment config names (training/configs/*.yaml; grids live in configs/experiments)."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def config_path(name_or_path: str | Path) -> Path:
    """A config file path from a path or a bundled name ("bp4d", "synthau_tiny", "ablation/baseline")."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    bundled = CONFIG_DIR / (str(name_or_path) if p.suffix else f"{name_or_path}.yaml")
    if bundled.is_file():
        return bundled
    close = difflib.get_close_matches(str(name_or_path), list_configs(), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise InputError(f"config {str(name_or_path)!r} is neither a file nor a bundled config{hint}")


def read_yaml(path: str | Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A config file as a mapping, its ``base:`` chain merged in (the child wins)."""
    import yaml

    path = Path(path)
    if path in seen:
        raise InputError(f"config {path} inherits from itself (base chain {[str(s) for s in seen]})")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML: {exc}") from None
    except OSError as exc:
        raise InputError(f"cannot read config {path} ({exc}); give a readable YAML file") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a config must be a mapping of keys; got {type(data).__name__}")
    base = data.pop("base", None)
    if base:
        base_path = path.parent / base if (path.parent / base).is_file() else config_path(base)
        data = _deep_merge(read_yaml(base_path, (*seen, path)), data)
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """'loss.probs=[0,1,0,0]' -> (['loss', 'probs'], [0, 1, 0, 0]) (value parsed as YAML)."""
    import yaml

    if "=" not in text:
        raise InputError(f"override {text!r} must look like key=value, e.g. loss.temperature=0.3")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key=value`` overrides to a raw config mapping (dotted keys)."""
    out = _deep_merge({}, data)
    for text in overrides:
        keys, value = parse_override(text)
        node = out
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise InputError(f"override {text!r}: {k!r} is not a section")
        node[keys[-1]] = value
    return out


def load_config(
    name_or_path: str | Path | None = None,
    overrides: Sequence[str] = (),
    *,
    data: Mapping[str, Any] | None = None,
) -> ExperimentConfig:
    """Load, merge, override, type-check and validate an experiment config.

    Args:
        name_or_path: a YAML file or a bundled config name; None starts from defaults.
        overrides: ``key=value`` strings (dotted keys), applied last.
        data: an already-parsed mapping (e.g. a run folder's config.yaml) used
            instead of reading ``name_or_path``.

    Raises:
        InputError: an unknown key (with a close match), a value of the wrong type or range.
    """
    raw: dict[str, Any] = dict(data) if data is not None else {}
    if name_or_path is not None and data is None:
        raw = read_yaml(config_path(name_or_path))
    return from_dict(ExperimentConfig, apply_overrides(raw, overrides))


def save_config(cfg: ExperimentConfig, path: str | Path) -> Path:
    """Write the resolved config as YAML (``load_config(path)`` reads it back equal)."""
    import yaml

    path = Path(path)
    path.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    return path
