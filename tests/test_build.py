"""The C extension is optional at build time: without a compiler the build succeeds, says so once
and leaves no extension (the package then runs on its numpy twins); PHOTOMATCH_REQUIRE_EXTENSION
turns that into a failure. (.ci/run also installs a whole package this way in a fresh venv.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not (ROOT / "setup.py").is_file(), reason="no setup.py beside the tests")


def build_without_compiler(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOMATCH_")}
    environ.update(CC="false", **env)  # `false`: a compiler that always fails
    return subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--build-lib", str(tmp_path / "lib"),
         "--build-temp", str(tmp_path / "tmp")],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300, check=False)


def test_build_falls_back_to_the_twins_and_says_so_once(tmp_path: Path) -> None:
    proc = build_without_compiler(tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (proc.stdout + proc.stderr).count("C extension could not be compiled") == 1
    assert not list(tmp_path.rglob("_ext*")), "no extension may be left behind"


def test_required_extension_fails_the_build(tmp_path: Path) -> None:
    proc = build_without_compiler(tmp_path, PHOTOMATCH_REQUIRE_EXTENSION="1")
    assert proc.returncode != 0
    assert "could not be compiled" not in proc.stdout + proc.stderr
