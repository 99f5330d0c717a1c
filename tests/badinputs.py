"""Generate the corpus of bad (and awkward but valid) image inputs into a folder.

Reusable by any test (loading, CLI, batch hashing): ``make_bad_inputs(dirpath)`` writes every
case and returns ``BadInput(path, cause)`` tuples. ``cause == "valid"`` marks a file that must
load; otherwise ``cause`` is a lower-case keyword that the DecodeError message must contain
(the message must also contain the file's name). Everything is generated with Pillow, numpy
and a few hand-built byte strings, deterministically; nothing is downloaded.

The pixel values of the valid synthetic files are module constants so that tests can check
the decoded pixels against values computed independently (see tests/test_loading.py).

Tests import it by name (``import badinputs``): pyproject's ``pythonpath = ["tests"]`` puts
this folder on sys.path, while the package itself comes from the install.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

# Known pixel values of the valid files (used as oracles).
GRAY16_VALUES = np.array([[0, 255, 256, 511], [32768, 40000, 65280, 65535]], dtype=np.uint16)
FLOAT_UNIT_VALUES = np.array([[0.0, 0.25, 0.5, 1.0], [0.1, 0.9, 0.002, 0.998]], dtype=np.float32)
FLOAT_WIDE_VALUES = np.array([[-5.0, 0.0, 100.4, 300.0], [254.6, 255.0, 1.5, 2.0]], dtype=np.float32)
PALETTE = [(255, 0, 0), (0, 128, 0), (0, 0, 255)]  # index 0 is declared transparent
PALETTE_INDICES = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
N_GIF_FRAMES = 120
BOMB_SIDE = 100_000  # the PNG bomb declares BOMB_SIDE x BOMB_SIDE in a file of a few dozen bytes
WIDE = 100_000
SCAN_BOMB_SCANS = 1000

UNREADABLE_NAME = "unreadable.jpg"


class BadInput(NamedTuple):
    path: Path
    cause: str  # "valid", or a keyword the error message contains

    @property
    def valid(self) -> bool:
        return self.cause == "valid"


def gif_frame_colour(i: int) -> tuple[int, int, int]:
    """Colour of frame ``i`` of many_frames.gif (exact in a GIF palette: every frame has 2 colours)."""
    return ((i * 37) % 256, (i * 91 + 40) % 256, (255 - i * 2) % 256)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height (RGB, 8 bits) but holds a one-byte IDAT: a tiny bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0")) + _chunk(b"IEND", b"")


def gif_header_only(width: int, height: int) -> bytes:
    """A GIF whose logical screen and single frame declare width x height, with one pixel of data."""
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    frame = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return head + frame + b";"


def gif_frame_outside_screen(screen: int, frame: int) -> bytes:
    """A GIF with a small logical screen whose first frame declares frame x frame pixels.

    Pillow grows the canvas to the frame while identifying the file and checks its own bomb
    limit there, inside the plugin: the loader must still answer ImageTooLargeError.
    """
    head = b"GIF89a" + struct.pack("<HHBBB", screen, screen, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    desc = b"," + struct.pack("<HHHHB", 0, 0, frame, frame, 0) + b"\x02\x02\x44\x01\x00"
    return head + desc + b";"


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each segment of a JPEG; a scan (SOS) spans its entropy-coded data.

    An independent, deliberately simple walker (the oracle for ``loading.jpeg_scan_count``).
    """
    out = []
    i = 2
    while i + 4 <= len(data):
        marker = data[i + 1]
        if marker == 0xD9:
            out.append((marker, i, i + 2))
            break
        j = i + 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        if marker == 0xDA:
            while True:
                j = data.index(b"\xff", j)
                if data[j + 1] == 0 or 0xD0 <= data[j + 1] <= 0xD7:
                    j += 2
                    continue
                break
        out.append((marker, i, j))
        i = j
    return out


def jpeg_scan_bomb(width: int, height: int, scans: int) -> bytes:
    """A progressive JPEG of ``width`` x ``height`` flat pixels with ``scans`` scans (a "scan bomb").

    Pillow writes libjpeg's progressive script (10 scans); the smallest scan (an AC scan of a
    flat picture: a few end-of-band runs) is repeated before EOI until there are ``scans``.
    libjpeg warns about the repeated progression and decodes every one: each costs a pass over
    all the image's blocks, for a few bytes of file.
    """
    data = _encoded(Image.new("RGB", (width, height), (90, 120, 200)), "JPEG", quality=75, progressive=True)
    sos = [s for s in jpeg_segments(data) if s[0] == 0xDA]
    _, a, b = min(sos, key=lambda s: s[2] - s[1])
    end = sos[-1][2]
    return data[:end] + data[a:b] * max(0, scans - len(sos)) + data[end:]


