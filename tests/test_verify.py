"""Geometric verification and local-feature retrieval.

Oracles: copies made with a known similarity transform (cv2.warpAffine with our own matrix), so
the true position of the reported image in the query is known; unrelated image pairs from
scikit-image's bundled samples must be rejected.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from photomatch.features import FeatureIndex
from photomatch.regions import iou
from photomatch.verify import FeatureFormatError, Features, extract_features, verify, verify_region

skdata = pytest.importorskip("skimage.data")


def _rgb(a: np.ndarray) -> np.ndarray:
    return np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a


def _samples() -> dict[str, np.ndarray]:
    return {
        "astronaut": skdata.astronaut(),
        "coffee": skdata.coffee(),
        "chelsea": skdata.chelsea(),
        "rocket": skdata.rocket(),
        "camera": _rgb(skdata.camera()),
        "immuno": skdata.immunohistochemistry(),
        "hubble": skdata.hubble_deep_field()[::2, ::2].copy(),
        "brick": _rgb(skdata.brick()),
    }


def _similar(rgb: np.ndarray, angle: float, scale: float, canvas: tuple[int, int], offset: tuple[float, float]):
    """Rotate/scale ``rgb`` about its centre and place it on a grey canvas; returns (copy, matrix)."""
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += np.array(offset) - np.array([w / 2, h / 2]) + np.array(canvas) / 2
    out = cv2.warpAffine(rgb, m, canvas, flags=cv2.INTER_LINEAR, borderValue=(90, 90, 90))
    return out, m


def _true_box(m: np.ndarray, size: tuple[int, int], canvas: tuple[int, int]) -> tuple[int, int, int, int]:
    w, h = size
    pts = np.array([[0, 0], [w, 0], [w, h], [0, h]], float) @ m[:, :2].T + m[:, 2]
    x0, y0 = np.clip(pts.min(axis=0), 0, canvas)
    x1, y1 = np.clip(pts.max(axis=0), 0, canvas)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
@pytest.mark.parametrize(
    ("angle", "scale", "offset"),
    [(0.0, 1.0, (0, 0)), (5.0, 0.8, (20, -10)), (-7.0, 1.3, (-40, 25)), (0.0, 0.5, (100, 60))],
)
def test_verify_accepts_transformed_copy_and_locates_it(name, angle, scale, offset):
    photo = _samples()[name]
    canvas = (700, 600)
    query, m = _similar(photo, angle, scale, canvas, offset)
    v = verify(query, extract_features(photo))
    assert v.ok, v
    truth = _true_box(m, (photo.shape[1], photo.shape[0]), canvas)
    assert v.box_in_query is not None and iou(v.box_in_query, truth) > 0.85, (v.box_in_query, truth)
    # The fitted transform recovers the scale we applied.
    assert np.hypot(v.transform[0, 0], v.transform[1, 0]) == pytest.approx(scale, rel=0.05)


@pytest.mark.parametrize(("angle", "scale", "offset"), [(0.0, 1.0, (0, 0)), (-7.0, 1.3, (-40, 25))])
def test_correspondences_follow_the_true_transform(angle, scale, offset):
    """The inliers a reviewer is shown: each reported keypoint, moved by the transform we applied
    ourselves (not the fitted one), lands on its query keypoint."""
    photo = _samples()["coffee"]
    query, m = _similar(photo, angle, scale, (700, 600), offset)
    v = verify(query, extract_features(photo))
    assert v.ok and v.correspondences is not None
    pairs = v.correspondences
    assert pairs.dtype == np.float32 and pairs.shape[1] == 4 and len(pairs) >= v.inliers
    moved = pairs[:, :2] @ m[:, :2].T + m[:, 2]
    err = np.hypot(*(moved - pairs[:, 2:]).T)
    assert np.median(err) < 3.0 and np.mean(err < 0.012 * 700 + 4) > 0.95, err


def test_verify_region_correspondences_are_in_the_whole_query():
    photo = _samples()["chelsea"]
    shot = np.full((900, 700, 3), 250, np.uint8)
    shot[200 : 200 + photo.shape[0], 100 : 100 + photo.shape[1]] = photo
    v = verify_region(shot, (100, 200, photo.shape[1], photo.shape[0]), extract_features(photo))
    assert v.ok and v.correspondences is not None
    err = np.hypot(*(v.correspondences[:, :2] + (100, 200) - v.correspondences[:, 2:]).T)
    assert np.median(err) < 2.0


@pytest.mark.parametrize("frac", [0.9, 0.7, 0.5])
def test_verify_accepts_crops(frac):
    photo = skdata.astronaut()
    s = np.sqrt(frac)
    cw, ch = round(512 * s), round(512 * s)
    x, y = 512 - cw, 7
    query = photo[y : y + ch, x : x + cw]
    v = verify(query, extract_features(photo))
    assert v.ok and v.inliers >= 12, v
    # The reported image extends beyond the crop: its box is clipped to the query.
    assert v.box_in_query == pytest.approx((0, 0, cw, ch), abs=4)


def test_verify_rejects_unrelated_pairs():
    samples = _samples()
    feats = {k: extract_features(v) for k, v in samples.items()}
    names = list(samples)
    checked = 0
    for a in names:
        for b in names:
            if a == b:
                continue
            v = verify(samples[a], feats[b])
            assert not v.ok, (a, b, v)
            checked += 1
    assert checked == len(names) * (len(names) - 1)


def test_verify_accepts_features_as_query_and_rejects_bad_types():
    photo = skdata.coffee()
    f = extract_features(photo)
    assert verify(f, f).ok
    with pytest.raises(TypeError, match="reported"):
        verify(photo, photo)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="query"):
        verify("coffee.jpg", f)  # type: ignore[arg-type]


def test_verify_featureless_images():
    flat = np.full((200, 300, 3), 128, np.uint8)
    f = extract_features(flat)
    assert len(f) == 0
    v = verify(flat, f)
    assert not v.ok and v.inliers == 0 and v.box_in_query is None


# --- Features ---------------------------------------------------------------------------------


def test_extract_features_bounded_and_in_image():
    photo = skdata.hubble_deep_field()  # 1000x872: extracted on a downscaled copy, returned in its pixels
    for k in (50, 300, 500):
        f = extract_features(photo, max_keypoints=k)
        assert 0 < len(f) <= k
        assert f.size == (1000, 872)
        assert f.descriptors.shape == (len(f), 32) and f.descriptors.dtype == np.uint8
        assert (f.xy >= 0).all() and (f.xy[:, 0] < 1000).all() and (f.xy[:, 1] < 872).all()
    with pytest.raises(ValueError, match="max_keypoints"):
        extract_features(photo, max_keypoints=0)


def test_features_round_trip_bytes():
    f = extract_features(skdata.rocket(), max_keypoints=400)
    data = f.to_bytes()
    assert data[0] == 1  # format version
    assert len(data) == 13 + 40 * len(f)  # header + xy float32 + 32-byte descriptors per keypoint
    g = Features.from_bytes(data)
    assert g.size == f.size and np.array_equal(g.xy, f.xy) and np.array_equal(g.descriptors, f.descriptors)
    assert Features.from_bytes(g.to_bytes()).to_bytes() == data
    empty = extract_features(np.zeros((40, 40, 3), np.uint8))
    assert len(Features.from_bytes(empty.to_bytes())) == 0


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d[:5], "shorter"),
        (lambda d: b"\x02" + d[1:], "version"),
        (lambda d: d[:-1], "announces"),
        (lambda d: d + b"\x00", "announces"),
    ],
)
def test_features_from_bad_bytes(mutate, match):
    data = extract_features(skdata.chelsea()).to_bytes()
    with pytest.raises(FeatureFormatError, match=match):
        Features.from_bytes(mutate(data))


# --- FeatureIndex ------------------------------------------------------------------------------


@pytest.mark.parametrize("ivf_from", [10**9, 1000])  # exact flat search, and the IVF index
def test_feature_index_retrieves_and_verifies(ivf_from):
    samples = _samples()
    names = list(samples)
    index = FeatureIndex(ivf_from=ivf_from)
    features = [extract_features(samples[n]) for n in names]
    for i, f in enumerate(features):
        index.add(i, f)
    assert len(index) == len(names)
    index.build()
    assert index.method == ("flat" if ivf_from > 10**6 else "ivf")
    for i, n in enumerate(names[:4]):
        photo = samples[n]
        h, w = photo.shape[:2]
        query, _ = _similar(photo[h // 6 :, w // 8 :], 4.0, 0.9, (640, 560), (0, 0))
        qf = extract_features(query)
        assert index.search(qf, top=3)[0][0] == i
        found = [item for item, _ in index.search(qf, top=3) if verify(qf, features[item]).ok]
        assert found == [i]
    restored = FeatureIndex.from_bytes(index.to_bytes())
    assert restored.search(qf, top=3) == index.search(qf, top=3) and restored.checksum() == index.checksum()
    index.remove(0)
    assert all(item != 0 for item, _ in index.search(extract_features(samples[names[0]]), top=8))
    with pytest.raises(ValueError, match="nprobe"):
        FeatureIndex(nprobe=0)


def test_verify_region_maps_back_to_query_pixels():
    photo = skdata.chelsea()  # 451x300
    shot = np.full((1100, 520, 3), 250, np.uint8)
    cv2.putText(shot, "Jane Doe  @jane", (20, 120), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2)
    small = cv2.resize(photo, (360, 240), interpolation=cv2.INTER_AREA)
    shot[400:640, 80:440] = small
    reported = extract_features(photo)
    v = verify_region(shot, (70, 390, 380, 260), reported)
    assert v.ok, v
    assert iou(v.box_in_query, (80, 400, 360, 240)) > 0.9, v.box_in_query
    # Same answer as verifying the whole screenshot, when that succeeds too.
    whole = verify(shot, reported)
    if whole.ok:
        assert iou(whole.box_in_query, v.box_in_query) > 0.9
    with pytest.raises(ValueError, match="outside"):
        verify_region(shot, (500, 0, 100, 100), reported)


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket", "brick"])
def test_verify_rejects_mirror_images(name):
    # A mirror image is not a similarity; it is PDQ's dihedral variants' job, never a verified match.
    photo = _samples()[name]
    f = extract_features(photo)
    for mirror in (photo[:, ::-1], photo[::-1]):
        assert not verify(np.ascontiguousarray(mirror), f).ok


def test_feature_index_votes_are_the_nearest_descriptors_items():
    """Flat search against a numpy oracle: each query descriptor votes for the item of its nearest
    stored descriptor (ties to any nearest) within max_distance; removal and retraining keep it."""
    rng = np.random.default_rng(7)
    items = {i: rng.integers(0, 256, (60, 32), dtype=np.uint8) for i in range(1, 41)}
    index = FeatureIndex(ivf_from=10**9)
    for i, d in items.items():
        index.add(i, d)
    query_desc = items[3][:30] ^ (rng.random((30, 32)) < 0.02).astype(np.uint8)  # near item 3's
    query = Features(np.zeros((30, 2), np.float32), query_desc, (10, 10))
    everything = np.concatenate(list(items.values()))
    labels = np.concatenate([np.full(60, i) for i in items])
    dist = np.unpackbits(query_desc[:, None, :] ^ everything[None, :, :], axis=2).sum(axis=2)
    nearest = labels[dist.argmin(axis=1)][dist.min(axis=1) <= 64]
    expected = dict(zip(*np.unique(nearest, return_counts=True)))
    assert dict(index.search(query, top=50)) == {int(k): int(v) for k, v in expected.items()}
    assert index.remove([3, 999]) == 1 and 3 not in dict(index.search(query, top=50))
    grown = FeatureIndex(ivf_from=500, nprobe=64)  # trained at 500+ descriptors, retrained at 16x
    for i, d in items.items():
        grown.add(i, d)
        grown.build()
    assert grown.method == "ivf" and grown.descriptors == 40 * 60
    assert grown.search(query, top=1)[0][0] == 3
    with pytest.raises(ValueError, match="already"):
        grown.add(3, items[3])
