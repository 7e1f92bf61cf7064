"""TFLite MobileNetV2 -> timm mobilenetv2_100: key mapping, BN folding, agreement with TFLite."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F

from aunce_rt.errors import ModelError
from aunce_rt.metadata import IMAGENET_MEAN, IMAGENET_STD
from aunce_rt.models import _tflite, convert_tflite_mobilenetv2, create_encoder, read_tflite_mobilenetv2
from aunce_rt.models._backbones import build_backbone
from aunce_rt.models._weights import load_backbone_weights, read_state_dict

TFLITE_NAME = "imagenet/mobilenet_v2_1.0_224_quant.tflite"
LABELS_NAME = "imagenet/imagenet_labels.txt"
IMAGES = [
    "skimage_astronaut.png",
    "single_face.jpg",
    "openface_sample1.jpg",
    "openface_sample2_small_faces.jpg",
    "multi_face.jpg",
    "free-mountain-vector-01.jpg",
    "BWPictureHuman.jpg",
    "Image_with_alpha.png",
    "openface_sample3_16bit_gray.png",
]


# --- no shared files needed -------------------------------------------------------------


def _fold(conv: torch.Tensor, bn: dict[str, torch.Tensor], eps: float) -> tuple[np.ndarray, np.ndarray]:
    """What TensorFlow's converter does: fold an eval-mode batch norm into the conv before it."""
    scale = bn["weight"] / torch.sqrt(bn["running_var"] + eps)  # (O,)
    return (conv * scale.view(-1, 1, 1, 1)).numpy(), (bn["bias"] - bn["running_mean"] * scale).numpy()


def _fake_tflite_constants(model: torch.nn.Module) -> dict[tuple[str, str], np.ndarray]:
    """The (kind, layer) -> float array dict ``_read_constants`` would return for ``model``."""
    state = model.state_dict()
    out: dict[tuple[str, str], np.ndarray] = {}
    for layer, conv, norm, depthwise in _tflite.tflite_layer_map():
        if norm == "":  # classifier: (1000, 1280) -> (1001, 1, 1, 1280) with a background row 0
            weight = torch.cat([torch.randn(1, 1280), state[f"{conv}.weight"]])
            out["weight", layer] = weight[:, None, None, :].numpy()
            out["bias", layer] = torch.cat([torch.tensor([5.0]), state[f"{conv}.bias"]]).numpy()
            continue
        bn = {k: state[f"{norm}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")}
        weight, bias = _fold(state[f"{conv}.weight"], bn, eps=1e-5)
        # torch (O, I, kh, kw) -> TFLite (O, kh, kw, I); depthwise (C, 1, kh, kw) -> (1, kh, kw, C)
        out["weight", layer] = weight.transpose((1, 2, 3, 0) if depthwise else (0, 2, 3, 1))
        out["bias", layer] = bias
    return out


def _random_bn_model(**kwargs: object) -> torch.nn.Module:
    torch.manual_seed(0)
    model = timm.create_model("mobilenetv2_100", pretrained=False, **kwargs).eval()
    for module in model.modules():  # non-trivial statistics, or folding could not go wrong
        if isinstance(module, torch.nn.BatchNorm2d):
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.1)
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 2.0)
    return model


def test_every_timm_key_gets_a_value_of_its_shape(monkeypatch):
    model = _random_bn_model()
    monkeypatch.setattr(_tflite, "_read_constants", lambda path: _fake_tflite_constants(model))
    state = read_tflite_mobilenetv2("fake.tflite")
    expected = model.state_dict()
    assert set(state) == set(expected)
    assert all(state[k].shape == expected[k].shape for k in expected)
    assert torch.equal(state["blocks.3.2.bn2.weight"], torch.ones(384))  # the identity norms
    assert torch.equal(state["bn1.running_mean"], torch.zeros(32))


