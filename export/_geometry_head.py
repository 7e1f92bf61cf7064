"""A linear AU head on landmark geometry, as an ONNX graph, alone or fused with an appearance model.

The head is per-AU logistic regression folded into one affine map (standardisation
included):

    logits = flatten(landmarks) @ W_geo + b            (N, 1434) @ (1434, K) + (K,)
           [+ logit(clip(p_app, eps, 1 - eps)) @ W_app] (N, K) @ (K, K)   when fused
    probs  = sigmoid(logits)

``landmarks`` is the (N, 478, 3) float32 aligned geometry of ``aunce_rt.geometry``;
``p_app`` the (N, K) probabilities of an existing aunce-rt appearance graph, whose
``images`` input and nodes are kept as they are (its outputs become internal).
The result is one self-describing graph: its metadata lists both inputs and the
geometry spec, so the runtime feeds what it needs.

An optional intensity head (another ``GeometryHead``, fitted by regression on the
0-5 scale) adds a second output on the same geometry:

    intensities = clip(flatten(landmarks) @ W_int + b_int, 0, 5)   (N, K_int)

named ``"intensities"``; the metadata's ``intensity_aus`` says which AUs it covers.

A non-linear alternative, ``MLPGeometryHead``, has one hidden ReLU layer and, optionally,
averages its logits over the face and its mirror image (exactly mirror-consistent):

    h(g)   = relu(flatten(g) @ W1 + b1) @ W2 + b2      (N, 1434) -> (N, H) -> (N, K)
    logits = (h(g) + h(mirror(g))) / 2                   mirror: points re-indexed, x -> S - x

Example:
    >>> head = GeometryHead(weights=np.zeros((1434, 2)), bias=np.zeros(2))
    >>> model = build_geometry_model(head, ModelMetadata(au_codes=(1, 2), thresholds=(0.5, 0.5)))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from aunce_rt.align import INPUT_SIZE
from aunce_rt.errors import InputError
from aunce_rt.export._graph import check_model, set_metadata
from aunce_rt.geometry import GEOMETRY_FRONTAL, GEOMETRY_SPEC, KNOWN_GEOMETRY, NUM_POINTS, mirror_landmarks
from aunce_rt.metadata import INPUT_IMAGES, INPUT_LANDMARKS, OUTPUT_INTENSITIES, ModelMetadata

OPSET = 17
EPS = 1e-4  # appearance probabilities are clipped to [EPS, 1 - EPS] before the logit
_APP_PROBS = "appearance_probs"


@dataclass(frozen=True)
class GeometryHead:
    """The folded per-AU linear models.

    Attributes:
        weights: (478 * 3, K) on the flattened aligned landmarks (x, y, z per point).
        bias: (K,).
        appearance_weights: (K, K) on the appearance model's logits, or None (geometry only).
    """

    weights: np.ndarray
    bias: np.ndarray
    appearance_weights: np.ndarray | None = None

    def __post_init__(self) -> None:
        w, b = np.asarray(self.weights), np.asarray(self.bias)
        if w.ndim != 2 or w.shape[0] != NUM_POINTS * 3 or b.shape != (w.shape[1],):
            raise InputError(
                f"geometry head needs weights ({NUM_POINTS * 3}, K) and bias (K,); got {w.shape} and {b.shape}"
            )
        a = self.appearance_weights
        if a is not None and np.asarray(a).shape != (w.shape[1], w.shape[1]):
            raise InputError(
                f"appearance weights must be (K, K) = {(w.shape[1],) * 2}; got {np.asarray(a).shape}"
            )

    @property
    def num_aus(self) -> int:
        return int(np.asarray(self.bias).shape[0])

    def logits(self, landmarks: np.ndarray, appearance_probs: np.ndarray | None = None) -> np.ndarray:
        """The head in numpy (the graph's reference): (N, 478, 3) [+ (N, K)] -> (N, K) logits."""
        x = np.asarray(landmarks, np.float64).reshape(len(landmarks), -1)
        out = x @ np.asarray(self.weights, np.float64) + np.asarray(self.bias, np.float64)
        if self.appearance_weights is not None:
            if appearance_probs is None:
                raise InputError("a fused head needs the appearance model's probabilities")
            p = np.clip(np.asarray(appearance_probs, np.float64), EPS, 1 - EPS)
            out = out + np.log(p / (1 - p)) @ np.asarray(self.appearance_weights, np.float64)
        return out

    def probs(self, landmarks: np.ndarray, appearance_probs: np.ndarray | None = None) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(landmarks, appearance_probs)))

    def rescaled(self, slope: np.ndarray, offset: np.ndarray) -> GeometryHead:
        """The head whose logits are ``slope * logits + offset`` per AU (Platt scaling folded in)."""
        a, c = np.asarray(slope, np.float64), np.asarray(offset, np.float64)
        app = self.appearance_weights
        return GeometryHead(
            weights=(np.asarray(self.weights, np.float64) * a).astype(np.float32),
            bias=(np.asarray(self.bias, np.float64) * a + c).astype(np.float32),
            appearance_weights=None if app is None else (np.asarray(app, np.float64) * a).astype(np.float32),
        )


