"""Typed experiment configs: frozen dataclasses loaded from YAML.

A config file sets any subset of the fields below; ``base: other.yaml`` (a path
relative to the file, or a bundled config name) inherits from another file. Unknown
keys are rejected with a close-match suggestion, and ``--set key=value`` overrides
(dotted keys, values parsed as YAML then checked against the field's type) are
applied last. The bundled files in ``training/configs/`` reproduce the paper's
settings per benchmark, plus SynthAU configs that run on a CPU.

Example:
    >>> cfg = load_config("synthau_tiny", overrides=["loss.temperature=0.3"])
    >>> cfg.loss.temperature
    0.3
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aunce_rt.datasets.synth_source import SYNTH_LANDMARKS
from aunce_rt.errors import InputError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@dataclass(frozen=True)
class DataConfig:
    """Where the frames and labels come from and how they are split.

    ``format``: "synthau" (rendered on the fly into ``root`` or the run folder),
    "manifest" (CSV: path, subject, AU columns), "list" (ME-GraphAU image list +
    label file) or "raw" (the benchmark's own annotation layout under ``root``,
    after ``aunce-rt train prepare`` has written aligned crops: use its manifest).
    For "list"/"manifest", ``train``/``train_labels`` describe the whole dataset
    (folds are cut by the protocol) unless ``test`` is also given.

    ``synth_trace_max``: SynthAU's largest trace intensity of an absent AU (None:
    its default 0.15; up to 0.25, the presence threshold, adds the near-threshold
    faces that video onsets and offsets show).
    ``synth_video_frames``: extra SynthAU crops taken from rendered, mp4-compressed
    video clips of the same people (``aunce_rt.datasets.synth_source``); 0: none.
    ``synth_landmarks``: landmarks SynthAU crops are aligned with: "truth" (the
    renderer's iBUG-68 points) or "mediapipe" (MediaPipe FaceMesh run on each
    rendered frame, as the runtime does; the truth where it finds no face).
    ``cache``: keep decoded, resized crops in memory after their first read (small
    crops and ``num_workers: 0``; each worker process would hold its own copy).
    """

    protocol: str = "synthau"
    format: str = "synthau"
    root: str = ""
    train: str = ""
    train_labels: str = ""
    test: str = ""
    test_labels: str = ""
    test_root: str = ""
    train_subjects: str = ""
    test_subjects: str = ""
    folds: tuple[int, ...] = ()
    val_fraction: float = 0.15
    crop_size: int = 256
    image_size: int = 224
    augment: str = "simclr"
    num_workers: int = 0
    synth_frames: int = 600
    synth_identities: int = 24
    synth_noise: float = 0.0
    synth_trace_max: float | None = None
    synth_video_frames: int = 0
    synth_landmarks: str = "truth"
    cache: bool = False


@dataclass(frozen=True)
class ModelConfig:
    """Encoder settings (``aunce_rt.models.create_encoder``); ``node_dim: null`` = half the backbone width.

    ``input_norm``: "none" (paper) or "image" (per-image standardisation inside the
    encoder, for training from random init).
    """

    backbone: str = "swin_base_patch4_window7_224"
    node_dim: int | None = None
    top_k: int = 4
    dropout: float = 0.0
    init_weights: str = ""
    input_norm: str = "none"


@dataclass(frozen=True)
class LossConfig:
    """Pretraining loss: "aunce" (paper), or the supervised baselines "wce" / "wfl" (Table 8)."""

    name: str = "aunce"
    temperature: float = 0.5
    probs: tuple[float, float, float, float] = (0.15, 0.15, 0.7, 0.0)
    num_positives: int = 12
    beta_minority: float = 1.2
    beta_majority: float = 0.4
    minority: str = "rate"
    au_weighted: bool = True
    gamma: float = 2.0


@dataclass(frozen=True)
class OptimConfig:
    """AdamW settings, learning-rate schedule ("constant" | "cosine") and length of one training stage."""

    lr: float = 1e-5
    weight_decay: float = 1e-6
    betas: tuple[float, float] = (0.9, 0.999)
    batch_size: int = 32
    epochs: int = 60
    schedule: str = "constant"


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: data, encoder, loss, the two training stages, and the run settings.

    ``warmup``: an optional first stage (``epochs > 0``) that trains the backbone
    alone with WCE on its pooled tokens (``models.PooledClassifier``) before the
    pretraining stage: the stand-in for the ImageNet weights the paper starts from,
    when none are available. 0 epochs (the default) skips it.

    ``selection``: how the reported epoch of linear evaluation is chosen: "val"
    (validation subjects held out from the training split: the honest protocol)
    or "test" (best epoch on the test fold, as much of the literature does; the
    report labels it as such).
    """

    name: str = "experiment"
    seed: int = 3407
    seeds: tuple[int, ...] = ()
    device: str = "auto"
    amp: str = "auto"
    channels_last: bool = True
    deterministic: bool = False
    checkpoint_every: int = 1
    out_dir: str = "runs"
    selection: str = "val"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    warmup: OptimConfig = field(
        default_factory=lambda: OptimConfig(lr=1e-3, weight_decay=1e-4, batch_size=64, epochs=0)
    )
    pretrain: OptimConfig = field(default_factory=OptimConfig)
    linear: OptimConfig = field(
        default_factory=lambda: OptimConfig(lr=1e-3, weight_decay=1e-6, batch_size=256, epochs=100)
    )

    @property
    def run_seeds(self) -> tuple[int, ...]:
        """The seeds to run: ``seeds`` if given, else ``(seed,)``."""
        return self.seeds or (self.seed,)

    def validate(self) -> ExperimentConfig:
        """Check value ranges and choices; InputError naming the key otherwise."""
        checks = [
            (self.loss.name in ("aunce", "wce", "wfl"), "loss.name", "one of aunce, wce, wfl"),
            (self.loss.minority in ("rate", "positive"), "loss.minority", "'rate' or 'positive'"),
            (
                abs(sum(self.loss.probs) - 1) < 1e-6 and min(self.loss.probs) >= 0,
                "loss.probs",
                "4 values >= 0 summing to 1",
            ),
            (self.loss.temperature > 0, "loss.temperature", "> 0"),
            (
                self.data.format in ("synthau", "manifest", "list", "raw"),
                "data.format",
                "synthau|manifest|list|raw",
            ),
            (0 <= self.data.val_fraction < 1, "data.val_fraction", "in [0, 1)"),
            (self.selection in ("val", "test"), "selection", "'val' or 'test'"),
            (self.amp in ("auto", "off", "bf16", "fp16"), "amp", "auto|off|bf16|fp16"),
            (self.pretrain.batch_size > 0 and self.linear.batch_size > 0, "batch_size", "> 0"),
            (self.pretrain.epochs >= 0 and self.linear.epochs >= 0, "epochs", ">= 0"),
            (self.warmup.epochs >= 0 and self.warmup.batch_size > 0, "warmup.epochs", ">= 0"),
            (
                self.data.synth_trace_max is None or 0 <= self.data.synth_trace_max <= 0.25,
                "data.synth_trace_max",
                "null or in [0, 0.25]",
            ),
            (self.data.synth_video_frames >= 0, "data.synth_video_frames", ">= 0"),
            (
                self.data.synth_landmarks in SYNTH_LANDMARKS,
                "data.synth_landmarks",
                "|".join(SYNTH_LANDMARKS),
            ),
            (self.model.input_norm in ("none", "image"), "model.input_norm", "'none' or 'image'"),
            (self.pretrain.schedule in ("constant", "cosine"), "pretrain.schedule", "'constant' or 'cosine'"),
            (self.warmup.schedule in ("constant", "cosine"), "warmup.schedule", "'constant' or 'cosine'"),
        ]
        for ok, key, expected in checks:
            if not ok:
                raise InputError(f"config key {key!r} must be {expected}; got {_get(self, key)!r}")
        return self


