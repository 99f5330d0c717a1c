"""Exceptions. Every error derives from PhotomatchError and from the builtin it refines,
so a caller's ``except ValueError`` keeps working."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class PhotomatchError(Exception):
    """Base class of every error raised by photomatch."""


class DecodeError(PhotomatchError, ValueError):
    """An image or video could not be read: empty, truncated, corrupt, unsupported or too large.

    ``source`` names the input (a path, or a description such as ``<bytes>``) and ``reason``
    says what is wrong with it.
    """

    def __init__(self, source: object, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")


class ImageTooLargeError(DecodeError):
    """The image declares more pixels than the configured limit (a decompression bomb guard)."""


class VideoTooLongError(DecodeError):
    """The video declares (or turns out to have) more seconds than the configured limit."""


class HashFormatError(PhotomatchError, ValueError):
    """A hash string or hash list is malformed (wrong length, not hex, unknown algorithm).

    ``reason`` says what is wrong; ``path`` and ``line`` name the hash list and the line when
    the hash came from one (both None for a hash given as a value).
    """

    def __init__(self, reason: str, *, path: object | None = None, line: int | None = None) -> None:
        self.reason = reason
        self.path = None if path is None else str(path)
        self.line = line
        where = "" if self.path is None else self.path + ("" if line is None else f", line {line}") + ": "
        super().__init__(where + reason)


class UnknownAlgorithmError(HashFormatError):
    """A hash algorithm name that photomatch does not know (``algorithm`` holds it).

    Raised wherever an algorithm is named (``Hash``, ``hash_image``, the store, hash lists), always
    with the same message; ``expected`` lists the known names (``photomatch.algorithms.NAMES``).
    """

    def __init__(self, algorithm: object, expected: tuple[str, ...], *, path: object | None = None,
                 line: int | None = None) -> None:
        self.algorithm = algorithm
        # A misplaced hash-list column may hold a hash: never quote a run of hex digits.
        shown = re.sub(r"[0-9a-fA-F]{8,}", "<hex>", str(algorithm)[:40])[:20]
        reason = f"unknown hash algorithm {shown!r}; expected one of {', '.join(expected)}"
        super().__init__(reason, path=path, line=line)


class StoreError(PhotomatchError):
    """The store cannot be opened or written (locked too long, corrupt, wrong schema)."""


class StoreLockedError(StoreError, TimeoutError):
    """Another process held the store's lock for longer than the configured wait."""


class IndexFileError(PhotomatchError, ValueError):
    """A saved index file is corrupt, truncated, of another format version or for other codes.

    ``path`` names the file and ``reason`` says what is wrong with it.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class OutputPathError(PhotomatchError, ValueError):
    """A path photomatch was asked to write and must not: a directory, a socket, a block device,
    or a new name in a folder that does not exist.

    ``path`` names it and ``reason`` says what it is.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class FeatureFormatError(PhotomatchError, ValueError):
    """Serialised local features are malformed (wrong version, truncated, inconsistent sizes)."""


class ReportError(PhotomatchError, ValueError):
    """A report folder cannot be written or checked (not empty, no manifest, malformed manifest).

    ``path`` names the folder or file and ``reason`` says what is wrong with it.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def run_item(name: str, work: Callable[[], T]) -> tuple[T | None, PhotomatchError | None]:
    """One item of a batch: ``(result, None)``, or ``(None, error)`` so that a bad item never stops
    the batch (``hash_files``, ``Matcher.add_many``, ``Matcher.match_many``).

    A PhotomatchError is returned as it is; any other exception (a decoder's bug on a hostile
    file) becomes a PhotomatchError naming the item.

    >>> run_item("a.jpg", lambda: 1 // 0)[1]
    PhotomatchError('a.jpg: unexpected ZeroDivisionError: integer division or modulo by zero')
    """
    try:
        return work(), None
    except PhotomatchError as e:
        return None, e
    except Exception as e:  # noqa: BLE001 (reported with the item; the batch goes on)
        return None, PhotomatchError(f"{name}: unexpected {type(e).__name__}: {e}")
