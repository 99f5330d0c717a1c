"""Small views of a screen: round avatars, rounded pictures, grid tiles; centre squares on the
reported side; per-view features, votes and verification.

Every screen is drawn here from generated photo-like pictures, with the true box of the view
known: a detector is right when it finds that box, the matcher when it names the reported
picture, and both must stay silent on a screen of the same layout holding only unrelated pictures.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

import photomatch
from images import photo_like
from photomatch import Matcher, regions
from photomatch.features import FeatureIndex
from photomatch.verify import extract_features, verify_view, view_features

W, H = 720, 1560  # a phone screen at two thirds of 1080x2340


def _square(rgb: np.ndarray, side: int) -> np.ndarray:
    """The centre square of ``rgb`` scaled to ``side`` (what apps show as an avatar or a tile)."""
    box = regions.centre_square((0, 0, rgb.shape[1], rgb.shape[0]))
    return cv2.resize(np.ascontiguousarray(regions.crop(rgb, box)), (side, side), interpolation=cv2.INTER_AREA)


def _page(dark: bool = False) -> tuple[np.ndarray, tuple[int, int, int]]:
    bg = (10, 10, 10) if dark else (252, 252, 252)
    canvas = np.full((H, W, 3), bg, np.uint8)
    canvas[:130] = (30, 30, 30) if dark else (238, 238, 238)  # status bar and header
    canvas[40:80, 30:300] = 120  # a title
    return canvas, bg


def _tiles(canvas: np.ndarray, top: int, cols: int, gap: int, pictures: list[np.ndarray], *,
           gap_colour=(255, 255, 255), bottom: int = H - 100) -> list[tuple[int, int, int, int]]:
    """Square tiles ``cols`` to a row touching the screen's sides, ``gap`` apart; returns the boxes."""
    side = (W - (cols - 1) * gap) // cols
    canvas[top:bottom] = gap_colour
    boxes = []
    k = 0
    y = top
    while y + side <= bottom:
        for c in range(cols):
            x = c * (side + gap)
            canvas[y : y + side, x : x + side] = _square(pictures[k % len(pictures)], side)
            boxes.append((x, y, side, side))
            k += 1
        y += side + gap
    return boxes