@dataclass(frozen=True)
class MLPGeometryHead:
    """One hidden ReLU layer on the flattened aligned landmarks, optionally mirror-averaged.

    Attributes:
        hidden_weights: (478 * 3, H); hidden_bias: (H,).
        weights: (H, K); bias: (K,).
        mirror: (478,) mirror permutation (``aunce_rt.geometry.mirror_landmarks``): the logits are
            averaged over the face and its mirror image; None: the face alone.
    """

    hidden_weights: np.ndarray
    hidden_bias: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    mirror: np.ndarray | None = None

    appearance_weights = None  # geometry only

    def __post_init__(self) -> None:
        w1, b1 = np.asarray(self.hidden_weights), np.asarray(self.hidden_bias)
        w2, b2 = np.asarray(self.weights), np.asarray(self.bias)
        if (
            w1.ndim != 2
            or w1.shape[0] != NUM_POINTS * 3
            or b1.shape != (w1.shape[1],)
            or w2.shape[:1] != (w1.shape[1],)
            or w2.ndim != 2
            or b2.shape != (w2.shape[1],)
        ):
            raise InputError(
                f"an MLP head needs hidden weights ({NUM_POINTS * 3}, H), bias (H,), weights (H, K), bias (K,); "
                f"got {w1.shape}, {b1.shape}, {w2.shape}, {b2.shape}"
            )
        if self.mirror is not None and np.asarray(self.mirror).shape != (NUM_POINTS,):
            raise InputError(
                f"the mirror permutation must be ({NUM_POINTS},); got {np.asarray(self.mirror).shape}"
            )

    @property
    def num_aus(self) -> int:
        return int(np.asarray(self.bias).shape[0])

    def _one(self, landmarks: np.ndarray) -> np.ndarray:
        x = np.asarray(landmarks, np.float64).reshape(len(landmarks), -1)
        h = np.maximum(x @ np.asarray(self.hidden_weights, np.float64) + self.hidden_bias, 0.0)
        return h @ np.asarray(self.weights, np.float64) + np.asarray(self.bias, np.float64)

    def logits(self, landmarks: np.ndarray, appearance_probs: np.ndarray | None = None) -> np.ndarray:
        """The head in numpy (the graph's reference): (N, 478, 3) -> (N, K) logits."""
        out = self._one(landmarks)
        if self.mirror is not None:
            out = (out + self._one(mirror_landmarks(landmarks, np.asarray(self.mirror)))) / 2
        return out

    def probs(self, landmarks: np.ndarray, appearance_probs: np.ndarray | None = None) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(landmarks)))

    def rescaled(self, slope: np.ndarray, offset: np.ndarray) -> MLPGeometryHead:
        """The head whose logits are ``slope * logits + offset`` per AU (Platt scaling folded in)."""
        a, c = np.asarray(slope, np.float64), np.asarray(offset, np.float64)
        return MLPGeometryHead(
            self.hidden_weights,
            self.hidden_bias,
            (np.asarray(self.weights, np.float64) * a).astype(np.float32),
            (np.asarray(self.bias, np.float64) * a + c).astype(np.float32),
            self.mirror,
        )


