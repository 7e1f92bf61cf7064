"""aunce-rt: real-time facial Action Unit detection with AUNCE-trained encoders.

The runtime needs numpy, OpenCV, MediaPipe and ONNX Runtime only: importing this
package never imports torch.
"""

from __future__ import annotations

from aunce_rt._version import __version__

__all__ = ["__version__"]
