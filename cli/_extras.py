"""A missing optional dependency (torch, onnx, ...) named as the extra that installs it."""

from __future__ import annotations

# Top-level module -> (what it is, the extra that installs it); see pyproject.toml.
EXTRAS: dict[str, tuple[str, str]] = {
    "torch": ("PyTorch", "train"),
    "torchvision": ("torchvision", "train"),
    "timm": ("timm", "train"),
    "safetensors": ("safetensors", "train"),
    "yaml": ("PyYAML", "train"),
    "sklearn": ("scikit-learn", "train"),
    "ai_edge_litert": ("LiteRT", "train"),
    "pydantic": ("pydantic", "train"),
    "onnx": ("onnx", "export"),
    "onnxscript": ("onnxscript", "export"),
}


def missing_extra_message(exc: ImportError, command: str) -> str | None:
    """One line naming the missing package and the ``pip install`` that adds it; None if not ours."""
    name = exc.name or ""
    if not name and isinstance(exc, ModuleNotFoundError):
        name = str(exc).removeprefix("No module named ").strip("'\"")
    top = name.split(".")[0]
    if top not in EXTRAS:
        return None
    what, extra = EXTRAS[top]
    return (
        f"`aunce-rt {command}` needs {what} ({top}), which is not installed; install it with "
        f"pip install 'aunce-rt[{extra}]' (detect, webcam, info, plot and demo run without it)"
    )
