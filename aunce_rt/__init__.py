"""aunce-rt: real-time facial Action Unit detection with AUNCE-trained encoders.

The runtime needs numpy, OpenCV, MediaPipe and ONNX Runtime only: importing this
package never imports torch.

Example:
    >>> from aunce_rt import AUDetector                      # doctest: +SKIP
    >>> detector = AUDetector()                              # the bundled model
    >>> for result in detector.stream("video.mp4"):          # doctest: +SKIP
    ...     for face in result.faces:
    ...         print(result.index, face.face_id, face.au(12))

    The frame loop with outputs: ``process(source, detector, [CSVSink(...)], video=...)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aunce_rt._version import __version__
from aunce_rt.errors import AunceError, InputError, ModelError, OutputError
from aunce_rt.results import FaceResult, FrameResult

if TYPE_CHECKING:
    from aunce_rt.detector import AUDetector
    from aunce_rt.frame_loop import process
    from aunce_rt.metadata import ModelMetadata
    from aunce_rt.sinks import CSVSink, JSONLSink
    from aunce_rt.sources import Frame, open_source

# Heavier names load on first use, so `import aunce_rt` stays fast (MediaPipe and
# ONNX Runtime are imported only when a detector is built).
_LAZY = {
    "AUDetector": "aunce_rt.detector",
    "ModelMetadata": "aunce_rt.metadata",
    "CSVSink": "aunce_rt.sinks",
    "JSONLSink": "aunce_rt.sinks",
    "Frame": "aunce_rt.sources",
    "open_source": "aunce_rt.sources",
    "process": "aunce_rt.frame_loop",
}

__all__ = [
    "AUDetector",
    "AunceError",
    "CSVSink",
    "FaceResult",
    "Frame",
    "FrameResult",
    "InputError",
    "JSONLSink",
    "ModelError",
    "ModelMetadata",
    "OutputError",
    "__version__",
    "open_source",
    "process",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aunce_rt' has no attribute {name!r}")
