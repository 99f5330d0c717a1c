"""Scanning a Telegram Desktop export: media/s and peak memory, and the JSON reader alone.

    python -m benchmarks.bench_export                    # 5,000 media vs 1,000 reported items (robust, 2 threads)
    python -m benchmarks.bench_export --media 500        # a quicker look
    python -m benchmarks.bench_export --parse-only       # only the reader: messages/s, memory on a large result.json

Everything is generated here, deterministically, under ``--work`` (kept between runs: the store
and the export are reused when present). The store holds 1,000 reported pictures (640 x 480,
photo-like power-law spectrum) with features, as ``photomatch add`` keeps them. The export is
one chat (``result.json``) of ``--media`` photo messages as a messenger sends them (longest
side 1280 px, JPEG quality 87): 4 % are copies of reported pictures, the rest are unrelated
pictures (250 distinct ones, each sent 20 times with a different crop and tint), plus one text
message in ten. The scan is the real command, ``photomatch match STORE EXPORT --json``, in a
child process; its peak resident set (``ru_maxrss``) is the memory figure.

``--parse-only`` writes a ``result.json`` of ``--messages`` messages (text, entities, and a
placeholder for a photo that was not exported, so no image is read) and reads it with
``photomatch.sources.expand`` in a child process: messages/s and the peak resident set above
the interpreter's, which stays flat as the file grows (the reader streams).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from .scan_data import generated  # the pictures of the other end-to-end benchmarks

REPORTED = 1000
COPY_SHARE = 0.04


def messenger_jpeg(im: Image.Image) -> bytes:
    scale = 1280 / max(im.size)
    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=87)
    return buf.getvalue()


def build_store(path: Path) -> None:
    import photomatch

    if path.exists():
        return
    with photomatch.Matcher(path) as m:
        for start in range(0, REPORTED, 100):
            m.add([generated(s) for s in range(start, start + 100)], label="reported", features=True)


def build_export(folder: Path, media: int) -> int:
    """A one-chat JSON export of ``media`` photos; returns how many are copies of reported pictures."""
    result = folder / "result.json"
    copies = round(media * COPY_SHARE)
    if result.exists():
        return copies
    (folder / "photos").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    bases = [Image.fromarray(generated(1_000_000 + i)) for i in range(250)]
    copy_at = set(np.linspace(0, media - 1, copies).round().astype(int).tolist())
    messages, mid, reported_seed = [], 0, 0
    for i in range(media):
        if i in copy_at:
            im = Image.fromarray(generated(reported_seed * 7 % REPORTED))
            reported_seed += 1
        else:
            base = bases[i % len(bases)]
            x, y = rng.integers(0, 48, size=2)
            im = base.crop((x, y, x + 560, y + 420))
            tint = Image.new("RGB", im.size, tuple(int(v) for v in rng.integers(0, 256, 3)))
            im = Image.blend(im, tint, 0.08)
        name = f"photos/photo_{i + 1}@01-01-2025_00-00-00.jpg"
        (folder / name).write_bytes(messenger_jpeg(im))
        mid += 1
        messages.append({"id": mid, "type": "message", "date": "2025-01-01T12:00:00", "date_unixtime": "1735732800",
                         "from": "Sender", "from_id": "user1", "photo": name, "width": 1280, "height": 960,
                         "text": ""})
        if i % 10 == 9:
            mid += 1
            messages.append({"id": mid, "type": "message", "date": "2025-01-01T12:00:01",
                             "date_unixtime": "1735732801", "from": "Sender", "from_id": "user1", "text": "ok"})
    doc = {"name": "Benchmark chat", "type": "private_supergroup", "id": 42, "messages": messages}
    result.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return copies


def run_scan(store: Path, export: Path, workers: int) -> dict:
    out = export.parent / "scan.jsonl"
    t0 = time.perf_counter()
    with open(out, "w") as f:
        proc = subprocess.run([sys.executable, "-m", "photomatch", "match", str(store), str(export), "--json",
                               "--workers", str(workers)], stdout=f, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mb, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
    if proc.returncode not in (0, 1):
        raise SystemExit(f"photomatch match failed ({proc.returncode}):\n{proc.stderr}")
    records = [json.loads(line) for line in out.read_text().splitlines()]
    matched = sum(1 for r in records if r["matches"])
    # CPU seconds too: on a shared machine the wall time says more about the neighbours than about the scan
    return {"media": len(records), "seconds": round(seconds, 1), "media_per_s": round(len(records) / seconds, 1),
            "cpu_seconds": round(cpu, 1), "media_per_cpu_s": round(len(records) / cpu, 1),
            "peak_rss_mb": round(peak_mb), "matched": matched, "summary": proc.stderr.strip().splitlines()[-3:]}


_PARSE_CHILD = r"""
import resource, sys, time
from photomatch.sources import ScanSummary, expand
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
s = ScanSummary()
t0 = time.perf_counter()
n = sum(1 for _ in expand([sys.argv[1]], s))
dt = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(s.messages, round(dt, 2), round((peak - base) / 1024, 1), s.counts["not_included"])
"""


def write_big_json(path: Path, messages: int) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write('{\n "name": "Big chat",\n "type": "public_supergroup",\n "id": 7,\n "messages": [\n')
        for i in range(messages):
            m = {"id": i + 1, "type": "message", "date": "2024-05-01T10:00:00", "date_unixtime": "1714557600",
                 "from": f"User {i % 97}", "from_id": f"user{i % 97}",
                 "text": ["Lorem ipsum dolor sit amet, ", {"type": "bold", "text": f"message {i}"}],
                 "text_entities": [{"type": "plain", "text": "Lorem ipsum dolor sit amet, "},
                                   {"type": "bold", "text": f"message {i}"}],
                 "photo": "(File not included. Change data exporting settings to download.)"}
            f.write(("  " if i == 0 else ",\n  ") + json.dumps(m, ensure_ascii=False))
        f.write("\n ]\n}\n")


def parse_only(work: Path, sizes: list[int]) -> None:
    print("| messages | result.json | seconds | messages/s | peak RSS above start |")
    print("|---:|---:|---:|---:|---:|")
    for n in sizes:
        path = work / f"big-{n}" / "result.json"
        write_big_json(path, n)
        out = subprocess.run([sys.executable, "-c", _PARSE_CHILD, str(path.parent)], capture_output=True, text=True,
                             check=True).stdout.split()
        read, seconds, mb = int(out[0]), float(out[1]), float(out[2])
        size = path.stat().st_size / 1e6
        print(f"| {read:,} | {size:,.0f} MB | {seconds} | {read / seconds:,.0f} | {mb} MB |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="bench-export-work", help="folder for the generated data (kept)")
    ap.add_argument("--media", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--parse-only", action="store_true")
    ap.add_argument("--messages", type=int, nargs="+", default=[100_000, 1_000_000])
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.parse_only:
        parse_only(work, args.messages)
        return 0
    store = work / "reports.db"
    t0 = time.perf_counter()
    build_store(store)
    export = work / f"export-{args.media}"
    copies = build_export(export, args.media)
    print(f"data ready in {time.perf_counter() - t0:.0f} s: {REPORTED} reported items, {args.media} media "
          f"({copies} copies of reported pictures)", file=sys.stderr)
    result = run_scan(store, export, args.workers)
    result.update(reported_items=REPORTED, copies=copies, workers=args.workers)
    print(json.dumps(result, indent=1))
    return 0 if result["matched"] == copies else 1


if __name__ == "__main__":
    sys.exit(main())
