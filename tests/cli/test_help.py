"""Issue 16: help texts show a value placeholder only for options that take a value."""

from __future__ import annotations

import re

import typer
from typer.core import TyperGroup, TyperOption
from typer.testing import CliRunner

from aunce_rt.cli.main import app

runner = CliRunner()


def _commands(command, path: tuple[str, ...] = ()):  # -> Iterator[tuple[tuple[str, ...], Command]]
    yield path, command
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))


def _row(output: str, opt: str) -> str:
    """The row of the help table that starts with ``opt`` (not one whose help text names it)."""
    for line in output.splitlines():
        if re.match(rf"│\s*(\*\s+)?{re.escape(opt)}[\s,]", line):
            return line
    raise AssertionError(f"{opt} not in help:\n{output}")


def test_no_flag_shows_a_placeholder_in_any_help():
    root = typer.main.get_command(app)
    checked_flags = 0
    checked_values = 0
    for path, command in _commands(root):
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "250"})
        assert result.exit_code == 0, (path, result.output)
        ctx = typer.Context(command)
        for param in [*command.params, command.get_help_option(ctx)]:
            if not isinstance(param, TyperOption) or param.hidden:
                continue
            row = _row(result.output, next(o for o in param.opts if o.startswith("--")))
            if param.is_flag or param.count:
                assert not re.search(r"<[^<>]+>", row), (path, param.opts, row)
                checked_flags += 1
            else:  # options that take a value keep their placeholder
                placeholder = re.escape(param.metavar) if param.metavar else r"<[^<>]+>"
                assert re.search(placeholder, row), (path, param.opts, row)
                checked_values += 1
    assert checked_flags > 20 and checked_values > 20, (checked_flags, checked_values)
