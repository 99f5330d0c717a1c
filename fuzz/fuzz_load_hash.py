"""Fuzz harness: bytes -> photomatch.loading.open_image -> the PDQ and pHash kernels.

    python fuzz/fuzz_load_hash.py [libFuzzer flags] [CORPUS_DIR ...]   # fuzz
    python fuzz/fuzz_load_hash.py crash-1234abcd                       # replay one input

(tools/fuzz.sh runs it with the right flags and seed corpus.) An input is "fine" when the loader
refuses it with a PhotomatchError that names the source (``<bytes>``), or when it decodes to an
RGB image within the pixel limit whose hashes have the documented shape. Anything else, an
exception of another type, a broken invariant (reported as ``FuzzFinding``), a crash in C, a
hang or runaway memory (libFuzzer's -timeout / -rss_limit_mb), is a finding.

Only photomatch's own Python is instrumented for coverage (``atheris.instrument_imports``);
Pillow's C decoders and our C kernels are not, which is fine: the coverage of photomatch's
loading paths (modes, EXIF, frames, limits) guides the mutations, and the decoders still run
on every mutated input.
"""

from __future__ import annotations

import sys

import atheris
import numpy as np
import PIL.Image  # noqa: F401  -- imported before instrumentation: only photomatch is instrumented

with atheris.instrument_imports(include=["photomatch"]):
    from photomatch import _accel
    from photomatch.errors import PhotomatchError
    from photomatch.hashing import phash_of_pil
    from photomatch.loading import open_image

#: Small, so a mutated header cannot make one execution slow: 2 megapixels decode in milliseconds.
MAX_PIXELS = 1 << 21
KERNELS = _accel.kernels


class FuzzFinding(Exception):
    """An input broke an invariant of the loader or the kernels (not an expected refusal)."""


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise FuzzFinding(what)


def TestOneInput(data: bytes) -> None:  # noqa: N802 -- the name libFuzzer/atheris expect
    # Derive the options from the input itself, so a crash file replays exactly: odd lengths
    # exercise the JPEG draft (reduced-size) decode, even ones the exact full decode.
    draft = 16 if len(data) % 2 else None
    exif_transpose = len(data) % 3 != 0
    try:
        im = open_image(data, max_pixels=MAX_PIXELS, draft_min_side=draft, exif_transpose=exif_transpose)
    except PhotomatchError as e:
        _check(str(e).startswith("<bytes>: "), f"error does not name the source: {e!r}")
        return
    w, h = im.size
    _check(im.mode == "RGB", f"open_image returned mode {im.mode}")
    _check(1 <= w and 1 <= h and w * h <= MAX_PIXELS, f"open_image returned size {im.size}")

    rgb = np.asarray(im, dtype=np.uint8)
    _check(rgb.shape == (h, w, 3), f"pixels of shape {rgb.shape} for an image of size {im.size}")
    rgb = np.ascontiguousarray(rgb)
    bits, quality = KERNELS.pdq_hash(rgb)
    _check(len(bits) == 32 and 0 <= quality <= 100, f"pdq_hash gave {len(bits)} bytes, quality {quality}")
    variants, quality8 = KERNELS.pdq_dihedral(rgb)
    _check(len(variants) == 8 and all(len(v) == 32 for v in variants), "pdq_dihedral shape")
    _check(bytes(variants[0]) == bytes(bits) and quality8 == quality, "pdq_dihedral[0] differs from pdq_hash")
    ph = phash_of_pil(im)
    _check(len(ph.bits) == 8, f"phash gave {len(ph.bits)} bytes")


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
