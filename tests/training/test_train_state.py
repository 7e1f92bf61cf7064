"""train_state: the optimiser a stage's config names (AdamW by default, SGD as CLP's spec has it)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from aunce_rt.errors import InputError
from aunce_rt.training.config import load_config
from aunce_rt.training.stages import optim_kwargs
from aunce_rt.training.train_state import make_optimizer


def test_make_optimizer_adamw_and_sgd() -> None:
    params = list(nn.Linear(3, 2).parameters())
    adamw = make_optimizer(params, "adamw", lr=0.1, weight_decay=1e-4, betas=(0.8, 0.9))
    assert isinstance(adamw, torch.optim.AdamW) and adamw.defaults["betas"] == (0.8, 0.9)
    sgd = make_optimizer(params, "sgd", lr=0.03, weight_decay=1e-4, momentum=0.9)
    assert isinstance(sgd, torch.optim.SGD)
    assert (sgd.defaults["lr"], sgd.defaults["momentum"], sgd.defaults["weight_decay"]) == (0.03, 0.9, 1e-4)
    with pytest.raises(InputError, match="adamw, sgd"):
        make_optimizer(params, "adam", lr=0.1, weight_decay=0.0)


def test_config_names_the_optimiser_of_each_stage() -> None:
    cfg = load_config(
        "clp_synthau_test", ["pretrain.optimizer=sgd", "pretrain.momentum=0.9", "pretrain.lr=0.03"]
    )
    kw = optim_kwargs(cfg.pretrain)
    assert (kw["optimizer"], kw["momentum"], kw["lr"]) == ("sgd", 0.9, 0.03)
    assert optim_kwargs(cfg.linear)["optimizer"] == "adamw"  # the default everywhere else
    with pytest.raises(ValueError, match="pretrain.optimizer"):
        load_config("clp_synthau_test", ["pretrain.optimizer=adam"])
    with pytest.raises(ValueError, match="linear.momentum"):
        load_config("clp_synthau_test", ["linear.momentum=1.5"])


def test_a_clp_state_gets_sgd_over_the_online_network_only() -> None:
    """CLP's spec optimiser: SGD over the trained parameters (never the momentum copy)."""
    from aunce_rt.training.clp_stage import make_clp_objective
    from aunce_rt.training.train_state import make_train_state

    cfg = load_config("clp_synthau_test", ["pretrain.optimizer=sgd"])
    state = make_train_state(
        make_clp_objective(cfg.clp),
        loss="clp",
        occurrence=torch.zeros(0),
        au_weights=torch.zeros(0),
        lr=0.03,
        optimizer_name="sgd",
        momentum=0.9,
    )
    assert isinstance(state.optimizer, torch.optim.SGD)
    assert all(p.requires_grad for g in state.optimizer.param_groups for p in g["params"])  # no momentum copy
