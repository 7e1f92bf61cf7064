"""Imports every command module so that each registers itself on `cli.main.app`."""

from __future__ import annotations
from cli import plot  # noqa: F401
from cli import detect  # noqa: F401
from cli import export  # noqa: F401
from cli import train  # noqa: F401
from cli import data  # noqa: F401
from cli import demo  # noqa: F401