def _encoded(im: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def noise_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Deterministic smooth-ish RGB content (noise compresses badly, so truncation bites)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def unreadable_skip_reason(dirpath: str | os.PathLike[str]) -> str | None:
    """Why the unreadable-file case cannot be made here (e.g. running as root), else None."""
    probe = Path(dirpath) / ".probe_unreadable"
    probe.write_bytes(b"x")
    probe.chmod(0)
    try:
        with open(probe, "rb"):
            return "chmod 000 does not block reads for this user (running as root?)"
    except PermissionError:
        return None
    finally:
        probe.chmod(0o600)
        probe.unlink()


def make_bad_inputs(dirpath: str | os.PathLike[str]) -> list[BadInput]:
    """Write the corpus into ``dirpath`` (which must exist) and return its cases.

    Error cases: empty file, truncated JPEG and PNGs, a PNG with a bad IHDR checksum, a PNG
    whose compressed data is damaged, PNG and GIF bombs (huge declared size, tiny file; one GIF
    declares a small screen and a huge frame), a
    zero-width PNG, a text file named .jpg, a directory named .jpg, an unreadable file (only
    when chmod 000 blocks reads: see ``unreadable_skip_reason``), a symbolic link loop, a
    dangling symbolic link, a FIFO and a link to /dev/zero named .jpg, a JPEG scan bomb
    (SCAN_BOMB_SCANS scans). Valid cases: a PNG named .jpg, 1x1, 100000x1 and 1x100000
    images, 16-bit TIFF and PNG, float TIFFs, a progressive JPEG of 40 scans, a CMYK JPEG, a palette PNG with a transparent index, an
    animated GIF of N_GIF_FRAMES frames. A directory symlink ``loop_dir`` pointing to the
    folder itself is also made, for folder scanners (it is not listed: it is not an input).
    """
    d = Path(dirpath)
    cases: list[BadInput] = []

    def add(name: str, cause: str, data: bytes | None = None) -> Path:
        path = d / name
        if data is not None:
            path.write_bytes(data)
        cases.append(BadInput(path, cause))
        return path

    photo = noise_rgb(120, 160)
    jpeg = _encoded(Image.fromarray(photo), "JPEG", quality=90)
    png = _encoded(Image.fromarray(photo), "PNG")

    # --- errors
    add("empty.jpg", "empty", b"")
    add("truncated.jpg", "truncated", jpeg[: len(jpeg) // 2])
    add("truncated.png", "truncated", png[: len(png) // 2])
    bad_crc = bytearray(png)
    bad_crc[29] ^= 0xFF  # the IHDR chunk's CRC occupies bytes 29..32
    add("bad_crc.png", "checksum", bytes(bad_crc))
    idat = png.index(b"IDAT")
    damaged = bytearray(png)
    for k in range(idat + 40, idat + 48):  # scramble compressed bytes: zlib rejects the stream
        damaged[k] ^= 0x5A
    add("damaged_data.png", "corrupt", bytes(damaged))
    add("bomb.png", "too large", png_header_only(BOMB_SIDE, BOMB_SIDE))
    add("bomb.gif", "too large", gif_header_only(65535, 65535))
    add("bomb_frame.gif", "too large", gif_frame_outside_screen(16, 60000))
    add("zero_width.png", "corrupt", png_header_only(0, 10))
    add("text.jpg", "not an image", b"This is not a JPEG, just some text.\n" * 20)
    (d / "folder.jpg").mkdir()
    add("folder.jpg", "directory")
    if unreadable_skip_reason(d) is None:
        path = add(UNREADABLE_NAME, "permission", jpeg)
        path.chmod(0)
    os.symlink("loop_b.jpg", d / "loop_a.jpg")
    os.symlink("loop_a.jpg", d / "loop_b.jpg")
    add("loop_a.jpg", "symbolic link")
    os.symlink("does_not_exist.jpg", d / "dangling.jpg")
    add("dangling.jpg", "not found")
    os.symlink(".", d / "loop_dir")
    # special files where an image is expected: a FIFO would block a reader, /dev/zero never ends
    if hasattr(os, "mkfifo"):
        os.mkfifo(d / "fifo.jpg")
        add("fifo.jpg", "fifo")
    if os.path.exists("/dev/zero"):
        os.symlink("/dev/zero", d / "dev_zero.jpg")
        add("dev_zero.jpg", "device")
    add("scan_bomb.jpg", "scans", jpeg_scan_bomb(64, 64, SCAN_BOMB_SCANS))

    # --- valid
    add("png_named.jpg", "valid", png)
    add("one_by_one.png", "valid", _encoded(Image.new("RGB", (1, 1), (10, 20, 30)), "PNG"))
    add("wide_100000x1.png", "valid", _encoded(Image.fromarray(noise_rgb(1, WIDE, seed=1)), "PNG"))
    add("tall_1x100000.png", "valid", _encoded(Image.fromarray(noise_rgb(WIDE, 1, seed=2)), "PNG"))
    add("gray16.tif", "valid", _encoded(Image.fromarray(GRAY16_VALUES), "TIFF"))
    add("gray16.png", "valid", _encoded(Image.fromarray(GRAY16_VALUES), "PNG"))
    add("many_scans.jpg", "valid", jpeg_scan_bomb(64, 64, 40))  # progressive, more scans than usual
    add("float_unit.tif", "valid", _encoded(Image.fromarray(FLOAT_UNIT_VALUES, "F"), "TIFF"))
    add("float_wide.tif", "valid", _encoded(Image.fromarray(FLOAT_WIDE_VALUES, "F"), "TIFF"))
    cmyk = Image.fromarray(noise_rgb(40, 56, seed=3)).convert("CMYK")
    add("cmyk.jpg", "valid", _encoded(cmyk, "JPEG", quality=95))
    pal = Image.fromarray(PALETTE_INDICES, "P")
    pal.putpalette([c for rgb in PALETTE for c in rgb])
    add("palette_transparent.png", "valid", _encoded(pal, "PNG", transparency=0))
    frames = []
    for i in range(N_GIF_FRAMES):
        # Two colours per frame so that every frame keeps its exact colours through the palette.
        f = Image.new("RGB", (9, 7), gif_frame_colour(i))
        f.putpixel((0, 0), (0, 0, 0))
        frames.append(f)
    add(
        "many_frames.gif",
        "valid",
        _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=20, loop=0, optimize=False),
    )
    return cases
