"""Builds the C core (plain C11 kernels + a thin CPython binding) as photomatch._ext.

Set PHOTOMATCH_NO_EXTENSIONS=1 to skip the build; the package then runs on its numpy twins.
"""

import glob
import os
import re

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def _version() -> str:
    with open(os.path.join(HERE, "src", "photomatch", "_version.py"), encoding="utf-8") as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


def _extensions():
    if os.environ.get("PHOTOMATCH_NO_EXTENSIONS"):
        return []
    src = os.path.join("src", "photomatch")
    sources = sorted(glob.glob(os.path.join(src, "_binding*.c")))
    sources += sorted(glob.glob(os.path.join(src, "_core", "*.c")))
    extra = ["-std=c11", "-O3", "-Wall", "-Wextra", "-fno-strict-aliasing"]
    extra += os.environ.get("PHOTOMATCH_CFLAGS", "").split()
    ldflags = os.environ.get("PHOTOMATCH_LDFLAGS", "").split()
    return [
        Extension(
            "photomatch._ext",
            sources=sources,
            include_dirs=[os.path.join(src, "_core")],
            define_macros=[("PHOTOMATCH_VERSION", '"%s"' % _version())],
            extra_compile_args=extra,
            extra_link_args=ldflags,
        )
    ]


setup(ext_modules=_extensions())
