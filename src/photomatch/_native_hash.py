"""numpy twins of the hashing kernels (PDQ, pHash)."""

from __future__ import annotations

__all__: list[str] = []
