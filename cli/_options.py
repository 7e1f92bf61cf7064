"""Options several commands share (detect, webcam, batch): one definition each.

Example:
    >>> MAX_FACES_OPTION.default
    8
"""

from __future__ import annotations

import typer

from aunce_rt.cli._choices import ProviderChoice

MODEL_OPTION = typer.Option(
    None, "--model", "-m", help="Exported .onnx model or a bundled name: default, synthau (default: default)."
)
PROVIDERS_OPTION = typer.Option(ProviderChoice.auto, "--providers", help="Execution providers.")
MAX_FACES_OPTION = typer.Option(
    8, "--max-faces", min=1, help="Most faces analysed per frame (a frame with more says so once)."
)
STRIDE_OPTION = typer.Option(1, "--stride", min=1, help="Analyse every N-th frame.")
THRESHOLD_OPTION = typer.Option(
    None, "--threshold", min=0.0, max=1.0, help="One decision threshold for every AU (default: the model's)."
)
