"""The markdown model card of the real-face model, from its ``recipe_result.json``.

Real-face figures come first when a ckplus_dev evaluation was added to the summary
(``summary["real_faces_eval"]``, written by ``bench/bench_ckplus.py --card``); SynthAU
figures second; then data sources with their licences and the limitations.
"""

from __future__ import annotations

from typing import Any

from aunce_rt.pipelines._geometry_mlp import MLPConfig


def _num(v: float | None) -> str:
    """Three decimals; "-" for a figure that is undefined (NaN, stored as null in the JSON)."""
    return "-" if v is None or v != v else f"{v:.3f}"


def _row(label: str, per_au: dict[str, float], codes: list[int], mean: float, extra: str = "") -> str:
    cells = " | ".join(_num(per_au.get(f"AU{c:02d}")) for c in codes)
    return f"| {label} | {cells} | **{_num(mean)}** |{extra}"


def real_face_card(summary: dict[str, Any]) -> str:
    """A markdown model card for the real-face recipe's model."""
    codes = summary["au_codes"]
    cfg, m, tr = summary["config"], summary["metrics"], summary["training"]
    held, rt = m["synthau_heldout_renders"], m["synthau_runtime_unseen_people"]
    head = "| | " + " | ".join(f"AU{c:02d}" for c in codes) + " | mean |"
    rule = "|---|" + "---:|" * (len(codes) + 1)
    lines = [
        "# Model card: the real-face AU model",
        "",
        f"- **file**: `{summary['file']}` ({summary['size_mb']:.2f} MB), made by `aunce-rt train real-faces`",
        "- **model**: "
        + (
            f"one network with a hidden layer of {MLPConfig().hidden} ReLU units"
            if cfg.get("head") == "mlp"
            else "per-AU logistic regression"
        )
        + " on the 478 MediaPipe FaceMesh points of the face, mapped "
        "into the runtime's aligned frame (`aunce_rt.geometry`), class-balanced"
        + (", every training face also mirrored" if cfg["mirror"] else "")
        + (
            "; the head averaged with its mirror image (a face and its mirror score alike)"
            if cfg.get("symmetric")
            else ""
        )
        + (
            "; SynthAU geometry moved by the difference between the mean neutral real and SynthAU face"
            if cfg.get("align_neutral")
            else ""
        )
        + ("; every face rotated in 3-D onto a frontal reference" if cfg.get("frontal") else "")
        + ("; fused with the SynthAU appearance model's logits" if cfg["appearance"] else "")
        + ". One ONNX graph; its metadata declares the `landmarks` input the runtime feeds.",
        f"- **data**: {tr['synthau_train_faces']} SynthAU renders (exact AU truth) and {tr['real_faces']} "
        "real faces with MediaPipe blendshape scores mapped to AUs as soft targets; no FACS-coded real data.",
        f"- **thresholds**: {m['thresholds']}.",
        "",
    ]
    real = summary.get("real_faces_eval")
    if real:
        lines += [
            f"## Real faces: {real['name']} ({real['images']} images, {real['people']} people; evaluation only)",
            "",
            "AUC per AU through the full runtime (" + real["protocol"] + ").",
            "",
            head,
            rule,
        ]
        for name, r in real["systems"].items():
            lines.append(_row(name, r["auc"], codes, r["mean_auc"]))
        lines += ["", real.get("note", ""), ""]
    lines += [
        "## SynthAU",
        "",
        f"Held-out renders of unseen people (AUC; F1-macro at the thresholds {100 * held['f1_macro']:.1f}%):",
        "",
        head,
        rule,
        _row("held-out renders", held["auc"], codes, held["mean_auc"]),
        "",
        f"Through the full runtime, {rt['people']} unseen SynthAU people, {rt['frames']} video frames: "
        f"F1-macro **{100 * rt['f1_macro']:.1f}%**, face found in {100 * rt['detection_rate']:.1f}% of frames.",
        "",
        f"Calibration on the held-out renders: expected calibration error {m['reliability_synthau_heldout']['ece']:.3f} "
        "(reliability curve: `reliability.png` in the run folder). "
        + (
            "Probabilities are Platt-scaled per AU on other held-out SynthAU people: calibrated for "
            "SynthAU, unverified on real faces (no real AU truth may be used for it)."
            if cfg.get("calibrate")
            else "Class-balanced weights move every rare AU's probabilities up: read them as balanced "
            "scores (0.5 = as likely present as absent at equal base rates)."
        ),
        "",
        *_intensity_lines(summary, head, rule),
        "## Data and licences",
        "",
        summary["attribution"],
        "",
        "## Limitations",
        "",
        "- The model sees geometry only"
        + ("" if not cfg["appearance"] else " and SynthAU-trained texture")
        + ": AUs that show mostly as texture (AU10's nasolabial furrow, AU14's dimple, AU06's crow's feet) "
        "are its weakest.",
        "- The real-face figures are CK+: posed expressions, grey, low resolution (48 px upscaled), "
        "frontal; they say little about spontaneous, subtle, occluded or profile faces.",
        "- The soft targets come from a blendshape model, not from FACS coders; where the teacher is "
        "wrong (AU14, AU23) the real faces can only teach geometry, not labels.",
    ]
    return "\n".join(lines) + "\n"


def _intensity_lines(summary: dict[str, Any], head: str, rule: str) -> list[str]:
    """The intensity head's section (ICC(3,1) per AU on SynthAU), or nothing for a model without one."""
    m, tr = summary["metrics"], summary["training"]
    held = m["synthau_heldout_renders"].get("intensity")
    rt = m["synthau_runtime_unseen_people"].get("intensity")
    if held is None or rt is None:
        return []
    codes = summary["au_codes"]

    def icc(d: dict[str, Any]) -> dict[str, float]:
        return {au: v["icc"] for au, v in d["per_au"].items()}

    fit = tr.get("intensity", {})
    return [
        "## Intensity (`AUxx_r`, 0-5)",
        "",
        "A second output, `intensities`: ridge regression on the same aligned geometry to 5 x SynthAU's "
        "true intensity (absent and trace included; real faces have no intensity truth and are left out), "
        f"mirrored rows, neutral offset and symmetrised as the occurrence head; ridge strength {fit.get('alpha')} "
        "chosen by the mean ICC(3,1) on the calibration half of the held-out people; clipped to [0, 5].",
        "",
        "ICC(3,1) per AU (consistency, single rater; MAE and Pearson r in `recipe_result.json`):",
        "",
        head,
        rule,
        _row("held-out renders", icc(held), codes, held["mean_icc"]),
        _row("runtime, unseen people", icc(rt), codes, rt["mean_icc"]),
        "",
        f"Mean MAE {_num(held['mean_mae'])} (renders) and {_num(rt['mean_mae'])} (runtime) on the 0-5 scale. "
        "Unverified on real faces: no real intensity truth may be used (OpenFace agreement: "
        "`bench/bench_intensity.py`).",
        "",
    ]
