"""Fuzz harness: file names and JPEG scan structure (issue 9's hostile classes).

    python fuzz/fuzz_names_scans.py [libFuzzer flags] [CORPUS_DIR ...]   # fuzz
    python fuzz/fuzz_names_scans.py crash-1234abcd                       # replay one input

The first byte chooses the target, so a crash file replays exactly:

* even: the rest is a **file name** (bytes, as Linux allows: not UTF-8, control characters,
  terminal escapes, bidi overrides). Its ``os.fsdecode`` form must survive photomatch's escaped
  form (``photomatch._text``) unchanged, the escaped form must be valid UTF-8 on one line with no
  control character, and a small PNG saved under that name in a fresh folder must be hashed by
  ``hash_files`` over the folder (the walk yields it; a batch never stops on a name).
* odd: the rest is spliced into a **progressive JPEG** as extra scans (each chunk of the input
  becomes an SOS segment with that entropy-coded data). ``loading.jpeg_scan_count`` must agree
  with an independent segment walker (``tests/badinputs.py``), and ``load_rgb`` must either
  decode or refuse with a PhotomatchError (``ImageTooLargeError`` past ``MAX_JPEG_SCANS``).

Anything else (another exception, a broken invariant: ``FuzzFinding``) is a finding.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile

import atheris

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

with atheris.instrument_imports(include=["photomatch"]):
    from photomatch import hash_files, loading
    from photomatch._text import escape, unescape
    from photomatch.errors import ImageTooLargeError, PhotomatchError
    from photomatch.files import iter_image_paths

import badinputs  # noqa: E402 -- after the path insert; the oracle walker and the seed JPEG
from PIL import Image  # noqa: E402

_PNG = io.BytesIO()
Image.new("RGB", (24, 16), (40, 90, 200)).save(_PNG, "PNG")
_JPEG = badinputs.jpeg_scan_bomb(32, 24, 10)  # Pillow's progressive script: 10 scans
_SOS = next(s for s in badinputs.jpeg_segments(_JPEG) if s[0] == 0xDA)
_HEADER = _JPEG[_SOS[1] : _SOS[1] + 4 + int.from_bytes(_JPEG[_SOS[1] + 2 : _SOS[1] + 4], "big") - 2]
_EOI = _JPEG.rindex(b"\xff\xd9")
_ROOT = tempfile.mkdtemp(prefix="fuzz_names_")


class FuzzFinding(Exception):
    """An input broke an invariant."""


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise FuzzFinding(what)


def _name(raw: bytes) -> None:
    raw = raw.replace(b"/", b"_").replace(b"\0", b"_")[:200] or b"_"
    name = os.fsdecode(raw)
    e = escape(name)
    _check(unescape(e) == name, "escape/unescape changed a name")
    e.encode("utf-8")  # raises on a lone surrogate: a finding
    _check(not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in e), "a control character survived escaping")
    if raw in (b".", b".."):
        return
    folder = tempfile.mkdtemp(dir=_ROOT)
    path = os.path.join(os.fsencode(folder), raw + b".png")
    try:
        with open(path, "wb") as f:
            f.write(_PNG.getvalue())
    except OSError:  # too long for the file system: not photomatch's concern
        return
    try:
        found = list(iter_image_paths([folder]))
        _check(len(found) == 1, f"the walk found {len(found)} files")
        [r] = list(hash_files(found, workers=1))
        _check(r.ok, f"hashing failed: {r.error}")
    finally:
        os.unlink(path)
        os.rmdir(folder)


def _scans(raw: bytes) -> None:
    # Each chunk becomes the entropy-coded data of one more scan, placed before EOI: stuffing
    # 0xFF as libjpeg would (0xFF 0x00) keeps the chunk inside its scan.
    chunks = [raw[i : i + 24].replace(b"\xff", b"\xff\x00") for i in range(0, len(raw), 24)]
    data = _JPEG[:_EOI] + b"".join(_HEADER + c for c in chunks) + _JPEG[_EOI:]
    expected = sum(1 for m, _, _ in badinputs.jpeg_segments(data) if m == 0xDA)
    _check(loading.jpeg_scan_count(io.BytesIO(data)) == expected, "jpeg_scan_count disagrees with the walker")
    try:
        loading.load_rgb(data)
    except ImageTooLargeError:
        _check(expected > loading.MAX_JPEG_SCANS, f"refused a JPEG of {expected} scans")
    except PhotomatchError:
        pass
    else:
        _check(expected <= loading.MAX_JPEG_SCANS, f"decoded a JPEG of {expected} scans")


def TestOneInput(data: bytes) -> None:  # noqa: N802 -- the name libFuzzer/atheris expect
    if not data:
        return
    (_scans if data[0] % 2 else _name)(data[1:])


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
