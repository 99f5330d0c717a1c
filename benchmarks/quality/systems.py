"""The systems compared by the quality benchmark, behind one small interface.

A system has a ``name``, ``build(reported)`` (``reported`` a list of ``(id, path)`` of the
original reported photos) and ``query(image) -> list[id]`` (the ids of the reported photos it
says ``image`` is a copy of). ``available()`` says whether it can run here and, if not, why.

Hash-then-look-up systems (the peers) subclass :class:`HashSystem`: their ``hash(image)`` is a
pure function, so the harness runs it in worker processes and caches it per file, then calls
``index(pairs)`` and ``lookup(hash)``; ``build``/``query`` do the same in-process.

>>> s = make_system("pdqhash")
>>> s.name
'pdqhash'
"""

from __future__ import annotations

import importlib.util
import inspect
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .alterations import load_rgb

PDQ_THRESHOLD = 31  # the PDQ reference's recommended match distance
PHASH_THRESHOLD = 10
CROP_RESISTANT_BIT_ERROR_RATE = 0.25  # imagehash's default in ImageMultiHash.hash_diff / matches


class System:
    """Base class: subclasses set ``name`` and implement ``build`` and ``query``."""

    name = "system"
    slow = False  # slow systems are queried on a sample of copies (see --sample-slow)
    note = ""  # one line for the report: threshold, matching rule

    def available(self) -> tuple[bool, str]:
        return True, ""

    def build(self, reported: Sequence[tuple[str, Path]]) -> None:
        raise NotImplementedError

    def query(self, image: Image.Image) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (stores, files)."""

    def reopen_spec(self) -> Any | None:
        """After ``build``: a picklable recipe for :func:`reopen` in a worker process, or None (in-process only)."""
        return None


class HashSystem(System):
    """A system that hashes a whole query image once and looks the hash up (parallelisable, cacheable)."""

    package = ""

    def available(self) -> tuple[bool, str]:
        if importlib.util.find_spec(self.package) is None:
            return False, f"package {self.package!r} is not installed"
        return True, ""

    def hash(self, image: Image.Image) -> Any:
        """Hash of a query image (picklable)."""
        raise NotImplementedError

    def hash_reported(self, image: Image.Image) -> Any:
        """Hash of a reported image (the same as ``hash`` unless the query side does more)."""
        return self.hash(image)

    def index(self, pairs: Sequence[tuple[str, Any]]) -> None:
        raise NotImplementedError

    def lookup(self, h: Any) -> list[str]:
        raise NotImplementedError

    def build(self, reported: Sequence[tuple[str, Path]]) -> None:
        self.index([(rid, self.hash_reported(load_rgb(path))) for rid, path in reported])

    def query(self, image: Image.Image) -> list[str]:
        return self.lookup(self.hash(image))


def _packed_hamming(queries: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Hamming distances between packed uint8 bit rows: (q, nbytes) x (n, nbytes) -> (q, n)."""
    x = np.bitwise_xor(queries[:, None, :], index[None, :, :])
    return np.bitwise_count(x).sum(axis=2, dtype=np.int32)


class _PackedIndex(HashSystem):
    """Brute-force Hamming search over packed hashes: the oracle behaviour of any exact index."""

    threshold = 0

    def index(self, pairs: Sequence[tuple[str, Any]]) -> None:
        self._ids = [rid for rid, _ in pairs]
        width = len(pairs[0][1].reshape(-1)) if pairs else 1
        self._bits = np.array([h.reshape(-1) for _, h in pairs], dtype=np.uint8).reshape(len(pairs), width)

    def lookup(self, h: Any) -> list[str]:
        if not self._ids:
            return []
        q = np.asarray(h, dtype=np.uint8)
        q = q.reshape(-1, self._bits.shape[1])  # one row per query variant (8 for the dihedral one)
        best = _packed_hamming(q, self._bits).min(axis=0)
        return [self._ids[i] for i in np.flatnonzero(best <= self.threshold)]


class PdqSystem(_PackedIndex):
    """PDQ (pdqhash package, Meta's reference C++) of the full image, match at distance <= 31."""

    name = "pdqhash"
    package = "pdqhash"
    threshold = PDQ_THRESHOLD
    note = "PDQ of the whole image (pdqhash.compute, no downscaling, quality ignored), Hamming <= 31"

    def hash(self, image: Image.Image) -> np.ndarray:
        import pdqhash

        bits, _quality = pdqhash.compute(np.asarray(image.convert("RGB")))
        return np.packbits(bits.astype(np.uint8))


class PdqDihedralSystem(PdqSystem):
    """PDQ with the query's 8 dihedral variants (rotations by 90 degrees and mirrors): any within 31."""

    name = "pdqhash-dihedral"
    note = "PDQ of the reported image vs the query's 8 dihedral PDQ hashes (pdqhash.compute_dihedral), any <= 31"

    def hash(self, image: Image.Image) -> np.ndarray:
        import pdqhash

        hashes, _qualities = pdqhash.compute_dihedral(np.asarray(image.convert("RGB")))
        return np.stack([np.packbits(b.astype(np.uint8)) for b in hashes])

    def hash_reported(self, image: Image.Image) -> np.ndarray:
        return PdqSystem.hash(self, image)


