"""Score a model on a folder of labelled still images, through the full runtime.

A labelled folder is a CSV with an image column (paths relative to the CSV's
folder) and one 0/1 column per AU (``AU01``, ``AU12``, ...; an empty cell or -1
means "not coded"). Each image is read, optionally turned grey, upscaled and
given a replicated border (the protocol of aligned-face sets such as CK+, whose
tight crops a face detector misses otherwise), then ``AUDetector.detect`` finds
the most confident face. An image without a face scores 0 for every AU, so
missed faces cost what they would cost a user.

Reported per AU (the model's AUs that the CSV codes): AUC (threshold-free), F1 at
the model's own thresholds, F1 at the best threshold on these images (an
optimistic oracle: how separable the AU is, never a way to pick thresholds),
base rate and positives; plus faces found.

Example:
    >>> from aunce_rt import AUDetector
    >>> data = read_labelled_images("ckplus_dev")                      # doctest: +SKIP
    >>> report = evaluate_images(AUDetector(), data, ImagePrep(grey=True, upscale=4, border=0.25))  # doctest: +SKIP
    >>> print(report.format_table())                                   # doctest: +SKIP
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from aunce_rt.aus import au_label, parse_au_code
from aunce_rt.errors import InputError
from aunce_rt.evaluation.metrics import au_metrics, best_f1, roc_auc
from aunce_rt.imageio import read_image
from aunce_rt.plotting import save_figure

logger = logging.getLogger(__name__)

LABELS_FILE = "labels.csv"


@dataclass(frozen=True)
class LabelledImages:
    """Images with per-AU 0/1 labels.

    Attributes:
        paths: (S,) image files.
        labels: (S, K) int8 in {-1, 0, 1}; -1 = not coded.
        au_codes: (K,) FACS codes of the label columns.
        source: the CSV they came from.
    """

    paths: tuple[Path, ...]
    labels: np.ndarray
    au_codes: tuple[int, ...]
    source: Path

    def __post_init__(self) -> None:
        if self.labels.shape != (len(self.paths), len(self.au_codes)):
            raise ValueError(
                f"labels {self.labels.shape} must be (images, AUs) = ({len(self.paths)}, {len(self.au_codes)})"
            )


def read_labelled_images(source: str | Path, *, image_column: str = "image") -> LabelledImages:
    """Read a labels CSV (or a folder holding ``labels.csv``).

    Args:
        source: the CSV, or a folder with ``labels.csv``.
        image_column: the column of image paths (relative to the CSV's folder, or absolute).

    Raises:
        InputError: no CSV, no image column, no AU column, or a value other than 0/1/-1/empty.
    """
    path = Path(source)
    csv_path = path / LABELS_FILE if path.is_dir() else path
    if not csv_path.is_file():
        raise InputError(
            f"{str(source)!r} is neither a labels CSV nor a folder with {LABELS_FILE}; pass a CSV with an "
            f"'{image_column}' column and AUxx 0/1 columns"
        )
    with csv_path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in reader.fieldnames or []]
        rows = list(reader)
    if image_column not in header:
        raise InputError(
            f"{csv_path}: no '{image_column}' column (columns: {header[:8]}...); pass image_column="
        )
    au_columns = [h for h in header if h.upper().startswith("AU") and h[2:].strip().isdigit()]
    if not au_columns:
        raise InputError(f"{csv_path}: no AU columns; name them AU01, AU12, ... with 0/1 values")
    labels = np.full((len(rows), len(au_columns)), -1, dtype=np.int8)
    for r, row in enumerate(rows):
        for k, col in enumerate(au_columns):
            text = (row.get(col) or "").strip()
            if text in ("", "-1", "nan", "NaN"):
                continue
            if text not in ("0", "1", "0.0", "1.0"):
                raise InputError(f"{csv_path} row {r + 2}, {col}: {text!r} is not 0, 1 or empty")
            labels[r, k] = int(float(text))
    base = csv_path.parent
    paths = tuple(base / row[image_column].strip() for row in rows)
    return LabelledImages(paths, labels, tuple(parse_au_code(c) for c in au_columns), csv_path)


@dataclass(frozen=True)
class ImagePrep:
    """How each image becomes a frame: grey, upscale factor (cubic), border (fraction of the side).

    CK+'s protocol is ``ImagePrep(grey=True, upscale=4, border=0.25)``.
    """

    grey: bool = False
    upscale: float = 1.0
    border: float = 0.0

    def __post_init__(self) -> None:
        if not self.upscale > 0 or not 0 <= self.border <= 2:
            raise InputError(f"upscale must be > 0 and border in [0, 2]; got {self.upscale}, {self.border}")

    def apply(self, image_bgr: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 BGR -> the frame the detector sees."""
        img = image_bgr
        if self.grey:
            img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        if self.upscale != 1.0:
            img = cv2.resize(img, None, fx=self.upscale, fy=self.upscale, interpolation=cv2.INTER_CUBIC)
        if self.border > 0:
            top, left = round(img.shape[0] * self.border), round(img.shape[1] * self.border)
            img = cv2.copyMakeBorder(img, top, top, left, left, cv2.BORDER_REPLICATE)
        return img


@dataclass(frozen=True)
class ImageEvalReport:
    """Per-AU scores of one model on one labelled image set.

    Attributes:
        au_codes: (K,) AUs scored (the model's AUs the labels code), in the model's order.
        probabilities: (S, K) the most confident face's probabilities; 0 where no face was found.
        labels: (S, K) in {-1, 0, 1}.
        found: (S,) bool, a face was found.
        thresholds: (K,) the model's thresholds.
        auc, f1, f1_best, best_threshold, base_rate: (K,) per AU (NaN where undefined).
        positives: (K,) labelled positives.
    """

    au_codes: tuple[int, ...]
    probabilities: np.ndarray
    labels: np.ndarray
    found: np.ndarray
    thresholds: np.ndarray
    auc: np.ndarray
    f1: np.ndarray
    f1_best: np.ndarray
    best_threshold: np.ndarray
    base_rate: np.ndarray
    positives: np.ndarray
    source: str = ""

    @property
    def mean_auc(self) -> float:
        """Mean AUC over the AUs where it is defined."""
        return float(np.nanmean(self.auc)) if np.isfinite(self.auc).any() else float("nan")

    @property
    def f1_macro(self) -> float:
        """Mean F1 at the model's thresholds."""
        return float(np.mean(self.f1)) if self.f1.size else float("nan")

    @property
    def f1_best_macro(self) -> float:
        """Mean oracle F1 (best threshold per AU on this set)."""
        return float(np.mean(self.f1_best)) if self.f1_best.size else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (fractions; undefined values None)."""

        def num(x: float) -> float | None:
            return None if not np.isfinite(x) else round(float(x), 5)

        return {
            "source": self.source,
            "images": int(self.found.size),
            "faces_found": int(self.found.sum()),
            "mean_auc": num(self.mean_auc),
            "f1_macro": num(self.f1_macro),
            "f1_best_macro": num(self.f1_best_macro),
            "per_au": {
                au_label(code): {
                    "auc": num(self.auc[k]),
                    "f1": num(self.f1[k]),
                    "threshold": num(self.thresholds[k]),
                    "f1_best": num(self.f1_best[k]),
                    "best_threshold": num(self.best_threshold[k]),
                    "base_rate": num(self.base_rate[k]),
                    "positives": int(self.positives[k]),
                }
                for k, code in enumerate(self.au_codes)
            },
        }

    def format_table(self) -> str:
        """Plain-text table: one row per AU, then the means and the faces found."""

        def pct(x: float) -> str:
            return f"{100 * x:7.1f}" if np.isfinite(x) else f"{'n/a':>7}"

        def frac(x: float) -> str:
            return f"{x:7.3f}" if np.isfinite(x) else f"{'n/a':>7}"

        lines = [f"{'AU':<6}{'AUC':>7}{'F1':>7}{'thr':>7}{'F1best':>7}{'at':>7}{'rate':>7}{'pos':>6}"]
        for k, code in enumerate(self.au_codes):
            lines.append(
                f"{au_label(code):<6}{frac(self.auc[k])}{pct(self.f1[k])}{frac(self.thresholds[k])}"
                f"{pct(self.f1_best[k])}{frac(self.best_threshold[k])}{pct(self.base_rate[k])}"
                f"{int(self.positives[k]):>6}"
            )
        lines.append(f"{'mean':<6}{frac(self.mean_auc)}{pct(self.f1_macro)}{'':>7}{pct(self.f1_best_macro)}")
        lines.append(
            f"faces found {int(self.found.sum())}/{self.found.size}; F1best uses the best threshold on these "
            "very images (optimistic: for comparison only)"
        )
        return "\n".join(lines)


def score_images(
    probabilities: np.ndarray,
    labels: np.ndarray,
    found: np.ndarray,
    thresholds: Sequence[float],
    au_codes: Sequence[int],
    *,
    source: str = "",
) -> ImageEvalReport:
    """Metrics of (S, K) probabilities against (S, K) labels (no model needed)."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels)
    known = y >= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        base = (y == 1).sum(0) / known.sum(0)
    f1_best, best_thr = best_f1(p, y)
    return ImageEvalReport(
        au_codes=tuple(int(c) for c in au_codes),
        probabilities=p,
        labels=y,
        found=np.asarray(found, dtype=bool),
        thresholds=np.asarray(thresholds, dtype=np.float64),
        auc=roc_auc(p, y),
        f1=au_metrics(p, y, np.asarray(thresholds, dtype=np.float64)).f1,
        f1_best=f1_best,
        best_threshold=best_thr,
        base_rate=base,
        positives=(y == 1).sum(0),
        source=source,
    )


def evaluate_images(
    detector: Any,
    data: LabelledImages,
    prep: ImagePrep = ImagePrep(),
    *,
    on_image: Callable[[int, int], None] | None = None,
) -> ImageEvalReport:
    """Run ``detector`` (an ``AUDetector``) on every image and score it.

    Args:
        detector: an ``AUDetector`` (its ``detect``, ``au_codes`` and ``thresholds`` are used).
        data: from :func:`read_labelled_images`.
        prep: grey / upscale / border applied before detection.
        on_image: called with (done, total) after each image (progress).

    Raises:
        InputError: the model and the labels share no AU.
    """
    model_codes = tuple(int(c) for c in detector.au_codes)
    shared = [c for c in model_codes if c in data.au_codes]
    if not shared:
        raise InputError(
            f"{data.source}: labels code AUs {list(data.au_codes)}, the model predicts {list(model_codes)}; "
            "none is shared"
        )
    model_idx = [model_codes.index(c) for c in shared]
    label_idx = [data.au_codes.index(c) for c in shared]
    probs = np.zeros((len(data.paths), len(shared)), dtype=np.float64)
    found = np.zeros(len(data.paths), dtype=bool)
    for s, path in enumerate(data.paths):
        result = detector.detect(prep.apply(read_image(path)))
        if result.faces:
            face = max(result.faces, key=lambda f: f.confidence)
            probs[s] = face.probabilities[model_idx]
            found[s] = True
        if on_image is not None:
            on_image(s + 1, len(data.paths))
    if not found.all():
        logger.info("no face in %d of %d images (scored 0 for every AU)", (~found).sum(), found.size)
    thresholds = np.asarray(detector.thresholds, dtype=np.float64)[model_idx]
    return score_images(probs, data.labels[:, label_idx], found, thresholds, shared, source=str(data.source))


def plot_image_eval(reports: dict[str, ImageEvalReport], out: str | Path) -> Path:
    """Bar chart of AUC and F1 per AU for one or more models (name -> report) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(reports)
    codes = reports[names[0]].au_codes
    x = np.arange(len(codes))
    width = 0.8 / len(names)
    fig, axes = plt.subplots(2, 1, figsize=(max(6.0, 0.7 * len(codes) + 2), 6), sharex=True)
    for j, name in enumerate(names):
        r = reports[name]
        axes[0].bar(x + j * width, r.auc, width, label=f"{name} (mean {r.mean_auc:.3f})")
        axes[1].bar(x + j * width, r.f1, width, label=f"{name} (mean {r.f1_macro:.3f})")
    axes[0].axhline(0.5, color="grey", lw=0.8, ls="--")
    axes[0].set_ylabel("AUC")
    axes[1].set_ylabel("F1 at model thresholds")
    for ax in axes:
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8, loc="lower right")
    axes[1].set_xticks(x + 0.4 - width / 2, [au_label(c) for c in codes])
    fig.tight_layout()
    return save_figure(fig, out)
