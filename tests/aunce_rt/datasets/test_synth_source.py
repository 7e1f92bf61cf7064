from __future__ import annotations

from aunce_rt.datasets.formats import read_manifest
from aunce_rt.datasets.synth_source import synthau_manifest


def test_relative_cache_folder_gives_readable_manifest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    manifest = synthau_manifest("runs/x/cache", frames=4, seed=0, identities=2)
    index = read_manifest(manifest)
    assert len(index.paths) == 4 and all(p.endswith(".png") for p in index.paths)
    # Cached: a second call reuses the crops and the manifest.
    assert synthau_manifest("runs/x/cache", frames=4, seed=0, identities=2) == manifest


def _clip_truth(tmp_path, seed, k, identity):
    """The truth of video clip ``k`` as the manifest renders it (same seed rule)."""
    from aunce_rt.datasets.synth_source import VIDEO_CLIP_FRAMES, VIDEO_STRIDE
    from aunce_rt.synthau import render_clip

    truth = render_clip(
        tmp_path / f"ref{k}.mp4", identity=identity, n_frames=VIDEO_CLIP_FRAMES, seed=seed * 100_003 + k
    )
    return truth.labels[::VIDEO_STRIDE]


def test_video_frames_are_labelled_crops_of_the_same_people(tmp_path):
    import cv2
    import numpy as np

    from aunce_rt.datasets.synth_source import VIDEO_CLIP_FRAMES, VIDEO_STRIDE, is_video_crop

    per_clip = VIDEO_CLIP_FRAMES // VIDEO_STRIDE
    n_video = per_clip + 3  # two clips, the second one cut short
    index = read_manifest(
        synthau_manifest(tmp_path / "c", frames=6, seed=1, identities=3, video_frames=n_video)
    )
    video = [k for k, p in enumerate(index.paths) if is_video_crop(p)]
    assert len(index) == 6 + n_video and video == list(range(6, 6 + n_video))
    assert not any(is_video_crop(p) for p in index.paths[:6])
    assert {index.subjects[k] for k in video} <= {f"id{i}" for i in range(3)}  # the same people
    assert cv2.imread(index.paths[video[0]]).shape == (256, 256, 3)
    # Labels are the renderer's truth of the kept frames (every VIDEO_STRIDE-th).
    first = int(index.subjects[video[0]].removeprefix("id"))
    np.testing.assert_array_equal(index.labels[video[:per_clip]], _clip_truth(tmp_path, 1, 0, first))
    # No leftover video or truth files.
    assert not list((tmp_path / "c" / "crops" / "video").glob("*.mp4"))
    assert not list((tmp_path / "c" / "crops" / "video").glob("*.csv"))


def test_video_frames_resume_finished_clips_and_flip_noisy_labels(tmp_path):
    import numpy as np

    from aunce_rt.datasets.synth_source import VIDEO_CLIP_FRAMES, VIDEO_STRIDE, is_video_crop

    per_clip = VIDEO_CLIP_FRAMES // VIDEO_STRIDE
    out = tmp_path / "c"
    synthau_manifest(out, frames=2, seed=0, identities=2, video_frames=per_clip)
    done = out / "crops" / "video" / "clip00000_000.png"
    stamp = done.stat().st_mtime_ns
    # A larger request renders only the new clip; noise=1 flips every label of the truth.
    clean = read_manifest(synthau_manifest(out, frames=2, seed=0, identities=2, video_frames=2 * per_clip))
    assert done.stat().st_mtime_ns == stamp
    assert sum(map(is_video_crop, clean.paths)) == 2 * per_clip
    noisy = read_manifest(
        synthau_manifest(tmp_path / "n", frames=2, seed=0, identities=2, noise=1.0, video_frames=per_clip)
    )
    np.testing.assert_array_equal(noisy.labels[2:], 1 - clean.labels[2 : 2 + per_clip])


def test_mediapipe_landmarks_make_the_runtimes_crops(tmp_path):
    """landmarks="mediapipe": each still crop is what the runtime's MediaPipe + alignment make of the frame."""
    import cv2
    import numpy as np
    import pytest

    from aunce_rt.align import align_face
    from aunce_rt.datasets.synth_source import VIDEO_CLIP_FRAMES, VIDEO_STRIDE, is_video_crop
    from aunce_rt.errors import InputError
    from aunce_rt.landmarks import create_backend
    from aunce_rt.synthau import SynthAU

    per_clip = VIDEO_CLIP_FRAMES // VIDEO_STRIDE
    out = tmp_path / "c"
    truth = read_manifest(synthau_manifest(out, frames=6, seed=0, identities=3, video_frames=per_clip))
    mp = read_manifest(
        synthau_manifest(out, frames=6, seed=0, identities=3, video_frames=per_clip, landmarks="mediapipe")
    )
    assert all("/crops-mediapipe/" in p for p in mp.paths)  # never mixed with the truth-aligned crops
    np.testing.assert_array_equal(mp.labels, truth.labels)
    assert mp.subjects == truth.subjects and sum(map(is_video_crop, mp.paths)) == per_clip
    gen = SynthAU(seed=0, split="train", num_identities=3)
    backend = create_backend("facemesh", static=True, max_faces=1)
    compared = 0
    try:
        for i in range(6):
            sample = gen.render_sample(i)
            faces = backend.process(np.ascontiguousarray(sample.image[:, :, ::-1]), 0)
            if not faces:
                continue
            expected, _ = align_face(sample.image, faces[0].points, layout="mediapipe")
            np.testing.assert_array_equal(cv2.imread(mp.paths[i]), expected)
            assert not np.array_equal(cv2.imread(truth.paths[i]), expected)  # MediaPipe's points differ
            compared += 1
    finally:
        backend.close()
    assert compared >= 4  # MediaPipe finds most SynthAU faces
    diffs = [
        np.abs(cv2.imread(a).astype(int) - cv2.imread(b).astype(int)).mean()
        for a, b in zip(mp.paths, truth.paths, strict=True)
    ]
    assert max(diffs) < 40  # the same face, a little shifted: not another image
    with pytest.raises(InputError, match="landmarks must be one of truth, mediapipe"):
        synthau_manifest(out, frames=6, seed=0, identities=3, landmarks="dlib")