class PhashSystem(_PackedIndex):
    """imagehash.phash (64-bit DCT hash), match at distance <= 10."""

    name = "imagehash-phash"
    package = "imagehash"
    threshold = PHASH_THRESHOLD
    note = "imagehash.phash (64 bits) of the whole image, Hamming <= 10"

    def hash(self, image: Image.Image) -> np.ndarray:
        import imagehash

        return np.packbits(imagehash.phash(image).hash.reshape(-1).astype(np.uint8))


class CropResistantSystem(HashSystem):
    """imagehash.crop_resistant_hash with its default matching, vectorised.

    ``ImageMultiHash.matches(other)`` with its defaults (``region_cutoff=1``,
    ``bit_error_rate=0.25``) is true when at least one segment hash of one image lies within
    ``0.25 * 64 = 16`` bits of some segment hash of the other: that rule is symmetric, so the
    lookup here tests every pair of (query segment, reported segment) at once.
    """

    name = "imagehash-crop-resistant"
    package = "imagehash"
    slow = True
    note = "imagehash.crop_resistant_hash (dhash segments), default ImageMultiHash.matches: any segment pair <= 16 bits"

    def hash(self, image: Image.Image) -> np.ndarray:
        import imagehash

        return self.pack(imagehash.crop_resistant_hash(image))

    @staticmethod
    def pack(multi: Any) -> np.ndarray:
        """An ``ImageMultiHash`` as a (segments, bytes) uint8 array."""
        return np.stack([np.packbits(s.hash.reshape(-1).astype(np.uint8)) for s in multi.segment_hashes])

    def index(self, pairs: Sequence[tuple[str, Any]]) -> None:
        self._ids = [rid for rid, _ in pairs]
        rows = [np.asarray(h, dtype=np.uint8) for _, h in pairs]
        self._owner = np.concatenate([np.full(len(r), i) for i, r in enumerate(rows)]) if rows else np.zeros(0, int)
        self._segments = np.concatenate(rows) if rows else np.zeros((0, 8), np.uint8)
        self._cutoff = self._segments.shape[1] * 8 * CROP_RESISTANT_BIT_ERROR_RATE if rows else 0

    def lookup(self, h: Any) -> list[str]:
        if not self._ids:
            return []
        d = _packed_hamming(np.asarray(h, dtype=np.uint8), self._segments)
        hit = (d <= self._cutoff).any(axis=0)
        owners = np.unique(self._owner[hit])
        return [self._ids[i] for i in owners]


def reference_pdq_hex(image: Image.Image) -> str:
    """The reference PDQ (Meta's C++, packaged as ``pdqhash``) of a picture, as a partner shares it."""
    import pdqhash

    bits, _quality = pdqhash.compute(np.asarray(image.convert("RGB")))
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


class PhotomatchSystem(System):
    """photomatch's Matcher in one mode; unavailable (with the reason) until the Matcher exists and works."""

    def __init__(self, mode: str, workdir: Path | None = None, *, features: bool | None = None,
                 hash_list: bool = False) -> None:
        self.mode = mode
        self.hash_list = hash_list  # the store holds only reference PDQ hashes, imported
        # The robust system keeps local features of the reported images (opt-in in the library);
        # "robust-hashes" is the same mode on a list of plain reference PDQ hashes (the hash-sharing
        # case); "robust-regionhashes" on a store photomatch built without features (its own
        # region hashes of each reported photo, what a partner running photomatch could share).
        self.features = (mode == "robust") if features is None else features
        suffix = "-hashes" if hash_list else "-regionhashes" if mode == "robust" and not self.features else ""
        self.name = f"photomatch-{mode}{suffix}"
        self.note = (f'photomatch.Matcher.match(image, mode="{mode}") with the library defaults; '
                     + ("the store holds only the reported photos' reference PDQ hashes (pdqhash.compute), "
                        "imported with add_hashes, as a hash-sharing partner would send them" if hash_list else
                        f"reported images added with features={self.features}"))
        self.workdir = workdir
        self._matcher: Any = None
        self._store: Path | None = None

    def available(self) -> tuple[bool, str]:
        try:
            import photomatch
        except Exception as exc:  # a broken build must not stop the peers' run
            return False, f"import photomatch failed: {type(exc).__name__}: {exc}"
        if not hasattr(photomatch, "Matcher"):
            return False, "photomatch.Matcher does not exist yet"
        try:
            params = inspect.signature(photomatch.Matcher.match).parameters
        except (TypeError, ValueError):
            params = {}
        if "mode" not in params:
            return False, 'photomatch.Matcher.match has no mode= parameter yet ("fast"/"robust")'
        if self.hash_list and importlib.util.find_spec("pdqhash") is None:
            return False, "package 'pdqhash' is not installed (the hash list is built with it)"
        return True, ""

    def build(self, reported: Sequence[tuple[str, Path]]) -> None:
        import photomatch

        if self.workdir is None:
            msg = f"{self.name}: no work folder for the store"
            raise ValueError(msg)
        # A fresh store per run: the library under test changes between runs.
        folder = self.workdir / self.name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, mode=0o700)
        self._store = folder / "store.sqlite"
        self._matcher = photomatch.Matcher(self._store)
        for rid, path in reported:
            if self.hash_list:  # what a hash-sharing partner sends: the reference PDQ, nothing else
                self._matcher.add_hashes([reference_pdq_hex(load_rgb(path))], label=rid)
            else:
                self._matcher.add([path], label=rid, features=self.features)

    def reopen_spec(self) -> Any | None:
        return (("photomatch", (self.mode, self.features, self.hash_list), str(self._store))
                if self._matcher is not None else None)

    def _open(self, store: str) -> None:
        import photomatch

        self._matcher = photomatch.Matcher(store)

    def query(self, image: Image.Image) -> list[str]:
        return [str(m.label) for m in self._matcher.match(image, mode=self.mode)]

    def close(self) -> None:
        close = getattr(self._matcher, "close", None)
        if callable(close):
            close()
        self._matcher = None


