"""The experiment config's sections: frozen pydantic v2 models, unknown keys refused.

Field types follow YAML as users write it: a string field takes YAML 1.1's bare
``off``/``on`` (read as booleans) back as the strings "off"/"on", numbers as their
text; a tuple field takes a list, a comma-separated string or a single value.
Value ranges and choices are checked when a config is built (``ExperimentConfig``'s
model validator), with messages naming the dotted key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from aunce_rt.datasets.synth_source import SYNTH_LANDMARKS

__all__ = ["CLPConfig", "DataConfig", "ExperimentConfig", "LossConfig", "ModelConfig", "OptimConfig"]

SCHEDULES = ("constant", "cosine")
METHODS = ("aunce", "clp")


def _yaml_str(value: Any) -> Any:
    """YAML 1.1 reads a bare off/no/false (on/yes/true) as a boolean: give the word back."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


def _as_sequence(value: Any) -> Any:
    """A list as given; "1,3" -> ["1", "3"]; a single value -> [value]."""
    if isinstance(value, str):
        return [v for v in value.split(",") if v.strip()]
    if value is None or isinstance(value, list | tuple | Mapping):
        return value
    return [value]


def _not_bool(value: Any) -> Any:
    """true/false is not a number here (pydantic's lax mode would read it as 1/0)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got the boolean {value!r}")
    return value


Str = Annotated[str, BeforeValidator(_yaml_str)]
Int = Annotated[int, BeforeValidator(_not_bool)]
Float = Annotated[float, BeforeValidator(_not_bool)]
IntTuple = Annotated[tuple[Int, ...], BeforeValidator(_as_sequence)]


class _Section(BaseModel):
    """A config section: frozen, unknown keys refused, numbers accepted where text is expected."""

    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)


class DataConfig(_Section):
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

    protocol: Str = "synthau"
    format: Str = "synthau"
    root: Str = ""
    train: Str = ""
    train_labels: Str = ""
    test: Str = ""
    test_labels: Str = ""
    test_root: Str = ""
    train_subjects: Str = ""
    test_subjects: Str = ""
    folds: IntTuple = ()
    val_fraction: Float = 0.15
    crop_size: Int = 256
    image_size: Int = 224
    augment: Str = "simclr"
    num_workers: Int = 0
    synth_frames: Int = 600
    synth_identities: Int = 24
    synth_noise: Float = 0.0
    synth_trace_max: Float | None = None
    synth_video_frames: Int = 0
    synth_landmarks: Str = "truth"
    cache: bool = False


class ModelConfig(_Section):
    """Encoder settings (``aunce_rt.models.create_encoder``); ``node_dim: null`` = half the backbone width.

    ``input_norm``: "none" (paper) or "image" (per-image standardisation inside the
    encoder, for training from random init).
    """

    backbone: Str = "swin_base_patch4_window7_224"
    node_dim: Int | None = None
    top_k: Int = 4
    dropout: Float = 0.0
    init_weights: Str = ""
    input_norm: Str = "none"


class LossConfig(_Section):
    """Pretraining loss: "aunce" (paper), or the supervised baselines "wce" / "wfl" (Table 8).

    ``temperature`` .. ``au_weighted`` configure AUNCE, ``gamma`` the focal loss (WFL).
    """

    name: Str = "aunce"
    temperature: Float = 0.5
    probs: tuple[Float, Float, Float, Float] = (0.15, 0.15, 0.7, 0.0)
    num_positives: Int = 12
    beta_minority: Float = 1.2
    beta_majority: Float = 0.4
    minority: Str = "rate"
    au_weighted: bool = True
    gamma: Float = 2.0


class CLPConfig(_Section):
    """``method: clp``: CLP pretraining on unlabelled face video, as reconstructed here (spec/CLP.md).

    Data: ``videos`` is a folder of face videos (recursive); empty renders
    ``synth_videos`` SynthAU videos of ``synth_video_frames`` frames (people outside
    the probe's identities) into the run's cache. Tracks are extracted at ``fps``
    with the runtime's ``landmarks`` backend and cached in ``cache`` (default: the
    run's ``cache/tracks``). ``identity``: "video" or "folder" (VoxCeleb's
    speaker folders); ``speakers``: a CSV of ``video,speaker`` rows (relative paths).
    ``clip_len`` T frames per clip; ``repeats`` clips per track and epoch. The batch
    size (``pretrain.batch_size``) counts clips.

    Model and losses: see ``aunce_rt.models.clp`` and ``aunce_rt.training.clp_objective``;
    ``margin_mode`` "temporal" | "positive" | "none", ``cir: false`` = TCL alone,
    ``cir_positive`` "key" | "reconstruction", ``batch_negatives``: the batch's other
    clips' keys are TCL negatives too (spec ambiguity 3; off). ``probe_feature``: what the
    linear probe (and the saved model) reads, "r" (the AU code, default) or "f" (E's pooled
    feature; ambiguity 10). ``init_weights``: a backbone state dict
    (or, for ``mobilenetv2_100``, Google's ImageNet TFLite file) to start E from instead of
    random weights (the paper's E starts from ImageNet).
    """

    videos: Str = ""
    synth_videos: Int = 8
    synth_video_frames: Int = 60
    fps: Float = 1.0
    landmarks: Str = "facemesh"
    identity: Str = "video"
    speakers: Str = ""
    cache: Str = ""
    clip_len: Int = 4
    repeats: Int = 1
    backbone: Str = "resnet18"
    init_weights: Str = ""
    au_dim: Int = 256
    id_dim: Int = 256
    proj_dim: Int = 128
    recon_size: Int = 128
    temperature: Float = 0.07
    margin: Float = 0.1
    margin_mode: Str = "temporal"
    queue_size: Int = 16384
    momentum: Float = 0.999
    lambda_x: Float = 1.0
    lambda_r: Float = 1.0
    cir: bool = True
    cir_positive: Str = "key"
    key_groups: Int = 4
    batch_negatives: bool = False
    probe_feature: Str = "r"


class OptimConfig(_Section):
    """One training stage: AdamW (lr, weight decay, betas), its learning-rate schedule and length.

    ``schedule``: "constant" (paper) or "cosine" (a 5% linear ramp, then a cosine to 0).
    ``optimizer``: "adamw" (the project's default, AUNCE's paper) or "sgd" with ``momentum``
    (CLP's spec: SGD 0.9); ``betas`` are AdamW's, ``momentum`` SGD's.
    """

    lr: Float = 1e-5
    weight_decay: Float = 1e-6
    betas: tuple[Float, Float] = (0.9, 0.999)
    optimizer: Str = "adamw"
    momentum: Float = 0.9
    batch_size: Int = 32
    epochs: Int = 60
    schedule: Str = "constant"


class ExperimentConfig(_Section):
    """One experiment: data, encoder, loss, the training stages, and the run settings.

    ``warmup``: an optional first stage (``epochs > 0``) that trains the backbone
    alone with WCE on its pooled tokens (``models.PooledClassifier``) before the
    pretraining stage: the stand-in for the ImageNet weights the paper starts from,
    when none are available. 0 epochs (the default) skips it.

    ``method``: "aunce" (the loss section's objective on labelled frames) or "clp"
    (the ``clp`` section: self-supervised pretraining on face video, CLP as
    reconstructed here); either way ``data`` is the labelled set of the linear probe.

    ``selection``: how the reported epoch of linear evaluation is chosen: "val"
    (validation subjects held out from the training split: the honest protocol)
    or "test" (best epoch on the test fold, as much of the literature does; the
    report labels it as such).

    A section given in a file replaces the section's class defaults field by field
    (``warmup: {epochs: 2}`` takes ``OptimConfig``'s lr, not the warm-up default's),
    as the config files have always been read.

    Example:
        >>> ExperimentConfig(loss={"temperature": 0.3}).loss.temperature
        0.3
    """

    name: Str = "experiment"
    method: Str = "aunce"
    seed: Int = 3407
    seeds: IntTuple = ()
    device: Str = "auto"
    amp: Str = "auto"
    channels_last: bool = True
    deterministic: bool = False
    checkpoint_every: Int = 1
    out_dir: Str = "runs"
    selection: Str = "val"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    clp: CLPConfig = Field(default_factory=CLPConfig)
    warmup: OptimConfig = Field(
        default_factory=lambda: OptimConfig(lr=1e-3, weight_decay=1e-4, batch_size=64, epochs=0)
    )
    pretrain: OptimConfig = Field(default_factory=OptimConfig)
    linear: OptimConfig = Field(
        default_factory=lambda: OptimConfig(lr=1e-3, weight_decay=1e-6, batch_size=256, epochs=100)
    )

    @property
    def run_seeds(self) -> tuple[int, ...]:
        """The seeds to run: ``seeds`` if given, else ``(seed,)``."""
        return self.seeds or (self.seed,)

    @model_validator(mode="after")
    def _check_ranges(self) -> ExperimentConfig:
        """Value ranges and choices; a ValueError naming the dotted key otherwise."""
        for ok, key, expected in _checks(self):
            if not ok:
                raise ValueError(f"config key {key!r} must be {expected}; got {_get(self, key)!r}")
        return self


def _checks(c: ExperimentConfig) -> list[tuple[bool, str, str]]:
    stages = (("warmup", c.warmup), ("pretrain", c.pretrain), ("linear", c.linear))
    out = [
        (c.loss.name in ("aunce", "wce", "wfl"), "loss.name", "one of aunce, wce, wfl"),
        (c.loss.minority in ("rate", "positive"), "loss.minority", "'rate' or 'positive'"),
        (
            abs(sum(c.loss.probs) - 1) < 1e-6 and min(c.loss.probs) >= 0,
            "loss.probs",
            "4 values >= 0 summing to 1",
        ),
        (c.loss.temperature > 0, "loss.temperature", "> 0"),
        (c.data.format in ("synthau", "manifest", "list", "raw"), "data.format", "synthau|manifest|list|raw"),
        (0 <= c.data.val_fraction < 1, "data.val_fraction", "in [0, 1)"),
        (c.selection in ("val", "test"), "selection", "'val' or 'test'"),
        (c.amp in ("auto", "off", "bf16", "fp16"), "amp", "auto|off|bf16|fp16"),
        (
            c.data.synth_trace_max is None or 0 <= c.data.synth_trace_max <= 0.25,
            "data.synth_trace_max",
            "null or in [0, 0.25]",
        ),
        (c.data.synth_video_frames >= 0, "data.synth_video_frames", ">= 0"),
        (c.data.synth_landmarks in SYNTH_LANDMARKS, "data.synth_landmarks", "|".join(SYNTH_LANDMARKS)),
        (c.model.input_norm in ("none", "image"), "model.input_norm", "'none' or 'image'"),
        (c.method in METHODS, "method", "'aunce' or 'clp'"),
        (c.method != "clp" or c.warmup.epochs == 0, "warmup.epochs", "0 with method clp (no warm-up stage)"),
        (c.clp.fps >= 0, "clp.fps", ">= 0 (0: every frame)"),
        (c.clp.identity in ("video", "folder"), "clp.identity", "'video' or 'folder'"),
        (c.clp.clip_len >= 1 and c.clp.repeats >= 1, "clp.clip_len", ">= 1 (and clp.repeats >= 1)"),
        (
            c.clp.synth_videos >= 0 and c.clp.synth_video_frames >= 1,
            "clp.synth_videos",
            ">= 0 videos of >= 1 frame",
        ),
        (c.clp.margin_mode in ("temporal", "positive", "none"), "clp.margin_mode", "temporal|positive|none"),
        (c.clp.margin >= 0 and c.clp.temperature > 0, "clp.margin", ">= 0 (and clp.temperature > 0)"),
        (0 <= c.clp.momentum < 1, "clp.momentum", "in [0, 1)"),
        (c.clp.queue_size >= 0 and c.clp.key_groups >= 1, "clp.queue_size", ">= 0 (and clp.key_groups >= 1)"),
        (c.clp.lambda_x >= 0 and c.clp.lambda_r >= 0, "clp.lambda_x", ">= 0 (and clp.lambda_r >= 0)"),
        (c.clp.cir_positive in ("key", "reconstruction"), "clp.cir_positive", "'key' or 'reconstruction'"),
        (c.clp.probe_feature in ("r", "f"), "clp.probe_feature", "'r' or 'f'"),
        *(
            (getattr(c, stage).optimizer in ("adamw", "sgd"), f"{stage}.optimizer", "'adamw' or 'sgd'")
            for stage in ("warmup", "pretrain", "linear")
        ),
        *(
            (0 <= getattr(c, stage).momentum < 1, f"{stage}.momentum", "in [0, 1)")
            for stage in ("warmup", "pretrain", "linear")
        ),
        (
            c.clp.recon_size >= 8 and c.clp.recon_size & (c.clp.recon_size - 1) == 0,
            "clp.recon_size",
            "a power of two >= 8 (spec: 128)",
        ),
    ]
    for name, s in stages:
        out += [
            (s.batch_size > 0, f"{name}.batch_size", "> 0"),
            (s.epochs >= 0, f"{name}.epochs", ">= 0"),
            (s.schedule in SCHEDULES, f"{name}.schedule", "'constant' or 'cosine'"),
            (all(0 <= b < 1 for b in s.betas), f"{name}.betas", "2 values in [0, 1)"),
        ]
    return out


def _get(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
    return obj