def _const(name: str, value: np.ndarray, dtype=np.float32) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype), name)


def _mlp_nodes(head: MLPGeometryHead) -> tuple[list, list]:
    """Nodes and initialisers: landmarks -> geo_flat (N, 1434) and geo_logits (N, K) of an MLP head."""
    inits = [
        _const("geo_shape", np.array([-1, NUM_POINTS * 3]), np.int64),
        _const("mlp_w1", head.hidden_weights),
        _const("mlp_b1", head.hidden_bias),
        _const("mlp_w2", head.weights),
        _const("mlp_b2", head.bias),
    ]
    nodes = [helper.make_node("Reshape", [INPUT_LANDMARKS, "geo_shape"], ["geo_flat"], name="geo_flatten")]

    def branch(flat: str, tag: str) -> None:
        nodes.extend(
            [
                helper.make_node("MatMul", [flat, "mlp_w1"], [f"{tag}_h0"], name=f"{tag}_matmul1"),
                helper.make_node("Add", [f"{tag}_h0", "mlp_b1"], [f"{tag}_h1"], name=f"{tag}_add1"),
                helper.make_node("Relu", [f"{tag}_h1"], [f"{tag}_h"], name=f"{tag}_relu"),
                helper.make_node("MatMul", [f"{tag}_h", "mlp_w2"], [f"{tag}_o0"], name=f"{tag}_matmul2"),
                helper.make_node("Add", [f"{tag}_o0", "mlp_b2"], [f"{tag}_logits"], name=f"{tag}_add2"),
            ]
        )

    if head.mirror is None:
        branch("geo_flat", "mlp")
        nodes.append(helper.make_node("Identity", ["mlp_logits"], ["geo_logits"], name="mlp_out"))
        return nodes, inits
    inits += [
        _const("mirror_perm", np.asarray(head.mirror), np.int64),
        _const("mirror_sign", np.array([-1.0, 1.0, 1.0])),
        _const("mirror_shift", np.array([float(INPUT_SIZE), 0.0, 0.0])),
        _const("mlp_half", np.array(0.5)),
    ]
    nodes += [
        helper.make_node("Gather", [INPUT_LANDMARKS, "mirror_perm"], ["mir_g"], axis=1, name="mirror_gather"),
        helper.make_node("Mul", ["mir_g", "mirror_sign"], ["mir_s"], name="mirror_sign"),
        helper.make_node("Add", ["mir_s", "mirror_shift"], ["mir_lm"], name="mirror_shift"),
        helper.make_node("Reshape", ["mir_lm", "geo_shape"], ["mir_flat"], name="mirror_flatten"),
    ]
    branch("geo_flat", "mlp")
    branch("mir_flat", "mlpm")
    nodes += [
        helper.make_node("Add", ["mlp_logits", "mlpm_logits"], ["mlp_sum"], name="mirror_sum"),
        helper.make_node("Mul", ["mlp_sum", "mlp_half"], ["geo_logits"], name="mirror_mean"),
    ]
    return nodes, inits


