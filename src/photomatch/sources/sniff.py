"""What a file holds, from its first bytes: an image, a video, or something else (and what).

Folders from forensic extractions, caches and messenger media stores hold files without
extensions or with wrong ones, so the scan decides by content. Only the signatures of formats
the loader decodes count as images; containers that hold video (MP4/MOV/3GP, Matroska/WebM,
AVI) count as videos; a few common non-image kinds are named so that the end-of-run summary
can say why a file was skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._fileio import open_regular

IMAGE, VIDEO, OTHER = "image", "video", "other"

HEAD = 64
"""Bytes read to decide: every signature below sits in the first 16."""

# ISO base media brands (bytes 8..12 after "ftyp") that are still pictures: HEIF/HEIC and AVIF
# (image sequences too: the loader reads their first frame).
_HEIF_BRANDS = frozenset(
    b"heic heix hevc hevx heim heis hevm hevs mif1 msf1 avif avis".split()
)
# ... and audio-only ones (iTunes audio, audiobooks); every other brand is taken for a video.
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
_BMP_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})


@dataclass(frozen=True)
class Sniff:
    """``kind`` is ``"image"``, ``"video"`` or ``"other"``; ``what`` names the format found."""

    kind: str
    what: str


def sniff_bytes(head: bytes) -> Sniff:
    """Classify a file from its first bytes (``HEAD`` of them are enough).

    >>> sniff_bytes(bytes.fromhex("ffd8ffe000104a464946"))
    Sniff(kind='image', what='JPEG')
    >>> sniff_bytes(b"%PDF-1.7").kind, sniff_bytes(b"").what
    ('other', 'empty file')
    """
    if not head:
        return Sniff(OTHER, "empty file")
    image = _image_format(head)
    if image is not None:
        return Sniff(IMAGE, image)
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AUDIO_BRANDS:
            return Sniff(OTHER, "audio (MP4)")
        return Sniff(VIDEO, "MP4/QuickTime video")
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free") and head[:2] == b"\0\0":
        return Sniff(VIDEO, "QuickTime video")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniff(VIDEO, "Matroska/WebM video")
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return Sniff(VIDEO, "AVI video")
    return Sniff(OTHER, _other_format(head))


def _image_format(h: bytes) -> str | None:
    if h.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if h.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if h[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if h.startswith(b"RIFF") and h[8:12] == b"WEBP":
        return "WebP"
    if h[:4] in (b"II*\0", b"MM\0*"):
        return "TIFF"
    if h[4:8] == b"ftyp" and h[8:12] in _HEIF_BRANDS:
        return "AVIF" if h[8:11] == b"avi" else "HEIF"
    if h.startswith(b"BM") and len(h) >= 18 and int.from_bytes(h[14:18], "little") in _BMP_HEADER_SIZES:
        return "BMP"
    if h[:4] == b"\0\0\1\0" and len(h) >= 6 and h[4:6] != b"\0\0":
        return "ICO"
    if len(h) >= 3 and h[0] == ord("P") and h[1] in b"123456" and h[2] in b" \t\r\n":
        return "PNM"
    if h.startswith(b"\0\0\0\x0cjP  \r\n\x87\n") or h.startswith(b"\xff\x4f\xff\x51"):
        return "JPEG 2000"
    if h.startswith(b"qoif"):
        return "QOI"
    return None


def _other_format(h: bytes) -> str:
    known = (
        (b"%PDF", "PDF document"),
        (b"PK\x03\x04", "ZIP archive (or an office document)"),
        (b"OggS", "audio (Ogg)"),
        (b"ID3", "audio (MP3)"),
        (b"fLaC", "audio (FLAC)"),
        (b"\x1f\x8b", "gzip archive"),
        (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
        (b"Rar!", "RAR archive"),
        (b"SQLite format 3\0", "SQLite database"),
        (b"\x7fELF", "executable"),
        (b"MZ", "executable"),
        (b"#!", "script"),
    )
    for magic, what in known:
        if h.startswith(magic):
            return what
    if h.startswith(b"RIFF") and h[8:12] == b"WAVE":
        return "audio (WAV)"
    if len(h) >= 2 and h[0] == 0xFF and h[1] & 0xE0 == 0xE0:
        return "audio (MPEG)"
    if b"\0" not in h:
        try:
            h.decode("utf-8")
        except UnicodeDecodeError as e:
            if e.start < len(h) - 3:  # a character cut at the end of the head is still text
                return "unrecognised content"
        return "text"
    return "unrecognised content"


def sniff_file(path: str) -> Sniff:
    """Classify the file at ``path``; raises ``OSError`` when it can't be opened or read."""
    with open_regular(path) as f:  # a FIFO, a device or a socket raises at once, never blocks
        return sniff_bytes(f.read(HEAD))
