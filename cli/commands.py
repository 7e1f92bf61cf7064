"""Imports every command module so that each registers itself on `aunce_rt.cli.main.app`."""

from __future__ import annotations

from aunce_rt.cli import (  # noqa: F401  (imported for their side effect: registering commands)
    data,
    demo,
    detect,
    export,
    plot,
    train,
)
