"""Typed configs: the paper's settings, unknown-key suggestions, typed --set overrides, inheritance."""

from __future__ import annotations

from pathlib import Path

import pytest

from aunce_rt.datasets.protocol import load_protocol
from aunce_rt.errors import InputError
from aunce_rt.training.config import list_configs, load_config, save_config, to_dict

PAPER_M = {"bp4d": 12, "bp4d_plus": 12, "affwild2": 12, "gft": 10, "disfa": 8}


@pytest.mark.parametrize("name", sorted(PAPER_M))
def test_benchmark_configs_reproduce_the_paper(name: str) -> None:
    cfg = load_config(name)
    assert (cfg.pretrain.lr, cfg.pretrain.weight_decay, cfg.pretrain.batch_size) == (1e-5, 1e-6, 32)
    assert (cfg.pretrain.epochs, cfg.seed, cfg.pretrain.betas) == (60, 3407, (0.9, 0.999))
    assert (cfg.loss.temperature, cfg.loss.probs) == (0.5, (0.15, 0.15, 0.7, 0.0))
    assert (cfg.loss.beta_minority, cfg.loss.beta_majority) == (1.2, 0.4)
    assert cfg.loss.num_positives == PAPER_M[name] == load_protocol(name).num_positives
    assert cfg.model.top_k == (3 if name == "disfa" else 4) == load_protocol(name).top_k
    assert (cfg.linear.lr, cfg.linear.batch_size, cfg.linear.epochs) == (1e-3, 256, 100)
    assert cfg.data.protocol == name


def test_every_bundled_config_loads() -> None:
    names = list_configs()
    assert {"synthau_tiny", "synthau_test", "bp4d_to_gft", "gft_to_bp4d"} <= set(names)
    for name in names:
        load_config(name)


def test_unknown_keys_get_a_close_match(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="did you mean 'loss.temperature'"):
        load_config("synthau_test", ["loss.temprature=0.2"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: synthau_test\npretrian:\n  epochs: 3\n")
    with pytest.raises(InputError, match="did you mean 'pretrain'"):
        load_config(bad)


@pytest.mark.parametrize(
    ("override", "key", "expected"),
    [
        ("loss.temperature=0.25", ("loss", "temperature"), 0.25),
        ("pretrain.epochs=7", ("pretrain", "epochs"), 7),
        ("loss.probs=[1,0,0,0]", ("loss", "probs"), (1.0, 0.0, 0.0, 0.0)),
        ("loss.au_weighted=false", ("loss", "au_weighted"), False),
        ("model.node_dim=null", ("model", "node_dim"), None),
        ("data.folds=[1,3]", ("data", "folds"), (1, 3)),
        ("seeds=[1,2,3]", ("seeds",), (1, 2, 3)),
        ("pretrain.lr=1e-4", ("pretrain", "lr"), 1e-4),
        ("amp=off", ("amp",), "off"),  # YAML 1.1 reads a bare off as false
        ("amp=bf16", ("amp",), "bf16"),
    ],
)
def test_overrides_are_typed(override: str, key: tuple[str, ...], expected: object) -> None:
    cfg = load_config("synthau_test", [override])
    value = cfg
    for part in key:
        value = getattr(value, part)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    "override",
    [
        "pretrain.epochs=1.5",
        "pretrain.epochs=abc",
        "loss.probs=[0.5,0.5]",
        "loss.probs=[0.5,0.6,0,0]",
        "loss.name=mse",
        "loss.au_weighted=maybe",
        "selection=best",
        "amp=on",
        "data.synth_landmarks=dlib",
        "badkey",
    ],
)
def test_bad_values_are_rejected(override: str) -> None:
    with pytest.raises(InputError):
        load_config("synthau_test", [override])


def test_inheritance_and_round_trip(tmp_path: Path) -> None:
    child = tmp_path / "child.yaml"
    child.write_text("base: synthau_test\nname: child\nloss:\n  beta_minority: 1.0\n")
    cfg = load_config(child)
    base = load_config("synthau_test")
    assert cfg.name == "child" and cfg.loss.beta_minority == 1.0
    assert cfg.loss.beta_majority == base.loss.beta_majority and cfg.data == base.data
    saved = save_config(cfg, tmp_path / "resolved.yaml")
    assert to_dict(load_config(saved)) == to_dict(cfg)


def test_configs_are_frozen_pydantic_models_with_one_line_errors() -> None:
    from pydantic import BaseModel, ValidationError

    cfg = load_config("synthau_test")
    assert isinstance(cfg, BaseModel) and isinstance(cfg.loss, BaseModel)
    with pytest.raises(ValidationError):
        cfg.loss.temperature = 0.1  # type: ignore[misc]
    with pytest.raises(
        InputError, match=r"^unknown config key 'data\.crop'; did you mean 'data\.crop_size'\?"
    ):
        load_config(data={"data": {"crop": 64}})
    with pytest.raises(InputError, match=r"^unknown config key 'sed'; did you mean 'seed'\?"):
        load_config(data={"sed": 1})
    with pytest.raises(InputError, match=r"config key 'pretrain\.epochs'.*boolean"):
        load_config("synthau_test", ["pretrain.epochs=true"])  # YAML true is not a number
    with pytest.raises(InputError, match=r"config key 'loss\.probs' needs 4 values"):
        load_config("synthau_test", ["loss.probs=[0.5,0.5]"])
    for bad in ("linear.schedule=warm", "warmup.betas=[0.9,1.5]", "linear.batch_size=0"):
        with pytest.raises(InputError, match=bad.split("=")[0].replace(".", r"\.")):
            load_config("synthau_test", [bad])


def test_every_stage_reads_its_betas_and_schedule() -> None:
    from aunce_rt.training.stages import optim_kwargs

    cfg = load_config(
        "synthau_test", ["pretrain.betas=[0.8,0.99]", "linear.schedule=cosine", "data.folds=1,3"]
    )
    assert cfg.pretrain.betas == (0.8, 0.99) and cfg.data.folds == (1, 3)
    assert (
        optim_kwargs(cfg.pretrain)["betas"] == (0.8, 0.99)
        and optim_kwargs(cfg.linear)["schedule"] == "cosine"
    )
    assert set(optim_kwargs(cfg.warmup)) | {"epochs"} == set(
        type(cfg.warmup).model_fields
    )  # no field left unread
