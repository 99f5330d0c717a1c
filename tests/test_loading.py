"""photomatch.loading: sources, modes, EXIF, transparency, draft, limits and the bad-input corpus.

Oracles: pixel values written by the test (or by tests/badinputs.py) and computed here
independently, Pillow's own conversions (``Image.convert``, ``ImageOps.exif_transpose``,
``Image.draft``) for what we delegate to Pillow, and serial results for the threaded run.
"""

from __future__ import annotations

import io
import math
import os
import random
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, ImageOps, features

import badinputs
from photomatch import loading
from photomatch.errors import DecodeError, ImageTooLargeError, PhotomatchError
from photomatch.loading import iter_frames, load_rgb, open_image, source_name


bad = badinputs  # the bad-input corpus (tests/badinputs.py; tests/ is on sys.path)

ERROR_CASES = [
    "empty.jpg",
    "truncated.jpg",
    "truncated.png",
    "bad_crc.png",
    "damaged_data.png",
    "bomb.png",
    "bomb.gif",
    "bomb_frame.gif",
    "zero_width.png",
    "text.jpg",
    "folder.jpg",
    "loop_a.jpg",
    "dangling.jpg",
    "fifo.jpg",
    "dev_zero.jpg",
    "scan_bomb.jpg",
]
VALID_CASES = [
    "png_named.jpg",
    "one_by_one.png",
    "wide_100000x1.png",
    "tall_1x100000.png",
    "gray16.tif",
    "gray16.png",
    "many_scans.jpg",
    "float_unit.tif",
    "float_wide.tif",
    "cmyk.jpg",
    "palette_transparent.png",
    "many_frames.gif",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, "bad.BadInput"]:
    d = tmp_path_factory.mktemp("badinputs")
    cases = bad.make_bad_inputs(d)
    yield {c.path.name: c for c in cases}
    for c in cases:  # let pytest delete the folder
        if c.path.name == bad.UNREADABLE_NAME:
            c.path.chmod(0o600)


