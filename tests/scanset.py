"""A scan set for the batch and engine tests: a store of reported pictures and a folder of queries.

Queries are re-encoded, mirrored and cropped copies of the reported pictures (crops are found
by local features only), unrelated pictures and one broken file, named in a fixed order.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from images import photo_like
from photomatch import Matcher


def make_scan(folder: Path, *, reported: int, queries: int, features: bool = True) -> tuple[Path, Path]:
    """(store path, queries folder); small pictures keep robust matching fast."""
    pictures = [photo_like(96, 128, seed) for seed in range(reported)]
    store = folder / "reports.db"
    with Matcher(store) as m:
        m.add(pictures, label="case", features=features)
    qdir = folder / "queries"
    qdir.mkdir()
    for i in range(queries):
        kind = i % 4
        if kind == 3:  # unrelated
            im = photo_like(96, 128, 10_000 + i)
        else:
            im = pictures[i % reported]
            im = im[:, ::-1] if kind == 1 else im[8:-8, 10:-10] if kind == 2 else im
        Image.fromarray(im).save(qdir / f"q{i:04d}.jpg", quality=85)
    (qdir / "q9999-broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return store, qdir
