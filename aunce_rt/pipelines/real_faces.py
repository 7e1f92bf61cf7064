"""The real-face recipe: an AU model that sees real faces, from what may ship.

``aunce-rt train real-faces --install-default`` makes ``aunce_rt/assets/default.onnx``:

1. features (``_geometry_data``, cached and resumable): SynthAU renders (exact AU
   truth) and permissive real faces (CC BY 4.0 photos and clips, with MediaPipe's
   blendshape teacher's AU scores as soft targets) through the runtime's own
   still-image path: FaceMesh + retry, the 478 aligned points, the aligned crop;
2. fit (``_geometry_fit``): per-AU class-balanced logistic regression on the
   aligned geometry (+ the appearance model's logits when ``appearance``), every row
   also mirrored when ``mirror``; folded into one affine head; with ``intensity``, a
   ridge regression on the same geometry to SynthAU's 0-5 intensities (``_intensity_fit``);
3. export (``aunce_rt.export._geometry_head``): one ONNX graph whose metadata
   declares its ``landmarks`` input (and ``images`` when fused), checked against
   the numpy head;
4. evaluate: SynthAU held-out renders (AUC, F1, a reliability curve of the
   probabilities) and a clip of unseen SynthAU people through the full runtime;
5. describe: metrics, data sources with their licences and attribution into the
   metadata, ``recipe_result.json`` and ``MODEL_CARD.md``; install only when asked.

No FACS-coded real data is used for training or for any choice: the levers were
measured once on ckplus_dev (``bench/exp_realfaces.py``, ``bench/EXP_REALFACES.md``),
which stays evaluation only. The teacher's ``.task`` file is needed here, never at
run time.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from aunce_rt.errors import InputError
from aunce_rt.provenance import jsonable

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
EVAL_ID_BASE = 1_000_000 + 500_000  # unseen test-split people, as the SynthAU recipe's clip
ATTRIBUTION = (
    "Real faces: Face Research Lab London Set (DeBruine, L. & Jones, B., 2017, figshare, "
    "doi 10.6084/m9.figshare.5047666.v5, CC BY 4.0) and clips of the GRID audio-visual corpus (Cooke, Barker, Cunningham & Shao, 2006, "
    "CC BY 4.0); soft targets from MediaPipe's FaceLandmarker blendshapes (Apache-2.0); "
    "synthetic faces: SynthAU (this project)."
)
LICENCE_NOTE = (
    "Trained on SynthAU synthetic faces (exact AU truth) and CC BY 4.0 real faces with MediaPipe "
    "blendshape pseudo-labels; no FACS-coded real data. " + ATTRIBUTION
)


class RealFaceConfig(BaseModel):
    """Settings of the real-face recipe (defaults: the shipped lever, ``bench/EXP_REALFACES.md``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    synth_n: int = Field(4000, ge=100, description="SynthAU training renders")
    synth_seed: int = Field(0, ge=0, description="SynthAU training seed")
    heldout_n: int = Field(1000, ge=100, description="SynthAU held-out renders (test-split people)")
    video_stride: int = Field(1, ge=1, description="use every n-th frame of the real clips")
    c: float = Field(1.0, gt=0, description="inverse L2 strength of the logistic regressions")
    mirror: bool = True
    balanced: bool = True
    appearance: bool = False
    align_neutral: bool = True
    symmetric: bool = True
    frontal: bool = False
    regions: bool = False
    head: Literal["linear", "mlp"] = Field("linear", description="per-AU logistic regressions, or one MLP")
    mlp_seed: int = Field(0, ge=0, description="initialisation seed of the MLP head")
    calibrate: bool = True
    intensity: bool = Field(True, description="add the 0-5 intensity head (an ``intensities`` output)")
    threshold: float = Field(0.5, gt=0, lt=1, description="decision threshold of every AU")
    clip_people: int = Field(60, ge=1)
    clip_frames: int = Field(60, ge=1)
    workers: int = Field(2, ge=1)


@dataclass(frozen=True)
class RealFaceSources:
    """Where the recipe's inputs are (``from_shared`` finds them in ``../shared``)."""

    faces: Path
    videos: Path
    teacher: Path
    appearance_model: Path | None = None

    @classmethod
    def from_shared(cls, shared: str | Path, appearance_model: str | Path | None = None) -> RealFaceSources:
        root = Path(shared)
        return cls(
            faces=root / "data" / "faces_cc",
            videos=root / "data" / "video_cc",
            teacher=root / "models" / "face_landmarker.task",
            appearance_model=Path(appearance_model) if appearance_model else None,
        )

    def check(self) -> None:
        """InputError naming the first missing input and the flag that sets it."""
        for name, path, flag, what in (
            ("faces", self.faces, "--faces", "a folder of CC BY face photos"),
            ("videos", self.videos, "--videos", "a folder of CC BY face clips"),
            ("teacher", self.teacher, "--teacher", "MediaPipe's face_landmarker.task"),
            ("appearance model", self.appearance_model, "--appearance-model", "an image-only aunce-rt .onnx"),
        ):
            if path is not None and not path.exists():
                raise InputError(f"{name} not found at {path}; pass {flag} PATH ({what})")


@dataclass(frozen=True)
class RealFaceResult:
    """What the recipe made: the model, its metrics, where it was installed, and timings."""

    model: Path
    metrics: dict[str, Any]
    installed: Path | None
    seconds: dict[str, float] = field(default_factory=dict)


def _install_target(install_default: bool, install_to: str | Path | None) -> Path | None:
    if install_default and install_to is not None:
        raise InputError("--install-default and --install-to are exclusive; pass one")
    if install_default:
        return ASSETS_DIR / "default.onnx"
    if install_to is None:
        return None
    target = Path(install_to)
    return target / "real-faces.onnx" if target.is_dir() else target


def run_real_face_recipe(
    sources: RealFaceSources,
    out: str | Path = "runs/real-faces",
    config: RealFaceConfig | None = None,
    *,
    install_default: bool = False,
    install_to: str | Path | None = None,
) -> RealFaceResult:
    """Make, check, evaluate and describe the real-face model (see the module docstring).

    Args:
        sources: the real faces, the teacher and the appearance model.
        out: run folder; its ``cache/`` is reused, so a stopped run resumes.
        config: the recipe's settings (None: the defaults).
        install_default: also copy the model to ``aunce_rt/assets/default.onnx``.
        install_to: also copy it there (a file, or a folder for ``real-faces.onnx``).
    """
    from aunce_rt.evaluation.calibration import plot_reliability, reliability
    from aunce_rt.evaluation.metrics import au_metrics, roc_auc
    from aunce_rt.evaluation.runtime_eval import evaluate_clip, render_people_clip
    from aunce_rt.export._geometry_head import build_geometry_model
    from aunce_rt.export._graph import load_model_proto, read_metadata, save_model_proto, update_metadata
    from aunce_rt.metadata import ModelMetadata
    from aunce_rt.pipelines._geometry_data import RealSource, real_features, synth_features
    from aunce_rt.pipelines._geometry_fit import (
        HeadConfig,
        calibrate,
        fit_recipe_head,
        frontalised,
        mirror_permutation,
        reference_face,
        region_masks,
        training_rows,
    )
    from aunce_rt.pipelines._intensity_fit import heldout_intensity, recipe_intensity
    from aunce_rt.pipelines._real_card import real_face_card
    from aunce_rt.provenance import git_revision
    from aunce_rt.session import AUModelSession

    cfg = config or RealFaceConfig()
    sources.check()
    target = _install_target(install_default, install_to)
    out = Path(out)
    cache = out / "cache"
    seconds: dict[str, float] = {}
    if cfg.head == "mlp" and (cfg.appearance or cfg.regions):
        raise InputError("the MLP head reads the whole face's geometry only: drop --appearance and --regions")
    if cfg.appearance and sources.appearance_model is None:
        raise InputError("the appearance lever needs an image-only model: pass --appearance-model PATH")
    app_meta = None
    if sources.appearance_model is not None:
        app_meta = read_metadata(load_model_proto(sources.appearance_model), sources.appearance_model)
        if app_meta.uses_landmarks:
            raise InputError(
                f"{sources.appearance_model} already takes landmarks; pass an image-only model as --appearance-model"
            )

    app_model = sources.appearance_model if cfg.appearance else None  # geometry only: no crops needed
    t0 = time.perf_counter()
    real = real_features(
        cache,
        RealSource.from_folders(sources.faces, sources.videos, cfg.video_stride),
        teacher_task=sources.teacher,
        appearance_model=app_model,
        name=f"real_stride{cfg.video_stride}",
    )
    synth = synth_features(
        cache,
        seed=cfg.synth_seed,
        split="train",
        n=cfg.synth_n,
        appearance_model=app_model,
        workers=cfg.workers,
    )
    held = synth_features(
        cache,
        seed=0,
        split="test",
        n=cfg.heldout_n,
        appearance_model=app_model,
        workers=cfg.workers,
    )
    codes = tuple(int(c) for c in synth["au_codes"])
    if tuple(int(c) for c in real["au_codes"]) != codes or (
        app_meta is not None and app_meta.au_codes != codes
    ):
        raise InputError(
            f"AU lists differ: SynthAU {codes}, teacher {tuple(real['au_codes'])}, appearance model "
            f"{app_meta.au_codes if app_meta else None}; the appearance model must predict the 12 BP4D AUs"
        )
    seconds["features"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    perm = mirror_permutation(synth["landmarks"][synth["found"].astype(bool)].mean(0))
    reference = None
    if cfg.frontal:  # pose-normalised geometry: every face rotated onto the symmetric neutral real face
        reference = reference_face(real, perm)
        synth, real, held = (frontalised(d, reference) for d in (synth, real, held))
    head_cfg = HeadConfig(
        c=cfg.c,
        mirror=cfg.mirror,
        balanced=cfg.balanced,
        appearance=cfg.appearance,
        align_neutral=cfg.align_neutral,
        symmetric=cfg.symmetric,
    )
    rows = training_rows(synth, real, head_cfg, perm)
    masks = None
    if cfg.regions:  # each AU reads its half of the face only
        masks = region_masks(synth["landmarks"][synth["found"].astype(bool)].mean(0), codes)
    head = fit_recipe_head(
        rows, head_cfg, perm, kind=cfg.head, masks=masks, mlp_seed=cfg.mlp_seed, n_jobs=cfg.workers
    )
    # held-out SynthAU people: even identities calibrate, odd ones report (never the same faces)
    calibrating = cfg.calibrate and not cfg.appearance
    half = (held["identity"] % 2 == 0) if calibrating else np.zeros(len(held["found"]), bool)
    thresholds = np.full(len(head.bias), cfg.threshold)
    if calibrating:
        cal = half & held["found"].astype(bool)
        head, thresholds = calibrate(head, held["landmarks"][cal], held["labels"][cal].astype(int))
    inten = None  # the intensity head: SynthAU truth only (real faces have none); even held-out people choose
    if cfg.intensity:
        use_real = real if cfg.align_neutral else None
        inten = recipe_intensity(
            synth, use_real, held, perm if cfg.mirror else None, seeds=(cfg.synth_seed, 0)
        )
    seconds["fit"] = time.perf_counter() - t1

    n_real = int(real["found"].sum())
    training = {
        "recipe": "aunce-rt train real-faces",
        "config": cfg.model_dump(),
        "synthau_train_faces": int(synth["found"].sum()),
        "real_faces": n_real,
        "rows": len(rows),
        "git_revision": git_revision(),
    }
    if inten is not None:
        training["intensity"] = {
            "alpha": inten.alpha,
            "validation_icc": inten.validation_icc,
            "rows": inten.rows,
        }
    image_fields = (
        {
            "backbone": app_meta.backbone,
            "input_size": app_meta.input_size,
            "color_order": app_meta.color_order,
            "mean": app_meta.mean,
            "std": app_meta.std,
        }
        if cfg.appearance and app_meta is not None
        else {}
    )
    meta = ModelMetadata(
        au_codes=codes,
        thresholds=tuple(float(t) for t in thresholds),
        encoder=f"geometry-{cfg.head}" + ("+appearance" if cfg.appearance else ""),
        intensity_aus=codes if inten is not None else (),
        **image_fields,
        training=training,
        licence_note=LICENCE_NOTE,
        git_revision=git_revision(),
        export_date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    appearance = load_model_proto(sources.appearance_model) if cfg.appearance else None
    model = build_geometry_model(
        head,
        meta,
        appearance,
        reference=reference,
        intensity=inten.head if inten is not None else None,
    )
    model_path = save_model_proto(model, out / "real-faces.onnx")

    # ---- held-out SynthAU renders: the graph against the numpy head, then metrics and reliability
    held_all = held
    held = {k: (v[~half] if k != "au_codes" else v) for k, v in held.items()}  # the reporting half
    f = held["found"].astype(bool)
    session = AUModelSession(model_path, providers="cpu")
    ref = head.probs(held["landmarks"][f], held["app"][f] if cfg.appearance else None)
    if not cfg.appearance:
        got, got_r = session.run_with_intensities(landmarks=held["landmarks"][f])
        ref_r = np.clip(inten.head.logits(held["landmarks"][f]), 0, 5) if inten is not None else got_r
        # float32 graph vs float64 numpy: 1e-3 on probabilities, 1e-2 on the 0-5 intensities
        gap = max(np.abs(got - ref).max(), np.nan_to_num(np.abs(got_r - ref_r), nan=0.0).max() / 10)
        if gap > 1e-3:
            raise RuntimeError(
                f"the exported heads differ from the fitted ones by {gap:.2g} (intensity / 10)"
            )
    probs = np.zeros((len(f), len(codes)))
    probs[f] = ref
    labels = held["labels"].astype(int)
    held_metrics = au_metrics(probs, labels, thresholds).to_dict(codes)
    held_metrics["renders"] = int(len(f))
    held_metrics["auc"] = dict(
        zip([f"AU{c:02d}" for c in codes], map(float, roc_auc(probs, labels)), strict=True)
    )
    held_metrics["mean_auc"] = float(np.nanmean(list(held_metrics["auc"].values())))
    if inten is not None:
        held_metrics["intensity"] = heldout_intensity(inten.head, held_all, seed=0)
    curve = reliability(probs[f], labels[f])
    plot_reliability({"SynthAU held-out renders": curve}, out / "reliability.png")

    # ---- unseen SynthAU people through the full runtime
    t2 = time.perf_counter()
    clip = render_people_clip(
        out / "eval" / "clip.mp4",
        people=cfg.clip_people,
        frames_per_person=cfg.clip_frames,
        seed=cfg.synth_seed,
        first_identity=EVAL_ID_BASE,
    )
    report = evaluate_clip(clip, out / "eval", model=model_path, providers="cpu", save_video=False)
    seconds["runtime_eval"] = time.perf_counter() - t2
    metrics = {
        "synthau_heldout_renders": held_metrics,
        "reliability_synthau_heldout": curve,
        "synthau_runtime_unseen_people": {
            **report.metrics.to_dict(codes),
            "detection_rate": report.detection_rate,
            "frames": report.frames,
            "people": cfg.clip_people,
            "fps": report.fps,
            **({"intensity": report.intensity_metrics(clip).to_dict()} if inten is not None else {}),
        },
        "thresholds": (
            "per AU, the class-balanced head's decision point (logit 0) carried through a Platt scaling "
            "fitted on held-out SynthAU people (even identities; metrics on the odd ones): decisions "
            "as at 0.5 before scaling, probabilities calibrated on SynthAU"
            if calibrating
            else f"{cfg.threshold} for every AU (the class-balanced head's decision point), chosen a priori"
        ),
    }
    update_metadata(model_path, metrics=jsonable(metrics, digits=5))
    summary = jsonable(
        {
            "file": "aunce_rt/assets/default.onnx" if install_default else model_path.name,
            "config": cfg.model_dump(),
            "training": training,
            "metrics": metrics,
            "seconds": seconds,
            "au_codes": list(codes),
            "attribution": ATTRIBUTION,
            "size_mb": model_path.stat().st_size / 1e6,
        },
        digits=5,
    )
    (out / "recipe_result.json").write_text(json.dumps(summary, indent=2))
    (out / "MODEL_CARD.md").write_text(real_face_card(summary))
    installed = None
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        installed = Path(shutil.copyfile(model_path, target))
        log.info("installed %s", installed)
    return RealFaceResult(model_path, metrics, installed, seconds)