def hash_all(image: Image.Image, wanted: Sequence[tuple[str, bool]]) -> dict[str, tuple[Any, float]]:
    """Hashes of one decoded image for several hash systems ``(name, reported_side)``, with their times.

    PDQ runs once per image when both PDQ systems want it: on the query side the first hash of
    ``pdqhash.compute_dihedral`` is ``pdqhash.compute``'s bit for bit, and both systems are charged
    that call's time (the full-size downsampling dominates; the 7 extra DCT variants add little);
    on the reported side both use ``pdqhash.compute``. This halves the harness's slowest work.
    """
    sides = dict(wanted)
    out: dict[str, tuple[Any, float]] = {}
    if sides.get("pdqhash") is False and sides.get("pdqhash-dihedral") is False:
        t0 = time.perf_counter()
        d = PdqDihedralSystem().hash(image)
        secs = time.perf_counter() - t0
        out["pdqhash-dihedral"], out["pdqhash"] = (d, secs), (d[0].copy(), secs)
    elif sides.get("pdqhash") is True and sides.get("pdqhash-dihedral") is True:
        t0 = time.perf_counter()
        h = PdqSystem().hash(image)
        secs = time.perf_counter() - t0
        out["pdqhash-dihedral"], out["pdqhash"] = (h, secs), (h.copy(), secs)
    for name, reported_side in wanted:
        if name in out:
            continue
        system = make_system(name)
        if not isinstance(system, HashSystem):
            msg = f"{name} is not a hash system"
            raise TypeError(msg)
        t0 = time.perf_counter()
        h = system.hash_reported(image) if reported_side else system.hash(image)
        out[name] = (h, time.perf_counter() - t0)
    return out


_REOPENED: dict[Any, System] = {}


def reopen(spec: Any) -> System:
    """The built system a ``reopen_spec()`` describes, opened once per worker process."""
    if spec not in _REOPENED:
        kind, (mode, features, hash_list), store = spec
        if kind != "photomatch":
            msg = f"cannot reopen a system of kind {kind!r}"
            raise ValueError(msg)
        s = PhotomatchSystem(mode, features=features, hash_list=hash_list)
        s._open(store)
        _REOPENED[spec] = s
    return _REOPENED[spec]


SYSTEM_NAMES = ("photomatch-robust", "photomatch-robust-hashes", "photomatch-robust-regionhashes", "photomatch-fast", "pdqhash", "pdqhash-dihedral", "imagehash-phash", "imagehash-crop-resistant")

_HASH_SYSTEMS: dict[str, type[HashSystem]] = {
    c.name: c for c in (PdqSystem, PdqDihedralSystem, PhashSystem, CropResistantSystem)
}


def make_system(name: str, workdir: Path | None = None) -> System:
    """A system by name (one of ``SYSTEM_NAMES``)."""
    if name in _HASH_SYSTEMS:
        return _HASH_SYSTEMS[name]()
    if name == "photomatch-robust-hashes":
        return PhotomatchSystem("robust", workdir, features=False, hash_list=True)
    if name == "photomatch-robust-regionhashes":
        return PhotomatchSystem("robust", workdir, features=False)
    if name.startswith("photomatch-") and name.removeprefix("photomatch-") in ("fast", "robust"):
        return PhotomatchSystem(name.removeprefix("photomatch-"), workdir)
    msg = f"unknown system {name!r}: expected one of {', '.join(SYSTEM_NAMES)}"
    raise ValueError(msg)
