"""SynthAU training benchmark: does AUNCE learn AU features, and how far above chance?

Trains on SynthAU (synthetic faces with known AUs) on this CPU and reports F1-macro
on UNSEEN identities (SynthAU split="test", clean labels) for

    (a) AUNCE pretraining, then a linear probe on the frozen encoder,
    (b) WCE trained end to end (encoder + probe), final epoch,
    (c) a linear probe on the frozen randomly initialised encoder (the floor),

with 0% and 20% label noise on the training labels (test labels always clean).
Linear probes select their epoch on a validation split of held-out TRAINING
identities (never the test identities).

Differences from the paper's protocol, forced by a shared 2-core CPU and no
pretrained weights: a light backbone from random init (mobilenetv3_small_100),
input 96 px (centre/random crop 96 from 110, i.e. the 224-from-256 crops scaled
by 3/7), a from-scratch learning rate (3e-3 instead of the paper's 1e-5
fine-tuning rate), and few epochs. The table prints the settings it ran with.

    python bench/bench_synthau_train.py           # full run (~15 min on 2 free cores)
    python bench/bench_synthau_train.py --quick   # smoke run (~2 min)

The markdown table goes to stdout and to ``--out``; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import logging
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
from models import create_encoder  # noqa: E402
from training.data.synthau import SynthAU  # noqa: E402
from training.features import FeatureSet, extract_features  # noqa: E402
from training.linear_eval import linear_eval, split_by_subject  # noqa: E402
from training.metrics import au_metrics  # noqa: E402
from training.pretrain import pretrain  # noqa: E402

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
    """Test F1-macro of an encoder + probe trained end to end (its final epoch)."""
    feats = extract_features(model.encoder, test, image_size=args.input, batch_size=128)
    with torch.no_grad():
        probs = torch.sigmoid(model.probe(feats.features)).numpy()
    return float(au_metrics(probs, feats.labels.numpy()).f1_macro)


def encoder(args: argparse.Namespace) -> torch.nn.Module:
    torch.manual_seed(args.seed)  # every method starts from the same random init
    return create_encoder(args.backbone, len(BENCHMARK_AUS["synthau"]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: few images, one epoch")
    ap.add_argument("--backbone", default="mobilenetv3_small_100")
    ap.add_argument("--input", type=int, default=96, help="network input side (crop from input*256/224)")
    ap.add_argument("--train", type=int, default=1200, help="training images")
    ap.add_argument("--test", type=int, default=400, help="test images (unseen identities)")
    ap.add_argument("--epochs-aunce", type=int, default=8)
    ap.add_argument("--epochs-wce", type=int, default=12)
    ap.add_argument("--epochs-probe", type=int, default=100)
    ap.add_argument("--probe-batch", type=int, default=64, help="probe batch (paper: 256 on ~100k images)")
    ap.add_argument("--lr", type=float, default=3e-3, help="from-scratch rate (paper: 1e-5 fine-tuning)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.2])
    ap.add_argument("--seed", type=int, default=3407)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "synthau_train.md")
    args = ap.parse_args(argv)
    if args.quick:
        args.train, args.test = 160, 96
        args.epochs_aunce, args.epochs_wce, args.epochs_probe = 1, 1, 10
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    side = round(args.input * 256 / 224)

    t0 = time.perf_counter()
    noise_max = max(args.noise)
    train_clean, train_noisy = render("train", args.train, args.seed, noise_max, side)
    test, _ = render("test", args.test, args.seed + 1, 0.0, side)
    fit_idx, val_idx = (s.indices for s in split_by_subject(train_clean, val_fraction=0.2, seed=args.seed))
    log.info(
        "rendered %d train / %d test crops in %.0f s", len(train_clean), len(test), time.perf_counter() - t0
    )
    log.info(
        "train identities: %d, test identities: %d", len(set(train_clean.subjects)), len(set(test.subjects))
    )

    probe_kw = {
        "epochs": args.epochs_probe,
        "batch_size": args.probe_batch,
        "seed": args.seed,
        "image_size": args.input,
        "progress": False,
    }
    train_kw = {"lr": args.lr, "batch_size": args.batch, "seed": args.seed, "image_size": args.input}

    # (c) the floor: features of the random-init encoder, extracted once for every noise level.
    rand = encoder(args)
    rand_train = extract_features(rand, train_clean, image_size=args.input, batch_size=128)
    rand_test = extract_features(rand, test, image_size=args.input, batch_size=128)

    rows: list[tuple[str, float, float, float, float]] = []
    # Reference: F1-macro of predicting every AU present (F1_i = 2 r_i / (1 + r_i)).
    always = float(au_metrics(np.ones(test.labels.shape), test.labels).f1_macro)
    rows.append(("(ref) always predict present", float("nan"), always, float("nan"), 0.0))
    for noise in args.noise:
        labels = train_noisy if noise > 0 else train_clean.labels
        if noise > 0 and noise != noise_max:
            raise SystemExit(f"only 0 and one noise level ({noise_max}) per run; got {args.noise}")
        train = train_clean.with_labels(labels)
        fit, val = Subset(train, fit_idx), Subset(train, val_idx)
        flips = float(np.mean(labels != train_clean.labels))
        log.info("noise %.0f%%: %.1f%% of training labels flipped", 100 * noise, 100 * flips)

        t = time.perf_counter()
        enc = encoder(args)
        pre = pretrain(enc, train, loss="aunce", epochs=args.epochs_aunce, **train_kw)
        lin = linear_eval(enc, fit, val, test, **probe_kw)
        secs = time.perf_counter() - t
        log.info(
            "(a) AUNCE loss %s -> test F1 %.3f", [round(v, 3) for v in pre.history], lin.test_metrics.f1_macro
        )
        rows.append(("(a) AUNCE + linear probe", noise, lin.test_metrics.f1_macro, lin.oracle_test_f1, secs))

        t = time.perf_counter()
        wce = pretrain(encoder(args), train, loss="wce", epochs=args.epochs_wce, **train_kw)
        f1 = end_to_end_f1(wce.model, test, args)
        secs = time.perf_counter() - t
        log.info("(b) WCE loss %s -> test F1 %.3f", [round(v, 3) for v in wce.history], f1)
        rows.append(("(b) WCE end to end (final epoch)", noise, f1, float("nan"), secs))

        t = time.perf_counter()
        floor = linear_eval(
            rand,
            subset_features(rand_train, fit_idx, labels),
            subset_features(rand_train, val_idx, labels),
            rand_test,
            **probe_kw,
        )
        secs = time.perf_counter() - t
        log.info("(c) random-init probe -> test F1 %.3f", floor.test_metrics.f1_macro)
        rows.append(
            (
                "(c) linear probe on random init",
                noise,
                floor.test_metrics.f1_macro,
                floor.oracle_test_f1,
                secs,
            )
        )

    total = time.perf_counter() - start
    table = format_table(rows, args, total, len(set(train_clean.subjects)), len(set(test.subjects)))
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table + "\n")
    log.info("wrote %s (%.0f s in all)", args.out, total)
    return 0


def format_table(
    rows: list[tuple[str, float, float, float, float]],
    args: argparse.Namespace,
    total: float,
    train_ids: int,
    test_ids: int,
) -> str:
    """Markdown: settings, then one row per (method, noise)."""
    lines = [
        "### SynthAU: F1-macro on unseen identities (test labels clean)",
        "",
        f"- backbone `{args.backbone}` from random init, input {args.input} px "
        f"(crop from {round(args.input * 256 / 224)}), 12 AUs, {args.threads} torch threads"
        + (" — QUICK smoke run" if args.quick else ""),
        f"- train {args.train} images / {train_ids} identities (20% of identities held out for probe "
        f"validation), test {args.test} images / {test_ids} unseen identities",
        f"- AUNCE {args.epochs_aunce} epochs, WCE {args.epochs_wce} epochs, AdamW lr {args.lr:g} "
        f"(from-scratch rate; the paper's 1e-5 is for fine-tuning a pretrained Swin), batch {args.batch}; "
        f"probes: {args.epochs_probe} epochs, batch {args.probe_batch}, lr 1e-3, epoch chosen on validation F1",
        f"- total wall time {total / 60:.1f} min",
        "",
        "| method | train label noise | test F1-macro (%) | best-on-test epoch, oracle (%) | time (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, noise, f1, oracle, secs in rows:
        oracle_s = "—" if np.isnan(oracle) else f"{100 * oracle:.1f}"
        noise_s = "—" if np.isnan(noise) else f"{100 * noise:.0f}%"
        lines.append(f"| {name} | {noise_s} | {100 * f1:.1f} | {oracle_s} | {secs:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
