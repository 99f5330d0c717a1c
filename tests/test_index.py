"""HashIndex against a numpy brute-force oracle (exact Hamming search), and its persistence."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from photomatch import PhotomatchError
from photomatch.index import HashIndex, IndexFileError, codes_checksum

POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.int32)
METHODS = ["flat", "mih", "auto"]
CASES = [(64, 10), (256, 31)]  # (bits, threshold) as used for pHash and PDQ


# ---------------------------------------------------------------------------------------------
# oracle and data


def hamming_matrix(xq: np.ndarray, xb: np.ndarray) -> np.ndarray:
    """Brute-force Hamming distances (nq, nb) with a byte popcount table."""
    out = np.empty((xq.shape[0], xb.shape[0]), np.int32)
    for i, q in enumerate(xq):
        out[i] = POP8[np.bitwise_xor(xb, q)].sum(axis=1)
    return out


def brute_range(xb, ids, xq, t):
    """Oracle of range_search: per query, (distance, id) pairs within t, sorted."""
    d = hamming_matrix(xq, xb)
    out = []
    for row in d:
        sel = np.flatnonzero(row <= t)
        pairs = sorted(zip(row[sel].tolist(), ids[sel].tolist()))
        out.append(pairs)
    return out


def brute_knn(xb, ids, xq, k):
    d = hamming_matrix(xq, xb)
    return [sorted(zip(row.tolist(), ids.tolist()))[:k] for row in d]


def as_pairs(lims, dist, ids):
    return [list(zip(dist[a:b].tolist(), ids[a:b].tolist())) for a, b in zip(lims[:-1], lims[1:])]


def flip_bits(rng: np.random.Generator, code: np.ndarray, d: int) -> np.ndarray:
    """A copy of ``code`` with exactly ``d`` distinct bits flipped."""
    bits = np.unpackbits(code)
    where = rng.choice(bits.size, size=d, replace=False)
    bits[where] ^= 1
    return np.packbits(bits)


def planted(bits: int, t: int, n_random: int, n_queries: int, seed: int):
    """Random codes plus, for each query, neighbours at every distance 0..t+2 (some twice: ties)."""
    rng = np.random.default_rng(seed)
    nbytes = bits // 8
    xq = rng.integers(0, 256, (n_queries, nbytes), dtype=np.uint8)
    rows = [rng.integers(0, 256, (n_random, nbytes), dtype=np.uint8)]
    for q in xq:
        for d in range(t + 3):
            rows.append(flip_bits(rng, q, d)[None])
            if d % 4 == 0:
                rows.append(flip_bits(rng, q, d)[None])  # a tie at distance d
        rows.append(q[None])  # a duplicate of the distance-0 code
    xb = np.concatenate(rows)
    perm = rng.permutation(xb.shape[0])
    ids = rng.choice(10 * xb.shape[0], size=xb.shape[0], replace=False).astype(np.int64)
    return xb[perm], ids, xq


# ---------------------------------------------------------------------------------------------
# exactness


@pytest.fixture(params=["numpy", "faiss"])
def flat_scan(request, monkeypatch) -> str:
    """The flat scan runs numpy's popcount on small problems and FAISS on others: test both."""
    monkeypatch.setattr("photomatch.index._SMALL_SCAN", 1 << 40 if request.param == "numpy" else 0)
    return request.param


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("bits", "t"), CASES)
def test_range_search_planted_every_distance(method, bits, t, flat_scan):
    xb, ids, xq = planted(bits, t, n_random=3000, n_queries=12, seed=bits + t)
    index = HashIndex(bits, method=method)
    index.add(xb, ids)
    for threshold in (0, 1, t - 1, t, t + 2):
        lims, dist, found = index.range_search(xq, threshold)
        assert lims.dtype == np.int64 and dist.dtype == np.int32 and found.dtype == np.int64
        assert lims.shape == (xq.shape[0] + 1,)
        got = as_pairs(lims, dist, found)
        assert got == brute_range(xb, ids, xq, threshold)
    # The planted neighbours really are at every distance (the test data is what it claims).
    counts = np.bincount(hamming_matrix(xq, xb).ravel(), minlength=bits + 1)
    assert (counts[: t + 3] >= xq.shape[0]).all()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("bits", "t"), CASES)