def _get(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
    return obj


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check/convert ``value`` to the annotated type ``tp``; InputError naming ``key``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except InputError as exc:
                errors.append(str(exc))
        raise InputError(errors[0] if errors else f"config key {key!r}: bad value {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise InputError(f"config key {key!r} must be a mapping of {tp.__name__} fields; got {value!r}")
        return from_dict(tp, value, prefix=key)
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, Sequence):
            value = [value] if not isinstance(value, str) else [v for v in value.split(",") if v.strip()]
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise InputError(f"config key {key!r} needs {len(args)} values; got {len(value)}: {list(value)}")
        return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise InputError(f"config key {key!r} must be true or false; got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int | str) or isinstance(value, float):
            raise InputError(f"config key {key!r} must be an integer; got {value!r}")
        try:
            return int(value)
        except ValueError:
            raise InputError(f"config key {key!r} must be an integer; got {value!r}") from None
    if tp is float:
        if isinstance(value, bool):
            raise InputError(f"config key {key!r} must be a number; got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise InputError(f"config key {key!r} must be a number; got {value!r}") from None
    if tp is str:
        if isinstance(value, bool):  # YAML 1.1 reads off/no/false (on/yes/true) as booleans
            return "on" if value else "off"
        if value is None or isinstance(value, Mapping | list):
            raise InputError(f"config key {key!r} must be a string; got {value!r}")
        return str(value)
    return value


def _unknown_key(key: str, known: Sequence[str], prefix: str) -> InputError:
    full = f"{prefix}.{key}" if prefix else key
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.5)
    hint = f"; did you mean {(prefix + '.' if prefix else '') + close[0]!r}?" if close else ""
    return InputError(f"unknown config key {full!r}{hint} (known here: {', '.join(known)})")


def from_dict(cls: type, data: Mapping[str, Any], *, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys and bad types."""
    hints = _hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key not in known:
            raise _unknown_key(str(key), known, prefix)
        kwargs[key] = _coerce(value, hints[key], f"{prefix}.{key}" if prefix else key)
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict[str, Any]:
    """Config -> plain dict (tuples as lists), for YAML/JSON."""

    def conv(v: Any) -> Any:
        if isinstance(v, tuple | list):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v

    return conv(dataclasses.asdict(cfg))


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out


def config_path(name_or_path: str | Path) -> Path:
    """A config file path from a path or a bundled name ("bp4d", "synthau_tiny", "ablation/baseline")."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    bundled = CONFIG_DIR / (str(name_or_path) if p.suffix else f"{name_or_path}.yaml")
    if bundled.is_file():
        return bundled
    names = list_configs()
    close = difflib.get_close_matches(str(name_or_path), names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise InputError(f"config {str(name_or_path)!r} is neither a file nor a bundled config{hint}")


def list_configs() -> list[str]:
    """Bundled experiment config names (training/configs/*.yaml; grids live in configs/experiments)."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    import yaml

    if path in seen:
        raise InputError(f"config {path} inherits from itself (base chain {[str(s) for s in seen]})")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a config must be a mapping of keys; got {type(data).__name__}")
    base = data.pop("base", None)
    if base:
        base_path = path.parent / base if (path.parent / base).is_file() else config_path(base)
        data = _deep_merge(_read_yaml(base_path, (*seen, path)), data)
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


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
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
    """
    raw: dict[str, Any] = dict(data) if data is not None else {}
    if name_or_path is not None and data is None:
        raw = _read_yaml(config_path(name_or_path))
    raw = apply_overrides(raw, overrides)
    return from_dict(ExperimentConfig, raw).validate()


def save_config(cfg: ExperimentConfig, path: str | Path) -> Path:
    """Write the resolved config as YAML."""
    import yaml

    path = Path(path)
    path.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    return path
