"""photomatch: find altered copies of reported photos.

>>> import photomatch
>>> photomatch.IMPLEMENTATION in ("c", "numpy")
True
"""

from ._accel import IMPLEMENTATION
from ._version import __version__
from .algorithms import ALGORITHMS, Algorithm
from .errors import (
    DecodeError,
    FeatureFormatError,
    HashFormatError,
    ImageTooLargeError,
    IndexFileError,
    OutputPathError,
    PhotomatchError,
    ReportError,
    StoreError,
    StoreLockedError,
    UnknownAlgorithmError,
    VideoTooLongError,
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
    "ALGORITHMS",
    "IMPLEMENTATION",
    "__version__",
    "Algorithm",
    "DIHEDRAL_NAMES",
    "DecodeError",
    "FeatureFormatError",
    "Hash",
    "HashFormatError",
    "HashIndex",
    "HashResult",
    "ImageTooLargeError",
    "IndexFileError",
    "Match",
    "MatchResult",
    "Matcher",
    "OutputPathError",
    "PhotomatchError",
    "ReportError",
    "Store",
    "StoreError",
    "StoreLockedError",
    "UnknownAlgorithmError",
    "VideoTooLongError",
    "hash_file",
    "hash_files",
    "hash_image",
    "pdq",
    "pdq_dihedral",
    "phash",
]
