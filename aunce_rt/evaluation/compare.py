"""Score several models on the same labelled data through the runtime: "before and after".

The data is a labelled image folder (``read_labelled_images``) or a SynthAU clip of
unseen people (``render_people_clip``; the word "synthau" renders one). Every model
runs through ``AUDetector`` exactly as a user would run it, and is scored on the AUs
it shares with the labels: AUC, F1 at the model's thresholds (``score_images``).

Example:
    >>> reports = score_models({"before": "base.onnx", "after": "adapted.onnx"}, "synthau", work="eval")  # doctest: +SKIP
    >>> print(format_comparison(reports))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from aunce_rt.errors import InputError
from aunce_rt.evaluation.images import (
    ImageEvalReport,
    ImagePrep,
    evaluate_images,
    read_labelled_images,
    score_images,
)
from aunce_rt.evaluation.runtime_eval import PeopleClip, evaluate_clip, render_people_clip

logger = logging.getLogger(__name__)

__all__ = ["SYNTHAU", "format_comparison", "score_models"]

SYNTHAU = "synthau"  # the eval source that renders a SynthAU clip of unseen people


def score_models(
    models: Mapping[str, str | Path],
    source: str | Path | PeopleClip,
    *,
    work: str | Path,
    people: int = 3,
    frames_per_person: int = 120,
    seed: int = 0,
    providers: str = "auto",
    prep: ImagePrep = ImagePrep(),
) -> dict[str, ImageEvalReport]:
    """Each model's scores on ``source``, in the order given.

    Args:
        models: name -> ONNX model path.
        source: a labelled image folder or labels CSV, a rendered ``PeopleClip``, or "synthau"
            (renders ``people`` unseen SynthAU people into ``work``/eval_clip.mp4).
        work: folder for the clip and the runtime's per-model CSVs.
        people, frames_per_person, seed: the rendered clip's people, length and expressions.
        providers: ONNX Runtime execution providers.
        prep: grey / upscale / border for image folders.
    """
    if not models:
        raise InputError("score_models needs at least one model")
    work = Path(work)
    if isinstance(source, str) and source.lower() == SYNTHAU:
        source = render_people_clip(
            work / "eval_clip.mp4", people=people, frames_per_person=frames_per_person, seed=seed
        )
    if isinstance(source, PeopleClip):
        return {
            name: _score_clip(source, path, work / f"eval_{name}", providers) for name, path in models.items()
        }
    from aunce_rt.detector import AUDetector

    data = read_labelled_images(source)
    reports = {}
    for name, path in models.items():
        detector = AUDetector(path, providers=providers, max_faces=4)
        try:
            reports[name] = evaluate_images(detector, data, prep)
        finally:
            detector.close()
    return reports


def _score_clip(clip: PeopleClip, model: str | Path, out: Path, providers: str) -> ImageEvalReport:
    report = evaluate_clip(clip, out, model=model, providers=providers, save_video=False, plot=False)
    if report.probabilities is None or report.thresholds is None:
        raise InputError(f"the runtime returned no probabilities for {model} on {clip.video}")
    probs = report.probabilities
    found = probs.any(axis=1)  # a frame without a face keeps all-zero probabilities
    return score_images(
        probs, clip.labels[: len(probs)], found, report.thresholds, clip.au_codes, source=str(clip.video)
    )


def format_comparison(reports: Mapping[str, ImageEvalReport]) -> str:
    """A plain-text table: per AU, each model's F1 (at its thresholds) and AUC; then the means."""
    names = list(reports)
    if not names:
        return ""
    codes = reports[names[0]].au_codes
    if any(r.au_codes != codes for r in reports.values()):
        raise InputError("the models were scored on different AUs; compare models with the same AU list")
    head = ["AU"] + [f"F1 {n}" for n in names] + [f"AUC {n}" for n in names]
    rows = [head]
    for j, code in enumerate(codes):
        rows.append(
            [f"AU{code:02d}"]
            + [_pct(reports[n].f1[j]) for n in names]
            + [_num(reports[n].auc[j]) for n in names]
        )
    rows.append(
        ["mean"] + [_pct(reports[n].f1_macro) for n in names] + [_num(reports[n].mean_auc) for n in names]
    )
    rows.append(["faces found"] + [_pct(float(np.mean(reports[n].found))) for n in names] + [""] * len(names))
    widths = [max(len(r[k]) for r in rows) for k in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def _pct(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{100 * x:.1f}"


def _num(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{x:.3f}"
