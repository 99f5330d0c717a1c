"""Matcher: adding reported images or hashes, and finding their copies (whole-image stage)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import photomatch
from images import photo_like
from photomatch import DecodeError, Hash, Matcher
from photomatch.algorithms import PDQ, PHASH


def photo(seed: int, h: int = 240, w: int = 320) -> np.ndarray:
    return photo_like(h, w, seed)


def jpeg(rgb: np.ndarray, quality: int = 50) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def flip_bits(bits: bytes, n: int, rng: np.random.Generator) -> bytes:
    arr = np.unpackbits(np.frombuffer(bits, dtype=np.uint8))
    idx = rng.choice(arr.size, size=n, replace=False)
    arr[idx] ^= 1
    return np.packbits(arr).tobytes()


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "reports.db"


def test_finds_altered_copies_and_not_unrelated_images(store_path):
    reported = [photo(s) for s in range(5)]
    with Matcher(store_path) as m:
        ids = m.add(reported, label="case")
        assert len(ids) == len(set(ids)) == 5
        for item, rgb in zip(ids, reported):
            small = np.asarray(Image.fromarray(rgb).resize((160, 120), Image.Resampling.BILINEAR))
            for copy in (jpeg(rgb, 40), small, np.ascontiguousarray(rgb[:, ::-1]), np.ascontiguousarray(np.rot90(rgb))):
                found = m.match(copy)
                assert found, "an altered copy was not found"
                assert found[0].id == item
                assert found[0].distance <= PDQ.default_threshold
        for seed in range(100, 130):
            assert m.match(photo(seed)) == []


def test_threshold_is_inclusive_and_exact(store_path):
    rng = np.random.default_rng(7)
    query = photo(1)
    qhash = photomatch.pdq(query)
    planted = {d: Hash("pdq", flip_bits(qhash.bits, d, rng)) for d in range(0, 41)}
    with Matcher(store_path) as m:
        ids = m.add_hashes([planted[d] for d in range(0, 41)])
        by_id = dict(zip(ids, range(0, 41)))
        for t in (0, 10, 31, 40):
            found = m.match(query, threshold=t, dihedral=False)
            assert sorted(by_id[x.id] for x in found) == list(range(0, t + 1))
            assert all(x.distance == by_id[x.id] for x in found)
        with pytest.raises(ValueError, match="threshold"):
            m.match(query, threshold=257)


def test_low_quality_hashes_are_flagged(store_path):
    flat = np.full((200, 200, 3), 128, np.uint8)
    with Matcher(store_path) as m:
        m.add([flat], label="flat")
        m.add([photo(3)], label="photo")
        [found] = m.match(flat)
        assert found.label == "flat" and found.low_quality
        assert found.quality is not None and found.quality < PDQ.quality_floor
        [good] = m.match(jpeg(photo(3)))
        assert good.label == "photo" and not good.low_quality


def test_add_is_all_or_nothing(store_path):
    with Matcher(store_path) as m:
        with pytest.raises(DecodeError):
            m.add([photo(1), b"this is not an image", photo(2)])
        assert len(m) == 0


def test_add_many_reports_bad_files_and_goes_on(store_path, tmp_path):
    good = []
    for i in range(3):
        p = tmp_path / f"g{i}.png"
        Image.fromarray(photo(i)).save(p)
        good.append(str(p))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    with Matcher(store_path) as m:
        results = list(m.add_many([good[0], str(bad), good[1], good[2], good[0]], label="x"))
        assert [r.ok for r in results] == [True, False, True, True, True]
        assert "bad.jpg" in str(results[1].error)
        assert results[4].existing and results[4].id == results[0].id  # same bytes: not added twice
        assert len(m) == 3
        assert m.match(good[1])[0].id == results[2].id


def test_remove_and_reopen(store_path):
    with Matcher(store_path) as m:
        a, b = m.add([photo(1), photo(2)])
        assert m.remove([a, 12345]) == 1
    with Matcher(store_path, create=False) as m:
        assert len(m) == 1
        assert m.match(photo(1)) == []
        assert [x.id for x in m.match(photo(2))] == [b]


def test_phash_and_both_algorithms(store_path):
    with Matcher(store_path) as m:
        [both] = m.add([photo(4)], algorithm="both")
        info = m.info()
        assert info["hashes"]["pdq"] == 2 and info["hashes"]["phash"] == 1  # PDQ: whole and centre square
        found = m.match(jpeg(photo(4), 60))
        assert [x.id for x in found] == [both]
    with Matcher(store_path.with_name("p.db")) as m:
        [only] = m.add([photo(5)], algorithm="phash")
        [x] = m.match(jpeg(photo(5), 60))
        assert (x.id, x.algorithm) == (only, "phash")
        assert x.distance <= PHASH.default_threshold
        with pytest.raises(ValueError, match="algorithm"):
            m.add([photo(5)], algorithm="md5")


def test_match_many_streams_with_errors(store_path):
    with Matcher(store_path) as m:
        [item] = m.add([photo(9)])
        results = list(m.match_many([jpeg(photo(9)), b"", photo(10)], workers=2))
        assert [r.ok for r in results] == [True, False, True]
        assert [x.id for x in results[0].matches] == [item]
        assert results[2].matches == []


def test_match_json_fields(store_path):
    with Matcher(store_path) as m:
        m.add([photo(2)], label="L")
        [x] = m.match(photo(2))
        d = x.to_json()
        assert list(d)[:5] == ["id", "label", "source", "distance", "algo"]
        assert d["label"] == "L" and d["distance"] == 0 and d["algo"] == "pdq"
        assert d["region"] == [0, 0, 320, 240]


# --- robust mode -----------------------------------------------------------------------------


def screenshot(rgb: np.ndarray, *, top: int = 260, left: int = 30, width: int = 480) -> tuple[np.ndarray, tuple]:
    """The photo pasted into a phone-like canvas with a header bar and text lines; returns the box."""
    canvas = np.full((1100, 540, 3), 248, np.uint8)
    canvas[:110] = (40, 90, 160)
    canvas[130:200, 20:90] = (200, 120, 90)
    h = round(rgb.shape[0] * width / rgb.shape[1])
    canvas[top : top + h, left : left + width] = np.asarray(
        Image.fromarray(rgb).resize((width, h), Image.Resampling.BILINEAR))
    for i in range(5):
        y = top + h + 30 + 28 * i
        canvas[y : y + 10, 30 : 400 - 30 * i] = 140
    return canvas, (left, top, width, h)


def _close(box, truth, tol):
    return all(abs(a - b) <= tol for a, b in zip(box, truth))


def test_screenshot_of_a_hash_only_report_matches_by_region(store_path):
    """The hash-sharing case: only the photo's plain PDQ hash is stored, no picture."""
    rgb = photo(21, 300, 400)
    shot, box = screenshot(rgb)
    with Matcher(store_path) as m:
        [item] = m.add_hashes([photomatch.pdq(rgb)])
        assert m.match(shot, mode="fast") == []
        [found] = m.match(jpeg(shot, 80))
        assert found.id == item and found.stage == "region" and not found.verified
        assert found.distance <= PDQ.default_threshold
        assert _close(found.region, box, tol=6)


