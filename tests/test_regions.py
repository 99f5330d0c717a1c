"""Regions: border trimming, reported-side regions, candidate photo regions in screenshots and collages.

Oracles: photos planted at known boxes in synthetic canvases (the box is the truth), and
``pdqhash`` (Meta's reference PDQ) for "the region found hashes like the original photo".
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from photomatch.regions import MIN_SIDE, crop, iou, query_regions, reported_regions, trim_borders

skdata = pytest.importorskip("skimage.data")


def _photos() -> list[np.ndarray]:
    grey = np.repeat(skdata.camera()[..., None], 3, axis=2)
    return [skdata.astronaut(), skdata.coffee(), skdata.chelsea(), skdata.rocket(), grey]


def _jpeg(rgb: np.ndarray, quality: int = 80) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()


def _resize(rgb: np.ndarray, w: int, h: int) -> np.ndarray:
    return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)


def _pdq_distance(a: np.ndarray, b: np.ndarray) -> int:
    pdqhash = pytest.importorskip("pdqhash")
    ha, _ = pdqhash.compute(np.ascontiguousarray(a))
    hb, _ = pdqhash.compute(np.ascontiguousarray(b))
    return int(np.count_nonzero(ha != hb))


def _close(box, truth, tol: int) -> bool:
    return all(abs(p - q) <= tol for p, q in zip(box, truth))


# --- trim_borders ---------------------------------------------------------------------------


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255), (200, 30, 90), (128, 128, 128)])
@pytest.mark.parametrize("jpeg", [False, True])
def test_trim_borders_finds_planted_photo(colour, jpeg):
    photo = skdata.coffee()  # 600x400
    canvas = np.full((560, 900, 3), colour, np.uint8)
    truth = (170, 90, 600, 400)
    canvas[90:490, 170:770] = photo
    if jpeg:
        canvas = _jpeg(canvas, 75)
    box = trim_borders(canvas)
    assert _close(box, truth, 3), (box, truth)


def test_trim_borders_each_side_independent():
    photo = skdata.chelsea()  # 451x300
    canvas = np.zeros((300 + 40, 451 + 25, 3), np.uint8)
    canvas[40:, :451] = photo  # border only on top and right
    assert _close(trim_borders(canvas), (0, 40, 451, 300), 2)


def test_trim_borders_without_border_is_whole():
    # camera() is left out on purpose: its top 60 rows are a flat sky, indistinguishable from a
    # border by colour, and trimming them is harmless because the whole image is hashed too.
    for photo in _photos()[:4]:
        h, w = photo.shape[:2]
        x, y, bw, bh = trim_borders(photo)
        # Photos may have a few near-uniform edge lines, never a large band.
        assert bw >= 0.95 * w and bh >= 0.95 * h, (photo.shape, (x, y, bw, bh))


def test_trim_borders_uniform_image_is_whole():
    assert trim_borders(np.full((50, 70, 3), 9, np.uint8)) == (0, 0, 70, 50)


@pytest.mark.parametrize(
    "bad", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros((0, 5, 3), np.uint8), [[1]]]
)
def test_bad_inputs_raise(bad):
    with pytest.raises((ValueError, TypeError), match="rgb"):
        trim_borders(bad)
    with pytest.raises((ValueError, TypeError), match="rgb"):
        query_regions(bad)


def test_crop_and_iou():
    img = np.arange(5 * 6 * 3, dtype=np.uint8).reshape(5, 6, 3)
    assert np.array_equal(crop(img, (1, 2, 3, 2)), img[2:4, 1:4])
    with pytest.raises(ValueError, match="outside"):
        crop(img, (4, 0, 3, 2))
    assert iou((0, 0, 4, 4), (0, 0, 4, 4)) == 1.0
    assert iou((0, 0, 4, 4), (4, 4, 4, 4)) == 0.0
    assert iou((0, 0, 4, 4), (2, 0, 4, 4)) == pytest.approx(8 / 24)


# --- reported_regions -----------------------------------------------------------------------


def test_reported_regions_whole_then_trim():
    photo = skdata.astronaut()
    assert reported_regions(photo) == [((0, 0, 512, 512), "whole")]
    framed = cv2.copyMakeBorder(photo, 60, 60, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    regions = reported_regions(framed)
    assert regions[0] == ((0, 0, 512, 632), "whole")
    assert regions[1][1] == "trim" and _close(regions[1][0], (0, 60, 512, 512), 2)
    # The framed picture's centre square is the square photo itself, the trimmed box: kept once.
    assert len(regions) == 2


def test_reported_regions_crops_and_windows_count_and_bounds():
    photo = skdata.rocket()
    h, w = photo.shape[:2]
    regions = reported_regions(photo, crops=(0.8, 0.6), windows=3)
    kinds = [k for _, k in regions]
    assert kinds == ["whole", "square", "crop", "crop", *["window"] * 9]
    for (x, y, bw, bh), _ in regions:
        assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h and min(bw, bh) >= MIN_SIDE
    with pytest.raises(ValueError, match="crops"):
        reported_regions(photo, crops=(1.5,))


# --- query_regions --------------------------------------------------------------------------


def _screenshot(photo: np.ndarray, rng: np.random.Generator, dark: bool) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A phone screenshot: status and app bars, avatar, name, caption, the photo, comment lines."""
    cw, ch = 540, 1170
    bg, fg = ((18, 18, 18), (235, 235, 235)) if dark else ((255, 255, 255), (20, 20, 20))
    c = np.full((ch, cw, 3), bg, np.uint8)
    c[:35] = (235, 235, 235)
    cv2.putText(c, "12:34", (15, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
    c[35:100] = (24, 119, 242)
    cv2.putText(c, "Photogram", (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 2)
    cv2.circle(c, (50, 150), 30, (200, 120, 60), -1)
    cv2.putText(c, "Jane Doe", (100, 160), cv2.FONT_HERSHEY_SIMPLEX, 0.8, fg, 2)
    cv2.putText(c, "look at this", (20, 220), cv2.FONT_HERSHEY_SIMPLEX, 0.7, fg, 1)
    ph, pw = photo.shape[:2]
    tw = int(rng.integers(300, cw - 20))
    th = round(ph * tw / pw)
    x = int(rng.integers(0, cw - tw + 1))
    y = int(rng.integers(250, 300))
    c[y : y + th, x : x + tw] = _resize(photo, tw, th)
    yy = y + th + 40
    while yy < ch - 80:
        cv2.putText(c, "so proud of us summer vibes", (20, yy), cv2.FONT_HERSHEY_SIMPLEX, 0.7, fg, 1)
        yy += 36
    c[ch - 60 :] = (245, 245, 245)
    return _jpeg(c, 90), (x, y, tw, th)


@pytest.mark.parametrize("seed", range(6))
def test_query_regions_find_photo_in_screenshot(seed):
    rng = np.random.default_rng(seed)
    photos = _photos()
    photo = photos[seed % len(photos)]
    shot, truth = _screenshot(photo, rng, dark=bool(seed % 2))
    regions = query_regions(shot)
    best = max(regions, key=lambda bk: iou(bk[0], truth))
    assert iou(best[0], truth) > 0.9, (best, truth)
    # The hash-sharing case: the found region must match the photo's plain PDQ hash.
    assert _pdq_distance(crop(shot, best[0]), photo) <= 31


@pytest.mark.parametrize("gutter", [0, 6])
def test_query_regions_find_collage_cells(gutter):
    photos = _photos()[:4]
    cw, ch = 360, 270
    canvas = np.full((2 * ch + 3 * gutter, 2 * cw + 3 * gutter, 3), 255, np.uint8)
    truths = []
    for k, p in enumerate(photos):
        x = gutter + (k % 2) * (cw + gutter)
        y = gutter + (k // 2) * (ch + gutter)
        canvas[y : y + ch, x : x + cw] = _resize(p, cw, ch)
        truths.append((x, y, cw, ch))
    canvas = _jpeg(canvas, 85)
    regions = query_regions(canvas)
    for truth, p in zip(truths, photos):
        best = max(regions, key=lambda bk: iou(bk[0], truth))
        assert iou(best[0], truth) > 0.9, (best, truth)
        assert _pdq_distance(crop(canvas, best[0]), p) <= 31


def test_query_regions_whole_first_and_trim():
    photo = skdata.chelsea()
    framed = cv2.copyMakeBorder(photo, 0, 0, 90, 90, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    regions = query_regions(framed)
    assert regions[0] == ((0, 0, framed.shape[1], framed.shape[0]), "whole")
    assert regions[1][1] == "trim" and _close(regions[1][0], (90, 0, 451, 300), 2)


@pytest.mark.parametrize("max_regions", [1, 3, 12])
@pytest.mark.parametrize("seed", range(4))
def test_query_regions_bounded_and_inside(max_regions, seed):
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(60, 900)), int(rng.integers(60, 900))
    # Blocky random content: many rectangles, seams and uniform runs to tempt every detector.
    img = cv2.resize(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
    img[: h // 5] = 255
    regions = query_regions(img, max_regions=max_regions)
    assert 1 <= len(regions) <= max_regions
    assert regions[0] == ((0, 0, w, h), "whole")
    for (x, y, bw, bh), kind in regions:
        assert kind in ("whole", "trim", "rect", "cell")
        assert 0 <= x and 0 <= y and bw > 0 and bh > 0 and x + bw <= w and y + bh <= h


def test_query_regions_rejects_bad_max_regions():
    with pytest.raises(ValueError, match="max_regions"):
        query_regions(skdata.chelsea(), max_regions=0)