def profile_screen(avatar: np.ndarray, others: list[np.ndarray], *, diameter: int = 220, dark: bool = False,
                   rounded: bool = False) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A profile page: ``avatar``'s centre square drawn round (or as a rounded square), text
    bars, buttons, then a grid of ``others``. Returns the screen and the avatar's box."""
    canvas, bg = _page(dark)
    x, y = 40, 170
    disc = Image.new("L", (diameter, diameter), 0)
    if rounded:
        ImageDraw.Draw(disc).rounded_rectangle((0, 0, diameter - 1, diameter - 1), radius=diameter // 5, fill=255)
    else:
        ImageDraw.Draw(disc).ellipse((0, 0, diameter - 1, diameter - 1), fill=255)
    mask = np.asarray(disc) > 127
    view = canvas[y : y + diameter, x : x + diameter]
    view[mask] = _square(avatar, diameter)[mask]
    fg = 230 if dark else 30
    for i in range(3):  # counts and bio
        canvas[y + 60 + 50 * i : y + 85 + 50 * i, x + diameter + 40 : W - 60 - 60 * i] = fg
    canvas[y + diameter + 40 : y + diameter + 100, 30 : W // 2 - 10] = (24, 119, 242)  # buttons
    canvas[y + diameter + 40 : y + diameter + 100, W // 2 + 10 : W - 30] = (200, 200, 200)
    _tiles(canvas, y + diameter + 140, 3, 3, others, gap_colour=bg)
    return canvas, (x, y, diameter, diameter)


def grid_screen(picture: np.ndarray | None, others: list[np.ndarray], *, cols: int = 3, gap: int = 2,
                slot: int = 4, gap_colour=(255, 255, 255)) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A photo grid: ``picture``'s centre square in tile ``slot``, ``others`` in the rest."""
    canvas, _ = _page()
    canvas[150:250, 30:130] = (180, 120, 90)  # a small profile picture (square: not a view)
    pictures = list(others)
    if picture is not None:
        pictures.insert(slot, picture)
    boxes = _tiles(canvas, 280, cols, gap, pictures, gap_colour=gap_colour)
    return canvas, boxes[slot]


def _close(box, truth, tol):
    return all(abs(a - b) <= tol for a, b in zip(box, truth))


def jpeg(rgb: np.ndarray, quality: int = 85, longest: int | None = None) -> np.ndarray:
    """``rgb`` saved as JPEG (after scaling its longest side to ``longest``) and decoded: a forwarded copy."""
    img = Image.fromarray(rgb)
    if longest is not None:
        k = longest / max(img.size)
        img = img.resize((round(img.width * k), round(img.height * k)), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


OTHERS = [photo_like(300, 400, 500 + i) for i in range(30)]


# --- regions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dark", [False, True])
@pytest.mark.parametrize("diameter", [170, 260])
def test_round_views_find_the_avatar(dark, diameter):
    shot, box = profile_screen(photo_like(300, 400, 1), OTHERS, diameter=diameter, dark=dark)
    found = regions.round_views(shot)
    circles = [b for b, kind in found if kind == "circle"]
    assert len(circles) == 1 and _close(circles[0], box, tol=4)


def test_round_views_find_a_rounded_square():
    shot, box = profile_screen(photo_like(300, 400, 2), OTHERS, diameter=240, rounded=True)
    found = regions.round_views(shot)
    assert [kind for _, kind in found] == ["rounded"] and _close(found[0][0], box, tol=4)


@pytest.mark.parametrize(("cols", "gap", "slot", "gap_colour"),
                         [(3, 2, 4, (255, 255, 255)), (4, 1, 0, (0, 0, 0)), (3, 5, 2, (200, 40, 90)), (4, 3, 7, (90, 90, 90))])
def test_grid_tiles_find_every_tile(cols, gap, slot, gap_colour):
    shot, box = grid_screen(photo_like(300, 400, 3), OTHERS, cols=cols, gap=gap, slot=slot, gap_colour=gap_colour)
    tiles = regions.grid_tiles(shot)
    side = (W - (cols - 1) * gap) // cols
    rows = (H - 100 - 280 + gap) // (side + gap)
    assert len(tiles) == min(regions.MAX_TILES, rows * cols)
    assert any(_close(t, box, tol=1) for t in tiles)  # tiles at the screen's edge included (slot 0, 7)
    # Forwarded (longest side 1280 ... here 960, JPEG q85): the tile is still found, in the smaller pixels.
    small = jpeg(shot, 85, longest=960)
    k = 960 / H
    assert any(_close(t, [round(v * k) for v in box], tol=3) for t in regions.grid_tiles(small))


def test_plain_photos_have_no_screen_views():
    for seed in range(10):
        rgb = photo_like(480, 640, 40 + seed)
        assert not regions.looks_like_screen(rgb)
        assert regions.screen_regions(rgb) == []
        assert regions.grid_tiles(rgb) == []


def test_view_pixels_fill_a_circles_corners():
    shot, box = profile_screen(photo_like(300, 400, 1), OTHERS, diameter=200)
    v = regions.view_pixels(shot, box, "circle")
    inside = regions.crop(shot, box)[100, 100]
    assert np.array_equal(v[100, 100], inside) and not np.array_equal(v[0, 0], shot[box[1], box[0]])
    assert np.array_equal(regions.view_pixels(shot, box, "tile"), regions.crop(shot, box))


def test_reported_regions_add_centre_squares():
    wide = photo_like(300, 400, 5)
    assert regions.reported_regions(wide) == [((0, 0, 400, 300), "whole"), ((50, 0, 300, 300), "square")]
    assert regions.reported_regions(wide, squares=False) == [((0, 0, 400, 300), "whole")]
    framed = np.zeros((400, 400, 3), np.uint8)
    framed[50:350] = wide
    kinds = regions.reported_regions(framed)
    assert kinds == [((0, 0, 400, 400), "whole"), ((0, 50, 400, 300), "trim"), ((50, 50, 300, 300), "square")]


# --- per-view features and votes ----------------------------------------------------------------


def test_search_many_equals_one_search_per_view():
    index = FeatureIndex()
    for i in range(6):
        index.add(i, extract_features(photo_like(300, 400, 700 + i)))
    views = [view_features(photo_like(300, 400, 700 + i), (50, 0, 300, 300)) for i in (1, 4)]
    views.append(view_features(photo_like(300, 400, 999), (0, 0, 200, 200)))
    views.append(view_features(np.zeros((100, 100, 3), np.uint8), (0, 0, 100, 100)))  # no keypoints
    assert index.search_many(views, top=3) == [index.search(v, top=3) for v in views]
    assert index.search_many(views, top=3)[0][0][0] == 1


def test_verify_view_places_the_avatar_in_the_screen():
    reported = photo_like(300, 400, 11)
    shot, box = profile_screen(reported, OTHERS, diameter=180)
    f = view_features(shot, box, round_view=True)
    v = verify_view(f, extract_features(reported), box[:2])
    assert v.ok and _close(v.box_in_query, box, tol=6)
    assert not verify_view(f, extract_features(photo_like(300, 400, 12)), box[:2]).ok


# --- the matcher ----------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path):
    with Matcher(tmp_path / "reports.db") as m:
        yield m


REPORTED = [photo_like(300, 400, 100 + i) for i in range(4)]


def test_profile_avatar_found_and_located_with_features(store):
    ids = store.add(REPORTED, features=True)
    shot, box = profile_screen(REPORTED[2], OTHERS, diameter=200)
    for query, k in ((shot, 1.0), (jpeg(shot, 85, longest=960), 960 / H)):
        [found] = store.match(query)
        assert found.id == ids[2] and found.verified
        assert _close(found.region, [round(v * k) for v in box], tol=8)
    unrelated, _ = profile_screen(photo_like(300, 400, 300), OTHERS, diameter=200)
    assert store.match(unrelated) == [] and store.match(jpeg(unrelated, 85, longest=960)) == []


def test_grid_tile_found_with_features(store):
    ids = store.add(REPORTED, features=True)
    shot, box = grid_screen(REPORTED[1], OTHERS, cols=4, gap=2, slot=6)
    for query in (shot, jpeg(shot, 85, longest=960)):
        [found] = store.match(query)
        assert found.id == ids[1] and found.verified
    [found] = store.match(shot)
    assert _close(found.region, box, tol=4)
    unrelated, _ = grid_screen(None, OTHERS, cols=4, gap=2)
    assert store.match(unrelated) == [] and store.match(jpeg(unrelated, 85, longest=960)) == []


def test_grid_tile_found_by_square_hash_alone(store):
    """A store of hashes added by photomatch (no features): the tile matches the photo's centre
    square, stored as a region of kind "square"."""
    ids = store.add(REPORTED)
    assert {h.region_kind for h in store.store.get_item(ids[0]).hashes} == {"whole", "square"}
    shot, box = grid_screen(REPORTED[3], OTHERS, cols=3, gap=3, slot=5)
    [found] = store.match(shot)
    assert found.id == ids[3] and found.stage == "region" and not found.verified
    assert _close(found.region, box, tol=2)
    # Without the square hash (a store of whole-picture hashes only) the tile is not found.
    with Matcher(store.path + ".whole") as whole_only:
        whole_only.add_hashes([photomatch.pdq(r) for r in REPORTED])
        assert whole_only.match(shot) == []
    unrelated, _ = grid_screen(None, OTHERS, cols=3, gap=3)
    assert store.match(unrelated) == []
