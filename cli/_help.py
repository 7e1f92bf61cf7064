"""Help-text fixes applied once to the whole command tree."""

from __future__ import annotations

import typer
from typer.core import TyperGroup, TyperOption


def drop_flag_placeholders(command: typer.core.TyperCommand | TyperGroup) -> None:
    """Show no ``<bool>``/``<int>`` placeholder after flags (``--help``, ``--version``, ``-v``).

    Typer's rich help prints a value placeholder for every option, flags and counters
    included, though they take no value; an empty metavar leaves that column blank for
    them and keeps placeholders such as ``<path>`` for options that do take a value.
    Walks groups recursively; each command's ``--help`` option, built lazily by Typer,
    is built here first so that it is fixed too.
    """
    ctx = typer.Context(command, **command.context_settings)
    help_option = command.get_help_option(ctx)
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if isinstance(param, TyperOption) and (param.is_flag or param.count) and param.metavar is None:
            param.metavar = ""
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            drop_flag_placeholders(sub)  # type: ignore[arg-type]
