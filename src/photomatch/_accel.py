"""The only importer of the C extension, and the switch between it and the numpy twins.

``PHOTOMATCH_NO_EXTENSIONS=1`` (any non-empty value but ``0``) forces the numpy twins, at build
and at import. ``photomatch.IMPLEMENTATION`` says which is live: ``"c"`` or ``"numpy"``.

Every kernel has the same signature in both implementations; ``kernels`` is the live one and
``get(name)`` returns a named implementation for the tests.
"""

from __future__ import annotations

import os
from types import ModuleType

from . import _native
from ._version import __version__


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

kernels: ModuleType = _c if _c is not None else _native
IMPLEMENTATION: str = "c" if _c is not None else "numpy"


def get(name: str) -> ModuleType:
    """Return the kernels of one implementation (``"c"`` or ``"numpy"``) for tests."""
    if name == "numpy":
        return _native
    if name == "c":
        ext = _load_c()
        if ext is None:
            msg = "the photomatch C extension is not built"
            raise ImportError(msg)
        return ext
    msg = f"unknown implementation {name!r}; expected 'c' or 'numpy'"
    raise ValueError(msg)


def c_available() -> bool:
    return _load_c() is not None
