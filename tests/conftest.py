"""Shared fixtures: the implementation switch and the optional photos-dev set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from photomatch import _accel

IMPLS = ["c", "numpy"] if _accel.c_available() else ["numpy"]


@pytest.fixture(params=IMPLS)
def impl(request):
    """The kernels of one implementation; every kernel test runs against both (ids ``c`` and ``numpy``)."""
    return _accel.get(request.param)


def _photos_dev() -> Path | None:
    env = os.environ.get("PHOTOMATCH_PHOTOS_DEV")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "data" / "photos-dev")
    for c in candidates:
        if (c / "manifest.csv").is_file():
            return c
    return None


PHOTOS_DEV = _photos_dev()


@pytest.fixture(scope="session")
def photos_dev() -> Path:
    """The photos-dev folder (../shared/data/photos-dev or $PHOTOMATCH_PHOTOS_DEV), else skip."""
    if PHOTOS_DEV is None:
        pytest.skip("photos-dev not found: set PHOTOMATCH_PHOTOS_DEV or check out ../shared beside the repo")
    return PHOTOS_DEV


@pytest.fixture(scope="session")
def photo_paths(photos_dev) -> list[Path]:
    return sorted(photos_dev.glob("*.jpg"))