def _png(im: Image.Image, **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", **params)
    return buf.getvalue()


def _smooth_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Photo-like content: low-frequency gradients plus mild noise (JPEG-friendly)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack(
        [
            128 + 100 * np.sin(x / 37.0 + y / 53.0),
            128 + 100 * np.cos(x / 71.0 - y / 29.0),
            128 + 80 * np.sin((x + y) / 45.0),
        ],
        axis=-1,
    )
    return (base + rng.normal(0, 6, base.shape)).clip(0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# The bad-input corpus


def test_corpus_lists_every_case(corpus):
    expected = set(ERROR_CASES) | set(VALID_CASES)
    if bad.unreadable_skip_reason(next(iter(corpus.values())).path.parent) is None:
        expected.add(bad.UNREADABLE_NAME)
    assert set(corpus) == expected
    assert {n for n, c in corpus.items() if c.valid} == set(VALID_CASES)


@pytest.mark.parametrize("name", ERROR_CASES)
def test_corpus_errors_name_file_and_cause(corpus, name):
    case = corpus[name]
    with pytest.raises(DecodeError) as info:
        open_image(case.path)
    message = str(info.value)
    assert name in message
    assert case.cause in message.lower()
    assert isinstance(info.value, ValueError) and isinstance(info.value, PhotomatchError)
    assert info.value.source == str(case.path)
    # The same through every entry point.
    with pytest.raises(DecodeError, match="(?i)" + case.cause):
        load_rgb(case.path)
    with pytest.raises(DecodeError, match="(?i)" + case.cause):
        list(iter_frames(case.path))


@pytest.mark.parametrize("name", ["bomb.png", "bomb.gif", "bomb_frame.gif"])
def test_bomb_refused_from_header_before_decoding(corpus, name, monkeypatch):
    calls = []
    real_load = ImageFile.ImageFile.load

    def spy(self):
        calls.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    # bomb_frame.gif is refused by Pillow's own check inside the GIF plugin (its screen is 16x16).
    with pytest.raises(ImageTooLargeError, match="decompression-bomb" if name == "bomb_frame.gif" else "max_pixels"):
        open_image(corpus[name].path)
    assert calls == []  # refused from the header: the decoder never ran
    assert corpus[name].path.stat().st_size < 200  # a tiny file declaring billions of pixels


def test_unreadable_file(corpus, tmp_path):
    reason = bad.unreadable_skip_reason(tmp_path)
    if reason is not None:
        pytest.skip(reason)
    case = corpus[bad.UNREADABLE_NAME]
    with pytest.raises(DecodeError, match="permission") as info:
        open_image(case.path)
    assert bad.UNREADABLE_NAME in str(info.value)


def test_permission_error_is_mapped(sample, monkeypatch):
    # Runs as root too (where chmod 000 does not block reads): make open() itself refuse.
    _, path = sample

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(loading, "open_regular", refuse)
    with pytest.raises(DecodeError, match="sample.png: permission denied"):
        open_image(path)


def test_fifo_is_refused_without_blocking(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(DecodeError, match="pipe.jpg: not a regular file"):
        open_image(fifo)


def test_valid_png_with_jpg_extension(corpus):
    assert np.array_equal(load_rgb(corpus["png_named.jpg"].path), bad.noise_rgb(120, 160))


def test_one_by_one(corpus):
    assert load_rgb(corpus["one_by_one.png"].path).tolist() == [[[10, 20, 30]]]


@pytest.mark.parametrize(("name", "shape", "seed"), [("wide_100000x1.png", (1, bad.WIDE), 1), ("tall_1x100000.png", (bad.WIDE, 1), 2)])
def test_very_long_images(corpus, name, shape, seed):
    rgb = load_rgb(corpus[name].path)
    assert rgb.shape == (*shape, 3)
    assert np.array_equal(rgb, bad.noise_rgb(*shape, seed=seed))


def test_sixteen_bit_tiff_keeps_high_byte(corpus):
    rgb = load_rgb(corpus["gray16.tif"].path)
    expected = (bad.GRAY16_VALUES // 256).astype(np.uint8)  # >> 8, e.g. 511 -> 1, 65535 -> 255
    assert np.array_equal(rgb, np.repeat(expected[..., None], 3, axis=2))


def test_float_tiffs(corpus):
    unit = load_rgb(corpus["float_unit.tif"].path)[..., 0]
    assert unit.tolist() == [[round(v * 255 + 1e-9) for v in row] for row in bad.FLOAT_UNIT_VALUES.astype(float).tolist()]
    wide = load_rgb(corpus["float_wide.tif"].path)[..., 0]
    assert wide.tolist() == [[0, 0, 100, 255], [255, 255, 2, 2]]


def test_cmyk_jpeg_matches_pillow_conversion(corpus):
    path = corpus["cmyk.jpg"].path
    with Image.open(path) as im:
        assert im.mode == "CMYK"
        oracle = np.asarray(im.convert("RGB"))
    assert np.array_equal(load_rgb(path), oracle)
    # and it is the picture we wrote (CMYK JPEG at q95: small error only)
    assert np.abs(load_rgb(path).astype(int) - bad.noise_rgb(40, 56, seed=3)).mean() < 12


def test_palette_transparency_over_white(corpus):
    rgb = load_rgb(corpus["palette_transparent.png"].path)
    colours = [(255, 255, 255), *bad.PALETTE[1:]]  # index 0 is transparent -> white
    expected = np.array([[colours[i] for i in row] for row in bad.PALETTE_INDICES.tolist()], dtype=np.uint8)
    assert np.array_equal(rgb, expected)


def test_animated_gif_many_frames(corpus):
    path = corpus["many_frames.gif"].path
    first = load_rgb(path)
    assert first.shape == (7, 9, 3)
    assert tuple(first[3, 4]) == bad.gif_frame_colour(0)
    frames = list(iter_frames(path))
    assert len(frames) == bad.N_GIF_FRAMES
    for i, frame in enumerate(frames):
        assert frame.mode == "RGB" and frame.size == (9, 7)
        assert frame.getpixel((4, 3)) == bad.gif_frame_colour(i)
        assert frame.getpixel((0, 0)) == (0, 0, 0)
    assert len(list(iter_frames(path, max_frames=5))) == 5


# --------------------------------------------------------------------------------------------
# Sources


@pytest.fixture
def sample(tmp_path):
    arr = _smooth_rgb(37, 53)
    path = tmp_path / "sample.png"
    Image.fromarray(arr).save(path)
    return arr, path


def test_every_source_type_gives_the_same_pixels(sample):
    arr, path = sample
    data = path.read_bytes()
    with open(path, "rb") as f:
        from_file = load_rgb(f)
        assert not f.closed  # a caller's file object is left open
    with Image.open(path) as im:
        from_pil = load_rgb(im)
    results = {
        "str": load_rgb(str(path)),
        "Path": load_rgb(path),
        "bytes": load_rgb(data),
        "bytearray": load_rgb(bytearray(data)),
        "memoryview": load_rgb(memoryview(data)),
        "BytesIO": load_rgb(io.BytesIO(data)),
        "file": from_file,
        "PIL": from_pil,
        "array": load_rgb(arr),
        "array-noncontiguous": load_rgb(np.asfortranarray(arr)),
        "array-rgba": load_rgb(np.dstack([arr, np.full(arr.shape[:2], 255, np.uint8)])),
    }
    for kind, rgb in results.items():
        assert rgb.dtype == np.uint8 and rgb.shape == (37, 53, 3) and rgb.flags.c_contiguous, kind
        assert np.array_equal(rgb, arr), kind
    grey = load_rgb(arr[..., 1].copy())
    assert np.array_equal(grey, np.repeat(arr[..., 1:2], 3, axis=2))


def test_non_seekable_file_object(sample):
    arr, path = sample

    class Pipe(io.RawIOBase):
        def __init__(self, data):
            self._buf = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            return self._buf.readinto(b)

    assert np.array_equal(load_rgb(Pipe(path.read_bytes())), arr)


def test_open_image_returns_new_rgb_images(sample):
    arr, path = sample
    source = Image.fromarray(arr)
    out = open_image(source)
    assert out is not source and out.mode == "RGB"
    out.putpixel((0, 0), (1, 2, 3))
    assert source.getpixel((0, 0)) == tuple(arr[0, 0])  # the caller's image is untouched
    rgb = load_rgb(path)
    assert rgb.flags.writeable


def test_source_names(tmp_path):
    assert source_name(tmp_path / "a.jpg") == str(tmp_path / "a.jpg")
    assert source_name("x.png") == "x.png"
    assert source_name(b"") == "<bytes>"
    assert source_name(memoryview(b"")) == "<bytes>"
    assert source_name(io.BytesIO()) == "<file object>"
    assert source_name(Image.new("RGB", (1, 1))) == "<PIL image>"
    assert source_name(np.zeros((1, 1), np.uint8)) == "<array>"
    p = tmp_path / "named.bin"
    p.write_bytes(b"")
    with open(p, "rb") as f:
        assert source_name(f) == str(p)


def test_source_errors():
    with pytest.raises(DecodeError, match="<bytes>: empty"):
        open_image(b"")
    with pytest.raises(DecodeError, match="<file object>: empty"):
        open_image(io.BytesIO())
    with pytest.raises(DecodeError, match="<bytes>: not an image"):
        open_image(b"hello, world" * 10)
    with pytest.raises(DecodeError, match="<array>: array dtype float64"):
        open_image(np.zeros((4, 4, 3)))
    with pytest.raises(DecodeError, match=r"<array>: array shape \(4, 4, 2\)"):
        open_image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(DecodeError, match="<array>: image has zero width"):
        load_rgb(np.zeros((0, 4, 3), np.uint8))
    with pytest.raises(DecodeError, match="<PIL image>: image has zero width"):
        open_image(Image.new("RGB", (0, 3)))
    with pytest.raises(TypeError, match="unsupported image source type int"):
        open_image(42)
    with pytest.raises(ValueError, match="max_pixels"):
        open_image(b"x", max_pixels=0)
    with pytest.raises(ValueError, match="draft_min_side"):
        open_image(b"x", draft_min_side=-1)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DecodeError, match="nope.jpg: file not found"):
        open_image(tmp_path / "nope.jpg")
    with pytest.raises(DecodeError, match="directory"):
        open_image(tmp_path)


# --------------------------------------------------------------------------------------------
# Modes


def _mode_image(mode: str) -> Image.Image:
    arr = _smooth_rgb(9, 11, seed=5)
    return Image.fromarray(arr).convert(mode)


@pytest.mark.parametrize("mode", ["1", "L", "P", "CMYK", "YCbCr", "LAB", "HSV", "RGBX"])
def test_modes_converted_like_pillow(mode):
    im = _mode_image(mode)
    assert im.mode == mode
    oracle = np.asarray(im.convert("RGB"))
    assert np.array_equal(load_rgb(im), oracle)
    if mode in ("1", "L", "P", "CMYK"):  # saved and decoded again through a file
        fmt = "JPEG" if mode == "CMYK" else "PNG"
        buf = io.BytesIO()
        im.save(buf, fmt, **({"quality": 100} if fmt == "JPEG" else {}))
        with Image.open(io.BytesIO(buf.getvalue())) as reread:
            oracle = np.asarray(reread.convert("RGB"))
        assert np.array_equal(load_rgb(buf.getvalue()), oracle)


def test_sixteen_bit_modes_shift_not_clip():
    values = np.array([[0, 255, 256, 4095], [30000, 65280, 65535, 1]], dtype=np.uint16)
    expected = (values >> 8).astype(np.uint8)
    for mode, dtype in (("I;16", "<u2"), ("I;16B", ">u2")):
        im = Image.frombytes(mode, (4, 2), values.astype(dtype).tobytes())
        assert im.mode == mode
        assert np.array_equal(load_rgb(im)[..., 0], expected), mode
    # 16-bit grey PNG, through the file decoder
    assert np.array_equal(load_rgb(_png(Image.fromarray(values)))[..., 0], expected)
    # mode I: the same >> 8, then clipped to [0, 255]
    ivalues = np.array([[-70000, -1, 0, 511], [65535, 65536, 1 << 20, 200]], dtype=np.int32)
    assert load_rgb(Image.fromarray(ivalues, "I"))[..., 0].tolist() == [[0, 0, 0, 1], [255, 255, 255, 0]]


def test_sixteen_bit_png_transparent_key_is_white():
    values = np.array([[1000, 5000], [5000, 60000]], dtype=np.uint16)
    data = _png(Image.fromarray(values), transparency=5000)
    assert load_rgb(data)[..., 0].tolist() == [[3, 255], [255, 234]]


def test_float_mode_rule():
    unit = np.array([[0.0, 0.5, 1.0, np.nan]], dtype=np.float32)
    assert load_rgb(Image.fromarray(unit, "F"))[..., 0].tolist() == [[0, 128, 255, 0]]
    wide = np.array([[-1.0, 1.5, 254.5, np.inf]], dtype=np.float32)
    assert load_rgb(Image.fromarray(wide, "F"))[..., 0].tolist() == [[0, 2, 254, 255]]


# --------------------------------------------------------------------------------------------
# Transparency


def _expected_over_white(rgba: np.ndarray) -> np.ndarray:
    c = rgba[..., :3].astype(np.float64)
    a = rgba[..., 3:4].astype(np.float64) / 255.0
    return np.rint(c * a + 255.0 * (1.0 - a)).astype(np.int64)


def test_rgba_over_white_known_values():
    rgba = np.array(
        [[[255, 0, 0, 0], [0, 0, 255, 255], [255, 0, 0, 128]], [[10, 200, 30, 64], [0, 0, 0, 1], [90, 90, 90, 254]]],
        dtype=np.uint8,
    )
    for source in (Image.fromarray(rgba, "RGBA"), _png(Image.fromarray(rgba, "RGBA")), rgba):
        rgb = load_rgb(source)
        assert tuple(rgb[0, 0]) == (255, 255, 255)  # fully transparent -> white
        assert tuple(rgb[0, 1]) == (0, 0, 255)  # opaque -> unchanged
        assert tuple(rgb[0, 2]) == (255, 127, 127)
        assert np.abs(rgb.astype(np.int64) - _expected_over_white(rgba)).max() <= 1


@pytest.mark.parametrize("mode", ["LA", "PA", "RGBa", "La"])
def test_other_alpha_modes_over_white(mode):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3] = [[[40, 40, 40], [200, 200, 200], [0, 0, 0]], [[90, 90, 90], [255, 255, 255], [7, 7, 7]]]
    rgba[..., 3] = [[0, 255, 128], [200, 30, 255]]
    if mode in ("LA", "PA"):
        im = Image.fromarray(rgba, "RGBA").convert(mode)
    else:  # premultiplied modes
        im = Image.fromarray(rgba, "RGBA").convert("RGBa")
        if mode == "La":
            im = Image.fromarray(rgba, "RGBA").convert("LA").convert("La")
    assert im.mode == mode
    assert np.abs(load_rgb(im).astype(np.int64) - _expected_over_white(rgba)).max() <= 2


def test_rgb_png_with_transparent_colour():
    arr = np.array([[[1, 2, 3], [4, 5, 6]]], dtype=np.uint8)
    assert load_rgb(_png(Image.fromarray(arr), transparency=(1, 2, 3))).tolist() == [[[255, 255, 255], [4, 5, 6]]]


# --------------------------------------------------------------------------------------------
# EXIF orientation


def _jpeg_with_orientation(arr: np.ndarray, orientation: int) -> bytes:
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


def _left_red_right_blue(height: int = 64, width: int = 96) -> np.ndarray:
    arr = np.zeros((height, width, 3), np.uint8)
    arr[:, : width // 2] = (220, 20, 20)
    arr[:, width // 2 :] = (20, 20, 220)
    return arr


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(orientation):
    data = _jpeg_with_orientation(_left_red_right_blue(), orientation)
    with Image.open(io.BytesIO(data)) as im:
        oracle = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        raw = np.asarray(im.convert("RGB"))
    assert np.array_equal(load_rgb(data), oracle)
    assert np.array_equal(load_rgb(data, exif_transpose=False), raw)


def test_exif_orientation_6_rotates_clockwise():
    data = _jpeg_with_orientation(_left_red_right_blue(), 6)
    rgb = load_rgb(data)
    assert rgb.shape == (96, 64, 3)  # portrait once rotated
    # 90 degrees clockwise: the left (red) half of the stored picture becomes the top half.
    assert rgb[:40, :, 0].mean() > 180 and rgb[:40, :, 2].mean() < 60
    assert rgb[56:, :, 2].mean() > 180 and rgb[56:, :, 0].mean() < 60
    assert load_rgb(data, exif_transpose=False).shape == (64, 96, 3)


def test_corrupt_exif():
    im = Image.fromarray(_left_red_right_blue(8, 8))
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")  # IFD count runs off the end
    # Pillow warns while opening; under filterwarnings=error (this suite) that is an error,
    # which must come out as a DecodeError naming the cause.
    with pytest.raises(DecodeError, match="<bytes>: .*Corrupt EXIF data"):
        load_rgb(buf.getvalue())
    with warnings.catch_warnings():  # default-ish filters: the photo loads, orientation ignored
        warnings.simplefilter("ignore")
        assert load_rgb(buf.getvalue()).shape == (8, 8, 3)


# --------------------------------------------------------------------------------------------
# Draft (fast JPEG decode)


def _expected_draft_size(width: int, height: int, min_side: int) -> tuple[int, int]:
    for s in (8, 4, 2, 1):
        if math.ceil(width / s) >= min_side and math.ceil(height / s) >= min_side and width // s >= min_side and height // s >= min_side:
            return math.ceil(width / s), math.ceil(height / s)
    return width, height


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_smooth_rgb(701, 1003, seed=9)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.mark.parametrize("min_side", [1, 64, 87, 128, 175, 176, 351, 400, 701, 2000])
def test_draft_scale_and_pixels(big_jpeg, min_side):
    im = open_image(big_jpeg, draft_min_side=min_side)
    assert im.size == _expected_draft_size(1003, 701, min_side)
    assert min(im.size) >= min(min_side, 701)
    with Image.open(io.BytesIO(big_jpeg)) as oracle:  # Pillow's own draft decode
        oracle.draft("RGB", (min_side, min_side))
        assert np.array_equal(np.asarray(im), np.asarray(oracle.convert("RGB")))


def test_draft_only_when_asked(big_jpeg):
    assert open_image(big_jpeg).size == (1003, 701)
    assert open_image(big_jpeg, draft_min_side=None).size == (1003, 701)
    assert open_image(big_jpeg, draft_min_side=100).size == (251, 176)  # 1/8 would give 88 < 100
    png = _png(Image.fromarray(_smooth_rgb(300, 400)))
    assert open_image(png, draft_min_side=64).size == (400, 300)  # not a JPEG: full decode


def test_draft_then_orientation():
    data = _jpeg_with_orientation(_left_red_right_blue(480, 800), 6)
    im = open_image(data, draft_min_side=100)
    assert im.size == (120, 200)  # decoded at 1/4 (200x120), then rotated
    assert np.asarray(im)[:80, :, 0].mean() > 180


# --------------------------------------------------------------------------------------------
# Pixel limit


def test_max_pixels_per_call():
    data = _png(Image.new("RGB", (100, 50), (1, 2, 3)))
    with pytest.raises(ImageTooLargeError, match=r"<bytes>: image too large: declares 100x50 = 5000 pixels, above the limit of 4999"):
        open_image(data, max_pixels=4999)
    assert open_image(data, max_pixels=5000).size == (100, 50)
    assert open_image(data, max_pixels=None).size == (100, 50)
    with pytest.raises(ImageTooLargeError):
        load_rgb(np.zeros((50, 100, 3), np.uint8), max_pixels=10)
    with pytest.raises(ImageTooLargeError):
        open_image(Image.new("L", (100, 50)), max_pixels=10)
    assert loading.DEFAULT_MAX_PIXELS >= 200_000_000  # a 200 MP phone photo loads by default


def test_our_limit_not_pillows(monkeypatch):
    # Image.open would warn above MAX_IMAGE_PIXELS and raise above twice that; our limit rules.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    data = _png(Image.new("RGB", (100, 50), (1, 2, 3)))
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(data))
    assert load_rgb(data)[0, 0].tolist() == [1, 2, 3]
    # Inside some decoders (here TIFF's load) Pillow checks its own limit again: it must come
    # out as ImageTooLargeError, never as a raw Pillow error or warning.
    buf = io.BytesIO()
    Image.new("RGB", (100, 50)).save(buf, "TIFF")
    with pytest.raises(ImageTooLargeError, match="decompression-bomb"):
        open_image(buf.getvalue())
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4000)  # 5000 px: Pillow's warning (an error here)
    with pytest.raises(ImageTooLargeError, match="decompression-bomb"):
        open_image(buf.getvalue())


# --------------------------------------------------------------------------------------------
# Formats


def _encode(arr: np.ndarray, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt, **params)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "params", "tolerance"),
    [
        ("BMP", {}, 0),
        ("TIFF", {"compression": "tiff_lzw"}, 0),
        ("PPM", {}, 0),
        ("WEBP", {"lossless": True}, 0),
        ("JPEG2000", {"irreversible": False}, 0),
        ("JPEG", {"quality": 95}, 6),
        ("WEBP", {"quality": 90}, 8),
    ],
)
def test_pillow_formats(fmt, params, tolerance):
    arr = _smooth_rgb(48, 64, seed=2)
    rgb = load_rgb(_encode(arr, fmt, **params))
    assert rgb.shape == arr.shape
    assert np.abs(rgb.astype(int) - arr).mean() <= tolerance


