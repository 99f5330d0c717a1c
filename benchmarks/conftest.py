"""Shared options and fixtures of the benchmarks (pytest-benchmark; each module skips without it).

Options:
    --big     also run the largest sizes (1e7 codes in bench_index.py: several GB of RAM, minutes)
    --huge    the 1e8-code HashIndex run of bench_index.py (test_huge: about 9 GB of RAM)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.photos import PHOTOS_DEV_HINT, photos_dev, synthetic_12mp_jpeg


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("photomatch benchmarks")
    group.addoption(
        "--big",
        action="store_true",
        default=False,
        help="also run the largest benchmark sizes (1e7 index entries; needs ~10 GB RAM and minutes)",
    )

    group.addoption(
        "--huge",
        action="store_true",
        default=False,
        help="run the 1e8-code HashIndex benchmark (bench_index.py::test_huge; ~9 GB RAM, minutes)",
    )


@pytest.fixture(scope="session")
def huge(request: pytest.FixtureRequest) -> bool:
    """Whether --huge was given."""
    return bool(request.config.getoption("--huge"))


@pytest.fixture(scope="session")
def big(request: pytest.FixtureRequest) -> bool:
    """Whether --big was given."""
    return bool(request.config.getoption("--big"))


@pytest.fixture(scope="session")
def photos_dev_dir() -> Path:
    """The photos-dev folder (see ``benchmarks/photos.py``), else skip."""
    path = photos_dev()
    if path is None:
        pytest.skip(f"photos-dev not found: {PHOTOS_DEV_HINT}")
    return path


@pytest.fixture(scope="session")
def jpeg_12mp() -> bytes:
    """The generated 12-megapixel baseline JPEG (``benchmarks/photos.py``)."""
    return synthetic_12mp_jpeg()


_SUMMARY = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def bench_summary(request: pytest.FixtureRequest) -> list[str]:
    """Lines a benchmark module appends (e.g. ratios between engines measured in this run);
    printed at the end of the run, after pytest-benchmark's tables."""
    return request.config.stash.setdefault(_SUMMARY, [])


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    lines = config.stash.get(_SUMMARY, [])
    if lines:
        terminalreporter.section("photomatch benchmark summary")
        for line in lines:
            terminalreporter.write_line(line)
