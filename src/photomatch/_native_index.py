"""numpy twins of the index kernels (multi-index hashing)."""

from __future__ import annotations

__all__: list[str] = []
