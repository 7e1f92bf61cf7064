"""Imports every command module so that each registers itself on `cli.main.app`."""

from __future__ import annotations
