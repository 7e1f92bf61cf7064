"""The self-description every exported aunce-rt ONNX model carries.

Export writes one JSON string under the ONNX ``metadata_props`` key
``METADATA_KEY``; the runtime reads it back with ``json.loads`` and refuses a
model without it. Nothing about a model (AU list, thresholds, input size, colour
order, normalisation, alignment template) is guessed from graph shapes.

Example:
    >>> meta = ModelMetadata(au_codes=(1, 2), thresholds=(0.5, 0.5))
    >>> ModelMetadata.from_json(meta.to_json()).au_codes
    (1, 2)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from aunce_rt._version import __version__
from aunce_rt.align import CROP_SIZE, INPUT_SIZE, TEMPLATE_ID
from aunce_rt.aus import au_label, au_name
from aunce_rt.errors import ModelError

METADATA_KEY = "aunce_rt"
FORMAT_VERSION = 2  # the newest format this aunce-rt reads; 2 added ``inputs`` and ``geometry``
INPUT_IMAGES = "images"
INPUT_LANDMARKS = "landmarks"
OUTPUT_INTENSITIES = "intensities"  # the optional AU intensity output (OpenFace's ``AUxx_r``)
INTENSITY_SCALE = (0.0, 5.0)  # FACS A..E on OpenFace's 0-5 scale
KNOWN_INPUTS = (INPUT_IMAGES, INPUT_LANDMARKS)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
REEXPORT_HINT = "re-export it with `aunce-rt export CHECKPOINT --out model.onnx`"


@dataclass(frozen=True)
class ModelMetadata:
    """Everything the runtime needs to know about an exported model.

    The graph's inputs are named in ``inputs``: ``"images"``, ``(N, input_size,
    input_size, 3)`` uint8 in ``color_order`` (aligned crops made with
    ``template_id``; normalisation with ``mean``/``std`` happens inside the graph),
    and/or ``"landmarks"``, ``(N, 478, 3)`` float32 aligned geometry made as
    ``geometry`` names (``aunce_rt.geometry``; a frontal spec also carries its
    ``geometry_reference``, the 478 x 3 reference face, flattened). Output 0 is ``(N, K)`` float32
    probabilities in ``au_codes`` order; output 1, when ``has_features``, is
    ``(N, K, C)`` features.

    A model that also estimates AU intensity lists those AUs in ``intensity_aus`` (a
    subset of ``au_codes``, in their order) and has an output named ``"intensities"``,
    ``(N, len(intensity_aus))`` float32 on ``intensity_scale`` (OpenFace's 0-5). Older
    models have neither; a reader that predates these fields ignores them (the format
    stays 2, since nothing an older runtime needs has changed).
    """

    au_codes: tuple[int, ...]
    thresholds: tuple[float, ...]
    au_names: tuple[str, ...] = ()
    input_size: int = INPUT_SIZE
    crop_size: int = CROP_SIZE
    color_order: str = "RGB"
    input_layout: str = "NHWC"
    input_dtype: str = "uint8"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    template_id: str = TEMPLATE_ID
    encoder: str = "megraph_stage1"
    backbone: str = ""
    node_dim: int = 0
    has_features: bool = False
    precision: str = "fp32"
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    project_version: str = __version__
    git_revision: str = ""
    export_date: str = ""
    licence_note: str = ""
    inputs: tuple[str, ...] = (INPUT_IMAGES,)
    geometry: str = ""
    geometry_reference: tuple[float, ...] = ()
    intensity_aus: tuple[int, ...] = ()
    intensity_scale: tuple[float, float] = INTENSITY_SCALE
    format_version: int = 1

    def __post_init__(self) -> None:
        codes = tuple(int(c) for c in self.au_codes)
        object.__setattr__(self, "au_codes", codes)
        object.__setattr__(self, "thresholds", tuple(float(t) for t in self.thresholds))
        if not codes:
            raise ModelError("model metadata lists no AUs; " + REEXPORT_HINT)
        if len(self.thresholds) != len(codes):
            raise ModelError(
                f"model metadata has {len(self.thresholds)} thresholds for {len(codes)} AUs; " + REEXPORT_HINT
            )
        names = tuple(str(n) for n in self.au_names) or tuple(_safe_name(c) for c in codes)
        if len(names) != len(codes):
            raise ModelError(
                f"model metadata has {len(names)} AU names for {len(codes)} AUs; " + REEXPORT_HINT
            )
        object.__setattr__(self, "au_names", names)
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        inputs = tuple(str(i) for i in self.inputs)
        object.__setattr__(self, "inputs", inputs)
        unknown = [i for i in inputs if i not in KNOWN_INPUTS]
        if not inputs or unknown or len(set(inputs)) != len(inputs):
            raise ModelError(
                f"model metadata lists inputs {list(inputs)}; expected one or both of {list(KNOWN_INPUTS)}, "
                "each once; " + REEXPORT_HINT
            )
        if INPUT_LANDMARKS in inputs and not self.geometry:
            raise ModelError("model metadata takes landmarks but names no geometry spec; " + REEXPORT_HINT)
        object.__setattr__(self, "geometry_reference", tuple(float(v) for v in self.geometry_reference))
        inten = tuple(int(c) for c in self.intensity_aus)
        object.__setattr__(self, "intensity_aus", inten)
        object.__setattr__(self, "intensity_scale", tuple(float(v) for v in self.intensity_scale))
        if [c for c in codes if c in inten] != list(inten):
            raise ModelError(
                f"model metadata lists intensity AUs {list(inten)}; expected AUs of {list(codes)}, "
                "each once and in that order; " + REEXPORT_HINT
            )
        lo_hi = self.intensity_scale
        if len(lo_hi) != 2 or not lo_hi[0] < lo_hi[1]:
            raise ModelError(f"intensity_scale must be (low, high) with low < high; got {lo_hi}")
        if self.color_order not in ("RGB", "BGR"):
            raise ModelError(f"color_order must be 'RGB' or 'BGR'; got {self.color_order!r}")

    @property
    def au_labels(self) -> tuple[str, ...]:
        """Column labels of the AUs: ('AU01', 'AU02', ...)."""
        return tuple(au_label(c) for c in self.au_codes)

    @property
    def uses_images(self) -> bool:
        """True when the graph takes aligned crops (``"images"``)."""
        return INPUT_IMAGES in self.inputs

    @property
    def uses_landmarks(self) -> bool:
        """True when the graph takes aligned landmark geometry (``"landmarks"``)."""
        return INPUT_LANDMARKS in self.inputs

    @property
    def has_intensity(self) -> bool:
        """True when the graph has an ``"intensities"`` output for ``intensity_aus``."""
        return bool(self.intensity_aus)

    @property
    def num_aus(self) -> int:
        return len(self.au_codes)

    def to_json(self) -> str:
        """Serialise to the JSON string stored in the ONNX metadata."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelMetadata:
        """Parse the JSON string written by :meth:`to_json`; ModelError if malformed."""
        try:
            raw = json.loads(text)
        except (TypeError, json.JSONDecodeError) as exc:
            raise ModelError(f"model metadata is not valid JSON ({exc}); " + REEXPORT_HINT) from None
        if not isinstance(raw, dict) or "au_codes" not in raw or "thresholds" not in raw:
            raise ModelError("model metadata lacks 'au_codes'/'thresholds'; " + REEXPORT_HINT)
        if int(raw.get("format_version", 0)) > FORMAT_VERSION:
            raise ModelError(
                f"model metadata format {raw['format_version']} is newer than this aunce-rt "
                f"understands ({FORMAT_VERSION}); upgrade aunce-rt"
            )
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})


def metadata_from_props(props: Mapping[str, str], source: str | Path = "model") -> ModelMetadata:
    """The ``ModelMetadata`` in an ONNX model's metadata entries; ModelError if absent or malformed.

    The one parser of the metadata: callers pass the key -> value entries of their
    object (an ``onnxruntime`` session's ``custom_metadata_map``, an ``onnx.ModelProto``'s
    ``metadata_props``).

    Args:
        props: the model's metadata entries, key -> string value.
        source: what the entries came from (a path), named in the error.

    Example:
        >>> meta = ModelMetadata(au_codes=(1, 2), thresholds=(0.5, 0.5))
        >>> metadata_from_props({METADATA_KEY: meta.to_json()}).au_codes
        (1, 2)
    """
    if METADATA_KEY not in props:
        raise ModelError(
            f"{source} has no aunce-rt metadata (ONNX metadata key {METADATA_KEY!r}), so its AUs, "
            f"input size and normalisation are unknown; {REEXPORT_HINT}"
        )
    return ModelMetadata.from_json(props[METADATA_KEY])


def _safe_name(code: int) -> str:
    try:
        return au_name(code)
    except Exception:  # an AU outside the catalogue still gets a name
        return au_label(code)
