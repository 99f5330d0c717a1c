"""Hashing kernels (pdq_hash, pdq_dihedral, their _gray forms, phash_bits) of both implementations against the references.

Oracles: ``pdqhash`` 0.2.8 (the PyPI bindings of Meta's PDQ C++ reference) for PDQ, ``imagehash``
(4.3) for pHash, and each implementation against the other. Every test runs on the C kernels and
on their numpy twins (the ``impl`` fixture).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from photomatch import _accel

pdqhash = pytest.importorskip("pdqhash")
imagehash = pytest.importorskip("imagehash")
Image = pytest.importorskip("PIL.Image")

_IMPLS = ["c", "numpy"] if _accel.c_available() else ["numpy"]  # for tests that compare both at once
GOLDEN = Path(__file__).parent / "golden" / "hash_kernels.json"

SHAPES = [
    (5, 5),
    (4, 1000),  # under 5 rows: all-zero hash, quality 0
    (1000, 4),
    (5, 1000),
    (1000, 5),
    (7, 13),
    (63, 65),
    (64, 64),  # pdqhash skips the blur for 64x64 in compute (not in compute_dihedral)
    (127, 129),
    (128, 128),
    (129, 127),
    (257, 255),
    (1024, 768),
]


def ref_pdq(rgb: np.ndarray) -> tuple[bytes, int]:
    # pdqhash returns the bits of index k in [::-1] order, so packbits gives the reference hex order.
    bits, quality = pdqhash.compute(rgb)
    return np.packbits(bits.astype(np.uint8)).tobytes(), int(quality)


def ref_dihedral(rgb: np.ndarray) -> tuple[tuple[bytes, ...], int]:
    vectors, quality = pdqhash.compute_dihedral(rgb)
    return tuple(np.packbits(v.astype(np.uint8)).tobytes() for v in vectors), int(quality)


def ref_phash(image) -> bytes:
    return bytes.fromhex(str(imagehash.phash(image)))


def random_rgb(shape: tuple[int, int], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(*shape, 3), dtype=np.uint8)


def smooth_rgb(shape: tuple[int, int]) -> np.ndarray:
    # Low-frequency content, like photos (random noise only exercises the high frequencies).
    h, w = shape
    y, x = np.mgrid[0:h, 0:w]
    r = 128 + 100 * np.sin(x / max(w, 1) * 5.0) * np.cos(y / max(h, 1) * 3.0)
    g = (x * 255.0 / max(w - 1, 1)).round()
    b = ((x + 2 * y) % 256).astype(np.float64)
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def hamming(a: bytes, b: bytes) -> int:
    return int(np.unpackbits(np.frombuffer(bytes(x ^ y for x, y in zip(a, b)), np.uint8)).sum())


# ---------------------------------------------------------------- PDQ vs pdqhash


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_pdq_equals_reference_on_random_arrays(impl, shape):
    rgb = random_rgb(shape, seed=shape[0] * 10007 + shape[1])
    assert impl.pdq_hash(rgb) == ref_pdq(rgb)
    assert impl.pdq_dihedral(rgb) == ref_dihedral(rgb)


@pytest.mark.parametrize("shape", [(5, 5), (64, 64), (100, 37), (480, 640), (901, 599)], ids=str)
def test_pdq_equals_reference_on_smooth_images(impl, shape):
    rgb = smooth_rgb(shape)
    assert impl.pdq_hash(rgb) == ref_pdq(rgb)
    assert impl.pdq_dihedral(rgb) == ref_dihedral(rgb)


@pytest.mark.parametrize("value", [0, 1, 128, 255])
def test_pdq_equals_reference_on_uniform_images(impl, value):
    # Every DCT coefficient is ~0 here: the median and the strict > decide every bit.
    rgb = np.full((50, 70, 3), value, np.uint8)
    assert impl.pdq_hash(rgb) == ref_pdq(rgb)
    assert impl.pdq_dihedral(rgb) == ref_dihedral(rgb)


def test_pdq_small_images_give_zero_hash(impl):
    for shape in [(0, 0), (0, 10), (4, 4), (4, 1000), (1000, 4), (1, 1)]:
        rgb = random_rgb(shape, seed=1)
        assert impl.pdq_hash(rgb) == (bytes(32), 0)
        assert impl.pdq_dihedral(rgb) == ((bytes(32),) * 8, 0)


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(min_value=1, max_value=300),
    w=st.integers(min_value=1, max_value=300),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_pdq_equals_reference_hypothesis(h, w, seed):
    rgb = random_rgb((h, w), seed)
    expected, expected_d = ref_pdq(rgb), ref_dihedral(rgb)
    for name in _IMPLS:
        kernels = _accel.get(name)
        assert kernels.pdq_hash(rgb) == expected, name
        assert kernels.pdq_dihedral(rgb) == expected_d, name


@settings(max_examples=15, deadline=None)
@given(
    h=st.integers(min_value=600, max_value=1300),
    w=st.integers(min_value=600, max_value=1300),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_pdq_c_equals_numpy_on_large_smooth_arrays(h, w, seed):
    # Larger windows (5..11) than the reference test above, on photo-like content plus noise.
    rng = np.random.default_rng(seed)
    rgb = np.clip(smooth_rgb((h, w)).astype(np.int16) + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)
    results = {name: _accel.get(name).pdq_hash(rgb) for name in _IMPLS}
    assert len(set(results.values())) == 1, results.keys()
    assert results[_IMPLS[0]] == ref_pdq(rgb)


def test_pdq_hex_order_matches_reference_format(impl):
    # Pin the byte order on a hash whose words differ: bytes.hex() is Hash256::format (word 15 first),
    # checked against the bit vector pdqhash returns (index 255 - k holds bit k = 16 * word + bit).
    rgb = smooth_rgb((200, 300))
    bits, _ = pdqhash.compute(rgb)
    k_bits = bits[::-1]
    words = [sum(int(k_bits[16 * i + j]) << j for j in range(16)) for i in range(16)]
    expected_hex = "".join(f"{w:04x}" for w in reversed(words))
    assert impl.pdq_hash(rgb)[0].hex() == expected_hex


def test_dihedral_variants_match_transformed_images(impl):
    # Each DCT-derived variant is near the PDQ of the image transformed accordingly (not equal:
    # the filter's edges and the decimation grid are not symmetric) and far from the others.
    small = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    rgb = np.asarray(Image.fromarray(small).resize((256, 256), Image.BICUBIC))
    hashes, _ = impl.pdq_dihedral(rgb)
    transforms = [  # the reference's order and meaning, in numpy terms
        lambda a: a,
        lambda a: np.rot90(a, 1),  # rotate90 (counter-clockwise)
        lambda a: np.rot90(a, 2),  # rotate180
        lambda a: np.rot90(a, 3),  # rotate270
        lambda a: a[::-1],  # flipX: rows reversed
        lambda a: a[:, ::-1],  # flipY: columns reversed
        lambda a: a.transpose(1, 0, 2),  # flipPlus1: main diagonal
        lambda a: np.rot90(a, 2).transpose(1, 0, 2),  # flipMinus1: anti-diagonal
    ]
    for v, t in enumerate(transforms):
        h, _ = impl.pdq_hash(np.ascontiguousarray(t(rgb)))
        distances = [hamming(h, x) for x in hashes]
        assert distances[v] < 64 and distances[v] == min(distances), (v, distances)


# ---------------------------------------------------------------- golden vectors


def test_golden_vectors(impl):
    # Hashes recorded from the references themselves (see the file's provenance field).
    golden = json.loads(GOLDEN.read_text())
    for case in golden["cases"]:
        if case["kind"] == "pdq":
            rgb = random_rgb(tuple(case["shape"]), case["seed"])
            digest, quality = impl.pdq_hash(rgb)
            assert (digest.hex(), quality) == (case["hex"], case["quality"]), case["shape"]
        else:
            gray = np.random.default_rng(case["seed"]).integers(0, 256, (32, 32), dtype=np.uint8)
            assert impl.phash_bits(gray).hex() == case["hex"]


# ---------------------------------------------------------------- pHash vs imagehash


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), smooth=st.booleans())
def test_phash_equals_imagehash_on_32x32(seed, smooth):
    # imagehash's resize to 32x32 leaves a 32x32 image untouched, so both see the same pixels.
    rng = np.random.default_rng(seed)
    if smooth:
        gray = (smooth_rgb((32, 32))[:, :, 0].astype(np.int16) + rng.integers(-30, 31, (32, 32))).clip(0, 255)
        gray = gray.astype(np.uint8)
    else:
        gray = rng.integers(0, 256, (32, 32), dtype=np.uint8)
    expected = ref_phash(Image.fromarray(gray, "L"))
    for name in _IMPLS:
        assert _accel.get(name).phash_bits(gray) == expected, name


@pytest.mark.parametrize("value", [0, 77, 255])
def test_phash_uniform_image_matches_imagehash(impl, value):
    # The FFT gives exact zeros for the AC terms here; a direct sum must too, or the bits are noise.
    gray = np.full((32, 32), value, np.uint8)
    assert impl.phash_bits(gray) == ref_phash(Image.fromarray(gray, "L"))


@pytest.mark.parametrize("kind", ["rows", "cols", "stripes"])
def test_phash_one_dimensional_images_match_imagehash(impl, kind):
    gray = np.zeros((32, 32), np.uint8)
    if kind == "rows":
        gray[:] = (np.arange(32) * 7)[:, None]
    elif kind == "cols":
        gray[:] = np.arange(32) * 5
    else:
        gray[:, ::5] = 200
    assert impl.phash_bits(gray) == ref_phash(Image.fromarray(gray, "L"))


def test_phash_through_pil_resize_matches_imagehash(impl):
    image = Image.fromarray(smooth_rgb((240, 320)))
    gray = np.asarray(image.convert("L").resize((32, 32), Image.LANCZOS))
    assert impl.phash_bits(gray) == ref_phash(image)


# ---------------------------------------------------------------- PDQ of grey (luma) input


def grey_as_rgb(gray: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


def smooth_gray(shape: tuple[int, int]) -> np.ndarray:
    rgb = smooth_rgb(shape)
    # an arbitrary photo-like grey image: a mix of the smooth channels, every level 0-255 likely
    return ((rgb[..., 0].astype(np.uint16) + rgb[..., 2]) // 2).astype(np.uint8)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["random", "smooth"])
def test_pdq_gray_equals_reference_on_equal_channel_rgb(impl, shape, kind):
    # The reference hashes the RGB image whose three channels are the grey image; the grey kernels
    # must give the same bits and quality (its luma of (v, v, v) is the grey table's entry v).
    if kind == "random":
        gray = np.random.default_rng(shape[0] * 7919 + shape[1]).integers(0, 256, shape, dtype=np.uint8)
    else:
        gray = smooth_gray(shape)
    rgb = grey_as_rgb(gray)
    assert impl.pdq_hash_gray(gray) == ref_pdq(rgb) == impl.pdq_hash(rgb)
    assert impl.pdq_dihedral_gray(gray) == ref_dihedral(rgb) == impl.pdq_dihedral(rgb)


def test_pdq_gray_every_level(impl):
    # all 256 grey levels in one image, each checked through the reference
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16).repeat(5, axis=0).repeat(7, axis=1)
    assert impl.pdq_hash_gray(np.ascontiguousarray(gray)) == ref_pdq(grey_as_rgb(gray))


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 300), w=st.integers(1, 300), seed=st.integers(0, 2**32 - 1))
def test_pdq_gray_c_equals_numpy_hypothesis(h, w, seed):
    gray = np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)
    results = {name: (_accel.get(name).pdq_hash_gray(gray), _accel.get(name).pdq_dihedral_gray(gray)) for name in _IMPLS}
    assert len(set(results.values())) == 1, results.keys()
    assert results[_IMPLS[0]][0] == ref_pdq(grey_as_rgb(gray))


def test_pdq_gray_small_images_give_zero_hash(impl):
    for shape in [(0, 0), (4, 4), (4, 100), (100, 4), (1, 1)]:
        gray = np.zeros(shape, np.uint8)
        assert impl.pdq_hash_gray(gray) == (bytes(32), 0)
        assert impl.pdq_dihedral_gray(gray) == ((bytes(32),) * 8, 0)


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: [[0] * 8] * 8, TypeError),  # no buffer protocol
        (lambda: np.zeros((8, 8), np.float32), TypeError),
        (lambda: np.zeros((8, 8), np.uint16), TypeError),
        (lambda: np.zeros((8, 8, 3), np.uint8), ValueError),  # RGB goes to pdq_hash
        (lambda: np.zeros((8, 8, 1), np.uint8), ValueError),
        (lambda: np.zeros(64, np.uint8), ValueError),
        (lambda: np.zeros((8, 16), np.uint8)[:, ::2], ValueError),  # not contiguous
        (lambda: np.zeros((8, 9), np.uint8, order="F"), ValueError),
    ],
)
def test_pdq_gray_rejects_bad_buffers(impl, make, error):
    bad = make()
    with pytest.raises(error, match="gray"):
        impl.pdq_hash_gray(bad)
    with pytest.raises(error, match="gray"):
        impl.pdq_dihedral_gray(bad)


def test_pdq_gray_threaded_equals_serial(impl):
    images = [np.random.default_rng(i).integers(0, 256, (300 + 17 * i, 200 + 29 * i), dtype=np.uint8) for i in range(8)]
    serial = [impl.pdq_hash_gray(g) for g in images]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(impl.pdq_hash_gray, images)) == serial


# ---------------------------------------------------------------- the luma fast path on real decodes
# pdq()'s fast path hashes the JPEG decoder's own luma plane (loading.open_luma) with
# pdq_hash_gray; the plane differs from the luma of the decoded RGB only by the decoder's rounding.


def _jpeg(rgb: np.ndarray, **save) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", **save)
    return buf.getvalue()


@pytest.mark.parametrize("subsampling", [0, 2])  # 4:4:4 and 4:2:0 chroma
def test_jpeg_luma_plane_hashes_like_the_rgb_decode(impl, subsampling):
    from images import photo_like

    from photomatch.loading import open_image, open_luma

    data = _jpeg(photo_like(600, 800, seed=21), quality=90, subsampling=subsampling)
    rgb = np.asarray(open_image(data))
    luma = open_luma(data)
    assert luma.mode == "L" and luma.size == (800, 600)
    plane = np.asarray(luma)
    # the Y plane is the JFIF luma of the decoded RGB up to rounding (and clipping of the RGB)
    expected = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    assert np.percentile(np.abs(plane - expected), 99) <= 2.0
    assert hamming(impl.pdq_hash_gray(plane)[0], ref_pdq(np.ascontiguousarray(rgb))[0]) <= 4


@pytest.mark.photos
def test_photos_dev_luma_path_stays_near_reference(photo_paths, photo_refs):
    from photomatch import _accel as accel
    from photomatch.loading import open_luma

    distances = []
    for path, (_name, _rgb, _gray, (ref_hash, _q), _d, _p) in zip(photo_paths, photo_refs):
        plane = np.asarray(open_luma(path, exif_transpose=False))
        if plane.ndim == 2:  # CMYK JPEGs come back as RGB and take the RGB kernel
            distances.append(hamming(accel.kernels.pdq_hash_gray(plane)[0], ref_hash))
    distances = np.array(distances)
    # full-size luma plane vs reference on the full RGB decode: measured mean 0.3, max 4 bits
    assert len(distances) >= 0.9 * len(photo_paths)
    assert distances.mean() <= 1.0 and distances.max() <= 8, (distances.mean(), distances.max())


# ---------------------------------------------------------------- buffers and errors


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: [[[0, 0, 0]] * 8] * 8, TypeError),  # no buffer protocol
        (lambda: "not an image", TypeError),
        (lambda: np.zeros((8, 8, 3), np.float32), TypeError),
        (lambda: np.zeros((8, 8, 3), np.int8), TypeError),
        (lambda: np.zeros((8, 8, 3), np.uint16), TypeError),
        (lambda: np.zeros((8, 8, 3), bool), TypeError),
        (lambda: np.zeros((8, 8), np.uint8), ValueError),
        (lambda: np.zeros((8, 8, 3, 1), np.uint8), ValueError),
        (lambda: np.zeros((8, 8, 4), np.uint8), ValueError),
        (lambda: np.zeros((8, 16, 3), np.uint8)[:, ::2], ValueError),  # not contiguous
        (lambda: np.zeros((8, 8, 3), np.uint8, order="F"), ValueError),
        (lambda: np.zeros((3, 8, 8), np.uint8).transpose(1, 2, 0), ValueError),
    ],
)
def test_pdq_rejects_bad_buffers(impl, make, error):
    bad = make()
    with pytest.raises(error, match="rgb"):
        impl.pdq_hash(bad)
    with pytest.raises(error, match="rgb"):
        impl.pdq_dihedral(bad)


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: np.zeros((32, 31), np.uint8), ValueError),
        (lambda: np.zeros((33, 32), np.uint8), ValueError),
        (lambda: np.zeros((32, 32, 1), np.uint8), ValueError),
        (lambda: np.zeros((32, 32), np.float64), TypeError),
        (lambda: np.zeros((32, 64), np.uint8)[:, ::2], ValueError),
        (lambda: 1234, TypeError),
    ],
)
def test_phash_rejects_bad_buffers(impl, make, error):
    with pytest.raises(error, match="gray32"):
        impl.phash_bits(make())


def test_accepts_any_buffer_of_the_right_layout(impl):
    rgb = random_rgb((20, 30), seed=3)
    expected = ref_pdq(rgb)
    assert impl.pdq_hash(memoryview(bytearray(rgb.tobytes())).cast("B", (20, 30, 3))) == expected
    assert impl.pdq_hash(memoryview(rgb.tobytes()).cast("B", (20, 30, 3))) == expected  # read-only
    readonly = rgb.copy()
    readonly.flags.writeable = False
    assert impl.pdq_hash(readonly) == expected
    gray = np.random.default_rng(3).integers(0, 256, (32, 32), dtype=np.uint8)
    assert impl.phash_bits(memoryview(gray.tobytes()).cast("B", (32, 32))) == impl.phash_bits(gray)


def test_input_is_not_modified(impl):
    rgb = random_rgb((70, 90), seed=5)
    before = rgb.copy()
    impl.pdq_hash(rgb)
    impl.pdq_dihedral(rgb)
    assert np.array_equal(rgb, before)


# ---------------------------------------------------------------- threads


def test_threaded_equals_serial(impl):
    images = [random_rgb((300 + 17 * i, 200 + 29 * i), seed=i) for i in range(12)]
    grays = [np.random.default_rng(i).integers(0, 256, (32, 32), dtype=np.uint8) for i in range(12)]
    serial = [(impl.pdq_hash(a), impl.pdq_dihedral(a), impl.phash_bits(g)) for a, g in zip(images, grays)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(
            pool.map(lambda ag: (impl.pdq_hash(ag[0]), impl.pdq_dihedral(ag[0]), impl.phash_bits(ag[1])),
                     zip(images, grays))
        )
    assert threaded == serial


# ---------------------------------------------------------------- photos-dev


@pytest.fixture(scope="module")
def photo_refs(photo_paths):
    """Decoded pixels (PIL, no EXIF transpose, RGB) and the references' hashes, once per photo."""
    refs = []
    for path in photo_paths:
        with Image.open(path) as im:
            image = im.convert("RGB")
        rgb = np.asarray(image)
        gray = np.asarray(image.convert("L").resize((32, 32), Image.LANCZOS))
        refs.append((path.name, rgb, gray, ref_pdq(rgb), ref_dihedral(rgb), ref_phash(image)))
    return refs