def test_heic_via_pillow_heif():
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("encoders"):
        pytest.skip("pillow-heif has no HEVC encoder here: cannot write a HEIC to read back")
    loading._ensure_plugins()
    arr = _smooth_rgb(64, 96, seed=3)
    data = _encode(arr, "HEIF", quality=95)
    assert data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1")
    rgb = load_rgb(data)
    assert rgb.shape == arr.shape
    assert np.abs(rgb.astype(int) - arr).mean() < 6


def test_avif_via_pillow():
    if not features.check_module("avif"):
        pytest.skip("this Pillow was built without AVIF support")
    arr = _smooth_rgb(64, 96, seed=4)
    data = _encode(arr, "AVIF", quality=95)
    assert data[4:12] == b"ftypavif"
    rgb = load_rgb(data)
    assert rgb.shape == arr.shape
    assert np.abs(rgb.astype(int) - arr).mean() < 6


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_every_frame_of_animated_formats(fmt):
    colours = [(250, 0, 0), (0, 250, 0), (0, 0, 250), (250, 250, 0)]
    frames = [Image.new("RGB", (16, 12), c) for c in colours]
    params = {"lossless": True} if fmt == "WEBP" else {}
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], **params)
    out = list(iter_frames(buf.getvalue()))
    assert [f.getpixel((5, 5)) for f in out] == colours
    assert load_rgb(buf.getvalue())[5, 5].tolist() == list(colours[0])


