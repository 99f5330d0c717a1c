"""Turning the paths a user names into the image files to read."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

IMAGE_EXTENSIONS = frozenset(
    ".jpg .jpeg .jpe .jfif .png .gif .webp .bmp .dib .tif .tiff .heic .heif .avif .ppm .pgm .pbm .pnm .tga .ico"
    .split()
)


VIDEO_EXTENSIONS = frozenset(
    ".mp4 .m4v .mov .qt .3gp .3g2 .mkv .webm .avi .wmv .asf .flv .mpg .mpeg .m2ts .mts .ts .ogv .vob".split()
)
"""Extensions walked in folders as videos (a file named explicitly is sniffed by content)."""


def extension(path: str | os.PathLike[str]) -> str:
    """The lower-cased text from the last dot of the file name on (``""`` without a dot).

    Unlike ``os.path.splitext``, leading dots count: ``...png`` and ``.jpg`` are named as images,
    so a picture can't drop out of a walk by its name starting with dots.
    """
    name = os.path.basename(os.fspath(path))
    dot = name.rfind(".")
    return name[dot:].lower() if dot >= 0 else ""


def iter_image_paths(paths: Iterable[str | os.PathLike[str]], *,
                     on_error: Callable[[str, str], None] | None = None, videos: bool = False) -> Iterator[str]:
    """Yield the files named and, for folders, every image file below them (sorted, recursive).

    Files named explicitly are yielded whatever their extension (the loader says if they aren't
    images); inside folders only known image extensions count (video ones too with ``videos``).
    Symbolic links to folders are not
    followed, so a link loop can't trap the walk. A path that doesn't exist is reported through
    ``on_error(path, reason)`` (or yielded, so the loader reports it, when no callback is given).
    """
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            yield from _walk(p, on_error, IMAGE_EXTENSIONS | VIDEO_EXTENSIONS if videos else IMAGE_EXTENSIONS)
        elif os.path.lexists(p) or on_error is None:  # a broken or looping link: the loader says which
            yield p
        else:
            on_error(p, "no such file or folder")


def _walk(top: str, on_error: Callable[[str, str], None] | None, extensions: frozenset[str]) -> Iterator[str]:
    def report(e: OSError) -> None:
        if on_error is not None:
            on_error(e.filename or top, e.strerror or str(e))

    for root, dirs, names in os.walk(top, onerror=report, followlinks=False):
        dirs.sort()
        for name in sorted(names):
            if extension(name) in extensions:
                yield os.path.join(root, name)
