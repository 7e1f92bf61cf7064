from __future__ import annotations

from training.data.formats import read_manifest
from training.data.synth_source import synthau_manifest


def test_relative_cache_folder_gives_readable_manifest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    manifest = synthau_manifest("runs/x/cache", frames=4, seed=0, identities=2)
    index = read_manifest(manifest)
    assert len(index.paths) == 4 and all(p.endswith(".png") for p in index.paths)
    # Cached: a second call reuses the crops and the manifest.
    assert synthau_manifest("runs/x/cache", frames=4, seed=0, identities=2) == manifest
