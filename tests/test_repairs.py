"""Query-side repairs (photomatch.repairs) and the Matcher's repair stage against plain PDQ hashes.

The oracle is the reference PDQ of the untouched original (``pdqhash.compute``, Meta's C++): a
repaired view must come back within the PDQ threshold of it, and the Matcher must find the copy
in a store holding nothing but that hash, while an unrelated picture damaged the same way is
not found.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pdqhash
import pytest
from PIL import Image
from skimage import data

import photomatch
from photomatch import repairs
from photomatch.algorithms import PDQ


def reference_hex(rgb: np.ndarray) -> str:
    bits, _quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def distance(a: np.ndarray, b: np.ndarray) -> int:
    ha = int(reference_hex(a), 16)
    hb = int(reference_hex(b), 16)
    return (ha ^ hb).bit_count()


def rotated(rgb: np.ndarray, degrees: float, fill: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """Rotated counter-clockwise on a canvas expanded to hold it, corners filled (as Pillow and apps do)."""
    img = Image.fromarray(rgb).rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)
    return np.asarray(img)


def cropped(rgb: np.ndarray, area: float, fx: float, fy: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    side = math.sqrt(area)
    ch, cw = round(h * side), round(w * side)
    y, x = round(fy * (h - ch)), round(fx * (w - cw))
    return np.ascontiguousarray(rgb[y : y + ch, x : x + cw])


PHOTOS = {"astronaut": data.astronaut, "coffee": data.coffee, "chelsea": data.chelsea, "rocket": data.rocket}


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return {name: np.ascontiguousarray(load()) for name, load in PHOTOS.items()}


# --- straighten -------------------------------------------------------------------------------


@pytest.mark.parametrize("degrees", [-12.0, -5.0, 3.0, 5.0, 9.0])
@pytest.mark.parametrize("fill", [(0, 0, 0), (255, 255, 255)])
def test_straighten_restores_size_and_hash(photos, degrees, fill):
    rgb = photos["coffee"]
    copy = rotated(rgb, degrees, fill)
    assert distance(copy, rgb) > PDQ.default_threshold  # the damage is real
    upright = repairs.straighten(copy)
    assert upright is not None
    h, w = rgb.shape[:2]
    assert abs(upright.shape[0] - h) <= 2 and abs(upright.shape[1] - w) <= 2
    assert distance(upright, rgb) <= PDQ.default_threshold


def test_straighten_leaves_upright_and_unframed_pictures_alone(photos):
    rgb = photos["astronaut"]
    assert repairs.straighten(rgb) is None  # corners differ: not a rotated canvas
    framed = np.zeros((300, 400, 3), np.uint8)
    framed[50:250, 50:350] = photos["chelsea"][:200, :300]
    assert repairs.straighten(framed) is None  # uniform corners, but the content is upright
    assert repairs.straighten(np.zeros((8, 8, 3), np.uint8)) is None


# --- uncrop -----------------------------------------------------------------------------------


def test_uncrop_views_geometry(photos):
    rgb = photos["rocket"]
    views = repairs.uncrop(rgb)
    assert len(views) == len(repairs.UNCROP_OFFSETS) ** 2
    h, w = rgb.shape[:2]
    for v in views:
        assert v.shape == (round(h / repairs.UNCROP_SCALE), round(w / repairs.UNCROP_SCALE), 3)
    # The first view has the query at the top-left, the last at the bottom-right, each unchanged.
    assert np.array_equal(views[0][:h, :w], rgb)
    assert np.array_equal(views[-1][-h:, -w:], rgb)


def test_uncrop_brings_crops_back(photos):
    """Crops keeping 90 % of the area at 4 offsets of 4 photos: every one gets closer, and most
    come within the threshold (measured: 14 of 16; the rocket's corner crops, whose sky margin
    the replicated edge does not restore, stay at 36 and 48)."""
    within = 0
    for name, rgb in photos.items():
        for where in [(0.0, 0.0), (0.5, 0.5), (1.0, 0.3), (0.2, 0.8)]:
            copy = cropped(rgb, 0.9, *where)
            best = min(distance(v, rgb) for v in repairs.uncrop_views(copy))
            assert best < distance(copy, rgb), (name, where)
            within += best <= PDQ.default_threshold
    assert within >= 13


# --- the Matcher's repair stage on a store of plain reference hashes ---------------------------


@pytest.fixture
def hash_only_store(tmp_path, photos):
    """A store holding only reference PDQ hashes of three photos (a partner's list), and the fourth kept out."""
    path = os.fspath(tmp_path / "list.db")
    with photomatch.Matcher(path) as m:
        for name in ("astronaut", "coffee", "chelsea"):
            m.add_hashes([reference_hex(photos[name])], label=name)
    return path


def test_matcher_finds_rotated_copy_by_straightening(hash_only_store, photos):
    copy = rotated(photos["coffee"], 5)
    with photomatch.Matcher(hash_only_store) as m:
        matches = m.match(copy)
        assert [x.label for x in matches] == ["coffee"]
        assert matches[0].stage == "repaired" and matches[0].transform == "straightened"
        assert matches[0].distance <= PDQ.default_threshold
        assert m.match(rotated(photos["rocket"], 5)) == []  # not listed: nothing


def test_matcher_finds_crop_by_uncropping(hash_only_store, photos):
    copy = cropped(photos["chelsea"], 0.9, 0.5, 0.5)
    with photomatch.Matcher(hash_only_store) as m:
        assert m.match(copy, mode="fast") == []  # plain PDQ misses it
        matches = m.match(copy)
        assert [x.label for x in matches] == ["chelsea"]
        assert matches[0].stage == "repaired" and matches[0].transform == "uncropped"
        assert m.match(cropped(photos["rocket"], 0.9, 0.5, 0.5)) == []


def test_matcher_repairs_only_when_nothing_else_matched(hash_only_store, photos):
    with photomatch.Matcher(hash_only_store) as m:
        [match] = m.match(photos["astronaut"])
        assert match.stage == "whole"


@pytest.mark.parametrize(
    ("distance", "families", "good", "expected"),
    [
        (31, 1, False, True),  # within the threshold: a match whatever else
        (32, 1, True, False),  # looser: needs a second family ...
        (32, 2, True, True),
        (44, 2, True, True),  # ... up to 44/31 of the threshold
        (45, 3, True, False),
        (40, 2, False, False),  # ... and hashes of good quality
    ],
)
def test_accept_repair_rule(distance, families, good, expected):
    from photomatch.matcher import accept_repair

    assert accept_repair(distance, families, good, 31) is expected


def test_loose_tier_scales_with_the_threshold():
    from photomatch.matcher import accept_repair

    assert accept_repair(14, 2, True, 10) and not accept_repair(15, 2, True, 10)