def test_features_verify_crops_and_locate_the_photo(store_path):
    reported = [photo(s, 300, 400) for s in (31, 32, 33)]
    with Matcher(store_path) as m:
        ids = m.add(reported, features=True)
        rgb = reported[1]
        crop = np.ascontiguousarray(rgb[40:250, 60:330])  # keeps ~47% of the area
        assert m.match(crop, mode="fast") == []
        [found] = m.match(jpeg(crop, 85))
        assert found.id == ids[1] and found.verified and found.stage == "verified"
        # the reported image's corners, mapped into the crop, cover all of it (the box is clipped to the query)
        assert _close(found.region, (0, 0, 270, 210), tol=4)
        shot, box = screenshot(reported[2])
        [found] = m.match(jpeg(shot, 80))
        assert found.id == ids[2] and found.verified
        assert _close(found.region, box, tol=8)


def test_verified_matches_carry_their_correspondences_in_file_pixels(store_path, tmp_path):
    """A crop at a known offset, saved large so that the loader decodes it scaled down: each
    correspondence's query point is its reported point minus the crop's offset, in file pixels."""
    rgb = photo(34, 2000, 2600)
    crop = rgb[300:1900, 450:2500]  # 2050 x 1600: JPEG decoding at half size still keeps 768 px
    path = tmp_path / "crop.jpg"
    path.write_bytes(jpeg(np.ascontiguousarray(crop), 90))
    with Matcher(store_path) as m:
        [item] = m.add([rgb], features=True)
        [found] = m.match(path)
        assert found.id == item and found.verified and found.correspondences
        pairs = np.array(found.correspondences)
        err = np.hypot(*(pairs[:, :2] - (450, 300) - pairs[:, 2:]).T)
        assert np.median(err) < 0.01 * 2600, err
        assert "correspondences" not in found.to_json()  # match --json stays as documented
        assert found.to_json(correspondences=True)["correspondences"] == [list(p) for p in found.correspondences]
        [whole] = m.match(rgb, mode="fast")
        assert not whole.verified and whole.correspondences == ()


def test_robust_mode_has_no_false_matches_on_unrelated_pictures(store_path):
    with Matcher(store_path) as m:
        m.add([photo(s, 300, 400) for s in range(40, 50)], features=True)
        for s in range(200, 230):
            shot, _ = screenshot(photo(s, 300, 400))
            assert m.match(photo(s, 300, 400)) == []
            assert m.match(shot) == []


def test_unknown_mode_is_refused(store_path):
    with Matcher(store_path) as m:
        with pytest.raises(ValueError, match="mode"):
            m.match(photo(1), mode="thorough")


@pytest.mark.parametrize("mode", ["fast", "robust"])
def test_boxes_are_in_the_query_files_pixels_when_decoded_small(store_path, tmp_path, mode):
    big = photo(77, 1200, 1600)
    path = tmp_path / "big.jpg"
    path.write_bytes(jpeg(big, 90))
    with Matcher(store_path) as m:
        m.add([big])
        [found] = m.match(path, mode=mode)  # the JPEG decoder scales it down on the fast path
        assert found.region == (0, 0, 1600, 1200)


