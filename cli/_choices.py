"""Choices shared by several commands, as Enums so that Typer validates them."""

from __future__ import annotations

from enum import Enum


class ProviderChoice(str, Enum):
    """ONNX Runtime execution providers (``aunce_rt.providers``); auto falls back to CPU."""

    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    tensorrt = "tensorrt"


class OutputFormat(str, Enum):
    """Result file formats (``aunce_rt.sinks``)."""

    csv = "csv"
    jsonl = "jsonl"


class EngineChoice(str, Enum):
    """Batch engines (``aunce_rt.batch``): a local process pool, or Ray (the ``[ray]`` extra)."""

    local = "local"
    ray = "ray"


class SeatChoice(str, Enum):
    """Who ``aunce-rt monitor`` watches (``MonitorConfig.driver_seat``)."""

    all = "all"
    left = "left"
    right = "right"
