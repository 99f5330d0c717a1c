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

__all__ = [
    "IMPLEMENTATION",
    "__version__",
    "DecodeError",
    "HashFormatError",
    "ImageTooLargeError",
    "PhotomatchError",
    "StoreError",
    "StoreLockedError",
]
