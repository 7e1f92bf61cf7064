"""Readers on small datasets written on the fly from SynthAU frames: list, manifest, raw layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aunce_rt.aus import BENCHMARK_AUS, au_label
from aunce_rt.datasets.formats import read_list, read_manifest, write_list, write_manifest
from aunce_rt.datasets.index import AUIndex
from aunce_rt.datasets.protocol import load_protocol
from aunce_rt.datasets.raw import read_raw
from aunce_rt.errors import InputError
from aunce_rt.training.data.dataset import AUDataset
from tests.aunce_rt.datasets.synth_frames import synth_frames, write_bp4d, write_image

CODES = BENCHMARK_AUS["bp4d"]
SUBJECTS = ("F001", "M011", "F007", "M007", "F003", "M006")  # two of each BP4D fold


@pytest.fixture(scope="module")
def crops(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, AUIndex]:
    """12 SynthAU frames as images under <root>/<subject>/<k>.png, two per BP4D subject."""
    root = tmp_path_factory.mktemp("crops")
    frames = synth_frames(12)
    paths, subjects = [], []
    for i, f in enumerate(frames):
        subj = SUBJECTS[i % len(SUBJECTS)]
        paths.append(str(write_image(root / subj / f"{i}.png", f.image[::4, ::4])))
        subjects.append(subj)
    labels = np.stack([f.labels for f in frames])
    return root, AUIndex(tuple(paths), labels, tuple(subjects), CODES)


def test_list_format_round_trip_and_bp4d_folds(tmp_path: Path, crops: tuple[Path, AUIndex]) -> None:
    root, index = crops
    write_list(index, tmp_path / "img.txt", tmp_path / "lab.txt", root=root)
    assert (tmp_path / "img.txt").read_text().splitlines()[0] == "F001/0.png"
    got = read_list(tmp_path / "img.txt", tmp_path / "lab.txt", CODES, root=root)
    assert got.paths == index.paths and got.subjects == index.subjects
    np.testing.assert_array_equal(got.labels, index.labels)
    splits = load_protocol("bp4d").splits(got)
    assert [s.name for s in splits] == ["fold1", "fold2", "fold3"]
    tested = []
    for s in splits:
        assert not set(s.train.subjects) & set(s.test.subjects)
        assert len(s.train) + len(s.test) == len(got)
        tested += s.test.subjects
    assert sorted(tested) == sorted(got.subjects)  # every frame is tested exactly once


def test_manifest_round_trip_selects_the_config_aus(tmp_path: Path, crops: tuple[Path, AUIndex]) -> None:
    root, index = crops
    manifest = write_manifest(index, tmp_path / "m.csv", root=root)
    got = read_manifest(manifest, (12, 1), root=root)  # a subset, reordered
    assert got.au_codes == (12, 1)
    np.testing.assert_array_equal(got.labels, index.labels[:, [CODES.index(12), 0]])
    with pytest.raises(InputError, match=r"m.csv:1.*AU25 missing"):
        read_manifest(manifest, (1, 25), root=root)


def test_bad_list_data_names_file_and_line(tmp_path: Path, crops: tuple[Path, AUIndex]) -> None:
    root, index = crops
    img, lab = tmp_path / "img.txt", tmp_path / "lab.txt"
    write_list(index, img, lab, root=root)
    good = lab.read_text().splitlines()

    def with_row(i: int, row: str) -> None:
        lab.write_text("\n".join(good[:i] + [row] + good[i + 1 :]) + "\n")

    with_row(2, " ".join(["0"] * 11))
    with pytest.raises(InputError, match=r"lab.txt:3: 11 label values, expected 12"):
        read_list(img, lab, CODES, root=root)
    with_row(4, " ".join(["0"] * 11 + ["2"]))
    with pytest.raises(InputError, match=r"lab.txt:5: label '2' is outside"):
        read_list(img, lab, CODES, root=root)
    with_row(4, " ".join(["0"] * 11 + ["x"]))
    with pytest.raises(InputError, match=r"lab.txt:5: label 'x' is not a number"):
        read_list(img, lab, CODES, root=root)
    lab.write_text("\n".join(good) + "\n")
    lines = img.read_text().splitlines()
    img.write_text("\n".join(lines[:6] + ["F001/missing.png"] + lines[7:]) + "\n")
    with pytest.raises(InputError, match=r"img.txt:7: image .*missing.png' does not exist"):
        read_list(img, lab, CODES, root=root)
    with pytest.raises(InputError, match="expected 8"):  # the DISFA AU set against BP4D labels
        read_list(img, lab, BENCHMARK_AUS["disfa"], root=root, check_images=False)


def test_unlabelled_entries_stay_masked(tmp_path: Path, crops: tuple[Path, AUIndex]) -> None:
    root, index = crops
    labels = index.labels.copy()
    labels[0, :] = -1
    labels[1, 3] = -1
    masked = AUIndex(index.paths, labels, index.subjects, CODES)
    write_list(masked, tmp_path / "img.txt", tmp_path / "lab.txt", root=root)
    got = read_list(tmp_path / "img.txt", tmp_path / "lab.txt", CODES, root=root)
    np.testing.assert_array_equal(got.labels, labels)
    ds = AUDataset(got, crop_size=32)
    image, y = ds[1]
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8 and y[3] == -1
    expected = [
        (labels[1:, i] == 1).sum() / (labels[1:, i] >= 0).sum()
        if i != 3
        else (labels[2:, i] == 1).sum() / (labels[2:, i] >= 0).sum()
        for i in range(len(CODES))
    ]
    np.testing.assert_allclose(got.occurrence(), expected)


def test_bp4d_raw_layout(tmp_path: Path) -> None:
    truth = write_bp4d(
        tmp_path,
        {("F001", "T1"): 3, ("M011", "T2"): 2, ("F007", "T1"): 2},
        CODES,
        unknown_at=(1, 2),
        landmarks=False,
    )
    index = read_raw(tmp_path, load_protocol("bp4d"))
    assert len(index) == 7 and index.subjects[:3] == ("F001",) * 3
    np.testing.assert_array_equal(index.labels[:3], truth["F001_T1"])
    assert index.labels[1, 2] == -1  # 9 = not coded -> masked
    assert index.intensities is None  # occurrence-coded: no intensities, no AUxx_r columns
    assert index.paths[0].endswith("Sequences/F001/T1/0001.jpg")
    (tmp_path / "Sequences" / "M011" / "T2" / "0002.jpg").unlink()
    with pytest.raises(InputError, match=r"M011_T2.csv:3: no image for M011 T2 frame 2"):
        read_raw(tmp_path, load_protocol("bp4d"))


def test_disfa_intensity_threshold(tmp_path: Path) -> None:
    protocol = load_protocol("disfa")
    frames = synth_frames(4)
    rng = np.random.default_rng(0)
    intensity = rng.integers(0, 6, (2, 4, len(protocol.au_codes)))
    for s, subj in enumerate(("SN001", "SN013")):
        for k, f in enumerate(frames):
            write_image(tmp_path / "Images_LeftCamera" / subj / f"{k + 1}.jpg", f.image[::4, ::4])
        for j, code in enumerate(protocol.au_codes):
            lab = tmp_path / "ActionUnit_Labels" / subj / f"{subj}_au{code}.txt"
            lab.parent.mkdir(parents=True, exist_ok=True)
            lab.write_text("".join(f"{k + 1},{intensity[s, k, j]}\n" for k in range(4)))
    index = read_raw(tmp_path, protocol)
    np.testing.assert_array_equal(index.labels, (intensity.reshape(8, -1) >= 2).astype(np.int8))
    np.testing.assert_array_equal(index.intensities, intensity.reshape(8, -1).astype(np.float32))
    assert set(index.subjects) == {"SN001", "SN013"}
    # the intensities survive selection and a manifest round trip (AUxx_r columns; empty = not coded)
    sub = index.select_subjects(["SN013"]).select_aus((12, 1))
    np.testing.assert_array_equal(
        sub.intensities, intensity[1][:, [protocol.au_codes.index(c) for c in (12, 1)]]
    )
    inten = index.intensities.copy()
    inten[0, 0] = np.nan
    coded = AUIndex(index.paths, index.labels, index.subjects, index.au_codes, intensities=inten)
    manifest = write_manifest(coded, tmp_path / "m.csv")
    header = manifest.read_text().splitlines()[0].split(",")
    assert header[-len(protocol.au_codes) :] == [f"{au_label(c)}_r" for c in protocol.au_codes]
    back = read_manifest(manifest, protocol.au_codes)
    np.testing.assert_array_equal(back.intensities, inten)
    np.testing.assert_array_equal(back.labels, index.labels)
    (tmp_path / "ActionUnit_Labels" / "SN013" / "SN013_au26.txt").unlink()
    with pytest.raises(InputError, match="SN013 has no intensity file for AU26"):
        read_raw(tmp_path, protocol)


def test_affwild2_layout_masks_and_splits(tmp_path: Path) -> None:
    protocol = load_protocol("affwild2")
    frames = synth_frames(6)
    header = "AU1,AU2,AU4,AU6,AU7,AU10,AU12,AU15,AU23,AU24,AU25,AU26"
    for video, split, ks in (("vid_a", "Train_Set", (0, 1, 2)), ("vid_b", "Validation_Set", (3, 4, 5))):
        rows = []
        for n, k in enumerate(ks):
            write_image(tmp_path / "cropped_aligned" / video / f"{n + 1:05d}.jpg", frames[k].image[::4, ::4])
            rows.append(",".join(["-1"] * 12) if n == 1 else ",".join(str(v) for v in frames[k].labels))
        f = tmp_path / "AU_Set" / split / f"{video}.txt"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(header + "\n" + "\n".join(rows) + "\n")
    index = read_raw(tmp_path, protocol)
    assert (index.labels[1] == -1).all() and (index.labels[4] == -1).all()
    (split,) = protocol.splits(index)
    assert split.train.subjects == ("vid_a",) * 3 and split.test.subjects == ("vid_b",) * 3


def test_gft_needs_user_subject_lists(crops: tuple[Path, AUIndex]) -> None:
    _, index = crops
    gft = load_protocol("gft")
    sub = index.select_aus(gft.au_codes)
    with pytest.raises(InputError, match="official train/test subject lists"):
        gft.splits(sub)
    (split,) = gft.splits(sub, train_subjects=SUBJECTS[:4], test_subjects=SUBJECTS[4:])
    assert set(split.test.subjects) == set(SUBJECTS[4:]) and split.test.au_codes == gft.au_codes
    with pytest.raises(InputError, match="in both the train and the test"):
        gft.splits(sub, train_subjects=SUBJECTS[:4], test_subjects=SUBJECTS[3:])


def test_cross_dataset_protocol_uses_the_shared_aus(crops: tuple[Path, AUIndex]) -> None:
    _, index = crops
    cross = load_protocol("bp4d_to_gft")
    with pytest.raises(InputError, match="give both datasets"):
        cross.splits(index)
    (split,) = cross.splits(index, index.take(np.arange(3)))
    assert split.train.au_codes == split.test.au_codes == BENCHMARK_AUS["gft"]


def test_subjects_outside_every_fold_are_an_error(crops: tuple[Path, AUIndex]) -> None:
    _, index = crops
    stranger = AUIndex(index.paths, index.labels, ("X999",) + index.subjects[1:], CODES)
    with pytest.raises(InputError, match=r"\['X999'\] .* are in no fold"):
        load_protocol("bp4d").splits(stranger)


def test_dataset_cache_reads_each_crop_once(tmp_path):
    import cv2

    path = tmp_path / "a.png"
    cv2.imwrite(str(path), np.full((32, 32, 3), 90, np.uint8))
    index = AUIndex((str(path),), np.array([[1, 0]], np.int8), ("s1",), (1, 2), source="test")
    cached, plain = AUDataset(index, 16, cache=True), AUDataset(index, 16)
    first, labels = cached[0]
    assert first.shape == (16, 16, 3) and labels.tolist() == [1, 0]
    path.unlink()  # a cached crop no longer needs its file
    again, _ = cached[0]
    assert again is first and not again.flags.writeable
    with pytest.raises(InputError, match="cannot read image"):
        plain[0]
