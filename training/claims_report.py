"""The claims study's markdown report and its plots (torch-free; matplotlib for the figures).

``write_report`` renders, from the finished cells alone: the settings and budget,
one verdict per claim (rules in ``training.claims_verdict``), F1-macro and
minority-AU F1 tables (mean ± std over seeds), per-AU F1, and one plot per claim.
A report with cells missing is titled PARTIAL and says how many are missing.

Example:
    >>> from aunce_rt.training.claims_study import load_study
    >>> write_report(load_study("claims_synthau"), [], "claims.md")  # doctest: +SKIP
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from aunce_rt.training.claims_study import CellResult, StudySpec
from aunce_rt.training.claims_verdict import ClaimVerdict, Stat, judge_all, stats


def _pct(s: Stat | None) -> str:
    if s is None:
        return "—"
    return f"{100 * s.mean:.1f}" + ("" if math.isnan(s.std) else f" ± {100 * s.std:.1f}") + f" (n={s.n})"


def _budget(spec: StudySpec, results: list[CellResult]) -> list[str]:
    r = spec.recipe
    total = len(spec.cells())
    groups = len(spec.conditions()) * len(spec.seeds)
    levels = "; ".join(
        f"{imb}: noise {{{', '.join(f'{100 * n:.0f}' for n in spec.noise_for(imb))}}}%"
        for imb in spec.imbalance
    )
    lines = [
        f"- grid: {len(spec.losses)} losses x conditions ({levels}) x seeds {list(spec.seeds)} = {total} cells "
        f"({groups} warm-ups, {len(spec.imbalance) * len(spec.seeds)} renders); "
        f"finished: {len(results)} of {total}",
    ]
    lines.append(
        f"- budget: planned for <= 3 h on 2 free cores by cutting the grid before the seeds (the arithmetic "
        f"is in `training/configs/studies/{spec.name}.yaml`'s header); the measured cost below is what "
        "the cells took, on whatever load the machine had"
    )
    if results:
        warm = {(c.imbalance, c.noise, c.seed): c.warmup_seconds for c in results}
        cell_s = {name: np.mean([c.seconds for c in results if c.loss == name]) for name in spec.losses}
        measured = {k: v for k, v in cell_s.items() if not math.isnan(v)}
        per_group = float(np.mean(list(warm.values()))) + sum(measured.values())
        lines.append(
            "- measured cost: warm-up "
            f"{np.mean(list(warm.values())):.0f} s; per cell (loss + probe) "
            + ", ".join(f"{k} {v:.0f} s" for k, v in measured.items())
            + f"; one (imbalance, noise, seed) group ~{per_group:.0f} s -> {groups} groups "
            f"~{groups * per_group / 3600:.1f} h plus rendering"
            + ("" if len(measured) == len(spec.losses) else " (not every loss measured yet)")
        )
    lines.append(
        f"- recipe per cell: `{r.backbone}` from random init, node width {r.node_dim}, input {r.input} px, "
        f"`{r.augment}` augmentation, {r.train_frames} training frames ({100 * r.val_fraction:.0f}% of the "
        f"people held out for the probe's epoch choice), {r.test_frames} test frames of unseen people "
        f"(clean labels); WCE warm-up on pooled tokens {r.warmup_steps} steps (lr {r.lr_warmup:g}), then the "
        f"loss under test {r.steps} steps (lr {r.lr:g}, cosine, batch {r.batch}, {r.amp} autocast); linear "
        f"probe {r.probe_epochs} epochs on the frozen encoder; {r.threads} torch threads"
    )
    return lines


def _table(spec: StudySpec, st: dict, title: str) -> list[str]:
    conds = spec.conditions()
    head = "| loss | " + " | ".join(f"{i}, noise {100 * n:.0f}%" for i, n in conds) + " |"
    lines = [f"**{title}** (%, mean ± std over seeds)", "", head, "|---" * (len(conds) + 1) + "|"]
    for name in spec.losses:
        lines.append(f"| {name} | " + " | ".join(_pct(st.get((name, i, n))) for i, n in conds) + " |")
    return lines


def _per_au(spec: StudySpec, results: list[CellResult]) -> list[str]:
    if not results:
        return []
    aus = list(results[0].f1_per_au)
    lines = [
        "**Per-AU F1** (%, mean over seeds)",
        "",
        "| imbalance | noise | loss | " + " | ".join(aus) + " |",
        "|---" * (len(aus) + 3) + "|",
    ]
    for (i, n), name in ((cond, name) for cond in spec.conditions() for name in spec.losses):
        rows = [c for c in results if (c.imbalance, c.noise, c.loss) == (i, n, name)]
        if rows:
            means = [100 * np.mean([c.f1_per_au[a] for c in rows]) for a in aus]
            lines.append(f"| {i} | {100 * n:.0f}% | {name} | " + " | ".join(f"{m:.0f}" for m in means) + " |")
    return lines


def _verdict_lines(v: ClaimVerdict) -> list[str]:
    lines = [f"### Claim {v.claim.key}: {v.claim.text}", "", f"**{v.verdict.upper()}** — {v.reason}.", ""]
    for worse, comps in v.comparisons.items():
        for c in comps:
            sign = {1: "ahead", -1: "behind", 0: "not called"}[c.call]
            bar = "n/a (< 2 seeds)" if math.isnan(c.bar) else f"{100 * c.bar:.1f}"
            lines.append(
                f"- {c.condition[0]}, noise {100 * c.condition[1]:.0f}%: {v.claim.better} - {worse} = "
                f"{100 * c.diff:+.1f} points on `{v.claim.metric}`, 2-std bar {bar} -> {sign}"
            )
    return lines


def plot_claims(spec: StudySpec, results: list[CellResult], folder: Path, stem: str) -> list[Path]:
    """One PNG per claim: F1 vs noise per loss (claims 1, 2, 4), minority-AU F1 vs imbalance (claim 3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (
        ("claim1", "f1_macro", ("AUNCE", "WCE", "WFL"), "F1-macro"),
        ("claim2", "f1_macro", ("AUNCE", "AUNCE -PS", "WCE"), "F1-macro"),
        ("claim3", "minority_f1", ("AUNCE", "AUNCE -NS"), "minority-AU F1"),
        ("claim4", "f1_macro", ("AUNCE", "AUNCE -centroid"), "F1-macro"),
    )
    paths = []
    for key, metric, losses, ylabel in panels:
        st = stats(results, metric)
        # claim 3: one panel, minority F1 per imbalance setting (one group of bars per condition);
        # the others: one panel per imbalance setting, F1 vs noise
        columns: list[str | None] = [None] if key == "claim3" else list(spec.imbalance)
        fig, axes = plt.subplots(1, len(columns), figsize=(max(4.5 * len(columns), 5.0), 3.4), squeeze=False)
        for ax, imb in zip(axes[0], columns, strict=True):
            if imb is None:
                conds = spec.conditions()
                width = 0.8 / len(losses)
                for k, name in enumerate(losses):
                    xs = np.arange(len(conds)) + k * width
                    ss = [st.get((name, i, n)) for i, n in conds]
                    ax.bar(xs, [100 * s.mean if s else 0 for s in ss], width, label=name,
                           yerr=[100 * s.std if s and not math.isnan(s.std) else 0 for s in ss])  # fmt: skip
                ax.set_xticks(np.arange(len(conds)) + width * (len(losses) - 1) / 2)
                ax.set_xticklabels([f"{i}\nnoise {100 * n:.0f}%" for i, n in conds], fontsize=8)
                ax.set_title("minority AUs by imbalance setting")
            else:
                for name in losses:
                    pts = [(100 * n, st[(name, imb, n)]) for n in spec.noise_for(imb) if (name, imb, n) in st]
                    if pts:
                        ax.errorbar([p[0] for p in pts], [100 * p[1].mean for p in pts], capsize=3, marker="o",
                                    yerr=[0 if math.isnan(p[1].std) else 100 * p[1].std for p in pts], label=name)  # fmt: skip
                ax.set_xlabel("training label noise (%)")
                ax.set_title(f"imbalance: {imb}")
            ax.set_ylabel(f"test {ylabel} (%)")
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
        fig.tight_layout()
        path = folder / f"{stem}_{key}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


def render_report(spec: StudySpec, results: list[CellResult], *, plots: list[str], command: str) -> str:
    """The report's markdown (``plots``: the four figure links, relative to the report)."""
    total = len(spec.cells())
    partial = len(results) < total
    title = "AUNCE's claims on SynthAU" + (f" — PARTIAL ({len(results)} of {total} cells)" if partial else "")
    lines = [f"# {title}", ""]
    if partial:
        lines += [
            f"> PARTIAL: {total - len(results)} cells are still missing; verdicts below use only the finished "
            f"cells and are not final. Continue with `{command}`.",
            "",
        ]
    lines += [
        "Issue 21. Each claim of the AUNCE paper tested on SynthAU with label noise and AU imbalance as "
        "knobs. Test people are unseen and their labels clean; label noise flips training labels.",
        "",
        *_budget(spec, results),
        f"- minority AUs: {', '.join(f'AU{a}' for a in spec.minority_aus)}; imbalance settings: "
        + "; ".join(f"{k}: BP4D's rates" + (f" except {v}" if v else "") for k, v in spec.imbalance.items()),
        f"- produced by: `{command}` then `{command.replace(' run', ' report', 1)}`",
        "- rule: a difference is called only where |difference of means| > 2 x the larger seed std "
        "(sample std over seeds); a claim is confirmed when called in its favour in at least half of its "
        "conditions and never against, refuted when called against and never in favour, else inconclusive",
        "",
        "## Verdicts",
        "",
    ]
    for v, plot in zip(judge_all(results), plots, strict=True):
        lines += [*_verdict_lines(v), "", f"![claim {v.claim.key}]({plot})", ""]
    lines += ["## Tables", "", *_table(spec, stats(results, "f1_macro"), "Test F1-macro"), ""]
    lines += [*_table(spec, stats(results, "minority_f1"), "Minority-AU test F1"), ""]
    lines += [*_table(spec, stats(results, "retained"), "F1 at this noise minus F1 at 0% (same seed)"), ""]
    lines += _per_au(spec, results)
    return "\n".join(lines) + "\n"


def write_report(spec: StudySpec, results: list[CellResult], path: str | Path, *, command: str) -> Path:
    """Write the report and its plots (``<stem>_claimK.png`` beside it); returns the report's path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plots = plot_claims(spec, results, path.parent, path.stem)
    path.write_text(render_report(spec, results, plots=[p.name for p in plots], command=command))
    return path