def test_robust_stages_work_on_a_bounded_copy_of_a_giant_image(store_path, tmp_path, monkeypatch):
    """A PNG larger than ROBUST_MAX_SIDE is matched by its robust stages on a smaller copy (issue 9's
    cost bound); the photo pasted in it is found, with its box in the file's own pixels."""
    from photomatch import matcher as matcher_module

    reported = photo(91, 300, 400)
    canvas = np.full((900, 1400, 3), 235, np.uint8)
    canvas[250:550, 600:1000] = reported
    path = tmp_path / "giant.png"
    Image.fromarray(canvas).save(path)
    with Matcher(store_path) as m:
        [item] = m.add([reported], features=True)
        [full] = m.match(path, mode="robust")
        monkeypatch.setattr(matcher_module, "ROBUST_MAX_SIDE", 700)  # the query is twice that
        seen = []
        real = matcher_module.extract_features
        monkeypatch.setattr(matcher_module, "extract_features", lambda px, *a, **k: seen.append(px.shape) or real(px, *a, **k))
        [small] = m.match(path, mode="robust")
    assert full.id == small.id == item
    assert seen and max(seen[0][:2]) == 700
    assert _close(full.region, (600, 250, 400, 300), tol=12) and _close(small.region, (600, 250, 400, 300), tol=12)


def test_caption_band_fallback_finds_a_photo_under_meme_text(store_path, monkeypatch):
    """Captions over the top and bottom take the query's keypoint budget; the central band's own
    features still confirm the photo."""
    from PIL import ImageDraw, ImageFont

    from photomatch.verify import extract_features, verify

    rgb = photo(0, 400, 600)
    img = Image.fromarray(rgb)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=22)
    for y in (0, 24, 48, 330, 354, 378):
        draw.text((2, y), "WHEN THE MEME SAYS IT ALL XKCD 1234 WOW", fill=(255, 255, 255), font=font,
                  stroke_width=3, stroke_fill=(0, 0, 0))
    query = np.asarray(img)
    assert not verify(query, extract_features(rgb)).ok  # the whole query alone does not verify
    with Matcher(store_path) as m:
        [item] = m.add([rgb], features=True)
        [found] = m.match(query)
        assert found.id == item and found.verified
        assert _close(found.region, (0, 0, 600, 400), tol=6)
        monkeypatch.setattr(Matcher, "_verify_band", lambda self, q, best: None)
        assert m.match(query) == []  # and it is the band that found it


def _never_read():
    raise AssertionError("an input was read before the options were checked")
    yield  # pragma: no cover


@pytest.mark.parametrize(("options", "error"), [
    ({"threshold": -1}, ValueError), ({"threshold": 257}, ValueError), ({"phash_threshold": 65}, ValueError),
    ({"threshold": "31"}, TypeError), ({"mode": "slow"}, ValueError), ({"workers": 0}, ValueError),
])
def test_match_options_are_checked_at_the_call(store_path, options, error):
    with Matcher(store_path) as m:
        m.add([photo(1)])
        with pytest.raises(error):
            m.match_many(_never_read(), **options)
        if "workers" not in options:
            with pytest.raises(error):
                m.match(photo(1), **options)


def test_add_and_hash_options_are_checked_at_the_call(store_path):
    with Matcher(store_path) as m:
        with pytest.raises(photomatch.UnknownAlgorithmError):
            m.add_many(_never_read(), algorithm="md5")
        with pytest.raises(ValueError, match="workers"):
            m.add_many(_never_read(), workers=-2)
    with pytest.raises(photomatch.UnknownAlgorithmError):
        photomatch.hash_files(_never_read(), "md5")
    with pytest.raises(TypeError, match="exactly"):
        photomatch.hash_files(_never_read(), exactly=True)


def test_a_query_whose_search_fails_is_reported_and_the_batch_goes_on(store_path, monkeypatch):
    with Matcher(store_path) as m:
        [item] = m.add([photo(2)])
        real = m._search
        calls = iter([RuntimeError("boom"), None])

        def flaky(*args):
            err = next(calls)
            if err is not None:
                raise err
            return real(*args)

        monkeypatch.setattr(m, "_search", flaky)
        first, second = m.match_many([photo(2), photo(2)], workers=1)
        assert not first.ok and "unexpected RuntimeError: boom" in str(first.error)
        assert second.ok and [x.id for x in second.matches] == [item]


@pytest.mark.photos
@pytest.mark.parametrize("mode", ["robust", "fast"])
def test_query_hash_equals_hash_image_on_photos(photo_paths, store_path, mode):
    paths = photo_paths[::12]  # ~30 photos-dev JPEGs of every size
    with Matcher(store_path) as m:
        m.add([photo(1)], algorithm="both")
        for path, r in zip(paths, m.match_many(paths, mode=mode, workers=2)):
            assert r.ok
            assert r.query_hash == {"pdq": photomatch.hash_image(path, "pdq"), "phash": photomatch.hash_image(path, "phash")}
