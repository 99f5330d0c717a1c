"""The manifest of a report folder, and its check (``photomatch verify-report``).

``manifest.json`` records what a court needs to trust the folder: the tool and its version, the
store's identity (path, item count, and a digest of every stored hash, which names the store's
content without revealing any hash), every parameter, start and end times, the sha256 of every
scanned file (matched or not) and of every file written beside it. Checking recomputes the
digests and names each file that changed, went missing or appeared.

The manifest cannot vouch for itself: its own sha256 is printed when the report is written, to be
kept elsewhere (case notes, a message to a colleague).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .. import _fileio
from ..errors import ReportError
from ..loading import MAX_FILE_BYTES

MANIFEST = "manifest.json"
FORMAT = "photomatch-report/1"


def sha256_file(path: str) -> str:
    """The package's one file digest (``_fileio``): a FIFO or device planted in a report folder
    is refused, not read forever."""
    return _fileio.sha256_file(path, max_bytes=MAX_FILE_BYTES)[0]


def store_identity(store: Any) -> dict[str, Any]:
    """Path, item count and a digest of the store's hashes: sha256 over one line
    ``item id, algorithm, region kind, hex`` per stored hash, in item and hash order."""
    digest = hashlib.sha256()
    items = hashes = 0
    for item in store.items():
        items += 1
        for h in item.hashes:
            hashes += 1
            digest.update(f"{item.id}\t{h.algorithm}\t{h.region_kind}\t{h.bits.hex()}\n".encode())
    return {"path": os.path.abspath(str(store.path)), "items": items, "hashes": hashes,
            "hashes_sha256": digest.hexdigest()}


def folder_files(folder: str) -> Iterator[str]:
    """Every file below ``folder`` but the manifest, as sorted '/'-separated relative paths."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in names:
            rel = os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/")
            if rel != MANIFEST:
                found.append(rel)
    yield from sorted(found)


def build(*, tool: Mapping[str, Any], store: Mapping[str, Any], parameters: Mapping[str, Any], started: str,
          finished: str, duration_s: float, scanned: Iterable[Mapping[str, Any]], folder: str) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "tool": dict(tool),
        "store": dict(store),
        "parameters": dict(parameters),
        "started": started,
        "finished": finished,
        "duration_s": round(duration_s, 3),
        "scanned": sorted((dict(s) for s in scanned), key=lambda s: s["path"]),
        "files": {rel: sha256_file(os.path.join(folder, rel)) for rel in folder_files(folder)},
    }


def dumps(manifest: Mapping[str, Any]) -> bytes:
    return (json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()


@dataclass(frozen=True)
class Difference:
    """One file that no longer matches the manifest: ``kind`` is changed, missing or added."""

    kind: str
    path: str
    where: str  # "report" (a file of the folder) or "scanned" (an input)

    def __str__(self) -> str:
        what = "report file" if self.where == "report" else "scanned file"
        return f"{self.kind}: {what} {self.path}"


def load(folder: str) -> dict[str, Any]:
    path = os.path.join(folder, MANIFEST)
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except FileNotFoundError:
        raise ReportError(path, "no manifest: not a photomatch report folder") from None
    except OSError as e:
        raise ReportError(path, e.strerror or str(e)) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReportError(path, f"not valid JSON ({e})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("files"), dict) \
            or not isinstance(data.get("scanned"), list):
        raise ReportError(path, f"not a {FORMAT} manifest")
    return data


def check(folder: str) -> list[Difference]:
    """Every difference between ``folder`` (and the scanned files) and its manifest, report files first."""
    manifest = load(folder)
    out: list[Difference] = []
    recorded: dict[str, str] = manifest["files"]
    present = set(folder_files(folder))
    for rel in sorted(set(recorded) | present):
        if rel not in present:
            out.append(Difference("missing", rel, "report"))
        elif rel not in recorded:
            out.append(Difference("added", rel, "report"))
        elif _digest(os.path.join(folder, rel)) != recorded[rel]:
            out.append(Difference("changed", rel, "report"))
    for s in manifest["scanned"]:
        path, want = s.get("path"), s.get("sha256")
        if not isinstance(path, str) or want is None:
            continue  # unreadable when scanned: nothing to compare
        got = _digest(path)
        if got is None:
            out.append(Difference("missing", path, "scanned"))
        elif got != want:
            out.append(Difference("changed", path, "scanned"))
    return out


def _digest(path: str) -> str | None:
    try:
        return sha256_file(path)
    except OSError:
        return None
