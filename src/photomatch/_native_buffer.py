"""The twin of the binding's buffer check (``pm_get_buffer`` in ``_binding.c``): the same checks
in the same order, raising the same exception types, for every numpy twin of a kernel."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_buffer(obj: Any, name: str, ndim: int, dtype: Any) -> np.ndarray:
    """``obj`` as a C-contiguous array of ``ndim`` dimensions and integer ``dtype``: TypeError when
    it is not a buffer or has another item type, ValueError for another layout."""
    try:
        arr = np.asarray(memoryview(obj))
    except TypeError:
        msg = f"{name}: expected a numpy array (an object with the buffer protocol), got {type(obj).__name__}"
        raise TypeError(msg) from None
    want = np.dtype(dtype)
    if arr.dtype.kind != want.kind or arr.dtype.itemsize != want.itemsize:
        msg = f"{name}: expected dtype {want.name}, got {arr.dtype}"
        raise TypeError(msg)
    if arr.ndim != ndim:
        msg = f"{name}: expected {ndim} dimensions, got {arr.ndim}"
        raise ValueError(msg)
    if not arr.flags.c_contiguous:
        msg = f"{name}: expected a C-contiguous array (use numpy.ascontiguousarray)"
        raise ValueError(msg)
    return arr
