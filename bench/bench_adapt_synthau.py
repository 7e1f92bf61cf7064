"""Issue 17: does adapting a CLP model to footage of new people keep its AU probe right? (SynthAU)

A CLP model (a ``method: clp`` run's ``model.pt``, e.g. from bench_clp_seeds.py) is adapted
with ``training.adapt.adapt_model`` to unlabelled SynthAU video of ``--people`` people it has
never seen (one video per person), then scored through the runtime before and after on a
clip of the SAME people showing other expressions (the user's case: adapt to the people
you will run on), and on a clip of other unseen people (what it costs elsewhere). Repeated
for several adaptation seeds; the base model is fixed.

Rule (set before running): the adapted probe "does not fall" when the mean F1 change on the
same people is above -2 x its std over adaptation seeds (and above -1 point when the std is 0).

    .venv/bin/python bench/bench_adapt_synthau.py --model runs/clp_seeds/seed1/checkpoints/fold1-seed1/model.pt
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRST_ID = 7_300_000  # SynthAU test-range identities no recipe or demo uses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="a CLP model.pt")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "adapt_synthau")
    ap.add_argument("--people", type=int, default=6)
    ap.add_argument("--frames", type=int, default=100, help="frames per footage video (25 fps)")
    ap.add_argument("--eval-frames", type=int, default=60, help="frames per person in the scoring clips")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--report", type=Path, default=ROOT / "bench" / "adapt_synthau.md")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    from aunce_rt.evaluation.compare import score_models
    from aunce_rt.evaluation.runtime_eval import render_people_clip
    from aunce_rt.export import export_onnx
    from aunce_rt.training.adapt import adapt_model

    start = time.perf_counter()
    out = args.out
    people = [FIRST_ID + k for k in range(args.people)]
    footage = out / "footage"
    for k, identity in enumerate(people):
        video = footage / f"person{k:02d}.mp4"
        if not video.is_file():
            render_people_clip(
                video, identities=[identity], frames_per_person=args.frames, fps=25.0, seed=100 + k
            )
    same = render_people_clip(out / "same_people.mp4", identities=people, frames_per_person=args.eval_frames,
                              fps=25.0, seed=900)  # fmt: skip
    others = render_people_clip(out / "other_people.mp4", identities=[FIRST_ID + 500 + k for k in range(3)],
                                frames_per_person=args.eval_frames, fps=25.0, seed=901)  # fmt: skip
    base = out / "base.onnx"
    if not base.is_file():
        export_onnx(args.model, base)
    models = {"before": base}
    rows = []
    for seed in args.seeds:
        work = out / f"adapt_seed{seed}"
        result = adapt_model(args.model, [footage], work, epochs=args.epochs, seed=seed)
        onnx = work / "adapted.onnx"
        if not onnx.is_file():
            export_onnx(result.model, onnx)
        models[f"seed{seed}"] = onnx
        rows.append({"seed": seed, "tracks": result.tracks, "clips": result.clips, "history": result.history,
                     "seconds": result.seconds})  # fmt: skip
    scores = {}
    for name, clip in (("same people", same), ("other people", others)):
        reports = score_models(models, clip, work=out / f"eval_{name.split()[0]}")
        scores[name] = {m: (r.f1_macro, r.mean_auc) for m, r in reports.items()}
    lines = [
        "# Adapting a CLP model to footage of new people (SynthAU)",
        "",
        f"Produced by `python bench/bench_adapt_synthau.py {' '.join(sys.argv[1:])}` "
        f"({time.perf_counter() - start:.0f} s in this call). Footage: {args.people} unseen people, one video each, "
        f"{args.frames} frames at 25 fps, no labels; {args.epochs} epochs of CLP; the probe kept. Scored "
        f"through the runtime on {args.eval_frames} frames per person of other expressions.",
        "",
        "| scored on | before F1 | after F1 (mean ± std over seeds) | change | before AUC | after AUC |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    verdicts = {}
    for name, s in scores.items():
        f1b, aucb = s["before"]
        after = [s[f"seed{seed}"][0] for seed in args.seeds]
        aucs = [s[f"seed{seed}"][1] for seed in args.seeds]
        change = [a - f1b for a in after]
        sd = statistics.stdev(change) if len(change) > 1 else 0.0
        mean = statistics.mean(change)
        verdicts[name] = mean > -max(2 * sd, 0.01)
        lines.append(
            f"| {name} | {100 * f1b:.1f} | {100 * statistics.mean(after):.1f} ± {100 * sd:.1f} | "
            f"{100 * mean:+.1f} | {aucb:.3f} | {statistics.mean(aucs):.3f} |"
        )
    lines += [
        "",
        "Per seed: "
        + "; ".join(
            f"seed {r['seed']}: {r['tracks']} tracks, {r['clips']} clips, loss "
            + ", ".join(f"{h:.2f}" for h in r["history"])
            + f", {r['seconds']:.0f} s of training in this call (0: trained by an earlier call, read back)"
            for r in rows
        ),
        "",
        "Rule (set before running): the probe does not fall when the mean change is above -2 x its std "
        "over seeds (-1 point when that is smaller). "
        + "; ".join(f"{k}: {'does not fall' if v else 'FALLS'}" for k, v in verdicts.items())
        + ".",
    ]
    args.report.write_text("\n".join(lines) + "\n")
    (out / "scores.json").write_text(json.dumps({"scores": scores, "runs": rows}, indent=1, default=list))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
