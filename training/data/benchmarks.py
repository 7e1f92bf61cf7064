"""Index builders: from a ``DataConfig`` to the protocol's train/test splits.

One small builder per source kind: the benchmark's raw layout (BP4D, BP4D+,
DISFA, Aff-Wild2; via ``aunce_rt.datasets.raw``), the ME-GraphAU list format, a CSV
manifest (what ``aunce-rt train prepare`` writes), and SynthAU rendered on the
fly. Every builder returns an ``AUIndex``; ``build_splits`` hands it to the
protocol, which cuts the folds or the official train/test split.

Example:
    >>> protocol, splits = build_splits(load_config("synthau_test").data, cache_dir="cache")  # doctest: +SKIP
    >>> [s.name for s in splits]                                                              # doctest: +SKIP
    ['fold1', 'fold2', 'fold3']
"""

from __future__ import annotations

import logging
from pathlib import Path

from aunce_rt.datasets.formats import read_list, read_manifest
from aunce_rt.datasets.index import AUIndex
from aunce_rt.datasets.protocol import Protocol, Split, load_protocol, read_subject_list
from aunce_rt.datasets.raw import read_raw
from aunce_rt.errors import InputError
from aunce_rt.training.config import DataConfig

logger = logging.getLogger(__name__)


def _source_index(data: DataConfig, protocol: Protocol, which: str, *, cache_dir: Path, seed: int) -> AUIndex:
    path = data.train if which == "train" else data.test
    labels = data.train_labels if which == "train" else data.test_labels
    root = (data.test_root or data.root) if which == "test" else data.root
    root_arg = root or None
    if data.format == "synthau":
        # Rendered into the cache once; subjects are SynthAU identities, so folds are identity-exclusive.
        from aunce_rt.datasets.synth_source import synthau_manifest

        return read_manifest(
            synthau_manifest(
                cache_dir / "synthau",
                frames=data.synth_frames,
                identities=data.synth_identities,
                seed=seed,
                noise=data.synth_noise,
                trace_max=data.synth_trace_max,
                video_frames=data.synth_video_frames,
                landmarks=data.synth_landmarks,
            )
        )
    if data.format == "raw":
        if not root:
            raise InputError(f"data.format=raw needs data.root (the {protocol.name} folder)")
        # Cross-dataset protocols read each side with its own dataset's layout.
        name = protocol.train_dataset if which == "train" else protocol.test_dataset
        return read_raw(root, load_protocol(name) if name else protocol)
    if not path:
        raise InputError(
            f"data.format={data.format} needs data.{which} (the {which} "
            f"{'image list' if data.format == 'list' else 'manifest'}); set it with --set data.{which}=PATH"
        )
    if data.format == "manifest":
        return read_manifest(path, protocol.au_codes, root=root_arg)
    if not labels:
        raise InputError(f"data.format=list needs data.{which}_labels (the label file parallel to {path})")
    return read_list(path, labels, protocol.au_codes, root=root_arg, subject_pattern=protocol.subject_pattern)


def build_splits(data: DataConfig, *, cache_dir: str | Path, seed: int = 0) -> tuple[Protocol, list[Split]]:
    """The protocol and its splits for a data config (``data.folds`` keeps only those folds, 1-based)."""
    protocol = load_protocol(data.protocol)
    cache = Path(cache_dir)
    train = _source_index(data, protocol, "train", cache_dir=cache, seed=seed)
    two_sided = bool(data.test) or (protocol.kind == "cross" and data.format == "raw")
    test = _source_index(data, protocol, "test", cache_dir=cache, seed=seed) if two_sided else None
    tr_subj = read_subject_list(data.train_subjects) if data.train_subjects else None
    te_subj = read_subject_list(data.test_subjects) if data.test_subjects else None
    splits = protocol.splits(train, test, train_subjects=tr_subj, test_subjects=te_subj)
    if data.folds:
        bad = [f for f in data.folds if not 1 <= f <= len(splits)]
        if bad:
            raise InputError(
                f"data.folds {list(data.folds)}: protocol {protocol.name} has {len(splits)} split(s)"
            )
        splits = [splits[f - 1] for f in data.folds]
    for s in splits:
        logger.info("%s %s: %d train / %d test frames", protocol.name, s.name, len(s.train), len(s.test))
    return protocol, splits
