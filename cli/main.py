"""The `aunce-rt` command: a thin layer over the library.

Each command module defines its own ``typer.Typer()``; this module imports them
and joins them with ``add_typer`` (no registration by import side effect).
Groups get a name (``aunce-rt data ...``, ``aunce-rt train ...``); modules of
single commands are joined without one, so their commands sit on the root
(``aunce-rt detect``). Commands import torch (training, export) only inside their
own bodies, so ``aunce-rt detect`` and ``aunce-rt demo`` start without it.
"""

from __future__ import annotations

import logging

import typer
from rich.logging import RichHandler
from rich.markup import escape
from typer._click.exceptions import NoArgsIsHelpError, UsageError

from aunce_rt._version import __version__
from aunce_rt.cli import (
    adapt,
    batch,
    data,
    demo,
    detect,
    evaluate,
    export,
    monitor,
    plot,
    train,
    train_intensity,
)
from aunce_rt.cli._console import err_console
from aunce_rt.cli._extras import missing_extra_message
from aunce_rt.cli._help import drop_flag_placeholders
from aunce_rt.cli._noise import quiet_third_party_logs
from aunce_rt.cli._signals import Terminated, exit_code, handle_sigterm
from aunce_rt.errors import AunceError

__all__ = ["app", "err_console", "main"]


class _Group(typer.core.TyperGroup):
    """Root group: a library error becomes one red line and exit code 1, never a traceback.

    A command's usage error (a bad option value, a missing file argument) is one line
    too, with exit code 2, instead of Typer's usage + panel block.

    Ctrl-C exits 130 and SIGTERM 143, both through the commands' clean-up paths.
    """

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        drop_flag_placeholders(self)  # the whole tree is built by now: no <bool> after flags

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            with handle_sigterm():  # SIGTERM stops as cleanly as Ctrl-C (exit 143)
                return super().invoke(ctx)
        except NoArgsIsHelpError:
            raise  # the help was printed already
        except UsageError as exc:  # a bad option value or argument of a command: one line too
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            message = f"{exc.format_message().rstrip('.')} (see `{where} --help`)"
            err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except AunceError as exc:
            # soft_wrap: one line however narrow the terminal (a wrapped line reads as several)
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except ImportError as exc:  # an optional dependency (torch, onnx) is not installed
            message = missing_extra_message(exc, ctx.invoked_subcommand or "")
            if message is None:
                raise
            err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt as exc:
            err_console.print(
                "[yellow]terminated[/]" if isinstance(exc, Terminated) else "[yellow]interrupted[/]"
            )
            raise typer.Exit(exit_code(exc)) from None


app = typer.Typer(
    cls=_Group,
    name="aunce-rt",
    help="Real-time facial Action Unit detection (AUNCE encoders, ONNX runtime).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"aunce-rt {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: int = typer.Option(
        0, "--verbose", "-v", count=True, help="More log output (-v; -vv also FFmpeg/OpenCV/MediaPipe)."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """aunce-rt: detect facial Action Units in videos, images and live streams."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, show_time=False)],
        force=True,
    )
    quiet_third_party_logs(verbose)  # FFmpeg/OpenCV/MediaPipe noise only at -vv


app.add_typer(detect.app)  # detect, webcam, info
app.add_typer(batch.app)  # batch
app.add_typer(monitor.app)  # monitor
app.add_typer(plot.app)  # plot
app.add_typer(demo.app)  # demo
app.add_typer(export.app)  # export
app.add_typer(adapt.app)  # adapt
app.add_typer(data.data_app, name="data")
train.train_app.command("intensity")(train_intensity.intensity_cmd)
app.add_typer(train.train_app, name="train")
app.add_typer(evaluate.eval_app, name="eval")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # `python -m aunce_rt.cli.main`
    main()
