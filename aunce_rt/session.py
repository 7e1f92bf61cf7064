"""An exported aunce-rt ONNX model: the session, its metadata and its providers.

The model describes itself (``aunce_rt.metadata``): the session reads the JSON
under ``METADATA_KEY`` from the ONNX metadata and refuses a file without it, then
checks that the graph's input agrees with what the metadata promises.

Example:
    >>> session = AUModelSession("model.onnx", providers="cpu")  # doctest: +SKIP
    >>> probs = session.run(crops)  # (N, 224, 224, 3) uint8 RGB -> (N, K)  # doctest: +SKIP
    >>> probs = session.run(crops, landmarks=geometry)  # a model that also takes (N, 478, 3)  # doctest: +SKIP
    >>> probs, intensities = session.run_with_intensities(crops)  # (N, K) each; NaN: no intensity  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from aunce_rt.errors import InputError, ModelError
from aunce_rt.geometry import GEOMETRY_FRONTAL, KNOWN_GEOMETRY, NUM_POINTS, geometry_input
from aunce_rt.metadata import (
    INPUT_IMAGES,
    INPUT_LANDMARKS,
    OUTPUT_INTENSITIES,
    REEXPORT_HINT,
    ModelMetadata,
    metadata_from_props,
)
from aunce_rt.providers import TENSORRT, ProviderSpec, provider_names, select_providers

logger = logging.getLogger(__name__)

_ORT_DTYPES = {"uint8": "tensor(uint8)", "float32": "tensor(float)", "float16": "tensor(float16)"}


def _session_options(num_threads: int | None):  # -> onnxruntime.SessionOptions
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if num_threads is not None:
        if num_threads < 0:
            raise InputError(f"num_threads must be >= 0 (0 = onnxruntime's default); got {num_threads}")
        opts.intra_op_num_threads = int(num_threads)
    opts.log_severity_level = 3  # errors only; we log what matters ourselves
    return opts


def _open_session(path: Path, providers: list, num_threads: int | None):  # -> InferenceSession
    import onnxruntime as ort

    try:
        return ort.InferenceSession(
            str(path), sess_options=_session_options(num_threads), providers=providers
        )
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"cannot load ONNX model {path}: {first}; the file is corrupt or not an ONNX model "
            "(export one with `aunce-rt export CHECKPOINT --out model.onnx`)"
        ) from None


ASSETS_DIR = Path(__file__).resolve().parent / "assets"


def bundled_model(name: str | Path) -> Path | None:
    """The bundled model called ``name`` ("default", "synthau"), or None when ``name`` is not one.

    A path that exists always wins over a bundled name.
    """
    text = str(name)
    if Path(text).exists() or "/" in text or "\\" in text or text.endswith(".onnx"):
        return None
    path = ASSETS_DIR / f"{text}.onnx"
    return path if path.is_file() else None


def bundled_models() -> list[str]:
    """Names of the models bundled with this install."""
    return sorted(p.stem for p in ASSETS_DIR.glob("*.onnx"))


def read_metadata(session, path: Path | str = "model") -> ModelMetadata:  # session: InferenceSession
    """The ``ModelMetadata`` stored in a session's model; ModelError if absent or malformed."""
    return metadata_from_props(session.get_modelmeta().custom_metadata_map, path)