def test_folded_round_trip_reproduces_the_network(monkeypatch):
    """A random network, folded and laid out as TFLite does, converts back to the same function."""
    model = _random_bn_model()
    monkeypatch.setattr(_tflite, "_read_constants", lambda path: _fake_tflite_constants(model))
    converted = timm.create_model("mobilenetv2_100", pretrained=False).eval()
    converted.load_state_dict(read_tflite_mobilenetv2("fake.tflite"))
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        want, got = model(x), converted(x)
    assert want.shape == got.shape == (2, 1000)  # background row dropped
    assert torch.allclose(got, want, atol=1e-4, rtol=1e-4), (got - want).abs().max()


def test_stem_retargeting_is_exact_without_padding():
    weight, bias = torch.randn(32, 3, 3, 3), torch.randn(32)
    x = torch.rand(1, 3, 9, 9)  # pixels in [0, 1]
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    w2, b2 = _tflite._retarget_stem(weight, bias, IMAGENET_MEAN, IMAGENET_STD)
    want = F.conv2d((x - 0.5) / 0.5, weight, bias)
    got = F.conv2d((x - mean) / std, w2, b2)
    assert torch.allclose(got, want, atol=1e-5)
    assert not torch.allclose(F.conv2d((x - mean) / std, weight, bias), want, atol=1e-2)


@pytest.mark.parametrize(
    ("scales", "zeros", "axis", "raw", "want"),
    [
        ([0.5], [128], 0, [[128, 130], [126, 0]], [[0.0, 1.0], [-1.0, -64.0]]),  # per tensor
        ([1.0, 0.25], [0, 4], 0, [[3, 3], [8, 0]], [[3.0, 3.0], [1.0, -1.0]]),  # per row
        ([1.0, 0.25], [0, 4], 1, [[3, 8], [3, 0]], [[3.0, 1.0], [3.0, -1.0]]),  # per column
        ([], [], 0, [[1.5, -2.0]], [[1.5, -2.0]]),  # float tensor: unchanged
    ],
)
def test_dequantize(scales, zeros, axis, raw, want):
    quant = {"scales": np.array(scales), "zero_points": np.array(zeros), "quantized_dimension": axis}
    got = _tflite._dequantize(np.array(raw), quant)
    assert got.dtype == np.float32 and np.array_equal(got, np.array(want, dtype=np.float32))


@pytest.mark.parametrize(
    ("name", "ndim", "want"),
    [  # names as they stand in mobilenet_v2_1.0_224_quant.tflite
        ("MobilenetV2/Conv/Conv2D_Fold;MobilenetV2/Conv/weights_quant/FakeQuantWithMinMaxVars", 4, ("weight", "MobilenetV2/Conv")),
        ("MobilenetV2/expanded_conv_5/project/add_fold;MobilenetV2/expanded_conv_5/project/Conv2D_Fold;"
         "MobilenetV2/expanded_conv_5/project/BatchNorm_Fold/bias", 1, ("bias", "MobilenetV2/expanded_conv_5/project")),
        ("MobilenetV2/Logits/Conv2d_1c_1x1/BiasAdd;MobilenetV2/Logits/Conv2d_1c_1x1/Conv2D;"
         "MobilenetV2/Logits/Conv2d_1c_1x1/biases", 1, ("bias", "MobilenetV2/Logits/Conv2d_1c_1x1")),
        # activations: the same suffix, but 4-D; "bias1"
        ("MobilenetV2/Conv/Relu6;MobilenetV2/Conv/add_fold;MobilenetV2/Conv/BatchNorm_Fold/bias", 4, None),
        ("MobilenetV2/expanded_conv/project/add_fold;MobilenetV2/expanded_conv/project/BatchNorm_Fold/bias1", 4, None),
        ("MobilenetV2/Logits/Squeeze", 1, None),
    ],
)  # fmt: skip
def test_layer_of_tensor_names(name, ndim, want):
    assert _tflite._layer_of(name, ndim) == want


def test_tflite_into_another_backbone_says_which_one_fits(tmp_path):
    module, spec = build_backbone("resnet18")
    with pytest.raises(ModelError, match="mobilenetv2_100_tfsame"):
        load_backbone_weights(module, spec, tmp_path / "mobilenet.tflite")
    (tmp_path / "m.tflite").write_bytes(b"")
    with pytest.raises(ModelError, match="convert_tflite_mobilenetv2"):
        read_state_dict(tmp_path / "m.tflite")


