"""HashIndex against a numpy brute-force oracle (exact Hamming search), and its persistence."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from photomatch import PhotomatchError
from photomatch.index import HashIndex, IndexFileError, codes_checksum

POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.int32)
KINDS = ["flat", "mih", "auto"]
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


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("bits", "t"), CASES)
def test_range_search_planted_every_distance(kind, bits, t):
    xb, ids, xq = planted(bits, t, n_random=3000, n_queries=12, seed=bits + t)
    index = HashIndex(bits, kind=kind)
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


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("bits", "t"), CASES)
def test_range_search_extreme_thresholds(kind, bits, t):
    rng = np.random.default_rng(7)
    xb = rng.integers(0, 256, (500, bits // 8), dtype=np.uint8)
    xb[1] = ~xb[0]  # at distance == bits from code 0
    ids = np.arange(500, dtype=np.int64) * 3
    index = HashIndex(bits, kind=kind)
    index.add(xb, ids)
    for threshold in (0, bits // 2, bits - 1, bits):
        got = as_pairs(*index.range_search(xb[:5], threshold))
        assert got == brute_range(xb, ids, xb[:5], threshold)
    lims, _, _ = index.range_search(xb[:3], bits)
    assert np.diff(lims).tolist() == [500, 500, 500]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("bits", "t"), CASES)
def test_search_knn_matches_brute_force_with_ties(kind, bits, t):
    xb, ids, xq = planted(bits, t, n_random=2000, n_queries=8, seed=3)
    index = HashIndex(bits, kind=kind)
    index.add(xb, ids)
    for k in (1, 2, 5, 17):
        d, i = index.search(xq, k)
        assert d.shape == i.shape == (xq.shape[0], k)
        got = [list(zip(dr.tolist(), ir.tolist())) for dr, ir in zip(d, i)]
        assert got == brute_knn(xb, ids, xq, k)


@pytest.mark.parametrize("kind", KINDS)
def test_duplicate_codes_all_returned(kind):
    rng = np.random.default_rng(1)
    code = rng.integers(0, 256, 32, dtype=np.uint8)
    xb = np.concatenate([np.repeat(code[None], 50, 0), rng.integers(0, 256, (200, 32), dtype=np.uint8)])
    index = HashIndex(256, kind=kind)
    ids = index.add(xb)
    lims, dist, found = index.range_search(code, 0)
    assert lims.tolist() == [0, 50]
    assert found.tolist() == ids[:50].tolist() and not dist.any()


# ---------------------------------------------------------------------------------------------
# small and edge cases


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bits", [64, 256])
def test_empty_index(kind, bits):
    index = HashIndex(bits, kind=kind)
    q = np.zeros((3, bits // 8), np.uint8)
    lims, dist, ids = index.range_search(q, 5)
    assert lims.tolist() == [0, 0, 0, 0] and dist.size == 0 and ids.size == 0
    d, i = index.search(q, 2)
    assert (i == -1).all() and (d == -1).all()
    assert len(index) == 0 and index.ids().size == 0 and index.remove([1, 2]) == 0
    assert index.checksum() == codes_checksum(np.empty((0, bits // 8), np.uint8), [])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bits", [64, 256])
def test_one_entry_index(kind, bits):
    # A peer's index returns nothing when it holds one entry: ours must find it.
    rng = np.random.default_rng(2)
    code = rng.integers(0, 256, bits // 8, dtype=np.uint8)
    index = HashIndex(bits, kind=kind)
    assert index.add(code, ids=[42]).tolist() == [42]
    near = flip_bits(rng, code, 3)
    lims, dist, ids = index.range_search(np.stack([code, near]), 3)
    assert lims.tolist() == [0, 1, 2] and dist.tolist() == [0, 3] and ids.tolist() == [42, 42]
    assert index.range_search(near, 2)[0].tolist() == [0, 0]
    d, i = index.search(near, 3)
    assert d.tolist() == [[3, -1, -1]] and i.tolist() == [[42, -1, -1]]


@pytest.mark.parametrize("kind", KINDS)
def test_remove_then_search(kind):
    xb, ids, xq = planted(256, 31, n_random=2000, n_queries=6, seed=11)
    index = HashIndex(256, kind=kind)
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
    with pytest.raises(ValueError, match="kind"):
        HashIndex(256, kind="ivf")
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
