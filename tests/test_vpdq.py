"""vPDQ: conformance with Meta's reference vectors, the text formats and the match rule."""

from __future__ import annotations

import json
import os
import random

import numpy as np
import pytest
import videos

import photomatch
from photomatch import vpdq as vp
from photomatch.vpdq import VideoHash

DATA = os.path.join(os.path.dirname(__file__), "data", "vpdq")
CLIP = os.path.join(DATA, "test-padded-dimensions.mp4")
with open(os.path.join(DATA, "test-padded-dimensions.txt"), encoding="ascii") as _f:
    REFERENCE_TEXT = _f.read()


def _hamming(a: VideoHash, b: VideoHash) -> list[int]:
    return [x.hash - y.hash for x, y in zip(a.features, b.features)]


@pytest.mark.slow  # the exact luma runs on the numpy twin: 12 s for 150 frames
def test_every_frame_equals_the_reference_vectors_exactly():
    ref = VideoHash.from_text(REFERENCE_TEXT)
    ours = vp.vpdq(CLIP, seconds_per_hash=0, exact=True)
    assert len(ours) == len(ref) == 150
    assert ours.to_text() == REFERENCE_TEXT  # frame numbers, qualities, hashes, timestamps


def test_default_luma_stays_within_bits_of_the_reference():
    # The default kernel computes luma in double (as pdqhash), the vPDQ reference in float:
    # on this clip one frame in 150 differs, by 2 bits.
    ref = VideoHash.from_text(REFERENCE_TEXT)
    d = _hamming(vp.vpdq(CLIP, seconds_per_hash=0), ref)
    assert len(d) == 150 and max(d) <= 4 and sum(x == 0 for x in d) >= 147


def test_one_frame_per_second_takes_the_reference_frames():
    ref = VideoHash.from_text(REFERENCE_TEXT)
    ours = vp.vpdq(CLIP, exact=True)  # 30 fps: frames 0, 30, 60, ...
    assert [f.frame for f in ours] == list(range(0, 150, 30))
    assert [(f.hash, f.timestamp) for f in ours] == [(f.hash, f.timestamp) for f in ref.features[::30]]
    assert [f.frame for f in vp.vpdq(CLIP, seconds_per_hash=2.5)] == [0, 75]


def test_text_round_trip_is_byte_exact():
    assert VideoHash.from_text(REFERENCE_TEXT).to_text() == REFERENCE_TEXT


def test_threatexchange_json_form():
    ref = VideoHash.from_text(REFERENCE_TEXT)
    back = VideoHash.from_json(ref.to_json())
    assert [(f.hash, f.timestamp) for f in back] == [(f.hash, round(f.timestamp, 3)) for f in ref]
    # python-threatexchange formats timestamps with "{:.3}" (3 significant digits): read as numbers.
    h = "a" * 64
    got = VideoHash.from_json(json.dumps([f"{h},100,0.0", f"{h},90,12.3", f"{h},80,1e+02"]))
    assert [(f.frame, f.quality, f.timestamp) for f in got] == [(0, 100, 0.0), (1, 90, 12.3), (2, 80, 100.0)]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("0,100,abc,0.0\n", "64 hex digits"),
        ("0,100," + "g" * 64 + ",0.0\n", "not hexadecimal"),
        ("0,101," + "a" * 64 + ",0.0\n", "quality"),
        ("x,100," + "a" * 64 + ",0.0\n", "integers"),
        ("0,100," + "a" * 64 + "\n", "expected frame_number"),
        ("0,100," + "a" * 64 + ",-1\n", "non-negative"),
    ],
)
def test_malformed_text_names_the_line(text, match):
    with pytest.raises(photomatch.HashFormatError, match=match) as e:
        VideoHash.from_text("0,100," + "a" * 64 + ",0.000\n\n" + text, source="v.txt")
    assert "v.txt, line 3: " in str(e.value) and e.value.line == 3


@pytest.mark.parametrize("text", ["{}", "[1]", '["a,b"]', "not json", '["' + "a" * 64 + ',x,0"]'])
def test_malformed_json(text):
    with pytest.raises(photomatch.HashFormatError):
        VideoHash.from_json(text)


# --- the match rule, against a brute-force oracle written from python-threatexchange's text


def _oracle(query: list[tuple[str, int]], compared: list[tuple[str, int]], quality: int, distance: int):
    def prep(frames):
        seen, out = set(), []
        for hex_, q in frames:  # dedupe first, then drop low quality (threatexchange's order)
            if hex_ not in seen:
                seen.add(hex_)
                out.append((hex_, q))
        return [h for h, q in out if q >= quality]

    q, c = prep(query), prep(compared)

    def count(a, b):
        return sum(any((int(x, 16) ^ int(y, 16)).bit_count() <= distance for y in b) for x in a)

    if not q or not c:
        return 0.0, 0.0
    return count(q, c) * 100 / len(q), count(c, q) * 100 / len(c)


def _flip(hex_: str, bits: int, rng: random.Random) -> str:
    v = int(hex_, 16)
    for b in rng.sample(range(256), bits):
        v ^= 1 << b
    return f"{v:064x}"


@pytest.mark.parametrize("seed", range(6))
def test_match_percentages_equal_the_oracle(seed):
    rng = random.Random(seed)
    base = [f"{rng.getrandbits(256):064x}" for _ in range(rng.randint(3, 30))]
    query = [(_flip(h, rng.choice([0, 5, 28, 31, 32, 40]), rng), rng.choice([20, 49, 50, 100])) for h in base]
    query += [query[0]] * 3 + [(f"{rng.getrandbits(256):064x}", 100) for _ in range(rng.randint(0, 10))]
    compared = [(h, rng.choice([49, 50, 90])) for h in base] + [(base[0], 90)]

    def vh(frames):
        return VideoHash(tuple(vp.VpdqFeature(i, photomatch.Hash.from_hex(h, "pdq", q), float(i))
                               for i, (h, q) in enumerate(frames)))

    m = vp.match(vh(query), vh(compared))
    want = _oracle(query, compared, 50, 31)
    assert (m.query_percent, m.compared_percent) == pytest.approx(want)
    assert m.matched == (want[0] >= 80.0 and want[0] > 0)
    strict = vp.match(vh(query), vh(compared), query_percent=0, compared_percent=100, distance=5)
    want = _oracle(query, compared, 50, 5)
    assert strict.matched == (want[1] >= 100.0)


def test_match_options_are_checked():
    h = VideoHash.from_text(REFERENCE_TEXT)
    for bad in (dict(distance=-1), dict(distance=300), dict(quality=101), dict(query_percent=120),
                dict(compared_percent=-5), dict(distance=True)):
        with pytest.raises(ValueError):
            vp.match(h, h, **bad)


def test_generated_clip_matches_its_reencoded_copy_and_not_another():
    pics = [videos.smooth(i // 10, 192, 256) for i in range(60)]
    a = vp.vpdq(videos.write_clip(pics, fps=10))
    b = vp.vpdq(videos.write_clip(pics, fps=10, options={"crf": "35"}))
    other = vp.vpdq(videos.write_clip([videos.smooth(100 + i // 10, 192, 256) for i in range(60)], fps=10))
    assert vp.match(b, a).matched and not vp.match(other, a).matched


def test_bad_options_and_inputs():
    with pytest.raises(ValueError, match="seconds_per_hash"):
        vp.vpdq(CLIP, seconds_per_hash=-1)
    with pytest.raises(photomatch.DecodeError):
        vp.vpdq(b"nope")
    assert np.isfinite(VideoHash.from_text(REFERENCE_TEXT).features[-1].timestamp)
