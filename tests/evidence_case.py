"""A small case for the evidence report: reported pictures in a store, a scanned folder with
altered copies of them, unrelated pictures and a broken file, and hand-made chat message
contexts (what a chat export adds to ``match --json`` lines).

The ground truth is by construction: each copy is made from a known reported picture.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from images import photo_like
from photomatch import Matcher


def _save(rgb: np.ndarray, path: Path, quality: int = 87) -> Path:
    Image.fromarray(rgb).save(path, quality=quality)
    return path


def _screenshot(rgb: np.ndarray) -> np.ndarray:
    canvas = np.full((1100, 540, 3), 248, np.uint8)
    canvas[:110] = (40, 90, 160)
    photo = np.asarray(Image.fromarray(rgb).resize((480, round(rgb.shape[0] * 480 / rgb.shape[1]))))
    canvas[260 : 260 + photo.shape[0], 30:510] = photo
    for i in range(5):
        y = 300 + photo.shape[0] + 28 * i
        canvas[y : y + 10, 30 : 400 - 30 * i] = 140
    return canvas


@dataclass
class Case:
    store: Path
    scan: Path
    expected: dict[str, int]  # scanned file name -> reported item id
    items: dict[str, int]  # role -> item id
    broken: Path
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # scanned file name -> message


def build(root: Path) -> Case:
    reported, scan = root / "reported", root / "scan"
    reported.mkdir()
    scan.mkdir()
    pics = {name: photo_like(360, 480, seed) for name, seed in
            (("shown", 501), ("second", 502), ("hashonly", 503), ("gone", 504))}
    paths = {name: _save(rgb, reported / f"{name}.png") for name, rgb in pics.items()}
    store = root / "reports.db"
    with Matcher(store) as m:
        items = {
            "shown": m.add([paths["shown"]], label="case-17 <b>bold</b>", features=True)[0],
            "second": m.add([paths["second"]], label="case-18", features=True)[0],
            "gone": m.add([paths["gone"]], label="case-19", features=True)[0],
        }
        from photomatch import pdq

        [items["hashonly"]] = m.add_hashes([pdq(pics["hashonly"])], label="partner list 7")
    paths["gone"].unlink()  # its source is gone: the report says so instead of showing it

    shown = pics["shown"]
    copies = {
        "shown-small.jpg": (np.asarray(Image.fromarray(shown).resize((240, 180))), "shown"),
        "shown-crop.jpg": (np.ascontiguousarray(shown[40:320, 90:450]), "shown"),
        "second-screenshot.jpg": (_screenshot(pics["second"]), "second"),
        "hashonly-copy.jpg": (pics["hashonly"], "hashonly"),
        "gone-mirrored.jpg": (np.asarray(ImageOps.mirror(Image.fromarray(pics["gone"]))), "gone"),
    }
    expected = {}
    for name, (rgb, role) in copies.items():
        _save(np.ascontiguousarray(rgb), scan / name)
        expected[name] = items[role]
    for seed in (601, 602, 603):
        _save(photo_like(300, 400, seed), scan / f"unrelated-{seed}.jpg")
    broken = scan / "zz-broken.jpg"
    buf = io.BytesIO()
    Image.fromarray(photo_like(100, 100, 9)).save(buf, format="JPEG")
    broken.write_bytes(buf.getvalue()[:200])
    messages = {
        "shown-small.jpg": {"chat": "Neighbourhood group", "chat_id": 4411, "id": 120,
                            "date": "2024-03-05T14:22:10+01:00", "from": "Ann", "from_id": "user77",
                            "forwarded_from": None, "text": "look <script>alert(1)</script> at this",
                            "media": "photos/photo_12@05-03-2024_14-22-10.jpg"},
        "shown-crop.jpg": {"chat": "Neighbourhood group", "chat_id": 4411, "id": 98,
                           "date": "2024-03-05T12:00:00+00:00", "from": "=HYPERLINK(\"http://x\")",
                           "from_id": "user78", "forwarded_from": "Channel X", "text": "@everyone",
                           "media": "photos/photo_3@05-03-2024_12-00-00.jpg"},
        "second-screenshot.jpg": {"chat": "Another chat", "chat_id": 99, "id": 5,
                                  "date": "2024-01-01T08:00:00-05:00", "from": "Bo", "from_id": "user1",
                                  "forwarded_from": None, "text": "-1+1", "media": "files/shot"},
    }
    return Case(store, scan, expected, items, broken, messages)


def lines(case: Case, m: Matcher, *, messages: bool = True) -> list[dict[str, Any]]:
    """The ``match --json`` lines of the scanned folder, with the hand-made messages when asked."""
    out = []
    paths = sorted(str(p) for p in case.scan.iterdir())
    for r in m.match_many(paths):
        line: dict[str, Any] = {"query": r.query, "matches": [x.to_json(correspondences=True) for x in r.matches]}
        if not r.ok:
            line["error"] = str(r.error)
        msg = case.messages.get(Path(r.query).name)
        if messages and msg is not None:
            line["message"] = msg
        out.append(line)
    return out