def test_tfsame_backbone_pads_like_tensorflow_and_default_does_not():
    from timm.layers import Conv2dSame

    with torch.device("meta"):
        same, same_spec = build_backbone("mobilenetv2_100_tfsame")
        plain, _ = build_backbone("mobilenetv2_100")
    assert isinstance(same.conv_stem, Conv2dSame) and isinstance(same.blocks[1][0].conv_dw, Conv2dSame)
    assert not isinstance(plain.conv_stem, Conv2dSame)
    assert same_spec.timm_name == "mobilenetv2_100" and set(same.state_dict()) == set(plain.state_dict())


# --- against Google's TFLite model (../shared) -------------------------------------------


@pytest.fixture(scope="module")
def tflite_path(shared_models: Path) -> Path:
    pytest.importorskip("ai_edge_litert", reason="needs ai-edge-litert (the train extra) to read .tflite")
    path = shared_models / TFLITE_NAME
    if not path.is_file():
        pytest.skip(f"{path} not found (Google's quantised MobileNetV2, kept in ../shared/models only)")
    return path


@pytest.fixture(scope="module")
def photos(shared_data: Path) -> np.ndarray:
    """(9, 224, 224, 3) uint8 RGB photos, squashed to 224 x 224."""
    import cv2

    out = []
    for name in IMAGES:
        image = cv2.imread(str(shared_data / "images" / name), cv2.IMREAD_COLOR)  # BGR, 8 bit
        assert image is not None, name
        out.append(
            cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), (224, 224), interpolation=cv2.INTER_AREA)
        )
    return np.stack(out)


@pytest.fixture(scope="module")
def labels(tflite_path: Path) -> list[str]:
    """The 1000 ImageNet class names in timm's order (TFLite's list minus "background")."""
    names = (tflite_path.parents[1] / LABELS_NAME).read_text().splitlines()
    assert len(names) == 1001 and names[0] == "background"
    return names[1:]


