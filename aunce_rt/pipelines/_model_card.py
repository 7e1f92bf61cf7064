"""The markdown model card of a recipe's model, from its ``recipe_result.json``.

Example:
    >>> # Path("MODEL_CARD.md").write_text(model_card(json.loads(Path("recipe_result.json").read_text())))
"""

from __future__ import annotations

from typing import Any


def model_card(summary: dict[str, Any]) -> str:
    """A markdown model card from a recipe's ``recipe_result.json``.

    ``summary["file"]`` names the model file (the installed path, or the file in the
    run folder); older summaries without it name ``<recipe>.onnx``.
    """
    from aunce_rt.aus import au_name

    m = summary["metrics"]
    crops, rt = m["synthau_test_crops"], m["synthau_runtime_unseen_people"]
    lines = [
        f"- **file**: `{summary.get('file') or summary['recipe'] + '.onnx'}` ({summary['chosen']}, "
        f"{summary['size_mb']:.1f} MB), made by `aunce-rt train recipe {summary['recipe']}`",
        f"- **encoder**: ME-GraphAU stage-1 over `{summary['backbone']}` from random init, "
        f"{summary['input_size']} px aligned face crops; objective: "
        + (
            "AUNCE pretraining + per-AU linear probe"
            if summary["loss"] == "aunce"
            else f"{summary['loss'].upper()} end to end + per-AU linear probe"
        )
        + f", {summary['epochs']} epochs"
        + (
            f" after a {summary['warmup_epochs']}-epoch supervised backbone warm-up"
            if summary.get("warmup_epochs")
            else ""
        )
        + ("; training steps in bfloat16 autocast (float32 weights)" if summary.get("amp") == "bf16" else ""),
        f"- **data**: SynthAU synthetic faces only: {summary['train_frames']} training crops"
        + (
            f" ({summary['train_video_frames']} of them frames of rendered, mp4-compressed clips)"
            if summary.get("train_video_frames")
            else ""
        )
        + f", {summary['test_frames']} static test crops of other (unseen) identities",
        "- **thresholds**: 0.5 for every AU (the class-weighted probe's balanced decision point; per-AU "
        "thresholds tuned on held-out training identities did worse through the runtime)",
        "- **not** a model of real faces trained on FACS-coded data: expect it to transfer poorly to real "
        "video; train on a licensed benchmark (BP4D, DISFA, ...) for real use",
        "",
        "| AU | name | threshold | F1 test crops (%) | F1 through the runtime (%) | F1 same frames, true landmarks (%) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    truth = rt.get("truth_aligned_same_frames")

    def cell(d: dict[str, Any] | None, key: str) -> str:
        return f"{100 * d['per_au'][key]['f1']:.1f}" if d else "n/a"

    for code, t in zip(summary["au_codes"], summary["thresholds"], strict=True):
        key = f"AU{code:02d}"
        lines.append(
            f"| {key} | {au_name(code)} | {t:.2f} | {cell(crops, key)} | {cell(rt, key)} | {cell(truth, key)} |"
        )
    mean_truth = f"**{100 * truth['f1_macro']:.1f}**" if truth else "n/a"
    lines.append(
        f"| **mean** | F1-macro | | **{100 * crops['f1_macro']:.1f}** | **{100 * rt['f1_macro']:.1f}** "
        f"| {mean_truth} |"
    )
    lines += [
        "",
        f"Runtime column: {rt['people']} unseen SynthAU people, {rt['frames']} video frames through "
        f"MediaPipe, alignment and ONNX Runtime; face found in {100 * rt['detection_rate']:.1f}% of frames "
        "(a missed face counts as all AUs absent). Last column: the same model on the same decoded frames "
        "aligned with the renderer's true landmarks instead of MediaPipe's: the difference is what the "
        "runtime's landmarks and alignment cost. Test crops: static SynthAU samples of other unseen people.",
    ]
    if "f1_macro_at_crop_rates" in rt:
        rates_rt, rates_crops = rt["au_rates"], crops["au_rates"]
        rarer = sorted(rates_rt, key=lambda k: rates_rt[k] - rates_crops[k])[:3]
        lines.append(
            "F1 depends on how often an AU occurs, and the clip's AU rates differ from the crops' "
            "(neutral stretches, onsets from neutral, a few expressions per person; e.g. "
            + ", ".join(f"{k} {100 * rates_rt[k]:.0f}% vs {100 * rates_crops[k]:.0f}%" for k in rarer)
            + f"). With the clip's positives re-weighted to the crops' AU rates (prevalence-calibrated F1, "
            f"Siblini et al. 2020), the runtime scores {100 * rt['f1_macro_at_crop_rates']:.1f}% "
            f"(vs {100 * crops['f1_macro']:.1f}% on the crops); what remains is the video frames themselves "
            "(head motion, compression, AUs in transition) and the runtime's alignment (last column)."
        )
    v = m["variants"]
    lines.append(
        "Variants measured on this machine (ONNX Runtime, CPU, batch 1): "
        + ", ".join(
            f"{k} {d['ms_per_face']:.2f} ms/face, F1 {100 * d['f1_macro']:.1f}%" for k, d in v.items()
        )
        + f"; chosen: {summary['chosen']} (the faster one within 1 F1 point)."
    )
    return "\n".join(lines) + "\n"