def test_range_search_extreme_thresholds(method, bits, t):
    rng = np.random.default_rng(7)
    xb = rng.integers(0, 256, (500, bits // 8), dtype=np.uint8)
    xb[1] = ~xb[0]  # at distance == bits from code 0
    ids = np.arange(500, dtype=np.int64) * 3
    index = HashIndex(bits, method=method)
    index.add(xb, ids)
    for threshold in (0, bits // 2, bits - 1, bits):
        got = as_pairs(*index.range_search(xb[:5], threshold))
        assert got == brute_range(xb, ids, xb[:5], threshold)
    lims, _, _ = index.range_search(xb[:3], bits)
    assert np.diff(lims).tolist() == [500, 500, 500]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("bits", "t"), CASES)
def test_search_knn_matches_brute_force_with_ties(method, bits, t):
    xb, ids, xq = planted(bits, t, n_random=2000, n_queries=8, seed=3)
    index = HashIndex(bits, method=method)
    index.add(xb, ids)
    for k in (1, 2, 5, 17):
        d, i = index.search(xq, k)
        assert d.shape == i.shape == (xq.shape[0], k)
        got = [list(zip(dr.tolist(), ir.tolist())) for dr, ir in zip(d, i)]
        assert got == brute_knn(xb, ids, xq, k)


@pytest.mark.parametrize("method", METHODS)
def test_duplicate_codes_all_returned(method):
    rng = np.random.default_rng(1)
    code = rng.integers(0, 256, 32, dtype=np.uint8)
    xb = np.concatenate([np.repeat(code[None], 50, 0), rng.integers(0, 256, (200, 32), dtype=np.uint8)])
    index = HashIndex(256, method=method)
    ids = index.add(xb)
    lims, dist, found = index.range_search(code, 0)
    assert lims.tolist() == [0, 50]
    assert found.tolist() == ids[:50].tolist() and not dist.any()


# ---------------------------------------------------------------------------------------------
# small and edge cases


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bits", [64, 256])
def test_empty_index(method, bits):
    index = HashIndex(bits, method=method)
    q = np.zeros((3, bits // 8), np.uint8)
    lims, dist, ids = index.range_search(q, 5)
    assert lims.tolist() == [0, 0, 0, 0] and dist.size == 0 and ids.size == 0
    d, i = index.search(q, 2)
    assert (i == -1).all() and (d == -1).all()
    assert len(index) == 0 and index.ids().size == 0 and index.remove([1, 2]) == 0
    assert index.checksum() == codes_checksum(np.empty((0, bits // 8), np.uint8), [])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bits", [64, 256])
def test_one_entry_index(method, bits):
    # A peer's index returns nothing when it holds one entry: ours must find it.
    rng = np.random.default_rng(2)
    code = rng.integers(0, 256, bits // 8, dtype=np.uint8)
    index = HashIndex(bits, method=method)
    assert index.add(code, ids=[42]).tolist() == [42]
    near = flip_bits(rng, code, 3)
    lims, dist, ids = index.range_search(np.stack([code, near]), 3)
    assert lims.tolist() == [0, 1, 2] and dist.tolist() == [0, 3] and ids.tolist() == [42, 42]
    assert index.range_search(near, 2)[0].tolist() == [0, 0]
    d, i = index.search(near, 3)  # k is clamped to the index size
    assert d.tolist() == [[3]] and i.tolist() == [[42]]


@pytest.mark.parametrize("method", METHODS)
def test_remove_then_search(method):
    xb, ids, xq = planted(256, 31, n_random=2000, n_queries=6, seed=11)
    index = HashIndex(256, method=method)
    index.add(xb, ids)
    index.range_search(xq, 31)  # build whatever the structure caches, then mutate it
    rng = np.random.default_rng(5)
    gone = rng.choice(ids, size=ids.size // 3, replace=False)
    assert index.remove(np.concatenate([gone, gone[:5], [-5, 10**12]])) == gone.size
    keep = ~np.isin(ids, gone)
    assert len(index) == keep.sum()
    assert sorted(index.ids().tolist()) == sorted(ids[keep].tolist())
    assert as_pairs(*index.range_search(xq, 31)) == brute_range(xb[keep], ids[keep], xq, 31)
    # Add some back (new ids) and check again.
    more = index.add(xb[~keep][:50])
    assert more.min() > ids.max()
    all_ids = np.concatenate([ids[keep], more])
    all_codes = np.concatenate([xb[keep], xb[~keep][:50]])
    assert as_pairs(*index.range_search(xq, 31)) == brute_range(all_codes, all_ids, xq, 31)


def test_default_ids_continue_and_are_not_reused():
    index = HashIndex(64)
    z = np.zeros((2, 8), np.uint8)
    assert index.add(z).tolist() == [0, 1]
    assert index.add(z, ids=[10, 20]).tolist() == [10, 20]
    assert index.remove([20]) == 1
    assert index.add(z[:1]).tolist() == [21]


def test_duplicate_ids_rejected():
    index = HashIndex(64)
    z = np.zeros((2, 8), np.uint8)
    index.add(z, ids=[1, 2])
    with pytest.raises(ValueError, match="already in the index"):
        index.add(z, ids=[3, 2])
    with pytest.raises(ValueError, match="duplicates"):
        index.add(z, ids=[5, 5])
    assert len(index) == 2  # a rejected add changes nothing


@pytest.mark.parametrize(
    ("codes", "match"),
    [
        (np.zeros((2, 31), np.uint8), "shape"),
        (np.zeros((2, 32), np.int64), "dtype"),
        (np.zeros((2, 2, 32), np.uint8), "shape"),
        (np.zeros(33, np.uint8), "shape"),
        ([[1] * 32], "dtype"),
    ],
)
def test_bad_codes_rejected(codes, match):
    index = HashIndex(256)
    with pytest.raises(ValueError, match=match):
        index.add(codes)
    with pytest.raises(ValueError, match=match):
        index.range_search(codes, 3)


def test_bad_arguments_rejected():
    with pytest.raises(ValueError, match="multiple of 8"):
        HashIndex(60)
    with pytest.raises(ValueError, match="method"):
        HashIndex(256, method="ivf")
    index = HashIndex(64)
    q = np.zeros(8, np.uint8)
    with pytest.raises(ValueError, match="threshold"):
        index.range_search(q, 65)
    with pytest.raises(ValueError, match="threshold"):
        index.range_search(q, -1)
    with pytest.raises(TypeError, match="threshold"):
        index.range_search(q, 3.0)
    with pytest.raises(ValueError, match="k must"):
        index.search(q, 0)
    with pytest.raises(ValueError, match="entries"):
        index.add(np.zeros((2, 8), np.uint8), ids=[1])
    with pytest.raises(ValueError, match="non-negative"):
        index.add(np.zeros((1, 8), np.uint8), ids=[-1])
    with pytest.raises(ValueError, match="integers"):
        index.add(np.zeros((1, 8), np.uint8), ids=[1.5])


# ---------------------------------------------------------------------------------------------
# checksum


def test_checksum_order_independent_and_sensitive():
    rng = np.random.default_rng(9)
    xb = rng.integers(0, 256, (300, 32), dtype=np.uint8)
    ids = np.arange(300, dtype=np.int64)
    a = HashIndex(256)
    a.add(xb, ids)
    b = HashIndex(256)
    perm = rng.permutation(300)
    b.add(xb[perm], ids[perm])
    assert a.checksum() == b.checksum() == codes_checksum(xb, ids)
    c = xb.copy()
    c[17, 3] ^= 4
    assert codes_checksum(c, ids) != a.checksum()  # one flipped bit
    assert codes_checksum(xb, ids[::-1]) != a.checksum()  # same codes and ids, other pairing
    a.remove([5])
    assert a.checksum() != b.checksum()


# ---------------------------------------------------------------------------------------------
# persistence


@pytest.mark.parametrize("bits", [64, 256])
def test_save_load_round_trip(tmp_path, bits):
    xb, ids, xq = planted(bits, 10, n_random=1000, n_queries=4, seed=bits)
    index = HashIndex(bits)
    index.add(xb, ids)
    index.remove(ids[:10])
    path = tmp_path / "index.pmi"
    old_umask = os.umask(0)  # the file must be owner-only whatever the umask says
    try:
        index.save(path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["index.pmi"]  # no temporary left behind
    loaded = HashIndex.load(path)
    assert loaded.bits == bits and len(loaded) == len(index)
    assert loaded.checksum() == index.checksum()
    assert np.array_equal(loaded.ids(), index.ids()) and np.array_equal(loaded.codes(), index.codes())
    for a, b in zip(loaded.range_search(xq, 10), index.range_search(xq, 10)):
        assert np.array_equal(a, b)
    assert loaded.add(xb[:1]).tolist() == index.add(xb[:1]).tolist()  # the id counter survives


def test_save_empty_and_overwrite(tmp_path):
    path = tmp_path / "i"
    HashIndex(64).save(path)
    assert len(HashIndex.load(path)) == 0
    full = HashIndex(64)
    full.add(np.ones((3, 8), np.uint8))
    full.save(path)
    assert len(HashIndex.load(path)) == 3


def _damaged(tmp_path, how):
    index = HashIndex(256)
    index.add(np.random.default_rng(0).integers(0, 256, (100, 32), dtype=np.uint8))
    path = tmp_path / "index.pmi"
    index.save(path)
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 1
    elif how == "truncate":
        data = data[:-7]
    elif how == "short":
        data = data[:10]
    elif how == "magic":
        data[:8] = b"NOTANIDX"
    elif how == "version":
        data[8] = 99
    elif how == "extra":
        data += b"\0"
    elif how == "empty":
        data = bytearray()
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("how", ["flip", "truncate", "short", "magic", "version", "extra", "empty"])
def test_load_damaged_file_raises(tmp_path, how):
    path = _damaged(tmp_path, how)
    with pytest.raises(IndexFileError) as info:
        HashIndex.load(path)
    assert isinstance(info.value, PhotomatchError) and isinstance(info.value, ValueError)
    assert str(path) in str(info.value)


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        HashIndex.load(tmp_path / "nope")


# ---------------------------------------------------------------------------------------------
# the multi-index hashing kernels, C and numpy twin (``impl``), against brute force


def layout(bits: int, m: int):
    base, extra = divmod(bits, m)
    widths = np.array([base + 1] * extra + [base] * (m - extra), np.int32)
    starts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int32)
    return starts, widths


def kernel_pairs(lims, dist, pos, ids):
    out = []
    for a, b in zip(lims[:-1], lims[1:]):
        out.append(sorted(zip(dist[a:b].tolist(), ids[pos[a:b]].tolist())))
    return out


@pytest.mark.parametrize(
    ("bits", "m", "t", "radii"),
    [
        (256, 16, 31, None),  # the PDQ plan: 16 x 16 bits, 1 flip each
        (256, 11, 31, None),  # uneven widths (24 and 23 bits), radii 2 and 1
        (256, 40, 31, None),  # more tables than needed: some skipped (radius -1)
        (64, 4, 10, None),  # the pHash plan
        (64, 3, 10, None),
        (72, 5, 6, None),  # a code size that is not a multiple of 8 bytes, substrings across bytes
        (64, 4, 10, [8, 0, -1, 3]),  # any radii with sum(r + 1) > t is exact
    ],
)
def test_mih_kernel_exact(impl, bits, m, t, radii):
    from photomatch._index_plan import Layout as _Layout

    xb, ids, xq = planted(bits, t, n_random=1500, n_queries=5, seed=m)
    starts, widths = layout(bits, m)
    if radii is None:
        radii = _Layout(bits, m).radii(t)
        assert (radii < 0).sum() == max(0, m - t - 1)
    radii = np.array(radii, np.int32)
    assert int((radii + 1).sum()) > t
    handle = impl.mih_build(xb, starts, widths, 2)
    lims, dist, pos, cand = impl.mih_range_search(handle, xb, xq, radii, t, 2)
    assert lims.dtype == np.int64 and dist.dtype == np.int32 and pos.dtype == np.int64
    assert kernel_pairs(lims, dist, pos, ids) == brute_range(xb, ids, xq, t)
    assert cand >= lims[-1]  # every hit was a candidate; each reported once (checked above)
    assert impl.mih_memory(handle) >= 4 * m * xb.shape[0]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_mih_kernel_threads_equal_serial_and_twin(impl, threads):
    from photomatch import _native_mih

    xb, ids, xq = planted(256, 31, n_random=2000, n_queries=9, seed=4)
    starts, widths = layout(256, 16)
    radii = np.ones(16, np.int32)
    h = impl.mih_build(xb, starts, widths, threads)
    got = impl.mih_range_search(h, xb, xq, radii, 31, threads)
    twin = _native_mih.mih_range_search(_native_mih.mih_build(xb, starts, widths, 1), xb, xq, radii, 31, 1)
    assert np.array_equal(got[0], twin[0]) and got[3] == twin[3]
    assert kernel_pairs(*got[:3], ids) == kernel_pairs(*twin[:3], ids)


def test_mih_kernel_empty_and_one(impl):
    starts, widths = layout(64, 4)
    radii = np.array([2, 2, 2, 1], np.int32)
    empty = np.empty((0, 8), np.uint8)
    h = impl.mih_build(empty, starts, widths, 1)
    lims, dist, pos, cand = impl.mih_range_search(h, empty, np.zeros((2, 8), np.uint8), radii, 10, 1)
    assert lims.tolist() == [0, 0, 0] and dist.size == pos.size == cand == 0
    one = np.full((1, 8), 0x5A, np.uint8)
    h = impl.mih_build(one, starts, widths, 1)
    q = one.copy()
    q[0, 0] ^= 0b1011  # distance 3
    lims, dist, pos, _ = impl.mih_range_search(h, one, q, radii, 10, 1)
    assert lims.tolist() == [0, 1] and dist.tolist() == [3] and pos.tolist() == [0]
    lims, _, _, _ = impl.mih_range_search(h, one, np.zeros((0, 8), np.uint8), radii, 10, 1)
    assert lims.tolist() == [0]


def test_mih_kernel_rejects_bad_input(impl):
    codes = np.zeros((10, 8), np.uint8)
    starts, widths = layout(64, 4)
    with pytest.raises(TypeError, match="codes"):  # a wrong dtype: TypeError, as in the hashing kernels
        impl.mih_build(codes.astype(np.int32), starts, widths, 1)
    with pytest.raises(TypeError, match="codes"):
        impl.mih_build([[0] * 8] * 10, starts, widths, 1)
    with pytest.raises(ValueError, match="codes"):
        impl.mih_build(np.zeros((10, 16), np.uint8)[:, ::2], starts, widths, 1)  # not contiguous
    with pytest.raises(ValueError, match="codes"):
        impl.mih_build(codes.ravel(), starts, widths, 1)
    with pytest.raises(ValueError, match="layout"):
        impl.mih_build(codes, starts, widths + 40, 1)  # wider than the code / than 24 bits
    with pytest.raises(ValueError, match="layout"):
        impl.mih_build(codes, np.array([60], np.int32), np.array([8], np.int32), 1)
    with pytest.raises(TypeError, match="starts"):
        impl.mih_build(codes, starts.astype(np.int64), widths, 1)
    with pytest.raises(ValueError, match="same length"):
        impl.mih_build(codes, starts, widths[:2], 1)
    h = impl.mih_build(codes, starts, widths, 1)
    radii = np.zeros(4, np.int32)
    with pytest.raises(ValueError, match="codes"):
        impl.mih_range_search(h, codes[:5], codes, radii, 3, 1)  # fewer rows than indexed
    with pytest.raises(ValueError, match="queries"):
        impl.mih_range_search(h, codes, np.zeros((2, 9), np.uint8), radii, 3, 1)
    with pytest.raises(ValueError, match="radii"):
        impl.mih_range_search(h, codes, codes, np.zeros(3, np.int32), 3, 1)
    with pytest.raises(ValueError, match="radii"):
        impl.mih_range_search(h, codes, codes, np.full(4, -2, np.int32), 3, 1)
    with pytest.raises(ValueError, match="threshold"):
        impl.mih_range_search(h, codes, codes, radii, 65, 1)
    with pytest.raises(TypeError, match="handle"):
        impl.mih_range_search(object(), codes, codes, radii, 3, 1)


# ---------------------------------------------------------------------------------------------
# the index end to end on each implementation, and its plan


@pytest.fixture
def index_impl(impl, monkeypatch):
    """Run HashIndex on the kernels of one implementation."""
    from photomatch import _accel

    monkeypatch.setattr(_accel, "kernels", impl)
    return impl


@pytest.mark.parametrize(("bits", "t"), CASES)
def test_mih_index_each_impl_with_tail_and_tombstones(index_impl, bits, t):
    xb, ids, xq = planted(bits, t, n_random=4000, n_queries=6, seed=21)
    half = xb.shape[0] // 2
    index = HashIndex(bits, method="mih", threads=2)
    index.add(xb[:half], ids[:half])
    assert index.build(t) == "mih" and index.method == "mih"
    index.add(xb[half:], ids[half:])  # a tail the tables do not cover yet
    assert as_pairs(*index.range_search(xq, t)) == brute_range(xb, ids, xq, t)
    gone = ids[::7]  # few enough to stay tombstones (no compaction)
    assert index.remove(gone) == gone.size
    keep = ~np.isin(ids, gone)
    assert as_pairs(*index.range_search(xq, t)) == brute_range(xb[keep], ids[keep], xq, t)
    assert index.checksum() == codes_checksum(xb[keep], ids[keep])
    d, i = index.search(xq, 4)
    assert [list(zip(a.tolist(), b.tolist())) for a, b in zip(d, i)] == brute_knn(xb[keep], ids[keep], xq, 4)


def test_plan_auto_flat_small_mih_large():
    rng = np.random.default_rng(0)
    small = HashIndex(256)
    small.add(rng.integers(0, 256, (100, 32), dtype=np.uint8))
    assert small.method == "flat"
    assert HashIndex(256, method="mih").method == "flat"  # nothing to index yet
    forced = HashIndex(256, method="mih")
    forced.add(rng.integers(0, 256, (100, 32), dtype=np.uint8))
    assert forced.method == "mih"
    flat = HashIndex(256, method="flat")
    flat.add(rng.integers(0, 256, (100, 32), dtype=np.uint8))
    assert flat.method == "flat" and flat.build(31) == "flat"


@pytest.mark.skipif(
    __import__("photomatch").IMPLEMENTATION != "c", reason="auto uses MIH only with the C kernel (the twin is a spec)"
)
def test_plan_auto_picks_mih_at_scale_within_memory():
    from photomatch._index_plan import best_layout as _best_layout

    rng = np.random.default_rng(0)
    big = HashIndex(256)
    big.add(rng.integers(0, 256, (200_000, 32), dtype=np.uint8))
    assert big.method == "mih"
    assert big.build(31) == "mih"
    raw = 200_000 * (32 + 8)
    assert big.memory_bytes() <= 3 * raw
    # Every plan satisfies the pigeonhole bound, and fits its memory budget.
    for n, bits, t in [(10**6, 256, 31), (10**7, 256, 31), (10**6, 64, 10), (10**5, 256, 0)]:
        lay = _best_layout(n, bits, t, 2 * n * (bits // 8 + 8))
        assert int((lay.radii(t) + 1).sum()) > t and lay.memory(n) <= 2 * n * (bits // 8 + 8)
        assert lay.widths.sum() <= bits and lay.k <= lay.m


def test_threshold_change_keeps_results_exact():
    xb, ids, xq = planted(256, 31, n_random=3000, n_queries=5, seed=8)
    index = HashIndex(256, method="mih")
    index.add(xb, ids)
    for t in (31, 0, 5, 64, 31, 200):
        assert as_pairs(*index.range_search(xq, t)) == brute_range(xb, ids, xq, t)


# ---------------------------------------------------------------------------------------------
# property-based round trips

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(
    bits=st.sampled_from([64, 256]),
    n=st.integers(0, 60),
    seed=st.integers(0, 2**32 - 1),
    t=st.integers(0, 40),
    method=st.sampled_from(METHODS),
)
def test_hypothesis_range_search_matches_brute_force(bits, n, seed, t, method):
    rng = np.random.default_rng(seed)
    nbytes = bits // 8
    base = rng.integers(0, 256, (max(n, 1), nbytes), dtype=np.uint8)
    # Near-duplicates of a few codes so small thresholds have something to find.
    rows = [flip_bits(rng, base[rng.integers(0, base.shape[0])], int(rng.integers(0, 12))) for _ in range(n)]
    xb = np.array(rows, dtype=np.uint8).reshape(n, nbytes)
    ids = rng.choice(1000, size=n, replace=False).astype(np.int64)
    xq = base[:3]
    index = HashIndex(bits, method=method)
    index.add(xb, ids)
    assert as_pairs(*index.range_search(xq, t)) == brute_range(xb, ids, xq, t)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 40), seed=st.integers(0, 2**32 - 1), n_remove=st.integers(0, 40))
def test_hypothesis_save_load_round_trip(tmp_path_factory, n, seed, n_remove):
    rng = np.random.default_rng(seed)
    xb = rng.integers(0, 256, (n, 8), dtype=np.uint8)
    index = HashIndex(64)
    ids = index.add(xb)
    index.remove(rng.choice(ids, size=min(n_remove, n), replace=False) if n else [])
    path = tmp_path_factory.mktemp("rt") / "i.pmi"
    index.save(path)
    loaded = HashIndex.load(path)
    assert sorted(loaded.ids().tolist()) == sorted(index.ids().tolist())
    assert loaded.checksum() == index.checksum() and len(loaded) == len(index)
    for a, b in zip(loaded.range_search(xb[:3], 20), index.range_search(xb[:3], 20)):
        assert np.array_equal(a, b)


@pytest.mark.skipif(not __import__("photomatch")._accel.c_available(), reason="the C extension is not built")
@settings(max_examples=60, deadline=None)
@given(
    nbytes=st.sampled_from([1, 3, 8, 9, 32]),
    n=st.integers(0, 50),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_hypothesis_c_kernel_equals_twin(nbytes, n, seed, data):
    from photomatch import _accel, _native_mih

    c = _accel.get("c")
    bits = nbytes * 8
    rng = np.random.default_rng(seed)
    m = data.draw(st.integers(1, min(bits, 12)), label="m")
    starts, widths = layout(bits, m)
    keep = max(1, m - data.draw(st.integers(0, m - 1), label="dropped"))  # a subset of substrings
    starts, widths = starts[:keep], widths[:keep]
    if widths.max() > 24:
        return
    radii = np.array([data.draw(st.integers(-1, min(3, int(w))), label="r") for w in widths], np.int32)
    t = data.draw(st.integers(0, bits), label="t")
    base = rng.integers(0, 256, (4, nbytes), dtype=np.uint8)
    xb = base[rng.integers(0, 4, n)] ^ (rng.random((n, nbytes)) < 0.05).astype(np.uint8) * rng.integers(0, 256, (n, nbytes), dtype=np.uint8)
    xb = np.ascontiguousarray(xb, dtype=np.uint8).reshape(n, nbytes)
    ids = np.arange(n, dtype=np.int64)
    got = c.mih_range_search(c.mih_build(xb, starts, widths, 2), xb, base, radii, t, 2)
    twin = _native_mih.mih_range_search(_native_mih.mih_build(xb, starts, widths, 1), xb, base, radii, t, 1)
    assert np.array_equal(got[0], twin[0]) and got[3] == twin[3]
    assert kernel_pairs(*got[:3], ids) == kernel_pairs(*twin[:3], ids)
    # Whatever the radii, nothing outside the threshold is reported; with sum(r + 1) > t, all is.
    truth = brute_range(xb, ids, base, t)
    found = kernel_pairs(*got[:3], ids)
    assert all(set(f) <= set(tr) for f, tr in zip(found, truth))
    if int((radii + 1).sum()) > t:
        assert found == truth