def test_animated_png_disposal_and_transparency_composited_by_pillow():
    # Frame 1 covers only the left half with transparent pixels: the previous frame shows
    # through (Pillow's APNG blending), and what stays transparent becomes white.
    f0 = Image.new("RGBA", (8, 4), (0, 0, 255, 255))
    f1 = Image.new("RGBA", (8, 4), (0, 0, 0, 0))
    f1.paste((255, 0, 0, 255), (0, 0, 4, 4))
    buf = io.BytesIO()
    f0.save(buf, "PNG", save_all=True, append_images=[f1], blend=1, disposal=0)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        im.seek(1)
        oracle = np.asarray(im.convert("RGBA"))
    out = list(iter_frames(buf.getvalue()))
    assert np.array_equal(np.asarray(out[1]), _expected_over_white(oracle).astype(np.uint8))
    assert out[1].getpixel((0, 0)) == (255, 0, 0) and out[1].getpixel((7, 0)) == (0, 0, 255)


def test_iter_frames_of_still_sources(sample):
    arr, path = sample
    for source in (path, arr, Image.fromarray(arr)):
        frames = list(iter_frames(source))
        assert len(frames) == 1 and np.array_equal(np.asarray(frames[0]), arr)
    assert list(iter_frames(path, max_frames=0)) == []
    with pytest.raises(ValueError, match="max_frames"):
        iter_frames(path, max_frames=-1)


