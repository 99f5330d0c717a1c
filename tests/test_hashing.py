"""The public hashing API: the Hash value, the verbs, and batch hashing, checked against the
reference packages (pdqhash for PDQ, imagehash for pHash) as oracles."""

from __future__ import annotations

import io
import os

import imagehash
import numpy as np
import pdqhash
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import photomatch
from images import photo_like
from photomatch import DecodeError, Hash, HashFormatError

RNG = np.random.default_rng(1234)


def _photo_like(h: int, w: int, seed: int) -> np.ndarray:
    """Any picture will do for bit-exactness checks: a smooth random one plus noise."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(max(2, h // 16), max(2, w // 16), 3), dtype=np.uint8)
    img = np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC), dtype=np.int16)
    img = img + rng.integers(-8, 9, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _ref_pdq(rgb: np.ndarray) -> tuple[str, int]:
    bits, quality = pdqhash.compute(rgb)
    return np.packbits(bits.astype(np.uint8)).tobytes().hex(), int(quality)


# --- Hash value ------------------------------------------------------------------------------


@given(st.binary(min_size=32, max_size=32), st.integers(0, 100))
def test_hash_hex_round_trip_pdq(bits, quality):
    h = Hash("pdq", bits, quality)
    assert Hash.from_hex(h.hex, quality=quality) == h
    assert Hash.from_hex(h.hex.upper()).bits == bits
    assert str(h) == h.hex == bits.hex()


@given(st.binary(min_size=8, max_size=8), st.binary(min_size=8, max_size=8))
def test_distance_is_popcount_of_xor(a, b):
    ha, hb = Hash("phash", a), Hash("phash", b)
    expected = bin(int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).count("1")
    assert ha - hb == ha.distance(hb) == expected


@pytest.mark.parametrize(
    "text",
    ["", "abc", "g" * 64, "0" * 63, "0" * 65, "0" * 15, " " * 64, "0x" + "0" * 62, "0" * 62 + "-1"],
)
def test_from_hex_rejects_malformed(text):
    with pytest.raises(HashFormatError):
        Hash.from_hex(text)


def test_from_hex_errors_are_value_errors_and_length_must_fit_algorithm():
    with pytest.raises(ValueError, match="64 hex digits"):
        Hash.from_hex("0" * 16, algorithm="pdq")
    with pytest.raises(HashFormatError, match="unknown hash algorithm"):
        Hash.from_hex("0" * 16, algorithm="md5")


def test_hash_is_immutable_and_checks_its_fields():
    h = Hash.from_hex("0" * 64)
    with pytest.raises(AttributeError):
        h.bits = b"x"  # type: ignore[misc]
    with pytest.raises(HashFormatError):
        Hash("pdq", b"\0" * 8)
    with pytest.raises(HashFormatError):
        Hash("pdq", b"\0" * 32, quality=101)
    with pytest.raises(ValueError, match="cannot compare"):
        h.distance(Hash.from_hex("0" * 16))


# --- the verbs against the references --------------------------------------------------------


@pytest.mark.parametrize("shape", [(64, 64), (5, 5), (4, 1000), (1000, 4), (37, 91), (300, 201), (640, 480)])
def test_pdq_equals_reference_on_arrays(shape):
    rgb = _photo_like(*shape, seed=shape[0] * 7 + shape[1])
    ref_hex, ref_q = _ref_pdq(rgb)
    h = photomatch.pdq(rgb)
    assert (h.hex, h.quality) == (ref_hex, ref_q)


def test_pdq_dihedral_equals_reference():
    rgb = _photo_like(240, 320, seed=5)
    ref = pdqhash.compute_dihedral(rgb)
    ref_bits, ref_q = ref[0], ref[1]
    ours = photomatch.pdq_dihedral(rgb)
    assert [h.hex for h in ours] == [np.packbits(b.astype(np.uint8)).tobytes().hex() for b in ref_bits]
    assert {h.quality for h in ours} == {int(ref_q)}
    assert ours[0] == photomatch.pdq(rgb)


def test_phash_equals_imagehash():
    for seed, shape in enumerate([(240, 320), (33, 47), (500, 200)]):
        img = Image.fromarray(_photo_like(*shape, seed=seed))
        assert photomatch.phash(img, exact=True).hex == str(imagehash.phash(img))


def test_every_source_type_gives_the_same_hash(tmp_path):
    rgb = _photo_like(120, 90, seed=9)
    path = tmp_path / "p.png"
    Image.fromarray(rgb).save(path)
    data = path.read_bytes()
    with Image.open(path) as pil:
        sources = [str(path), path, data, io.BytesIO(data), pil, rgb]
        hashes = {photomatch.pdq(s, exact=True) for s in sources}
    assert len(hashes) == 1
    assert hashes.pop().hex == _ref_pdq(rgb)[0]


def test_small_edit_small_distance_and_rotation_large():
    rgb = photo_like(300, 400, seed=11)
    h = photomatch.pdq(rgb)
    jpeg = io.BytesIO()
    Image.fromarray(rgb).save(jpeg, format="JPEG", quality=60)
    assert h - photomatch.pdq(jpeg.getvalue()) <= 20
    assert h - photomatch.pdq(np.ascontiguousarray(np.rot90(rgb))) > 60


def test_fast_path_stays_close_to_exact(tmp_path):
    distances = []
    for seed in range(3):
        rgb = photo_like(1600, 2400, seed=seed)
        path = tmp_path / f"big{seed}.jpg"
        Image.fromarray(rgb).save(path, quality=90)
        exact = photomatch.pdq(path, exact=True)
        fast = photomatch.pdq(path)
        with Image.open(path) as im:
            assert exact.hex == _ref_pdq(np.asarray(im.convert("RGB")))[0]
        with Image.open(path) as im:
            assert photomatch.loading.open_image(path, draft_min_side=photomatch.loading.PDQ_DRAFT_MIN_SIDE).size < im.size
        distances.append(exact - fast)
    assert max(distances) <= 8


def test_hash_file_names_the_file_in_errors(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(DecodeError, match="broken.jpg") as info:
        photomatch.hash_file(bad)
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match="unknown hash algorithm"):
        photomatch.hash_file(bad, algorithm="md5")


# --- batch -----------------------------------------------------------------------------------


def _write_images(folder, n):
    paths = []
    for i in range(n):
        p = folder / f"img{i:02d}.png"
        Image.fromarray(_photo_like(64 + i, 80, seed=100 + i)).save(p)
        paths.append(str(p))
    return paths


def test_hash_files_streams_in_order_and_reports_bad_files(tmp_path):
    paths = _write_images(tmp_path, 12)
    bad = tmp_path / "empty.jpg"
    bad.write_bytes(b"")
    paths.insert(5, str(bad))
    serial = list(photomatch.hash_files(paths, workers=1))
    threaded = list(photomatch.hash_files(paths, workers=4))
    assert [r.path for r in threaded] == paths
    assert [(r.path, r.hash) for r in threaded] == [(r.path, r.hash) for r in serial]
    assert [r.ok for r in threaded] == [p != str(bad) for p in paths]
    assert "empty.jpg" in str(threaded[5].error)
    for r in threaded:
        if r.ok:
            assert r.hash == photomatch.pdq(r.path)


def test_hash_files_is_lazy_and_stops_early(tmp_path):
    paths = _write_images(tmp_path, 3)

    def endless():
        while True:
            yield from paths

    first = [r for _, r in zip(range(5), photomatch.hash_files(endless(), workers=2))]
    assert [r.path for r in first] == (paths * 2)[:5]


def test_hash_files_rejects_bad_arguments():
    with pytest.raises(ValueError, match="workers"):
        list(photomatch.hash_files([], workers=0))


def test_implementation_is_reported():
    assert photomatch.IMPLEMENTATION in ("c", "numpy")
    forced = os.environ.get("PHOTOMATCH_NO_EXTENSIONS", "") not in ("", "0")
    if forced:
        assert photomatch.IMPLEMENTATION == "numpy"


def test_hash_format_error_carries_its_fields_and_every_error_is_exported():
    import photomatch.errors as errors

    e = HashFormatError("not hexadecimal", path="list.csv", line=3)
    assert (e.path, e.line, e.reason, str(e)) == ("list.csv", 3, "not hexadecimal", "list.csv, line 3: not hexadecimal")
    assert str(HashFormatError("bad", path="list.csv")) == "list.csv: bad"
    assert (str(HashFormatError("bad")), HashFormatError("bad").path) == ("bad", None)
    public = {n for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, errors.PhotomatchError)}
    assert public <= set(photomatch.__all__)
    assert all(getattr(photomatch, n) is getattr(errors, n) for n in public)
