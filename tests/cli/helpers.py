"""Shared helpers of the CLI tests: run `detect` on the tiny model, read rows, check one-line errors."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from aunce_rt.cli.main import app

runner = CliRunner()


def run_detect(model: Path, *args: str):  # -> click.testing.Result
    """`aunce-rt detect ARGS` with the given model on one CPU thread."""
    return runner.invoke(
        app, ["detect", *args, "--model", str(model), "--providers", "cpu", "--threads", "1"]
    )


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV as dicts."""
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def assert_one_line_error(result, *fragments: str) -> None:  # result: click.testing.Result
    """Exit 1, no traceback, an 'error:' line holding every fragment."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "error:" in result.output
    text = " ".join(result.output.split())
    for fragment in fragments:
        assert fragment in text, text