# --------------------------------------------------------------------------------------------
# Robustness and threads


def test_mutated_files_raise_decode_error_or_load():
    """Random byte damage in JPEG, PNG, GIF, TIFF and WebP: a clean result or a DecodeError, never anything else."""
    arr = _smooth_rgb(24, 32, seed=8)
    seeds = {
        "JPEG": _encode(arr, "JPEG"),
        "PNG": _encode(arr, "PNG"),
        "GIF": _encode(arr, "GIF"),
        "TIFF": _encode(arr, "TIFF"),
        "WEBP": _encode(arr, "WEBP"),
    }
    rng = random.Random(1234)
    outcomes = {"ok": 0, "error": 0}
    for data in seeds.values():
        for _ in range(60):
            b = bytearray(data)
            for _ in range(rng.randint(1, 6)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            if rng.random() < 0.3:
                b = b[: rng.randrange(1, len(b))]
            try:
                rgb = load_rgb(bytes(b), max_pixels=1_000_000)
            except DecodeError as e:
                assert str(e).startswith("<bytes>: ")
                outcomes["error"] += 1
            else:
                assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
                outcomes["ok"] += 1
    assert outcomes["ok"] > 0 and outcomes["error"] > 0


def test_threaded_equals_serial(tmp_path, corpus):
    paths = []
    for i in range(12):
        p = tmp_path / f"t{i}.jpg"
        Image.fromarray(_smooth_rgb(60 + i, 80 + 3 * i, seed=i)).save(p, quality=90)
        paths.append(p)
    paths += [corpus[n].path for n in ("truncated.jpg", "bomb.png", "many_frames.gif", "cmyk.jpg")]

    def run(p):
        try:
            return load_rgb(p, draft_min_side=32)
        except DecodeError as e:
            return str(e)

    serial = [run(p) for p in paths]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(run, paths * 3))
    for i, result in enumerate(threaded):
        want = serial[i % len(paths)]
        if isinstance(want, str):
            assert result == want
        else:
            assert np.array_equal(result, want)


