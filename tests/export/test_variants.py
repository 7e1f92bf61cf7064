"""fp16 and int8 exports: types at the boundaries, agreement with fp32 (labelled F1: tests/aunce_rt/pipelines)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from aunce_rt.errors import ModelError
from aunce_rt.export import ExportResult, export_onnx, tensorrt_problems
from aunce_rt.export._crops import folder_crops, random_crops
from aunce_rt.export._graph import read_metadata
from aunce_rt.export._verify import compare, run_probs, session


def _boundary_types(path: Path) -> tuple[int, list[int]]:
    model = onnx.load(str(path))
    return model.graph.input[0].type.tensor_type.elem_type, [
        o.type.tensor_type.elem_type for o in model.graph.output
    ]


def test_fp16_variant(tiny: ExportResult, tiny_checkpoint: Path, tmp_path: Path) -> None:
    result = export_onnx(tiny_checkpoint, tmp_path / "m16.onnx", precision="fp16", with_features=True)
    assert _boundary_types(result.path) == (onnx.TensorProto.UINT8, [onnx.TensorProto.FLOAT] * 2)
    model = onnx.load(str(result.path))
    weights = [t for t in model.graph.initializer if t.dims and np.prod(t.dims) > 16]
    assert weights and all(t.data_type == onnx.TensorProto.FLOAT16 for t in weights)
    assert read_metadata(model).precision == "fp16"
    crops = random_crops(6, seed=3)
    agreement = compare(
        "random", run_probs(session(result.path), crops), run_probs(session(tiny.path), crops)
    )
    print(f"fp16 vs fp32: {agreement}")
    assert agreement.max_abs_diff < 1e-2
    assert result.variant_agreement[0].max_abs_diff < 1e-2
    assert tensorrt_problems(model) == []


def test_int8_variant_with_calibration_folder(
    tiny: ExportResult, tiny_checkpoint: Path, face_crops: Path, tmp_path: Path
) -> None:
    result = export_onnx(
        tiny_checkpoint, tmp_path / "m8.onnx", precision="int8", calib_dir=face_crops, int8_scheme="static"
    )
    assert result.int8_scheme == "static"
    model = onnx.load(str(result.path))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") > 10 and "DequantizeLinear" in ops
    assert _boundary_types(result.path) == (onnx.TensorProto.UINT8, [onnx.TensorProto.FLOAT])
    # the uint8 -> float pre-processing is not quantised: the input feeds a float Transpose/Cast chain
    producers = {o: n for n in model.graph.node for o in n.output}
    first = [n for n in model.graph.node if "images" in n.input]
    assert first and all(n.op_type in ("Transpose", "Cast") for n in first)
    sub = next(n for n in model.graph.node if n.op_type == "Sub" and "/preprocess/" in n.name)
    assert all(producers.get(i) is None or producers[i].op_type != "DequantizeLinear" for i in sub.input)
    meta = read_metadata(model)
    assert meta.precision == "int8" and meta.au_codes == tiny.metadata.au_codes
    crops = folder_crops(face_crops)
    agreement = compare("faces", run_probs(session(result.path), crops), run_probs(session(tiny.path), crops))
    print(f"int8 vs fp32: {agreement}")
    assert agreement.max_abs_diff < 0.15 and agreement.decision_agreement >= 0.9
    assert {a.name for a in result.variant_agreement} == {"random", "calibration"}
    assert tensorrt_problems(model) == []


def test_int8_without_calibration_data_or_synthau_fails_clearly(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "aunce_rt.synthau", None)  # import now raises ImportError
    with pytest.raises(ModelError, match="--calib"):
        export_onnx(tiny_checkpoint, tmp_path / "m8.onnx", precision="int8")
    assert not (tmp_path / "m8.onnx").exists()


def test_int8_calibrates_on_synthau_by_default(tiny_checkpoint: Path, tmp_path: Path) -> None:
    synthau = pytest.importorskip("aunce_rt.synthau")
    if not hasattr(synthau, "SynthAU") or not hasattr(synthau, "aligned_crop"):
        pytest.skip("aunce_rt.synthau does not provide SynthAU / aligned_crop")
    result = export_onnx(tiny_checkpoint, tmp_path / "m8.onnx", precision="int8", calib_size=8)
    calibration = next(a for a in result.variant_agreement if a.name == "calibration")
    print(f"int8 (SynthAU calibration) vs fp32: {calibration}")
    assert calibration.n == 8 and calibration.max_abs_diff < 0.15


def _fused_ops(path: Path, tmp_path: Path) -> dict[str, int]:
    """Operator counts of the graph ONNX Runtime actually runs on this CPU."""
    import collections

    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.optimized_model_filepath = str(tmp_path / f"{path.stem}.opt.onnx")
    ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return collections.Counter(n.op_type for n in onnx.load(opts.optimized_model_filepath).graph.node)


@pytest.mark.parametrize("activations", ["u8", "s8"])
def test_int8_activation_flavours(activations: str, tmp_path: Path) -> None:
    import torch

    from aunce_rt.export._int8 import quantize_int8
    from aunce_rt.models import AUModel, AUProbe, create_encoder, save_model

    torch.manual_seed(0)
    enc = create_encoder(
        "resnet18", 4, node_dim=16
    )  # residual Adds: the case int8 activations leave in float
    ckpt = save_model(tmp_path / "r18.pt", AUModel(enc, AUProbe(4, 16)).eval(), au_codes=(1, 2, 4, 6))
    fp32 = export_onnx(ckpt, tmp_path / "r18.onnx", metadata_extra={"input_size": 64}).path
    out = quantize_int8(
        fp32, tmp_path / f"r18_{activations}.onnx", random_crops(16, size=64), activations=activations
    )
    graph = onnx.load(str(out)).graph
    init = {t.name: t for t in graph.initializer}
    zero_points = [init[n.input[2]] for n in graph.node if n.op_type == "QuantizeLinear"]
    want = onnx.TensorProto.UINT8 if activations == "u8" else onnx.TensorProto.INT8
    assert zero_points and all(z.data_type == want for z in zero_points)
    if activations == "s8":  # TensorRT's explicit int8: symmetric, zero point 0
        assert all(not onnx.numpy_helper.to_array(z).any() for z in zero_points)
    else:  # ONNX Runtime runs every convolution in int8
        ops = _fused_ops(out, tmp_path)
        assert ops["Conv"] == 0 and ops["QLinearConv"] > 0
    with pytest.raises(ModelError, match="activations"):
        quantize_int8(fp32, tmp_path / "bad.onnx", random_crops(4, size=64), activations="u16")


def test_auto_int8_keeps_the_faster_scheme(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aunce_rt.export._scheme as scheme

    timed: list[list[str]] = []
    for faster in ("static", "dynamic"):

        def fake_timing(paths, size, faster=faster):  # the real timer is exercised below
            timed.append([Path(p).stem for p in paths])
            return [1.0 if faster in Path(p).stem else 2.0 for p in paths]

        monkeypatch.setattr(scheme, "ms_per_face", fake_timing)
        res = export_onnx(tiny_checkpoint, tmp_path / f"a_{faster}.onnx", precision="int8", calib_size=8)
        ops = {n.op_type for n in onnx.load(str(res.path)).graph.node}
        assert res.int8_scheme == faster
        assert ("QuantizeLinear" in ops) == (faster == "static")
    assert timed == [["int8_static", "int8_dynamic"]] * 2


def test_ms_per_face_times_each_model(tiny: ExportResult) -> None:
    from aunce_rt.export._verify import ms_per_face

    times = ms_per_face([tiny.path, tiny.path], tiny.metadata.input_size, rounds=2, repeats=3)
    assert len(times) == 2 and all(t > 0 for t in times)


def test_dynamic_int8_quantises_matmuls_only(
    tiny: ExportResult, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    result = export_onnx(tiny_checkpoint, tmp_path / "d8.onnx", precision="int8", int8_scheme="dynamic")
    assert result.int8_scheme == "dynamic" and result.metadata.precision == "int8"
    model = onnx.load(str(result.path))
    ops = [n.op_type for n in model.graph.node]
    assert "DynamicQuantizeLinear" in ops or "DynamicQuantizeMatMul" in ops
    assert "QuantizeLinear" not in ops  # nothing calibrated, convolutions stay float
    fp32_matmuls = sum(n.op_type == "MatMul" for n in onnx.load(str(tiny.path)).graph.node)
    assert ops.count("MatMul") < fp32_matmuls
    assert _boundary_types(result.path) == (onnx.TensorProto.UINT8, [onnx.TensorProto.FLOAT])
    crops = random_crops(6, seed=4)
    agreement = compare(
        "random", run_probs(session(result.path), crops), run_probs(session(tiny.path), crops)
    )
    print(f"dynamic int8 vs fp32: {agreement}")
    assert agreement.max_abs_diff < 0.15
    assert {a.name for a in result.variant_agreement} == {"random"}


def test_dynamic_int8_cannot_feed_tensorrt(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from aunce_rt.errors import InputError

    with pytest.raises(InputError, match="int8-scheme static"):
        export_onnx(
            tiny_checkpoint, tmp_path / "t.onnx", precision="int8", int8_scheme="dynamic", tensorrt=True
        )
    with pytest.raises(InputError, match="int8_scheme"):
        export_onnx(tiny_checkpoint, tmp_path / "t.onnx", precision="int8", int8_scheme="fast")
