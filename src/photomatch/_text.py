"""The one escaped form of untrusted text (file names, labels, messages) in photomatch's output.

File names come from adversaries: on Linux they are bytes, and those that are not UTF-8 reach
Python as lone surrogates (``os.fsdecode``'s surrogateescape); names and labels may hold
newlines, tabs or terminal escapes that would forge rows of a table or drive a terminal. Inside
photomatch names stay ``str`` with their surrogates (nothing is lost); every output (the text
tables, JSON lines, CSV, stderr) and the store's text columns show them in one form:

* ``\\xNN`` for a byte of a name that is not UTF-8 (NN >= 80) and for an ASCII control
  character or DEL (NN < 20, or 7f);
* ``\\uNNNN`` for the C1 controls (U+0080-U+009F), the bidirectional overrides and isolates
  (U+202A-U+202E, U+2066-U+2069: they reorder what a terminal shows) and any other lone
  surrogate;
* ``\\\\`` for a backslash; every other character as itself.

:func:`unescape` undoes it exactly, so the form is lossless.

>>> escape("a\\udcff.jpg"), escape("tab\\there"), escape("C:\\\\x")
('a\\\\xff.jpg', 'tab\\\\x09here', 'C:\\\\\\\\x')
>>> unescape(escape("a\\udcff\\n\\u202e\\\\")) == "a\\udcff\\n\\u202e\\\\"
True
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["csv_cell", "csv_value", "escape", "escaped", "storable", "unescape"]

_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4})")


def _one(m: re.Match[str]) -> str:
    c = m.group()
    o = ord(c)
    if c == "\\":
        return "\\\\"
    if o < 0x20 or o == 0x7F:
        return f"\\x{o:02x}"
    if 0xDC80 <= o <= 0xDCFF:  # a byte of a non-UTF-8 name (surrogateescape)
        return f"\\x{o - 0xDC00:02x}"
    return f"\\u{o:04x}"


def escape(text: str) -> str:
    """``text`` in the escaped form (see the module docstring): printable, valid UTF-8, one line."""
    return _UNSAFE.sub(_one, text)


def _undo(m: re.Match[str]) -> str:
    s = m.group(1)
    if s == "\\":
        return "\\"
    n = int(s[1:], 16)
    if s[0] == "x":
        return chr(n) if n < 0x80 else chr(0xDC00 + n)
    return chr(n)


def unescape(text: str) -> str:
    """The text :func:`escape` was given."""
    return _ESCAPE.sub(_undo, text)


def escaped(obj: Any) -> Any:
    """``obj`` (a JSON-able record) with every string in it escaped, keys included."""
    if isinstance(obj, str):
        return escape(obj)
    if isinstance(obj, dict):
        return {escaped(k): escaped(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [escaped(v) for v in obj]
    return obj


def storable(text: str | None) -> str | None:
    """Text for the store's columns (SQLite keeps valid UTF-8 only): as it is, unless it holds a
    lone surrogate (a non-UTF-8 file name), which is stored in the escaped form."""
    if text is None or not _has_surrogate(text):
        return text
    return escape(text)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# A spreadsheet takes a cell starting with one of these for a formula (=, +, -, @) or strips it
# (tab, CR); a leading quote marks a neutralised cell, so a cell starting with one is quoted too.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_cell(text: str) -> str:
    """A text cell for a CSV file that a spreadsheet will not run: a leading ``'`` before a cell
    that starts with ``= + - @``, a tab, a CR or ``'`` (OWASP's advice). :func:`csv_value` undoes it.

    >>> csv_cell("=HYPERLINK(1)"), csv_cell("case 7"), csv_value(csv_cell("'quoted"))
    ("'=HYPERLINK(1)", 'case 7', "'quoted")
    """
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_value(cell: str) -> str:
    """The text :func:`csv_cell` was given."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_START) else cell