def test_path_source_closes_its_file(sample, tmp_path):
    _, path = sample
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        pytest.skip("needs /proc/self/fd to count open files")
    before = len(os.listdir(fd_dir))
    for _ in range(20):
        load_rgb(path)
        with pytest.raises(DecodeError):
            load_rgb(tmp_path / "missing.png")
        list(iter_frames(path))
    assert len(os.listdir(fd_dir)) == before


# --------------------------------------------------------------------------------------------
# Real photos


def test_photos_dev_full_decode_equals_pillow(photo_paths):
    for path in photo_paths[::37]:  # a spread of about ten photos
        with Image.open(path) as im:
            oracle = np.asarray(im.convert("RGB"))
            transposed = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        assert np.array_equal(load_rgb(path, exif_transpose=False), oracle), path.name
        assert np.array_equal(load_rgb(path), transposed), path.name


# --- open_luma: the fast path's decode ------------------------------------------------------


def _jpeg_file(path, rgb, **save):
    Image.fromarray(rgb).save(path, format="JPEG", quality=95, **save)
    return path


def test_open_luma_is_the_luma_of_the_rgb_decode(tmp_path):
    rng = np.random.default_rng(5)
    rgb = np.asarray(Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).resize((400, 300)))
    p = _jpeg_file(tmp_path / "c.jpg", rgb)
    luma = loading.open_luma(p)
    assert luma.mode == "L" and luma.size == (400, 300)
    with Image.open(p) as im:
        oracle = np.asarray(im.convert("RGB").convert("L"), dtype=np.int16)
    diff = np.abs(np.asarray(luma, dtype=np.int16) - oracle)
    assert np.percentile(diff, 99) <= 2 and diff.max() <= 4


