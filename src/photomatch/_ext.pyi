# Types of the C extension photomatch._ext (built from _binding*.c and _core/*.c). The numpy twins
# in _native_hash.py and _native_mih.py have the same signatures; _accel.Kernels is the Protocol
# both satisfy. Arguments are positional-only, as in the C functions.
import numpy as np
from numpy.typing import NDArray

__version__: str
MIH_MAX_TABLES: int
MIH_MAX_WIDTH: int

# Hashing (_binding_hash.c): C-contiguous uint8 pixels; bits are packed, most significant first.
def pdq_hash(rgb: NDArray[np.uint8], /) -> tuple[bytes, int]: ...
def pdq_hash_gray(gray: NDArray[np.uint8], /) -> tuple[bytes, int]: ...
def pdq_dihedral(rgb: NDArray[np.uint8], /) -> tuple[tuple[bytes, ...], int]: ...
def pdq_dihedral_gray(gray: NDArray[np.uint8], /) -> tuple[tuple[bytes, ...], int]: ...
def phash_bits(gray32: NDArray[np.uint8], /) -> bytes: ...

# Multi-index hashing (_binding_mih.c): the handle is an opaque capsule holding the tables.
def mih_build(
    codes: NDArray[np.uint8], starts: NDArray[np.int32], widths: NDArray[np.int32], nthreads: int, /
) -> object: ...
def mih_range_search(
    handle: object,
    codes: NDArray[np.uint8],
    queries: NDArray[np.uint8],
    radii: NDArray[np.int32],
    threshold: int,
    nthreads: int,
    /,
) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int64], int]: ...
def mih_memory(handle: object, /) -> int: ...
