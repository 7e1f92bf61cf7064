"""SynthAU training benchmark: what does AUNCE add, and over what floor, on a CPU from scratch?

Trains on SynthAU (synthetic faces with known AUs) on this CPU with the default
recipe's ingredients (training/configs/recipes/default.yaml) and reports F1-macro on
UNSEEN identities (SynthAU split="test", clean labels) for, at each label-noise level:

    (a)  warm-up + AUNCE pretraining, then a linear probe on the frozen encoder
         (the recipe);
    (a0) with ``--a0`` only (about 5 more minutes): AUNCE from random init (same
         steps as (a)), then a linear probe: shows why the warm-up exists (from random
         init AUNCE does not learn in a CPU budget);
    (w)  the warm-up alone, then a linear probe on its encoder: what AUNCE adds over
         the warm-up is (a) - (w);
    (b)  warm-up + WCE end to end (encoder + per-AU probe, same steps, rate and
         schedule as (a)), F1 of that model at its last step (no epoch selection);
    (c)  a linear probe on the frozen randomly initialised encoder (the floor).

The warm-up trains the bare backbone with WCE on its mean-pooled tokens (training
``head="pooled"``). It is SUPERVISED, on the same training identities and the same
(possibly noisy) labels as everything else: it stands in for the ImageNet weights
the paper starts from, which cannot be downloaded here. So (a), (w) and (b) have all
seen the training labels through the warm-up; only (a0) and (c) start from random
init. One warm-up per noise level is shared by (a), (w) and (b) (deep copies).

Training (warm-up, AUNCE, WCE) uses only the FIT identities: 20% of the training
identities are held out, and the linear probes choose their epoch on them (never on
the test identities). Label noise flips training labels (SynthAU's noise model); the
test labels are always clean.

Differences from the paper's protocol, forced by a shared 2-core CPU and no
pretrained weights: a light backbone from random init (resnet10t) with node width
128, each face standardised by its own mean and std inside the encoder
(``input_norm="image"``), input 56 px (random 56 px crops from 64 px aligned crops,
"light" augmentation: the 224-from-256 crops scaled by 1/4), from-scratch learning
rates (1e-3 instead of the paper's 1e-5 fine-tuning rate) with a cosine schedule,
1,200 warm-up steps and 500 AUNCE / WCE steps. The training steps run under bfloat16
autocast where the CPU has native bf16 (``--amp off`` for float32): about 1.8x
faster on this machine, which is what lets 20% label noise get the steps it needs
(in float32 and 500 / 300 steps every model stayed near the floor at 20%). The
table prints the settings it ran with.

    python bench/bench_synthau_train.py           # full run (~15 min on 2 free cores)
    python bench/bench_synthau_train.py --quick   # smoke run (~2-3 min)

The markdown table goes to stdout and to ``--out``; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import copy
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aunce_rt.aus import BENCHMARK_AUS  # noqa: E402
from aunce_rt.evaluation.metrics import au_metrics, best_thresholds  # noqa: E402
from aunce_rt.models import create_encoder  # noqa: E402
from aunce_rt.synthau import SynthAU  # noqa: E402
from aunce_rt.training.distributed import amp_dtype, cpu_has_native_bf16  # noqa: E402
from aunce_rt.training.features import FeatureSet, extract_features  # noqa: E402
from aunce_rt.training.linear_eval import LinearEvalResult, linear_eval, split_by_subject  # noqa: E402
from aunce_rt.training.pretrain import PretrainResult, pretrain  # noqa: E402

log = logging.getLogger("bench_synthau_train")


@dataclass
class Crops(Dataset):
    """In-memory aligned crops (BGR uint8) with labels and identities."""

    images: list[np.ndarray]
    labels: np.ndarray  # (S, N) int64
    subjects: list[str]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.images[i], self.labels[i]

    def with_labels(self, labels: np.ndarray) -> Crops:
        return Crops(self.images, np.asarray(labels, dtype=np.int64), self.subjects)


@dataclass
class Row:
    """One table row: a method at one noise level."""

    name: str
    noise: float  # nan for the reference row
    f1: float  # test F1-macro
    oracle: float = float("nan")  # best-on-test probe epoch's F1 (not a valid selection)
    tuned: float = float("nan")  # test F1-macro at per-AU thresholds tuned on the held-out identities
    secs: float = 0.0  # wall time of the row's own stages
    warmup_secs: float = 0.0  # the shared warm-up's wall time, when the row builds on it
    floor: bool = False  # the (c) row of its noise level


def render(split: str, n: int, seed: int, noise: float, side: int) -> tuple[Crops, np.ndarray]:
    """Render ``n`` SynthAU samples as ``side``-px aligned crops; returns (clean set, noisy labels)."""
    import cv2

    synth = SynthAU(seed=seed, split=split, noise=noise)
    images, clean, noisy, subjects = [], [], [], []
    for i in range(n):
        sample = synth.render_sample(i)
        crop = synth.aligned_crop(sample)  # (256, 256, 3) BGR
        if side != crop.shape[0]:
            crop = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
        images.append(crop)
        clean.append(sample.labels)
        noisy.append(sample.noisy_labels)
        subjects.append(f"id{sample.identity}")
    return Crops(images, np.asarray(clean, np.int64), subjects), np.asarray(noisy, np.int64)


def subset_features(feats: FeatureSet, idx: list[int], labels: np.ndarray) -> FeatureSet:
    """Rows ``idx`` of cached features, with ``labels`` (all rows) swapped in."""
    return FeatureSet(feats.features[idx], torch.as_tensor(labels[idx], dtype=torch.long))


def end_to_end_f1(model: torch.nn.Module, test: Crops, args: argparse.Namespace) -> float:
    """Test F1-macro of an encoder + probe trained end to end (its last step)."""
    feats = extract_features(model.encoder, test, image_size=args.input, batch_size=128)
    with torch.no_grad():
        probs = torch.sigmoid(model.probe(feats.features)).numpy()
    return float(au_metrics(probs, feats.labels.numpy()).f1_macro)


def tuned_f1(model: torch.nn.Module, val: Dataset | FeatureSet, test: Crops | FeatureSet, args) -> float:
    """Test F1-macro at per-AU thresholds that maximise F1 on the held-out training identities.

    Their labels carry the same noise as training: no clean label is used to tune.
    ``val``/``test`` are datasets or, for a frozen encoder, its cached features.
    """

    def probs(data: Dataset | FeatureSet) -> tuple[np.ndarray, np.ndarray]:
        feats = (
            data
            if isinstance(data, FeatureSet)
            else extract_features(model.encoder, data, image_size=args.input, batch_size=128)
        )
        with torch.no_grad():
            return torch.sigmoid(model.probe(feats.features)).numpy(), feats.labels.numpy()

    pv, lv = probs(val)
    pt, lt = probs(test)
    return float(au_metrics(pt, lt, thresholds=best_thresholds(pv, lv)).f1_macro)


def encoder(args: argparse.Namespace) -> torch.nn.Module:
    """The random-init encoder; every method starts from the same weights."""
    torch.manual_seed(args.seed)
    enc = create_encoder(
        args.backbone, len(BENCHMARK_AUS["synthau"]), node_dim=args.node_dim, input_norm="image"
    )
    if args.amp == "bf16":  # oneDNN's bf16 convolutions are fastest in channels_last
        enc = enc.to(memory_format=torch.channels_last)
    return enc


def steps_as_epochs(steps: int, per_epoch: int) -> tuple[int, int]:
    """(epochs, max_steps_per_epoch) giving ``steps`` optimiser steps (or a few more) in all."""
    epochs = max(1, math.ceil(steps / max(1, per_epoch)))
    return epochs, math.ceil(steps / epochs)


def train(
    enc: torch.nn.Module,
    data: Dataset,
    steps: int,
    args: argparse.Namespace,
    *,
    loss: str,
    head: str = "probe",
    lr: float,
    weight_decay: float,
) -> PretrainResult:
    """``pretrain`` for about ``steps`` optimiser steps with the cosine schedule (in place)."""
    epochs, cap = steps_as_epochs(steps, len(data) // args.batch)  # type: ignore[arg-type]
    return pretrain(
        enc,
        data,
        loss=loss,
        head=head,
        schedule="cosine",
        epochs=epochs,
        max_steps_per_epoch=cap,
        lr=lr,
        weight_decay=weight_decay,
        batch_size=args.batch,
        seed=args.seed,
        image_size=args.input,
        augment=args.augment,
        amp=amp_dtype(torch.device("cpu"), args.amp),
    )


def losses(result: PretrainResult) -> str:
    """The per-epoch loss history, first and last values (for the log)."""
    h = result.history
    return f"{h[0]:.3f} -> {h[-1]:.3f} over {len(h)} epochs, {result.state.step} steps"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: few images, few steps (~2-3 min)")
    ap.add_argument("--backbone", default="resnet10t")
    ap.add_argument("--node-dim", type=int, default=128, help="per-AU feature width C")
    ap.add_argument("--input", type=int, default=56, help="network input side (crop from input*256/224)")
    ap.add_argument("--augment", default="light", choices=("light", "simclr"), help="training views")
    ap.add_argument("--train", type=int, default=4000, help="training frames")
    ap.add_argument("--test", type=int, default=600, help="test frames (unseen identities)")
    ap.add_argument("--steps-warmup", type=int, default=1200, help="warm-up steps (WCE on pooled tokens)")
    ap.add_argument("--steps", type=int, default=500, help="AUNCE steps in (a) and (a0), WCE steps in (b)")
    ap.add_argument(
        "--amp",
        choices=("bf16", "off"),
        default="bf16" if cpu_has_native_bf16() else "off",
        help="bfloat16 autocast of the training steps (default: bf16 where the CPU has it natively)",
    )
    ap.add_argument("--a0", action="store_true", help="also run (a0), AUNCE from random init (+~5 min)")
    ap.add_argument("--lr-warmup", type=float, default=1e-3)
    ap.add_argument("--wd-warmup", type=float, default=1e-4)
    ap.add_argument("--lr", type=float, default=1e-3, help="AUNCE and end-to-end WCE (paper: 1e-5)")
    ap.add_argument("--wd", type=float, default=1e-6, help="AUNCE and end-to-end WCE (paper: 1e-6)")
    ap.add_argument("--batch", type=int, default=64, help="training batch (AUNCE: two views each)")
    ap.add_argument("--epochs-probe", type=int, default=50)
    ap.add_argument("--probe-batch", type=int, default=64, help="probe batch (paper: 256 on ~100k images)")
    ap.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.2])
    ap.add_argument("--seed", type=int, default=3407)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "synthau_train.md")
    args = ap.parse_args(argv)
    if args.quick:
        args.train, args.test = 480, 160
        args.steps_warmup, args.steps, args.epochs_probe = 30, 20, 10
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    side = round(args.input * 256 / 224)

    t0 = time.perf_counter()
    noise_max = max(args.noise)
    if any(0 < n != noise_max for n in args.noise):
        raise SystemExit(f"only 0 and one noise level ({noise_max}) per run; got {args.noise}")
    train_clean, train_noisy = render("train", args.train, args.seed, noise_max, side)
    test, _ = render("test", args.test, args.seed + 1, 0.0, side)
    fit_idx, val_idx = (s.indices for s in split_by_subject(train_clean, val_fraction=0.2, seed=args.seed))
    ids = {
        "train": len(set(train_clean.subjects)),
        "fit": len({train_clean.subjects[i] for i in fit_idx}),
        "val": len({train_clean.subjects[i] for i in val_idx}),
        "test": len(set(test.subjects)),
    }
    log.info(
        "rendered %d train / %d test crops in %.0f s", len(train_clean), len(test), time.perf_counter() - t0
    )
    log.info("identities: %s", ids)

    probe_kw = {
        "epochs": args.epochs_probe,
        "batch_size": args.probe_batch,
        "seed": args.seed,
        "image_size": args.input,
    }
    stage = {"lr": args.lr, "weight_decay": args.wd}

    # (c) the floor: features of the random-init encoder, extracted once for every noise level.
    rand = encoder(args)
    rand_train = extract_features(rand, train_clean, image_size=args.input, batch_size=128)
    rand_test = extract_features(rand, test, image_size=args.input, batch_size=128)

    rows: list[Row] = []
    steps_run: dict[str, int] = {}
    # Reference: F1-macro of predicting every AU present (F1_i = 2 r_i / (1 + r_i)).
    always = float(au_metrics(np.ones(test.labels.shape), test.labels).f1_macro)
    rows.append(Row("(ref) always predict present", float("nan"), always))

    def probe_row(
        name: str,
        lin: LinearEvalResult,
        noise: float,
        secs: float,
        warm: float = 0.0,
        val: Dataset | FeatureSet | None = None,
        test_set: Crops | FeatureSet = test,
    ) -> Row:
        tuned = tuned_f1(lin.model, val, test_set, args) if val is not None else float("nan")
        log.info(
            "%s -> test F1 %.3f (epoch %d), %.3f at tuned thresholds",
            name,
            lin.test_metrics.f1_macro,
            lin.selected_epoch,
            tuned,
        )
        return Row(name, noise, lin.test_metrics.f1_macro, lin.oracle_test_f1, tuned, secs, warm)

    for noise in args.noise:
        labels = train_noisy if noise > 0 else train_clean.labels
        data = train_clean.with_labels(labels)
        fit, val = Subset(data, fit_idx), Subset(data, val_idx)
        flips = float(np.mean(labels != train_clean.labels))
        log.info("noise %.0f%%: %.1f%% of training labels flipped", 100 * noise, 100 * flips)

        # The shared warm-up: the bare backbone, WCE on its pooled tokens, fit identities.
        t = time.perf_counter()
        warm = encoder(args)
        res = train(
            warm,
            fit,
            args.steps_warmup,
            args,
            loss="wce",
            head="pooled",
            lr=args.lr_warmup,
            weight_decay=args.wd_warmup,
        )
        steps_run["warm-up"] = res.state.step
        warm_secs = time.perf_counter() - t
        log.info("warm-up WCE loss %s (%.0f s)", losses(res), warm_secs)

        t = time.perf_counter()
        res = train(copy.deepcopy(warm), fit, args.steps, args, loss="aunce", **stage)
        steps_run["AUNCE"] = res.state.step
        log.info("(a) AUNCE loss %s", losses(res))
        lin = linear_eval(res.encoder, fit, val, test, **probe_kw)
        rows.append(
            probe_row(
                "(a) warm-up + AUNCE + linear probe", lin, noise, time.perf_counter() - t, warm_secs, val
            )
        )

        if args.a0:
            t = time.perf_counter()
            res = train(encoder(args), fit, args.steps, args, loss="aunce", **stage)
            log.info("(a0) AUNCE from random init loss %s", losses(res))
            lin = linear_eval(res.encoder, fit, val, test, **probe_kw)
            rows.append(
                probe_row(
                    "(a0) AUNCE from random init + linear probe", lin, noise, time.perf_counter() - t, val=val
                )
            )

        t = time.perf_counter()
        lin = linear_eval(warm, fit, val, test, **probe_kw)
        rows.append(
            probe_row("(w) warm-up only + linear probe", lin, noise, time.perf_counter() - t, warm_secs, val)
        )

        t = time.perf_counter()
        res = train(copy.deepcopy(warm), fit, args.steps, args, loss="wce", head="probe", **stage)
        steps_run["WCE"] = res.state.step
        f1 = end_to_end_f1(res.model, test, args)
        tuned = tuned_f1(res.model, val, test, args)
        secs = time.perf_counter() - t
        log.info(
            "(b) WCE end to end loss %s -> test F1 %.3f, %.3f at tuned thresholds", losses(res), f1, tuned
        )
        rows.append(
            Row("(b) warm-up + WCE end to end (last step)", noise, f1, float("nan"), tuned, secs, warm_secs)
        )

        t = time.perf_counter()
        floor = linear_eval(
            rand,
            subset_features(rand_train, fit_idx, labels),
            subset_features(rand_train, val_idx, labels),
            rand_test,
            **probe_kw,
        )
        row = probe_row(
            "(c) linear probe on random init (floor)",
            floor,
            noise,
            time.perf_counter() - t,
            val=subset_features(rand_train, val_idx, labels),
            test_set=rand_test,
        )
        row.floor = True
        rows.append(row)

    total = time.perf_counter() - start
    table = format_table(rows, args, total, ids, len(fit_idx), len(val_idx), steps_run)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table + "\n")
    log.info("wrote %s (%.0f s in all)", args.out, total)
    return 0


def format_table(
    rows: list[Row],
    args: argparse.Namespace,
    total: float,
    ids: dict[str, int],
    fit_frames: int,
    val_frames: int,
    steps_run: dict[str, int],
) -> str:
    """Markdown: settings, then one row per (method, noise)."""
    floors = {r.noise: r.f1 for r in rows if r.floor}
    tuned_floors = {r.noise: r.tuned for r in rows if r.floor}
    steps_s = ", ".join(f"{k} {v}" for k, v in steps_run.items())
    lines = [
        "### SynthAU: F1-macro on unseen identities (test labels clean)",
        "",
        f"- backbone `{args.backbone}` from random init, node width {args.node_dim}, per-image "
        f"standardisation, input {args.input} px (random / centre crop from {round(args.input * 256 / 224)} px, "
        f"`{args.augment}` augmentation), 12 AUs, {args.threads} torch threads, training steps in "
        + ("bfloat16 autocast (channels_last)" if args.amp == "bf16" else "float32")
        + (" — QUICK smoke run" if args.quick else ""),
        f"- train {args.train} frames / {ids['train']} identities: training stages on {fit_frames} frames / "
        f"{ids['fit']} identities, {val_frames} frames / {ids['val']} identities held out for probe epoch "
        f"selection; test {args.test} frames / {ids['test']} unseen identities",
        f"- label noise on training labels: {', '.join(f'{100 * n:.0f}%' for n in args.noise)}",
        f"- warm-up: WCE on pooled backbone tokens (supervised, fit identities; stands in for ImageNet "
        f"weights), {args.steps_warmup} steps, AdamW lr {args.lr_warmup:g} wd {args.wd_warmup:g}, cosine",
        f"- AUNCE (paper loss defaults) in (a){' and (a0)' if args.a0 else ''}, WCE end to end in (b): "
        f"{args.steps} steps each, "
        f"AdamW lr {args.lr:g} wd {args.wd:g}, cosine (paper: lr 1e-5, constant, fine-tuning a pretrained Swin); "
        f"batch {args.batch}; optimiser steps taken: {steps_s}",
        f"- probes: {args.epochs_probe} epochs, batch {args.probe_batch}, lr 1e-3, epoch chosen on the held-out "
        "training identities' F1",
        "- F1 at threshold 0.5, and at per-AU thresholds tuned on the held-out training identities (their "
        "labels as noisy as training's: no clean label is used)",
        f"- time = the row's own stages; `+ N w` = the shared warm-up's N s; total wall time {total / 60:.1f} min",
        "",
        "| method | train label noise | test F1-macro (%) | above floor (c), F1 points "
        "| F1 at tuned thresholds (%) | above floor (c), tuned | best-on-test epoch, oracle (%) | time (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def above(value: float, floor: float | None, is_floor: bool) -> str:
        if is_floor or floor is None or np.isnan(value) or np.isnan(floor):
            return "—"
        d = round(100 * (value - floor), 1)
        return f"yes, {d:+.1f}" if d > 0 else f"no, {d:+.1f}"

    for r in rows:
        oracle_s = "—" if np.isnan(r.oracle) else f"{100 * r.oracle:.1f}"
        noise_s = "—" if np.isnan(r.noise) else f"{100 * r.noise:.0f}%"
        tuned_s = "—" if np.isnan(r.tuned) else f"{100 * r.tuned:.1f}"
        time_s = f"{r.secs:.0f}" + (f" + {r.warmup_secs:.0f} w" if r.warmup_secs else "")
        lines.append(
            f"| {r.name} | {noise_s} | {100 * r.f1:.1f} | {above(r.f1, floors.get(r.noise), r.floor)} "
            f"| {tuned_s} | {above(r.tuned, tuned_floors.get(r.noise), r.floor)} | {oracle_s} | {time_s} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
