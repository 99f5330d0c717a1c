"""The only importer of the C extension, and the switch between it and the numpy twins.

``PHOTOMATCH_NO_EXTENSIONS=1`` (any non-empty value but ``0``) forces the numpy twins, at build
and at import. ``photomatch.IMPLEMENTATION`` says which is live: ``"c"`` or ``"numpy"``.

Every kernel has the same signature in both implementations (the :class:`Kernels` Protocol, whose
C side is typed in ``_ext.pyi``); ``kernels`` is the live one and ``get(name)`` returns a named
implementation for the tests.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Protocol, cast

import numpy as np
from numpy.typing import NDArray

from . import _native
from ._version import __version__


class Kernels(Protocol):
    """The kernels of one implementation: ``photomatch._ext`` or the numpy twins (``_native``)."""

    MIH_MAX_TABLES: int
    MIH_MAX_WIDTH: int

    def pdq_hash(self, rgb: NDArray[np.uint8], /) -> tuple[bytes, int]: ...
    def pdq_hash_gray(self, gray: NDArray[np.uint8], /) -> tuple[bytes, int]: ...
    def pdq_dihedral(self, rgb: NDArray[np.uint8], /) -> tuple[tuple[bytes, ...], int]: ...
    def pdq_dihedral_gray(self, gray: NDArray[np.uint8], /) -> tuple[tuple[bytes, ...], int]: ...
    def phash_bits(self, gray32: NDArray[np.uint8], /) -> bytes: ...
    def mih_build(self, codes: NDArray[np.uint8], starts: NDArray[np.int32], widths: NDArray[np.int32],
                  nthreads: int, /) -> object: ...
    def mih_range_search(self, handle: object, codes: NDArray[np.uint8], queries: NDArray[np.uint8],
                         radii: NDArray[np.int32], threshold: int, nthreads: int, /
                         ) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int64], int]: ...
    def mih_memory(self, handle: object, /) -> int: ...


#: The names of the kernels and constants every implementation has (tests compare both).
KERNEL_NAMES: tuple[str, ...] = tuple(sorted({n for n in vars(Kernels) if not n.startswith("_")}
                                             | set(Kernels.__annotations__)))


def _forced_off() -> bool:
    return os.environ.get("PHOTOMATCH_NO_EXTENSIONS", "") not in ("", "0")


def _load_c() -> ModuleType | None:
    try:
        from . import _ext  # type: ignore[attr-defined]
    except ImportError:
        return None
    if getattr(_ext, "__version__", None) != __version__:
        # A stale build would silently compute old kernels: fail loudly instead.
        msg = (
            f"photomatch C extension version {getattr(_ext, '__version__', '?')!r} does not match "
            f"the package version {__version__!r}; rebuild it (pip install .)"
        )
        raise ImportError(msg)
    return _ext


_c = None if _forced_off() else _load_c()

kernels: Kernels = cast(Kernels, _c if _c is not None else _native)
IMPLEMENTATION: str = "c" if _c is not None else "numpy"


def get(name: str) -> Kernels:
    """Return the kernels of one implementation (``"c"`` or ``"numpy"``) for tests."""
    if name == "numpy":
        return cast(Kernels, _native)
    if name == "c":
        ext = _load_c()
        if ext is None:
            msg = "the photomatch C extension is not built"
            raise ImportError(msg)
        return cast(Kernels, ext)
    msg = f"unknown implementation {name!r}; expected 'c' or 'numpy'"
    raise ValueError(msg)


def c_available() -> bool:
    return _load_c() is not None
