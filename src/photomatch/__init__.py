"""photomatch: find altered copies of reported photos.

>>> import photomatch
>>> photomatch.IMPLEMENTATION in ("c", "numpy")
True
"""

from ._accel import IMPLEMENTATION
from ._version import __version__
from .errors import (
    DecodeError,
    HashFormatError,
    ImageTooLargeError,
    PhotomatchError,
    StoreError,
    StoreLockedError,
)
from .hashing import (
    DIHEDRAL_NAMES,
    Hash,
    HashResult,
    hash_file,
    hash_files,
    hash_image,
    pdq,
    pdq_dihedral,
    phash,
)
from .index import HashIndex
from .matcher import Match, Matcher, MatchResult
from .store import Store

__all__ = [
    "IMPLEMENTATION",
    "__version__",
    "DIHEDRAL_NAMES",
    "DecodeError",
    "Hash",
    "HashFormatError",
    "HashIndex",
    "HashResult",
    "ImageTooLargeError",
    "Match",
    "MatchResult",
    "Matcher",
    "PhotomatchError",
    "Store",
    "StoreError",
    "StoreLockedError",
    "hash_file",
    "hash_files",
    "hash_image",
    "pdq",
    "pdq_dihedral",
    "phash",
]