def _geometry_nodes(head: GeometryHead | MLPGeometryHead) -> tuple[list, list]:
    """Nodes and initialisers: landmarks -> geo_flat (N, 1434) and geo_logits (N, K)."""
    if isinstance(head, MLPGeometryHead):
        return _mlp_nodes(head)
    inits = [
        _const("geo_shape", np.array([-1, NUM_POINTS * 3]), np.int64),
        _const("geo_weights", head.weights),
        _const("geo_bias", head.bias),
    ]
    nodes = [
        helper.make_node("Reshape", [INPUT_LANDMARKS, "geo_shape"], ["geo_flat"], name="geo_flatten"),
        helper.make_node("MatMul", ["geo_flat", "geo_weights"], ["geo_mm"], name="geo_matmul"),
        helper.make_node("Add", ["geo_mm", "geo_bias"], ["geo_logits"], name="geo_add"),
    ]
    return nodes, inits


def _intensity_nodes(head: GeometryHead, scale: tuple[float, float]) -> tuple[list, list]:
    """Nodes and initialisers: geo_flat -> intensities (N, K_int), clipped to ``scale``."""
    inits = [
        _const("int_weights", head.weights),
        _const("int_bias", head.bias),
        _const("int_low", np.array(scale[0])),
        _const("int_high", np.array(scale[1])),
    ]
    nodes = [
        helper.make_node("MatMul", ["geo_flat", "int_weights"], ["int_mm"], name="int_matmul"),
        helper.make_node("Add", ["int_mm", "int_bias"], ["int_raw"], name="int_add"),
        helper.make_node("Clip", ["int_raw", "int_low", "int_high"], [OUTPUT_INTENSITIES], name="int_clip"),
    ]
    return nodes, inits


