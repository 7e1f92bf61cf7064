"""An exported aunce-rt ONNX model: the session, its metadata and its providers.

The model describes itself (``aunce_rt.metadata``): the session reads the JSON
under ``METADATA_KEY`` from the ONNX metadata and refuses a file without it, then
checks that the graph's input agrees with what the metadata promises.

Example:
    >>> session = AUModelSession("model.onnx", providers="cpu")  # doctest: +SKIP
    >>> probs = session.run(crops)  # (N, 224, 224, 3) uint8 RGB -> (N, K)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from aunce_rt.errors import InputError, ModelError
from aunce_rt.metadata import REEXPORT_HINT, ModelMetadata, metadata_from_props
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


def read_metadata(session, path: Path | str = "model") -> ModelMetadata:  # session: InferenceSession
    """The ``ModelMetadata`` stored in a session's model; ModelError if absent or malformed."""
    return metadata_from_props(session.get_modelmeta().custom_metadata_map, path)


class AUModelSession:
    """An exported AU model ready to run on aligned crops.

    Args:
        path: the ``.onnx`` file (input "images" uint8 (N, S, S, 3), output "probs" (N, K)).
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
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(
                f"model file {self.path} not found; pass the path of an exported .onnx model "
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
        self._input_name, self._output_name = self._check_io()
        self.run(np.full((1, self.input_size, self.input_size, 3), 127, np.uint8))  # outputs in [0, 1]?
        logger.info("loaded %s on %s", self.path, self.providers[0])

    def _check_io(self) -> tuple[str, str]:
        """Check the graph's first input/output against the metadata; return their names."""
        meta = self.metadata
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if not inputs or not outputs:
            raise ModelError(f"{self.path} has no inputs or outputs; {REEXPORT_HINT}")
        inp = inputs[0]
        s = meta.input_size
        expected = [s, s, 3] if meta.input_layout == "NHWC" else [3, s, s]
        dims = list(inp.shape)
        if len(dims) != 4 or [d if isinstance(d, int) else None for d in dims[1:]] != expected:
            raise ModelError(
                f"{self.path} input {inp.name!r} has shape {dims}; its metadata promises "
                f"(N, {', '.join(map(str, expected))}) ({meta.input_layout}); {REEXPORT_HINT}"
            )
        want_type = _ORT_DTYPES.get(meta.input_dtype, meta.input_dtype)
        if inp.type != want_type:
            raise ModelError(
                f"{self.path} input {inp.name!r} is {inp.type}; its metadata promises {want_type}; {REEXPORT_HINT}"
            )
        out = outputs[0]
        k = out.shape[-1] if out.shape else None
        if len(out.shape) != 2 or (isinstance(k, int) and k != meta.num_aus):
            raise ModelError(
                f"{self.path} output {out.name!r} has shape {list(out.shape)}; expected (N, {meta.num_aus}) "
                f"for the {meta.num_aus} AUs of its metadata; {REEXPORT_HINT}"
            )
        return inp.name, out.name

    @property
    def input_size(self) -> int:
        """Side S of the square crops the model takes."""
        return self.metadata.input_size

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self.metadata.input_dtype)

    def run(self, crops: np.ndarray) -> np.ndarray:
        """AU probabilities of aligned crops, in one batched call.

        Args:
            crops: (N, S, S, 3) uint8 crops in the metadata's colour order (RGB for
                exported models), S = ``input_size``. N = 0 is allowed.

        Returns:
            (N, K) float32 probabilities in ``metadata.au_codes`` order.

        Raises:
            ModelError: the model returned values that are not finite or not in
                [0, 1] (also checked once at load, on a grey crop).
        """
        s = self.input_size
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != (s, s, 3):
            raise InputError(f"crops must have shape (N, {s}, {s}, 3); got {crops.shape}")
        if crops.shape[0] == 0:
            return np.zeros((0, self.metadata.num_aus), np.float32)
        if self.metadata.input_layout == "NCHW":
            crops = crops.transpose(0, 3, 1, 2)
        feed = np.ascontiguousarray(crops, dtype=self.input_dtype)
        (probs,) = self._session.run([self._output_name], {self._input_name: feed})
        probs = np.asarray(probs, dtype=np.float32)
        self._check_probabilities(probs)
        return probs

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
        return (
            f"{self.path.name} ({backbone}, {meta.num_aus} AUs, {meta.precision}, "
            f"input {meta.input_size}px {meta.color_order}) on {self.providers[0]}"
        )
