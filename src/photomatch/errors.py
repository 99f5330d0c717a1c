"""Exceptions. Every error derives from PhotomatchError and from the builtin it refines,
so a caller's ``except ValueError`` keeps working."""

from __future__ import annotations


class PhotomatchError(Exception):
    """Base class of every error raised by photomatch."""


class DecodeError(PhotomatchError, ValueError):
    """An image could not be read: empty, truncated, corrupt, unsupported or too large.

    ``source`` names the input (a path, or a description such as ``<bytes>``) and ``reason``
    says what is wrong with it.
    """

    def __init__(self, source: object, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")


class ImageTooLargeError(DecodeError):
    """The image declares more pixels than the configured limit (a decompression bomb guard)."""


class HashFormatError(PhotomatchError, ValueError):
    """A hash string or hash list is malformed (wrong length, not hex, unknown algorithm)."""


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


class FeatureFormatError(PhotomatchError, ValueError):
    """Serialised local features are malformed (wrong version, truncated, inconsistent sizes)."""
