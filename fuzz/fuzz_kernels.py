"""Fuzz harness: arbitrary arrays -> the C kernels, checked against their numpy twins.

    python fuzz/fuzz_kernels.py [libFuzzer flags] [CORPUS_DIR ...]

The image decoders only ever hand the kernels well-formed RGB arrays; this harness reaches the
shapes and layouts they don't: any height and width from 0 to 400 (1 x N strips, sizes around
the 64-pixel decimation and the filter windows), grey and RGB, and wrong layouts (other dtypes,
ranks, strides, non-contiguous views). Oracle: the numpy twin (``photomatch._native_hash``, the
specification) must return the same value, or raise the same exception type, for every call.
Run it under tools/sanitize.sh's build (``tools/fuzz.sh`` does, with ASan) to catch memory errors
that give no wrong answer.
"""

from __future__ import annotations

import sys

import atheris
import numpy as np

with atheris.instrument_imports(include=["photomatch"]):
    from photomatch import _accel

C = _accel.get("c")
NUMPY = _accel.get("numpy")
KERNELS = ("pdq_hash", "pdq_dihedral", "pdq_hash_gray", "pdq_dihedral_gray", "phash_bits")


class FuzzFinding(Exception):
    """The C kernel and its numpy twin disagree."""


def _array(fdp: atheris.FuzzedDataProvider, kernel: str) -> object:
    gray = kernel.endswith("_gray") or kernel == "phash_bits"
    if kernel == "phash_bits" and fdp.ConsumeBool():
        h = w = 32
    else:
        h, w = fdp.ConsumeIntInRange(0, 400), fdp.ConsumeIntInRange(0, 400)
    shape = (h, w) if gray else (h, w, 3)
    n = int(np.prod(shape))
    raw = fdp.ConsumeBytes(min(n, fdp.remaining_bytes()))
    # Cycle the bytes we have (a short input still fills a big image with structure, not zeros).
    base = np.frombuffer(raw, dtype=np.uint8) if raw else np.zeros(1, np.uint8)
    arr = np.resize(base, n).reshape(shape)
    layout = fdp.ConsumeIntInRange(0, 9)
    if layout == 1:
        arr = arr.astype(np.float32)  # wrong dtype
    elif layout == 2:
        arr = arr[..., None]  # wrong rank
    elif layout == 3 and h > 1:
        arr = arr[::2]  # strided rows: not C-contiguous
    elif layout == 4:
        arr = np.asfortranarray(arr)
    elif layout == 5:
        arr = memoryview(np.ascontiguousarray(arr))  # another buffer-protocol object
    elif layout == 6:
        arr = arr.tolist()  # not a buffer at all
    return arr


def TestOneInput(data: bytes) -> None:  # noqa: N802 -- the name libFuzzer/atheris expect
    fdp = atheris.FuzzedDataProvider(data)
    kernel = KERNELS[fdp.ConsumeIntInRange(0, len(KERNELS) - 1)]
    arr = _array(fdp, kernel)
    outcomes = []
    for impl in (C, NUMPY):
        try:
            outcomes.append(("ok", getattr(impl, kernel)(arr)))
        except (TypeError, ValueError, MemoryError) as e:
            outcomes.append(("raised", type(e).__name__))
    if outcomes[0] != outcomes[1]:
        shape = getattr(arr, "shape", type(arr).__name__)
        raise FuzzFinding(f"{kernel} on {shape}: C gives {outcomes[0][0]} {outcomes[0][1] if outcomes[0][0] == 'raised' else ''}, "
                          f"numpy gives {outcomes[1][0]} {outcomes[1][1] if outcomes[1][0] == 'raised' else ''}")


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
