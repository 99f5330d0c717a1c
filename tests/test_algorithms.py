"""The algorithm records: consistent facts, every table derived from them, one error for an unknown name."""

from __future__ import annotations

import io
import sqlite3

import numpy as np
import pytest

import photomatch
from photomatch import algorithms
from photomatch.algorithms import ALGORITHMS, CHOICES, IMAGE_NAMES, NAMES
from photomatch.cli import build_parser
from photomatch.errors import HashFormatError, PhotomatchError, UnknownAlgorithmError
from photomatch.hashlists import read_hash_list
from photomatch.matcher import Matcher
from photomatch.store import Store


@pytest.mark.parametrize("name", NAMES)
def test_record_facts_agree_with_its_kernels(name):
    a = ALGORITHMS[name]
    assert (a.nbytes, a.hex_length) == (a.bits // 8, a.bits // 4)
    assert 0 < a.default_threshold < a.bits
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (90, 70, 3), dtype=np.uint8)
    bits, quality = a.hash_pixels(rgb)
    assert isinstance(bits, bytes) and len(bits) == a.nbytes
    assert (quality is None) == (a.quality_floor is None)
    # the luma path: a grey image hashes as its RGB (v, v, v)
    grey = rgb[:, :, 1].copy()
    assert a.hash_pixels(grey) == a.hash_pixels(np.repeat(grey[:, :, None], 3, axis=2))
    h = photomatch.hash_image(rgb, name)
    assert (h.algorithm, h.bits, h.quality) == (name, bits, quality)
    # the hex length tells an image algorithm; a vPDQ frame hash alone reads as the PDQ it is
    assert photomatch.Hash.from_hex(h.hex).algorithm == ("pdq" if a.video else name)


def test_hex_lengths_tell_algorithms_apart_and_choices_add_both():
    assert len({ALGORITHMS[n].hex_length for n in IMAGE_NAMES}) == len(IMAGE_NAMES)
    assert CHOICES == (*IMAGE_NAMES, "both")
    assert algorithms.select("both") == tuple(ALGORITHMS[n] for n in IMAGE_NAMES)
    assert [a.name for a in ALGORITHMS.values() if a.video] == ["vpdq"] and "vpdq" in NAMES
    assert [a.name for a in algorithms.select("phash")] == ["phash"]


def test_cli_choices_come_from_the_records():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    choices = {cmd: {a.dest: a.choices for a in p._actions} for cmd, p in sub.choices.items()}
    assert tuple(choices["hash"]["algo"]) == NAMES
    assert tuple(choices["dedup"]["algo"]) == IMAGE_NAMES
    assert tuple(choices["add"]["algo"]) == CHOICES
    assert tuple(choices["match"]["mode"]) == photomatch.matcher.MODES


def test_store_sql_check_follows_the_records(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as store:
        for a in ALGORITHMS.values():
            store.add_item([(a.name, bytes(a.nbytes))])
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA foreign_keys = ON")
        for a in ALGORITHMS.values():
            with pytest.raises(sqlite3.IntegrityError):  # wrong length for this algorithm
                con.execute("INSERT INTO hashes (item_id, algorithm, bits) VALUES (1, ?, ?)",
                            (a.name, bytes(a.nbytes + 1)))
        with pytest.raises(sqlite3.IntegrityError):
            con.execute("INSERT INTO hashes (item_id, algorithm, bits) VALUES (1, 'md5', ?)", (bytes(16),))
    finally:
        con.close()


MESSAGE = "unknown hash algorithm 'md5'; expected one of pdq, phash, vpdq"


def _raisers(tmp_path):
    store = Store(tmp_path / "s.db")
    yield "Hash", lambda: photomatch.Hash("md5", bytes(16))
    yield "from_hex", lambda: photomatch.Hash.from_hex("0" * 32, algorithm="md5")
    yield "hash_image", lambda: photomatch.hash_image(np.zeros((8, 8, 3), np.uint8), "md5")
    yield "hash_files", lambda: list(photomatch.hash_files([], "md5"))
    yield "store.add_item", lambda: store.add_item([("md5", bytes(16))])
    yield "store.has_algorithm", lambda: store.has_algorithm("md5")
    store.close()


def test_one_error_and_one_message_for_an_unknown_algorithm(tmp_path):
    for where, call in _raisers(tmp_path):
        with pytest.raises(UnknownAlgorithmError) as info:
            call()
        assert str(info.value) == MESSAGE, where
        assert info.value.algorithm == "md5"
        assert isinstance(info.value, (ValueError, HashFormatError, PhotomatchError))
    with Matcher(tmp_path / "m.db") as m, pytest.raises(UnknownAlgorithmError,
                                                         match=r"'md5'; expected one of pdq, phash, both$"):
        m.add([np.zeros((8, 8, 3), np.uint8)], algorithm="md5")
    assert photomatch.UnknownAlgorithmError is UnknownAlgorithmError


def test_unknown_algorithm_in_a_hash_list_names_file_and_line():
    text = "algo,hash\nphash," + "0" * 16 + "\nmd5," + "0" * 16 + "\n"
    with pytest.raises(UnknownAlgorithmError) as info:
        read_hash_list(io.StringIO(text))
    e = info.value
    assert (e.path, e.line, e.reason) == ("<stream>", 3, MESSAGE)
    assert str(e) == f"<stream>, line 3: {MESSAGE}"
    skipped = []
    assert len(read_hash_list(io.StringIO(text), skip_invalid=True, on_skip=skipped.append)) == 1
    assert [s.reason for s in skipped] == [MESSAGE]


def test_unknown_algorithm_message_never_quotes_a_hash():
    e = UnknownAlgorithmError("deadbeef" * 8, NAMES)
    assert "deadbeef" not in str(e) and "<hex>" in str(e)
