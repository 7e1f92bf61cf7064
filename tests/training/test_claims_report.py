"""The claims study's report renders from a results file: verdicts, tables, plots, PARTIAL when cells miss."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from aunce_rt.training.claims_report import write_report
from aunce_rt.training.claims_study import CellResult, load_study, results_from_file

AUS = ("AU1", "AU2", "AU4", "AU6", "AU7", "AU10", "AU12", "AU14", "AU15", "AU17", "AU23", "AU24")
F1 = {"AUNCE": 0.50, "AUNCE -PS": 0.50, "AUNCE -NS": 0.50, "AUNCE -centroid": 0.50, "WCE": 0.60, "WFL": 0.50}


def _results_file(tmp_path: Path, keep: int | None = None) -> Path:
    spec = load_study("claims_synthau")
    rows = []
    for c in spec.cells()[:keep]:
        f1 = F1[c.loss] - 0.2 * c.noise + 0.002 * c.seed
        rows.append(CellResult(c.imbalance, c.noise, c.seed, c.loss, f1, dict.fromkeys(AUS, f1), f1 / 2, 3,
                               c.noise, 60.0, 200.0))  # fmt: skip
    path = tmp_path / "results.json"
    path.write_text(json.dumps([asdict(r) for r in rows]))
    return path


def test_a_full_report_has_a_verdict_per_claim_tables_and_plots(tmp_path: Path) -> None:
    spec = load_study("claims_synthau")
    results = results_from_file(_results_file(tmp_path))
    path = write_report(spec, results, tmp_path / "rep" / "claims.md", command="python run")
    text = path.read_text()
    assert "PARTIAL" not in text and f"finished: {len(spec.cells())} of {len(spec.cells())}" in text
    for k in "1234":
        assert f"### Claim {k}:" in text and (tmp_path / "rep" / f"claims_claim{k}.png").stat().st_size > 1000
    assert (
        "**REFUTED** — AUNCE vs WCE: refuted, ahead by > 2 std in 0 of 4 conditions, behind by > 2 std in 4"
        in text
    )
    assert text.count("**INCONCLUSIVE**") == 3  # the ablations tie
    assert "| WCE | 60.4 ± 0.2 (n=3) |" in text  # mean ± std over seeds 1, 2, 3
    assert "| bp4d | 0% | WCE | " + " | ".join(["60"] * 12) + " |" in text


def test_a_report_with_missing_cells_says_partial_and_how_to_continue(tmp_path: Path) -> None:
    spec = load_study("claims_synthau")
    results = results_from_file(_results_file(tmp_path, keep=10))
    text = write_report(spec, results, tmp_path / "p.md", command="python bench/x.py run").read_text()
    assert text.startswith(f"# AUNCE's claims on SynthAU — PARTIAL (10 of {len(spec.cells())} cells)")
    assert "Continue with `python bench/x.py run`" in text and "| AUNCE -centroid | — |" in text