def _agreement(pairs: list[tuple[bytes, bytes]]) -> tuple[float, int]:
    distances = [hamming(a, b) for a, b in pairs]
    return sum(d == 0 for d in distances) / len(distances), max(distances)


@pytest.mark.photos
def test_photos_dev_pdq_agrees_with_reference(impl, photo_refs):
    pdq_pairs, dihedral_pairs, quality_equal = [], [], 0
    for _name, rgb, _gray, (ref_hash, ref_q), (ref_hashes, ref_dq), _ in photo_refs:
        digest, quality = impl.pdq_hash(rgb)
        pdq_pairs.append((digest, ref_hash))
        quality_equal += quality == ref_q
        hashes, dquality = impl.pdq_dihedral(rgb)
        dihedral_pairs.extend(zip(hashes, ref_hashes))
        quality_equal += dquality == ref_dq
    for pairs in (pdq_pairs, dihedral_pairs):
        identical, worst = _agreement(pairs)
        assert identical >= 0.99 and worst <= 2, (identical, worst)
    assert quality_equal >= 0.99 * 2 * len(photo_refs)


@pytest.mark.photos
def test_photos_dev_phash_agrees_with_imagehash(impl, photo_refs):
    pairs = [(impl.phash_bits(gray), ref) for _n, _rgb, gray, _p, _d, ref in photo_refs]
    identical, worst = _agreement(pairs)
    assert identical >= 0.99 and worst <= 2, (identical, worst)


def test_both_implementations_export_the_same_kernels():
    from photomatch import _native, _native_hash, _native_mih

    assert set(_native_hash.__all__) == {"pdq_hash", "pdq_dihedral", "pdq_hash_gray", "pdq_dihedral_gray", "phash_bits"}
    # The Protocol, the twins and the C module name the same kernels and constants, no more.
    assert set(_accel.KERNEL_NAMES) == set(_native_hash.__all__) | set(_native_mih.__all__)
    assert {n for n in vars(_native) if not n.startswith("_")} >= set(_accel.KERNEL_NAMES)
    for name in _IMPLS:
        kernels = _accel.get(name)
        assert all(callable(getattr(kernels, k)) for k in _native_hash.__all__), name
        public = {n for n in dir(kernels) if not n.startswith("_")}
        if name == "c":
            assert public == set(_accel.KERNEL_NAMES)
        # The MIH limits are the C core's; the twin keeps the same values.
        assert (kernels.MIH_MAX_TABLES, kernels.MIH_MAX_WIDTH) == (64, 24), name
