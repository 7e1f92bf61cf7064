"""The CLI's consoles: diagnostics, progress and errors on stderr, results on stdout."""

from __future__ import annotations

from rich.console import Console

err_console = Console(stderr=True)
out_console = Console()
