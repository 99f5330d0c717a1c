"""Builds the C core (plain C11 kernels + a thin CPython binding) as photomatch._ext.

The extension is optional, as in markupsafe and msgpack: when it cannot be compiled (no C
compiler, missing Python headers) the install still succeeds, prints one warning, and the package
runs on its numpy twins (``photomatch.IMPLEMENTATION == "numpy"``).

Environment:
    PHOTOMATCH_NO_EXTENSIONS=1      skip the build (the numpy twins only)
    PHOTOMATCH_REQUIRE_EXTENSION=1  a failed build fails the install (CI, wheels, sanitizer builds)
    PHOTOMATCH_CFLAGS, PHOTOMATCH_LDFLAGS   extra compiler / linker flags
"""

import glob
import os
import re
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
# What a missing or failing compiler raises (setuptools re-exports distutils' errors).
try:
    from setuptools.errors import CCompilerError, CompileError, ExecError, LinkError, PlatformError

    _BUILD_ERRORS = (CCompilerError, CompileError, ExecError, LinkError, PlatformError, OSError)
except ImportError:  # setuptools < 59
    from distutils.errors import CCompilerError, DistutilsExecError, DistutilsPlatformError

    _BUILD_ERRORS = (CCompilerError, DistutilsExecError, DistutilsPlatformError, OSError)


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def _version() -> str:
    with open(os.path.join(HERE, "src", "photomatch", "_version.py"), encoding="utf-8") as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


class OptionalBuildExt(build_ext):
    """build_ext whose failure leaves a working pure-numpy install (unless the extension is required)."""

    def build_extensions(self):
        # Compiler-specific flags: C11, optimised, warnings on (MSVC spells them differently).
        if self.compiler.compiler_type == "msvc":
            flags = ["/std:c11", "/O2", "/W3"]
        else:
            flags = ["-std=c11", "-O3", "-Wall", "-Wextra", "-fno-strict-aliasing"]
        for ext in self.extensions:
            ext.extra_compile_args = flags + ext.extra_compile_args
        super().build_extensions()

    def run(self):
        try:
            super().run()
        except _BUILD_ERRORS as exc:
            self._fall_back(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except _BUILD_ERRORS as exc:
            self._fall_back(exc)

    def _fall_back(self, exc):
        if _flag("PHOTOMATCH_REQUIRE_EXTENSION"):
            raise exc
        line = "=" * 78
        print(f"{line}\nWARNING: the photomatch C extension could not be compiled ({type(exc).__name__}: {exc}).\n"
              "photomatch is installed on its numpy twins: same results, much slower hashing and search\n"
              f"(photomatch.IMPLEMENTATION == 'numpy'). Install a C compiler and reinstall for speed.\n{line}",
              file=sys.stderr)


def _extensions():
    if _flag("PHOTOMATCH_NO_EXTENSIONS"):
        return []
    src = os.path.join("src", "photomatch")
    sources = sorted(glob.glob(os.path.join(src, "_binding*.c")))
    sources += sorted(glob.glob(os.path.join(src, "_core", "*.c")))
    return [
        Extension(
            "photomatch._ext",
            sources=sources,
            include_dirs=[os.path.join(src, "_core")],
            define_macros=[("PHOTOMATCH_VERSION", '"%s"' % _version())],
            extra_compile_args=os.environ.get("PHOTOMATCH_CFLAGS", "").split(),
            extra_link_args=os.environ.get("PHOTOMATCH_LDFLAGS", "").split(),
        )
    ]


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
