"""Real-face AU accuracy on ckplus_dev, through the full runtime (a script, not a test).

Scores, in one run, on ../shared/data/ckplus_dev (381 CK+ 48x48 grey crops with
FACS codes; evaluation only):

  * the bundled model (``AUDetector()``, the default landmarks);
  * every ``--model NAME=PATH`` given (e.g. a previous model; repeatable);
  * the blendshape teacher (``aunce_rt.evaluation.teacher``: MediaPipe
    FaceLandmarker blendshapes mapped to AUs by a fixed FACS table).

The protocol is the set's own (its README): grey, x4 cubic upscale (192x192), a
replicated border of a quarter of the side on each edge (288x288), BGR,
``detect`` in still-image mode, the most confident face; an image without a face
scores 0 for every AU. Headline: AUC per AU and its mean over the 12 BP4D AUs;
also F1 at each system's own thresholds, and faces found.

Prints a markdown table; writes JSON and a plot (``bench/results/`` by default).

    .venv/bin/python bench/bench_ckplus.py
    .venv/bin/python bench/bench_ckplus.py --model previous=runs/old/model.onnx --out ckplus.md
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data" / "ckplus_dev"
TASK = SHARED / "models" / "face_landmarker.task"
RESULTS = ROOT / "bench" / "results"
TEACHER = "blendshape teacher"

log = logging.getLogger("bench_ckplus")


def _named_model(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=PATH (e.g. previous=model.onnx); got {text!r}")
    if not Path(path).is_file():
        raise argparse.ArgumentTypeError(f"{path!r} is not a file")
    return name.strip(), Path(path)


def markdown(reports: dict, au_codes: tuple[int, ...], positives: dict[int, int]) -> str:
    """One row per AU (AUC and F1 per system), the means, and the faces found."""
    from aunce_rt.aus import au_label

    names = list(reports)
    head = "| AU | positives | " + " | ".join(f"{n} AUC | {n} F1 (%)" for n in names) + " |"
    lines = [head, "|---|---:|" + "---:|---:|" * len(names)]
    for code in au_codes:
        cells = []
        for n in names:
            r = reports[n]
            if code in r.au_codes:
                k = r.au_codes.index(code)
                cells += [f"{r.auc[k]:.3f}", f"{100 * r.f1[k]:.1f}"]
            else:
                cells += ["—", "—"]
        lines.append(f"| {au_label(code)} | {positives[code]} | " + " | ".join(cells) + " |")
    means = [f"**{reports[n].mean_auc:.3f}** | **{100 * reports[n].f1_macro:.1f}**" for n in names]
    lines.append("| **mean** | | " + " | ".join(means) + " |")
    found = [f"{int(reports[n].found.sum())}/{reports[n].found.size} | " for n in names]
    lines.append("| faces found | | " + " | ".join(found) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA, help="ckplus_dev folder (labels.csv + images/)")
    ap.add_argument("--task", type=Path, default=TASK, help="MediaPipe FaceLandmarker .task (teacher)")
    ap.add_argument(
        "--model",
        type=_named_model,
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="an extra .onnx model to score (repeatable)",
    )
    ap.add_argument("--no-teacher", action="store_true", help="skip the blendshape teacher")
    ap.add_argument("--providers", default="cpu")
    ap.add_argument("--out", type=Path, help="also write the markdown table here")
    ap.add_argument(
        "--card",
        type=Path,
        help="a real-face recipe's run folder: put these figures first in its MODEL_CARD.md",
    )
    ap.add_argument("--json", type=Path, default=RESULTS / "ckplus.json")
    ap.add_argument("--plot", type=Path, default=RESULTS / "ckplus.png")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    if not (args.data / "labels.csv").is_file():
        print(
            f"bench_ckplus: no ckplus_dev at {args.data} (needs ../shared/data; pass --data)", file=sys.stderr
        )
        return 2
    if not args.no_teacher and not args.task.is_file():
        print(
            f"bench_ckplus: no FaceLandmarker at {args.task} (pass --task or --no-teacher)", file=sys.stderr
        )
        return 2

    from aunce_rt.aus import BENCHMARK_AUS
    from aunce_rt.detector import AUDetector
    from aunce_rt.evaluation.images import ImagePrep, evaluate_images, plot_image_eval, read_labelled_images
    from aunce_rt.evaluation.teacher import BlendshapeAUDetector

    data = read_labelled_images(args.data)
    prep = ImagePrep(grey=True, upscale=4, border=0.25)  # the set's protocol; never change it
    systems: list[tuple[str, object]] = [("bundled", lambda: AUDetector(providers=args.providers))]
    for name, path in args.model:
        systems.append((name, lambda p=path: AUDetector(p, providers=args.providers)))
    if not args.no_teacher:
        systems.append((TEACHER, lambda: BlendshapeAUDetector(args.task, providers=args.providers)))

    reports = {}
    start = time.perf_counter()
    for name, make in systems:
        t0 = time.perf_counter()
        with make() as detector:
            reports[name] = evaluate_images(detector, data, prep)
        r = reports[name]
        log.info(
            "%s: mean AUC %.3f, faces %d/%d (%.0f s)",
            name,
            r.mean_auc,
            r.found.sum(),
            r.found.size,
            time.perf_counter() - t0,
        )

    codes = tuple(c for c in BENCHMARK_AUS["bp4d"] if c in data.au_codes)
    positives = {c: int((data.labels[:, data.au_codes.index(c)] == 1).sum()) for c in codes}
    text = "\n".join(
        [
            f"### AU detection on ckplus_dev ({len(data.paths)} CK+ images, 12 BP4D AUs)",
            "",
            "- protocol: grey, x4 cubic, replicated border 1/4 side, still-image `detect`, most confident"
            " face; no face = 0 for every AU",
            "- F1 at each system's own thresholds (the teacher: 0.5, a priori; its scores are not calibrated)",
            f"- total wall time {time.perf_counter() - start:.0f} s",
            "",
            markdown(reports, codes, positives),
        ]
    )
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({n: r.to_dict() for n, r in reports.items()}, indent=2) + "\n")
    plot = plot_image_eval(reports, args.plot)
    log.info("wrote %s and %s", args.json, plot)
    if args.card:
        _update_card(args.card, reports, data)
    return 0


def _update_card(run_dir: Path, reports: dict, data) -> None:
    """Add the ckplus_dev figures to a real-face run's recipe_result.json and rewrite its MODEL_CARD.md."""
    from aunce_rt.aus import au_label
    from aunce_rt.pipelines._real_card import real_face_card

    summary_path = run_dir / "recipe_result.json"
    summary = json.loads(summary_path.read_text())
    import csv

    with Path(data.source).open() as fh:
        people = len({row.get("subject") for row in csv.DictReader(fh)} - {None})
    summary["real_faces_eval"] = {
        "name": "ckplus_dev (CK+)",
        "images": len(data.paths),
        "people": people,
        "protocol": "grey, x4 cubic, replicated border of 1/4 side, still-image detect, most confident face; "
        "no face = 0 for every AU; `python bench/bench_ckplus.py`",
        "systems": {
            name: {
                "auc": {au_label(c): float(r.auc[k]) for k, c in enumerate(r.au_codes)},
                "mean_auc": float(r.mean_auc),
                "f1_macro": float(r.f1_macro),
                "faces": f"{int(r.found.sum())}/{r.found.size}",
            }
            for name, r in reports.items()
        },
        "note": "F1-macro at each system's own thresholds: "
        + ", ".join(f"{n} {100 * r.f1_macro:.1f}%" for n, r in reports.items())
        + ". Faces found: "
        + ", ".join(f"{n} {int(r.found.sum())}/{r.found.size}" for n, r in reports.items())
        + ".",
    }
    summary_path.write_text(json.dumps(summary, indent=2))
    (run_dir / "MODEL_CARD.md").write_text(real_face_card(summary))
    log.info("updated %s and its MODEL_CARD.md", summary_path)


if __name__ == "__main__":
    raise SystemExit(main())