def intensity_reference(head: GeometryHead, landmarks: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """The intensity output in numpy (the graph's reference): (N, 478, 3) -> (N, K_int) clipped."""
    return np.clip(head.logits(landmarks), scale[0], scale[1])


def _appearance_nodes(head: GeometryHead) -> tuple[list, list]:
    """Nodes and initialisers: appearance_probs -> app_term (N, K), the weighted appearance logits."""
    inits = [
        _const("app_eps", np.array(EPS)),
        _const("app_one_minus_eps", np.array(1 - EPS)),
        _const("app_one", np.array(1.0)),
        _const("app_weights", head.appearance_weights),
    ]
    nodes = [
        helper.make_node("Clip", [_APP_PROBS, "app_eps", "app_one_minus_eps"], ["app_p"], name="app_clip"),
        helper.make_node("Sub", ["app_one", "app_p"], ["app_q"], name="app_complement"),
        helper.make_node("Div", ["app_p", "app_q"], ["app_odds"], name="app_odds"),
        helper.make_node("Log", ["app_odds"], ["app_logit"], name="app_logit"),
        helper.make_node("MatMul", ["app_logit", "app_weights"], ["app_term"], name="app_matmul"),
    ]
    return nodes, inits


def build_geometry_model(
    head: GeometryHead | MLPGeometryHead,
    metadata: ModelMetadata,
    appearance: onnx.ModelProto | None = None,
    *,
    reference: np.ndarray | None = None,
    geometry: str | None = None,
    intensity: GeometryHead | None = None,
) -> onnx.ModelProto:
    """The ONNX model of ``head``: inputs ``landmarks`` (and the appearance graph's ``images``), output ``probs``.

    Args:
        head: the folded linear head, or an MLP head (geometry only).
        metadata: the new model's metadata; its ``inputs``/``geometry``/format are set here.
        appearance: an aunce-rt appearance graph (input images, output 0 probabilities
            (N, K) in the same AU order) to fuse with; required iff the head has
            appearance weights.
        reference: (478, 3) reference face of a frontal spec (stored in the metadata).
        geometry: the geometry spec the head was fitted on (``aunce_rt.geometry``); None: the
            frontal spec when a reference is given, else the plain aligned one.
        intensity: a geometry-only head whose outputs are AU intensities (no sigmoid; clipped
            to ``metadata.intensity_scale``), one column per AU of ``metadata.intensity_aus``
            (empty: every AU of ``au_codes``); None: no ``"intensities"`` output.

    Returns:
        A checked ``onnx.ModelProto`` with the metadata written into it.
    """
    geometry = geometry or (GEOMETRY_FRONTAL if reference is not None else GEOMETRY_SPEC)
    if geometry not in KNOWN_GEOMETRY or (geometry == GEOMETRY_FRONTAL) != (reference is not None):
        raise InputError(f"geometry {geometry!r} with{'out' if reference is None else ''} a reference face")
    if (appearance is None) != (head.appearance_weights is None):
        raise InputError("give an appearance graph exactly when the head has appearance weights")
    k = head.num_aus
    if len(metadata.au_codes) != k:
        raise InputError(f"metadata lists {len(metadata.au_codes)} AUs; the head has {k}")
    inten_aus = _intensity_aus(metadata, intensity)
    geo_in = helper.make_tensor_value_info(INPUT_LANDMARKS, TensorProto.FLOAT, ["N", NUM_POINTS, 3])
    out = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", k])
    nodes, inits = _geometry_nodes(head)
    extra_out = []
    if intensity is not None:
        int_nodes, int_inits = _intensity_nodes(intensity, metadata.intensity_scale)
        nodes, inits = nodes + int_nodes, inits + int_inits
        extra_out = [
            helper.make_tensor_value_info(OUTPUT_INTENSITIES, TensorProto.FLOAT, ["N", len(inten_aus)])
        ]
    if appearance is None:
        nodes.append(helper.make_node("Sigmoid", ["geo_logits"], ["probs"], name="head_sigmoid"))
        graph = helper.make_graph(nodes, "aunce_rt_geometry", [geo_in], [out, *extra_out], initializer=inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        inputs: tuple[str, ...] = (INPUT_LANDMARKS,)
    else:
        model = onnx.ModelProto()
        model.CopyFrom(appearance)
        g = model.graph
        if any(i.name == INPUT_LANDMARKS for i in g.input):
            raise InputError("the appearance graph already takes landmarks; give an image-only model")
        old = g.output[0].name
        for node in g.node:  # its probabilities become an internal tensor
            node.output[:] = [_APP_PROBS if o == old else o for o in node.output]
            node.input[:] = [_APP_PROBS if i == old else i for i in node.input]
        del g.output[:]
        app_nodes, app_inits = _appearance_nodes(head)
        nodes += app_nodes + [
            helper.make_node("Add", ["geo_logits", "app_term"], ["fused_logits"], name="fuse_add"),
            helper.make_node("Sigmoid", ["fused_logits"], ["probs"], name="head_sigmoid"),
        ]
        g.node.extend(nodes)
        g.initializer.extend(inits + app_inits)
        g.input.append(geo_in)
        g.output.extend([out, *extra_out])
        opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=OPSET)
        if opset < 13:
            raise InputError(f"the appearance graph uses opset {opset}; re-export it with opset >= 13")
        inputs = (INPUT_IMAGES, INPUT_LANDMARKS)
    meta = ModelMetadata(
        **{
            **{f: getattr(metadata, f) for f in metadata.__dataclass_fields__},
            "inputs": inputs,
            "geometry": geometry,
            "geometry_reference": ()
            if reference is None
            else tuple(np.asarray(reference, np.float64).ravel()),
            "has_features": False,
            "intensity_aus": inten_aus,
            "format_version": 2,
        }
    )
    set_metadata(model, meta)
    check_model(model)
    return model


def _intensity_aus(metadata: ModelMetadata, intensity: GeometryHead | None) -> tuple[int, ...]:
    """The AUs of the intensity output: the metadata's list, or every AU; () without a head."""
    if intensity is None:
        return ()
    if intensity.appearance_weights is not None:
        raise InputError("the intensity head reads geometry only; give it no appearance weights")
    aus = metadata.intensity_aus or metadata.au_codes
    if len(aus) != intensity.num_aus:
        raise InputError(
            f"the intensity head has {intensity.num_aus} columns for {len(aus)} intensity AUs {list(aus)}; "
            "set metadata.intensity_aus to the AUs of its columns"
        )
    return tuple(aus)