class AUModelSession:
    """An exported AU model ready to run on aligned crops.

    Args:
        path: the ``.onnx`` file (inputs "images" uint8 (N, S, S, 3) and/or "landmarks"
            float32 (N, 478, 3), as its metadata's ``inputs`` say; output "probs" (N, K)).
        providers: see ``aunce_rt.providers.select_providers``.
        num_threads: intra-op threads (None = onnxruntime's default).
        fp16: build FP16 TensorRT engines for an fp32 model (ignored elsewhere).
        trt_cache_dir: TensorRT engine cache folder.

    Attributes:
        path: the model file.
        metadata: the model's ``ModelMetadata``.
        providers: the providers the session actually uses, best first.
    """

    def __init__(
        self,
        path: str | Path,
        providers: ProviderSpec = "auto",
        *,
        num_threads: int | None = None,
        fp16: bool = False,
        trt_cache_dir: str | Path | None = None,
    ) -> None:
        self.path = bundled_model(path) or Path(path)
        if self.path.is_dir():
            raise ModelError(
                f"model path {self.path} is a folder; pass the .onnx file itself "
                "(export one with `aunce-rt export CHECKPOINT --out model.onnx`)"
            )
        if not self.path.is_file():
            raise ModelError(
                f"model file {self.path} not found; pass the path of an exported .onnx model or a "
                f"bundled model's name ({', '.join(bundled_models())}) "
                "(export one with `aunce-rt export CHECKPOINT --out model.onnx`)"
            )
        if self.path.stat().st_size == 0:
            raise ModelError(f"model file {self.path} is empty (0 bytes); re-export or re-download it")
        chosen = select_providers(providers, fp16=False, cache_dir=trt_cache_dir)
        if fp16 and TENSORRT in provider_names(chosen):
            # FP16 engines only make sense for an fp32 graph: read the metadata first (CPU).
            meta = read_metadata(_open_session(self.path, ["CPUExecutionProvider"], 1), self.path)
            use_fp16 = meta.precision == "fp32"
            if not use_fp16:
                logger.warning("fp16 ignored: %s is already %s", self.path, meta.precision)
            chosen = select_providers(providers, fp16=use_fp16, cache_dir=trt_cache_dir)
        self._session = _open_session(self.path, chosen, num_threads)
        self.metadata = read_metadata(self._session, self.path)
        self.providers: list[str] = list(self._session.get_providers())
        self._input_names, self._output_name = self._check_io()
        self._intensity_output = self._check_intensity_output()
        codes = self.metadata.au_codes
        self._intensity_cols = np.array([codes.index(c) for c in self.metadata.intensity_aus], np.intp)
        ref = self.metadata.geometry_reference
        self._reference = np.asarray(ref, np.float32).reshape(NUM_POINTS, 3) if ref else None
        self.run_with_intensities(  # outputs in range? (a grey crop, a flat face)
            np.full((1, self.input_size, self.input_size, 3), 127, np.uint8) if self.uses_images else None,
            landmarks=np.zeros((1, NUM_POINTS, 3), np.float32) if self.uses_landmarks else None,
        )
        logger.info("loaded %s on %s", self.path, self.providers[0])

    def _check_io(self) -> tuple[dict[str, str], str]:
        """Check the graph's inputs and first output against the metadata.

        Returns:
            ({"images"|"landmarks": graph input name}, output name).
        """
        meta = self.metadata
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if not inputs or not outputs:
            raise ModelError(f"{self.path} has no inputs or outputs; {REEXPORT_HINT}")
        if meta.uses_landmarks and meta.geometry not in KNOWN_GEOMETRY:
            raise ModelError(
                f"{self.path} takes landmark geometry {meta.geometry!r}; this aunce-rt makes "
                f"{list(KNOWN_GEOMETRY)}; upgrade aunce-rt or {REEXPORT_HINT}"
            )
        if (
            meta.uses_landmarks
            and meta.geometry == GEOMETRY_FRONTAL
            and len(meta.geometry_reference) != NUM_POINTS * 3
        ):
            raise ModelError(
                f"{self.path} takes {GEOMETRY_FRONTAL!r} geometry but its metadata has "
                f"{len(meta.geometry_reference)} reference values, not {NUM_POINTS * 3}; {REEXPORT_HINT}"
            )
        if len(inputs) != len(meta.inputs):
            raise ModelError(
                f"{self.path} has {len(inputs)} inputs {[i.name for i in inputs]}; its metadata promises "
                f"{list(meta.inputs)}; {REEXPORT_HINT}"
            )
        names = {}
        by_name = {i.name: i for i in inputs}
        for role in meta.inputs:
            # single-input graphs of format 1 may name their input anything; else by role
            inp = inputs[0] if len(inputs) == 1 else by_name.get(role)
            if inp is None:
                raise ModelError(f"{self.path} has no input named {role!r}; {REEXPORT_HINT}")
            if role == INPUT_IMAGES:
                s = meta.input_size
                expected = [s, s, 3] if meta.input_layout == "NHWC" else [3, s, s]
                want_type = _ORT_DTYPES.get(meta.input_dtype, meta.input_dtype)
                promise = f"(N, {', '.join(map(str, expected))}) ({meta.input_layout})"
            else:
                expected, want_type = [NUM_POINTS, 3], _ORT_DTYPES["float32"]
                promise = f"(N, {NUM_POINTS}, 3) aligned landmarks"
            dims = list(inp.shape)
            if (
                len(dims) != len(expected) + 1
                or [d if isinstance(d, int) else None for d in dims[1:]] != expected
            ):
                raise ModelError(
                    f"{self.path} input {inp.name!r} has shape {dims}; its metadata promises "
                    f"{promise}; {REEXPORT_HINT}"
                )
            if inp.type != want_type:
                raise ModelError(
                    f"{self.path} input {inp.name!r} is {inp.type}; its metadata promises {want_type}; {REEXPORT_HINT}"
                )
            names[role] = inp.name
        out = outputs[0]
        k = out.shape[-1] if out.shape else None
        if len(out.shape) != 2 or (isinstance(k, int) and k != meta.num_aus):
            raise ModelError(
                f"{self.path} output {out.name!r} has shape {list(out.shape)}; expected (N, {meta.num_aus}) "
                f"for the {meta.num_aus} AUs of its metadata; {REEXPORT_HINT}"
            )
        return names, out.name

    def _check_intensity_output(self) -> str | None:
        """The name of the graph's intensity output (None when the metadata lists no intensity AUs)."""
        meta = self.metadata
        if not meta.has_intensity:
            return None
        out = {o.name: o for o in self._session.get_outputs()}.get(OUTPUT_INTENSITIES)
        k = len(meta.intensity_aus)
        width = out.shape[-1] if out is not None and out.shape else None
        if out is None or len(out.shape) != 2 or (isinstance(width, int) and width != k):
            got = "none" if out is None else list(out.shape)
            raise ModelError(
                f"{self.path}'s metadata lists intensities for {k} AUs but its output {OUTPUT_INTENSITIES!r} "
                f"is {got}, not (N, {k}); {REEXPORT_HINT}"
            )
        return out.name

    @property
    def has_intensity(self) -> bool:
        """True when the model estimates intensity for some AUs (``metadata.intensity_aus``)."""
        return self._intensity_output is not None

    @property
    def uses_images(self) -> bool:
        """True when the model takes aligned crops."""
        return self.metadata.uses_images

    @property
    def uses_landmarks(self) -> bool:
        """True when the model takes aligned landmark geometry (``aunce_rt.geometry``)."""
        return self.metadata.uses_landmarks

    def geometry(self, points: np.ndarray, z: np.ndarray) -> np.ndarray:
        """The (478, 3) geometry input this model takes for a face (its metadata's spec)."""
        return geometry_input(points, z, self.metadata.geometry, self._reference)

    @property
    def input_size(self) -> int:
        """Side S of the square crops the model takes."""
        return self.metadata.input_size

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self.metadata.input_dtype)

    def run(self, crops: np.ndarray | None = None, landmarks: np.ndarray | None = None) -> np.ndarray:
        """AU probabilities of aligned faces, in one batched call.

        Args:
            crops: (N, S, S, 3) uint8 crops in the metadata's colour order (RGB for
                exported models), S = ``input_size``; required when the model takes images.
            landmarks: (N, 478, 3) float32 aligned geometry
                (``aunce_rt.geometry.aligned_landmarks``); required when the model takes it.
                N = 0 is allowed.

        Returns:
            (N, K) float32 probabilities in ``metadata.au_codes`` order.

        Raises:
            InputError: an input the model needs is missing or misshapen.
            ModelError: the model returned values that are not finite or not in
                [0, 1] (also checked once at load, on a grey crop).
        """
        return self._outputs(*self._feed(crops, landmarks), intensities=False)[0]

    def _feed(self, crops: np.ndarray | None, landmarks: np.ndarray | None) -> tuple[dict, int | None]:
        """The ONNX Runtime feed of one batch, and its size N (InputError as ``run`` says)."""
        feed, n = {}, None
        if self.uses_images:
            s = self.input_size
            crops = None if crops is None else np.asarray(crops)
            if crops is None or crops.ndim != 4 or crops.shape[1:] != (s, s, 3):
                got = "none" if crops is None else crops.shape
                raise InputError(f"crops must have shape (N, {s}, {s}, 3); got {got}")
            if self.metadata.input_layout == "NCHW":
                crops = crops.transpose(0, 3, 1, 2)
            feed[self._input_names[INPUT_IMAGES]] = np.ascontiguousarray(crops, dtype=self.input_dtype)
            n = crops.shape[0]
        if self.uses_landmarks:
            landmarks = None if landmarks is None else np.asarray(landmarks)
            if landmarks is None or landmarks.ndim != 3 or landmarks.shape[1:] != (NUM_POINTS, 3):
                got = "none" if landmarks is None else landmarks.shape
                raise InputError(
                    f"{self.path.name} takes landmark geometry (N, {NUM_POINTS}, 3) from "
                    f"aunce_rt.geometry.aligned_landmarks; got {got}"
                )
            if n is not None and landmarks.shape[0] != n:
                raise InputError(f"{n} crops but {landmarks.shape[0]} landmark sets; give one per face")
            feed[self._input_names[INPUT_LANDMARKS]] = np.ascontiguousarray(landmarks, dtype=np.float32)
            n = landmarks.shape[0]
        return feed, n

    def _outputs(self, feed: dict, n: int | None, intensities: bool) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, intensities in ``au_codes`` order, NaN where none) of one fed batch."""
        k = self.metadata.num_aus
        if n == 0:
            return np.zeros((0, k), np.float32), np.zeros((0, k), np.float32)
        names = [self._output_name]
        if intensities and self._intensity_output is not None:
            names.append(self._intensity_output)
        probs, *rest = self._session.run(names, feed)
        probs = np.asarray(probs, dtype=np.float32)
        self._check_probabilities(probs)
        inten = np.full(probs.shape, np.nan, np.float32)
        if rest:
            inten[:, self._intensity_cols] = self._checked_intensities(np.asarray(rest[0], np.float32))
        return probs, inten

    def run_with_intensities(
        self, crops: np.ndarray | None = None, landmarks: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """AU probabilities and intensities of aligned faces, in one batched call.

        Takes what ``run`` takes. Intensities are on ``metadata.intensity_scale`` (0-5,
        OpenFace's ``AUxx_r``); NaN for AUs the model has none for (every AU of an older
        model without an ``"intensities"`` output).

        Returns:
            ((N, K) float32 probabilities, (N, K) float32 intensities), ``metadata.au_codes`` order.

        Raises:
            ModelError: as ``run``; also intensities that are not finite or off the scale.
        """
        return self._outputs(*self._feed(crops, landmarks), intensities=True)

    def _checked_intensities(self, inten: np.ndarray) -> np.ndarray:
        """``inten`` unless a value is not finite or off ``metadata.intensity_scale`` (ModelError)."""
        low, high = self.metadata.intensity_scale
        lo, hi = float(np.min(inten, initial=low)), float(np.max(inten, initial=low))
        if not (low <= lo and hi <= high):
            raise ModelError(
                f"{self.path} returned intensities {lo:.3g}..{hi:.3g} where its metadata promises "
                f"{low:g}..{high:g}; the model is broken, {REEXPORT_HINT}"
            )
        return inten

    def _check_probabilities(self, probs: np.ndarray) -> None:
        """ModelError unless every value is finite and in [0, 1] (one pass over (N, K))."""
        lo, hi = float(np.min(probs)), float(np.max(probs))  # NaN propagates into both
        if not (0.0 <= lo and hi <= 1.0):
            bad = (
                "NaN or infinite values"
                if not (np.isfinite(lo) and np.isfinite(hi))
                else f"{lo:.3g}..{hi:.3g}"
            )
            raise ModelError(
                f"{self.path} returned {bad} where it must return probabilities in [0, 1] (a sigmoid "
                f"output); the model is broken or not an aunce-rt export, {REEXPORT_HINT}"
            )

    def describe(self) -> str:
        """One line naming the model: file, backbone, AUs, precision, provider."""
        meta = self.metadata
        backbone = meta.backbone or meta.encoder
        parts = []
        if meta.uses_images:
            parts.append(f"input {meta.input_size}px {meta.color_order}")
        if meta.uses_landmarks:
            parts.append("478 landmarks")
        return (
            f"{self.path.name} ({backbone}, {meta.num_aus} AUs, {meta.precision}, "
            f"{' + '.join(parts)}) on {self.providers[0]}"
        )