@pytest.fixture(scope="module")
def tflite_out(tflite_path: Path, photos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TFLite's (9, 1000) dequantised probabilities and pre-softmax logits, background dropped."""
    from ai_edge_litert.interpreter import Interpreter

    with warnings.catch_warnings():  # "preserve_all_tensors is for debugging": it is, here
        warnings.simplefilter("ignore", UserWarning)
        interpreter = Interpreter(model_path=str(tflite_path), experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    logit = next(d for d in interpreter.get_tensor_details() if d["name"] == "MobilenetV2/Logits/Squeeze1")
    probs, logits = [], []
    for image in photos:
        interpreter.set_tensor(inp["index"], image[None])
        interpreter.invoke()
        for detail, into in ((out, probs), (logit, logits)):
            scale, zero = detail["quantization"]
            into.append((interpreter.get_tensor(detail["index"])[0].astype(np.float32) - zero) * scale)
    return np.stack(probs)[:, 1:], np.stack(logits)[:, 1:]


def _timm_logits(state: dict, photos: np.ndarray, mean, std, **kwargs: object) -> np.ndarray:
    model = timm.create_model("mobilenetv2_100", pretrained=False, **kwargs).eval()
    model.load_state_dict(state)
    x = torch.from_numpy(photos).permute(0, 3, 1, 2).float() / 255  # (9, 3, 224, 224) in [0, 1]
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    with torch.no_grad():
        return model(x).numpy()


def _agreement(logits: np.ndarray, tflite_out: tuple[np.ndarray, np.ndarray]) -> tuple[int, float, float]:
    """(top-1 agreements, lowest per-photo probability correlation, lowest logit correlation)."""
    probs = torch.from_numpy(logits).softmax(-1).numpy()
    tf_probs, tf_logits = tflite_out
    top1 = int((probs.argmax(1) == tf_probs.argmax(1)).sum())
    prob_r = min(np.corrcoef(p, q)[0, 1] for p, q in zip(probs, tf_probs, strict=True))
    logit_r = min(np.corrcoef(p, q)[0, 1] for p, q in zip(logits, tf_logits, strict=True))
    return top1, float(prob_r), float(logit_r)


# Measured on the 9 photos (float32 timm vs uint8 TFLite, lowest / mean Pearson r per photo):
#   pad_type="same", mean/std 0.5 (faithful):     top-1 9/9, probability r 0.976 / 0.993, logit r 0.996 / 0.998
#   pad_type="same", ImageNet mean/std in stem:   top-1 9/9, probability r 0.974 / 0.992, logit r 0.995 / 0.998
#   default padding, mean/std 0.5:                top-1 3/9, probability r 0.161 / 0.555, logit r 0.706 / 0.819
# Thresholds below leave a margin for other CPUs / LiteRT kernels.
@pytest.mark.shared
@pytest.mark.parametrize(
    ("mean", "std"),
    [(_tflite.TFLITE_MEAN, _tflite.TFLITE_STD), (IMAGENET_MEAN, IMAGENET_STD)],
    ids=["tf", "imagenet"],
)
def test_converted_network_agrees_with_tflite(tflite_path, photos, tflite_out, mean, std):
    state = read_tflite_mobilenetv2(tflite_path, input_mean=mean, input_std=std)
    top1, prob_r, logit_r = _agreement(_timm_logits(state, photos, mean, std, pad_type="same"), tflite_out)
    assert top1 >= len(IMAGES) - 1, top1
    assert prob_r > 0.93, prob_r
    assert logit_r > 0.98, logit_r


@pytest.mark.shared
def test_default_padding_agrees_less_than_same_padding(tflite_path, photos, tflite_out):
    state = read_tflite_mobilenetv2(tflite_path)
    mean, std = _tflite.TFLITE_MEAN, _tflite.TFLITE_STD
    top1_same, r_same, _ = _agreement(_timm_logits(state, photos, mean, std, pad_type="same"), tflite_out)
    top1_default, r_default, _ = _agreement(_timm_logits(state, photos, mean, std), tflite_out)
    assert top1_default < top1_same and r_default < r_same - 0.3, (top1_default, r_default)


@pytest.mark.shared
def test_predictions_are_sensible(tflite_path, photos, tflite_out, labels):
    tf_probs, _ = tflite_out
    state = read_tflite_mobilenetv2(tflite_path)
    logits = _timm_logits(state, photos, _tflite.TFLITE_MEAN, _tflite.TFLITE_STD, pad_type="same")
    for probs in (tf_probs, logits):
        top5 = {i: [labels[k] for k in np.argsort(-p)[:5]] for i, p in enumerate(probs)}
        assert top5[IMAGES.index("free-mountain-vector-01.jpg")][0] == "alp"  # TFLite: p = 0.57
        assert "football helmet" in top5[IMAGES.index("skimage_astronaut.png")]  # TFLite: ski, helmet
        assert top5[IMAGES.index("openface_sample2_small_faces.jpg")][0] == "suit, suit of clothes"


@pytest.mark.shared
def test_encoder_loads_tflite_and_its_safetensors_conversion(tflite_path, tmp_path):
    direct = create_encoder("mobilenetv2_100_tfsame", 12, init_weights=tflite_path)
    want = read_tflite_mobilenetv2(tflite_path, input_mean=IMAGENET_MEAN, input_std=IMAGENET_STD)
    got = direct.backbone.state_dict()
    assert all(torch.equal(v, want[k]) for k, v in got.items())

    dst = convert_tflite_mobilenetv2(tflite_path, tmp_path / "sub" / "mnv2.safetensors")
    from safetensors import safe_open

    with safe_open(str(dst), "pt") as f:
        meta = f.metadata()
    assert meta["architecture"] == "mobilenetv2_100" and meta["mean"] == "0.485,0.456,0.406"
    via_file = create_encoder("mobilenetv2_100_tfsame", 12, init_weights=dst)
    assert all(torch.equal(v, got[k]) for k, v in via_file.backbone.state_dict().items())
