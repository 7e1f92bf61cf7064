"""Execution-provider selection: one function, CPU always last, warnings on fallback."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from aunce_rt import providers as prov
from aunce_rt.errors import InputError
from aunce_rt.providers import CPU, CUDA, TENSORRT, provider_names, select_providers, tensorrt_options

ALL = [TENSORRT, CUDA, CPU]


@pytest.mark.parametrize(
    ("spec", "available", "expected"),
    [
        ("auto", ALL, [TENSORRT, CUDA, CPU]),
        ("auto", [CUDA, CPU], [CUDA, CPU]),
        ("auto", ["AzureExecutionProvider", CPU], [CPU]),
        ("cpu", ALL, [CPU]),
        ("cuda", ALL, [CUDA, CPU]),
        ("tensorrt", ALL, [TENSORRT, CUDA, CPU]),
        ("tensorrt", [TENSORRT, CPU], [TENSORRT, CPU]),
        ("cuda,cpu", ALL, [CUDA, CPU]),
        (["CUDAExecutionProvider", "cpu"], ALL, [CUDA, CPU]),
        ("CUDA", ALL, [CUDA, CPU]),
    ],
)
def test_selection_table(spec, available, expected):
    assert provider_names(select_providers(spec, available=available)) == expected


def test_auto_uses_onnxruntime_available_providers(monkeypatch):
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA, CPU])
    assert select_providers("auto") == [CUDA, CPU]
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CPU])
    assert select_providers("auto") == [CPU]


@pytest.mark.parametrize(("spec", "missing"), [("cuda", CUDA), ("tensorrt", TENSORRT)])
def test_unavailable_provider_falls_back_to_cpu_with_warning(spec, missing, caplog):
    with caplog.at_level(logging.WARNING, logger="aunce_rt.providers"):
        chosen = select_providers(spec, available=[CPU])
    assert chosen == [CPU]
    text = caplog.text
    assert f"{missing} not available" in text and "aunce-rt[gpu]" in text and "CPU" in text


def test_auto_does_not_warn_about_missing_gpu(caplog):
    with caplog.at_level(logging.WARNING, logger="aunce_rt.providers"):
        select_providers("auto", available=[CPU])
    assert caplog.text == ""


def test_tensorrt_options(tmp_path):
    chosen = select_providers("tensorrt", fp16=True, cache_dir=tmp_path, available=ALL)
    name, opts = chosen[0]
    assert name == TENSORRT
    assert opts == {
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": str(tmp_path),
        "trt_fp16_enable": True,
    }
    assert tensorrt_options()["trt_fp16_enable"] is False


def test_default_trt_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("AUNCE_RT_CACHE", raising=False)
    assert prov.default_trt_cache() == Path.home() / ".cache" / "aunce-rt" / "trt"
    monkeypatch.setenv("AUNCE_RT_CACHE", str(tmp_path))
    assert tensorrt_options()["trt_engine_cache_path"] == str(tmp_path / "trt")


@pytest.mark.parametrize("spec", ["", "opencl", ["cpu", "nonsense"]])
def test_unknown_provider_is_an_input_error(spec):
    with pytest.raises(InputError, match="execution provider"):
        select_providers(spec, available=ALL)
