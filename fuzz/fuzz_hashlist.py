"""Fuzz harness: bytes -> photomatch.hashlists.read_hash_list, then a write/read round trip.

    python fuzz/fuzz_hashlist.py [libFuzzer flags] [CORPUS_DIR ...]   # fuzz
    python fuzz/fuzz_hashlist.py crash-1234abcd                       # replay one input

(tools/fuzz.sh runs it with the right flags and seed corpus.) Hash lists come from partners and
other tools, so every byte string must either be refused with a HashFormatError (a
PhotomatchError) that names the stream and a line, or parse into records that are valid and
survive ``write_hash_list`` -> ``read_hash_list`` unchanged in each output format (the module
promises that round trip). The format and ``skip_invalid`` are derived from the input's length,
so every crash file replays exactly. Errors must not quote a hash from the input (reports are
sensitive). Any other exception or broken invariant (``FuzzFinding``) is a finding.
"""

from __future__ import annotations

import io
import re
import sys

import atheris

with atheris.instrument_imports(include=["photomatch"]):
    from photomatch.errors import PhotomatchError
    from photomatch.hashlists import FORMATS, HashRecord, SkippedLine, read_hash_list, write_hash_list

_DIGITS = {"pdq": 64, "phash": 16}
_HEX = re.compile(r"[0-9a-f]+")
_HEX_RUN = re.compile(rb"[0-9a-fA-F]{16,}")
_INPUT_FORMATS = (None, "csv", "tsv", "jsonl", "text")


class FuzzFinding(Exception):
    """An input broke an invariant of the hash-list reader or writer."""


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise FuzzFinding(what)


def _check_record(r: HashRecord) -> None:
    _check(r.algorithm in _DIGITS, f"record with algorithm {r.algorithm!r}")
    _check(len(r.hex) == _DIGITS[r.algorithm] and _HEX.fullmatch(r.hex) is not None,
           f"record whose hex is not {_DIGITS[r.algorithm]} lower-case digits: {len(r.hex)} chars")
    _check(r.quality is None or (isinstance(r.quality, int) and 0 <= r.quality <= 100), f"quality {r.quality!r}")
    _check(r.region is None or len(r.region) == 4, f"region {r.region!r}")


def _check_no_hash_quoted(message: str, data: bytes) -> None:
    for run in _HEX_RUN.findall(message.encode("utf-8", "replace")):
        _check(run.lower() not in data.lower(), "an error message quotes a hex run of the input")


def TestOneInput(data: bytes) -> None:  # noqa: N802 -- the name libFuzzer/atheris expect
    fmt = _INPUT_FORMATS[len(data) % len(_INPUT_FORMATS)]
    skip_invalid = (len(data) // len(_INPUT_FORMATS)) % 2 == 1
    skipped: list[SkippedLine] = []
    try:
        records = read_hash_list(io.BytesIO(data), format=fmt, skip_invalid=skip_invalid, on_skip=skipped.append)
    except PhotomatchError as e:
        _check(str(e).startswith("<stream>, line "), f"error does not name the stream and line: {str(e)[:80]!r}")
        _check_no_hash_quoted(str(e), data)
        return
    for s in skipped:
        _check_no_hash_quoted(str(s), data)
    for r in records:
        _check_record(r)
    for out_fmt in FORMATS:
        buf = io.StringIO()
        n = write_hash_list(records, buf, format=out_fmt)
        _check(n == len(records), f"write_hash_list wrote {n} of {len(records)}")
        again = read_hash_list(io.StringIO(buf.getvalue()), format=out_fmt)
        _check(again == records, f"{out_fmt} round trip changed the records")


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