def test_open_luma_draft_scale_and_exif(tmp_path):
    rng = np.random.default_rng(6)
    rgb = np.asarray(Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).resize((1200, 800)))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    p = _jpeg_file(tmp_path / "rot.jpg", rgb, exif=exif.tobytes())
    im = loading.open_luma(p, draft_min_side=300)
    assert im.mode == "L" and im.size == (400, 600)  # 1/2 scale (1/4 would make 200 < 300), then upright
    assert im.info[loading.DECODE_SCALE] == 2.0
    assert loading.open_luma(p, draft_min_side=300, exif_transpose=False).size == (600, 400)
    full = loading.open_image(p)
    small = np.asarray(im.resize(full.size), dtype=np.int16)
    oracle = np.asarray(full.convert("L"), dtype=np.int16)
    assert np.mean(np.abs(small - oracle)) < 12  # the same picture, same orientation


def test_open_luma_falls_back_to_rgb_where_there_is_no_luma_plane(tmp_path):
    cmyk = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (40, 30), (0, 255, 255, 0)).save(cmyk, format="JPEG")
    im = loading.open_luma(cmyk)
    assert im.mode == "RGB" and im.size == (40, 30)
    assert np.array_equal(np.asarray(im), np.asarray(loading.open_image(cmyk)))
    png = tmp_path / "alpha.png"
    Image.new("RGBA", (8, 6), (255, 0, 0, 0)).save(png)
    im = loading.open_luma(png)
    assert im.mode == "RGB" and im.getpixel((0, 0)) == (255, 255, 255)  # over white, as open_image
    grey = tmp_path / "grey.jpg"
    Image.new("L", (16, 12), 77).save(grey, format="JPEG")
    im = loading.open_luma(grey)
    assert im.mode == "L" and abs(im.getpixel((3, 3)) - 77) <= 1
    arr = np.zeros((5, 7, 3), np.uint8)
    assert loading.open_luma(arr).mode == "RGB"
