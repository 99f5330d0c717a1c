"""Peak memory of loading + hashing giant and bomb images, and a leak check over 10,000 hashes.

    python benchmarks/bench_memory.py              # every case; prints a table; exit 1 if a bound is broken
    python benchmarks/bench_memory.py --quick      # 2,000 images in the leak check, no 48 MP PNG
    python benchmarks/bench_memory.py --worst      # also a 196 MP PNG, just under DEFAULT_MAX_PIXELS (refused)
    python benchmarks/bench_memory.py --hostile    # only the ceilings table below (several minutes)
    python benchmarks/bench_memory.py --lists      # import/export of 1e5 and 1e6-line hash lists, dedup of 8,000 copies
    python benchmarks/bench_memory.py --lists --lines 10000000   # and a 1e7-line list (issue 13's target)

The ceilings table (``--hostile``, also part of the default run) takes the worst *accepted* input of
each class of hostile input (issue 9: JPEG scan bombs, deep and wide pixel formats, extreme aspect
ratios; each sized to just fit ``loading.DEFAULT_MAX_BYTES``) and the refused neighbours, and runs
each through the fast path (``hash_files``, PDQ) and robust matching (``match_many`` against a store
with local features), with 1 worker on one copy and 2 workers on two copies. Peak memory above the
baseline and wall time are checked against the documented ceilings: no single image over 10 s or
1 GB on the fast path, 2 GB in robust mode.

Each case runs in a fresh child process, so one case's high-water mark can't hide another's.
The child imports photomatch and hashes a tiny image first (plugins and kernels loaded), reads
its peak resident set (``VmHWM``; the baseline), runs the case, and reads the peak again: the difference is the
memory the case itself needed at its peak. A second child runs the case under ``tracemalloc``,
which sees what Python and numpy allocate (not Pillow's C buffers): the two figures together
say where the memory goes.

The bounds are stated per decoded pixel, since a legitimate image's pixels must be held:
a giant image needs at most ``GIANT_BYTES_PER_PIXEL`` bytes per pixel above the baseline, a bomb
(a huge declared size in a small file) at most ``BOMB_MB`` whatever it declares, because it is
refused from its header. The leak check hashes 10,000 small images (PDQ, pHash and the 8 dihedral
PDQs, from bytes in one thread, then from files through ``hash_files`` on 2 threads) and requires
the resident set to grow by at most ``LEAK_MB`` between the end of the warm-up (first 1,000) and
the end. The inputs are generated here, deterministically; nothing is read from ../shared.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zlib
from pathlib import Path

GIANT_BYTES_PER_PIXEL = 16.0  # bound on peak RSS above baseline, per decoded pixel
BOMB_MB = 16.0  # bound on peak RSS above baseline for a refused bomb
LEAK_MB = 8.0  # bound on RSS growth from image 1,000 to image 10,000
CEILING_S = 10.0  # per image, any accepted format
CEILING_MIB = {"fast": 1e9 / 2**20, "robust": 2e9 / 2**20}  # 1 GB and 2 GB (10**9 bytes), in MiB like the rest
GIANT_SIZE = (8000, 6000)  # 48 MP: a big phone photo / stitched panorama
WORST_SIZE = (14000, 14000)  # 196 MP: just under loading.DEFAULT_MAX_PIXELS (200 MP)


# --- inputs (written by the parent) -----------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_streamed(path: Path, width: int, height: int, row: bytes | None = None, *, depth: int = 8,
                 colour: int = 2) -> None:
    """A PNG of ``height`` identical rows (RGB 8-bit by default; ``colour=0, depth=16``: 16-bit
    grey), compressed row by row (never held whole in memory).

    With all-zero rows this is a real decompression bomb: every declared pixel is in the data.
    """
    row = row if row is not None else bytes((3 if colour == 2 else 1) * depth // 8 * width)
    comp = zlib.compressobj(9)
    with open(path, "wb") as f:
        ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
        f.write(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr))
        line = b"\0" + row
        pending = bytearray()
        for _ in range(height):
            pending += comp.compress(line)
            if len(pending) > 1 << 20:
                f.write(_chunk(b"IDAT", bytes(pending)))
                pending.clear()
        pending += comp.flush()
        f.write(_chunk(b"IDAT", bytes(pending)) + _chunk(b"IEND", b""))


def _photo_like(width: int, height: int):
    import numpy as np

    y = np.linspace(0, 6.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 9.0, width, dtype=np.float32)[None, :]
    out = np.empty((height, width, 3), dtype=np.uint8)
    out[..., 0] = (127 + 120 * np.sin(x + y)).astype(np.uint8)
    out[..., 1] = (127 + 120 * np.cos(x * 0.7 - y)).astype(np.uint8)
    out[..., 2] = (127 + 120 * np.sin(x * y * 0.3)).astype(np.uint8)
    return out


def make_inputs(folder: Path, *, quick: bool, worst: bool) -> dict[str, tuple[str, str, int]]:
    """name -> (path, operation, decoded pixels or 0 for a bomb)."""
    from PIL import Image

    w, h = GIANT_SIZE
    cases: dict[str, tuple[str, str, int]] = {}
    big = Image.fromarray(_photo_like(w, h))
    jpg = folder / "giant.jpg"
    big.save(jpg, quality=90)
    cases["giant JPEG 48 MP, pdq exact"] = (str(jpg), "pdq-exact", w * h)
    cases["giant JPEG 48 MP, pdq fast (draft)"] = (str(jpg), "pdq", w * h)
    cases["giant JPEG 48 MP, phash exact"] = (str(jpg), "phash-exact", w * h)
    cases["giant JPEG 48 MP, 8 dihedral pdq"] = (str(jpg), "dihedral-exact", w * h)
    if not quick:
        png = folder / "giant.png"
        big.save(png, compress_level=1)
        cases["giant PNG 48 MP, pdq"] = (str(png), "pdq-exact", w * h)
    del big
    if worst:
        ww, wh = WORST_SIZE
        worst_png = folder / "worst.png"
        png_streamed(worst_png, ww, wh, row=bytes(range(256)) * (3 * ww // 256) + bytes(3 * ww % 256))
        cases[f"PNG {ww * wh / 1e6:.0f} MP (limit 200), pdq"] = (str(worst_png), "pdq-exact", ww * wh)
    bomb_zero = folder / "bomb_zeros.png"
    png_streamed(bomb_zero, 20000, 20000)  # 1.2 GB of real pixel data in ~1 MB
    cases["bomb PNG 20000x20000 zeros (~1 MB file), pdq"] = (str(bomb_zero), "pdq-exact", 0)
    header_bomb = folder / "bomb_header.png"
    header_bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
                            + _chunk(b"IDAT", zlib.compress(b"\0")) + _chunk(b"IEND", b""))
    cases["bomb PNG header 100000x100000 (57 bytes), pdq"] = (str(header_bomb), "pdq-exact", 0)
    gif = folder / "bomb.gif"
    gif.write_bytes(b"GIF89a" + struct.pack("<HHBBB", 65535, 65535, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
                    + b"," + struct.pack("<HHHHB", 0, 0, 65535, 65535, 0) + b"\x02\x02\x44\x01\x00;")
    cases["bomb GIF header 65535x65535, phash"] = (str(gif), "phash-exact", 0)
    return cases


# --- child side ---------------------------------------------------------------------------------


def _maxrss_mb() -> float:
    """Peak resident set of this process so far.

    VmHWM, not ``getrusage().ru_maxrss``: Linux carries ru_maxrss over fork and exec, so a child
    of a parent that once held a giant image would report the parent's peak as its own.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _warm_up():
    import numpy as np

    import photomatch

    tiny = np.zeros((32, 32, 3), np.uint8)
    photomatch.pdq(tiny), photomatch.phash(tiny), photomatch.pdq_dihedral(tiny)
    return photomatch


def child_case(path: str, op: str, trace: bool) -> dict:
    pm = _warm_up()
    verbs = {
        "pdq": lambda: pm.pdq(path),
        "pdq-exact": lambda: pm.pdq(path, exact=True),
        "phash-exact": lambda: pm.phash(path, exact=True),
        "dihedral-exact": lambda: pm.pdq_dihedral(path, exact=True),
    }
    base = _maxrss_mb()
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    try:
        verbs[op]()
        outcome = "hashed"
    except pm.PhotomatchError as e:
        outcome = f"refused: {type(e).__name__}"
    seconds = time.perf_counter() - t0
    out = {"baseline_mb": base, "peak_mb": _maxrss_mb(), "seconds": seconds, "outcome": outcome}
    if trace:
        out["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    return out


def child_leak(n: int, folder: str) -> dict:
    import numpy as np
    from PIL import Image

    pm = _warm_up()
    rng = np.random.default_rng(5)
    blobs = []
    for i in range(40):  # varied formats, sizes and modes: each decoder path and kernel size class
        h, w = int(rng.integers(40, 260)), int(rng.integers(40, 260))
        small = rng.integers(0, 256, size=(max(h // 16, 2), max(w // 16, 2), 3), dtype=np.uint8)
        im = Image.fromarray(small).resize((w, h), Image.Resampling.BILINEAR)
        fmt = ("JPEG", "PNG", "WEBP", "GIF")[i % 4]
        buf = io.BytesIO()
        (im.convert("P") if fmt == "GIF" else im).save(buf, fmt)
        blobs.append(buf.getvalue())
    paths = []
    for i, b in enumerate(blobs):
        p = os.path.join(folder, f"leak{i}.img")
        with open(p, "wb") as f:
            f.write(b)
        paths.append(p)

    marks: dict[str, list[tuple[int, float]]] = {"bytes, 1 thread": [], "hash_files, 2 threads": []}
    t0 = time.perf_counter()
    for i in range(n):  # in-process verbs on bytes
        data = blobs[i % len(blobs)]
        pm.pdq(data)
        pm.phash(data)
        if i % 10 == 0:
            pm.pdq_dihedral(data)
        if (i + 1) % 1000 == 0:
            marks["bytes, 1 thread"].append((i + 1, _rss_mb()))
    every = [paths[i % len(paths)] for i in range(n)]
    for i, r in enumerate(pm.hash_files(every, "pdq", workers=2)):  # the CLI's batch path
        if not r.ok:
            raise RuntimeError(str(r.error))
        if (i + 1) % 1000 == 0:
            marks["hash_files, 2 threads"].append((i + 1, _rss_mb()))
    return {"marks": marks, "seconds": time.perf_counter() - t0}


# --- ceilings: the worst accepted input of each hostile class (issue 9) ---------------------------


def _gray16_row(width: int) -> bytes:
    return b"".join(((i * 65535) // max(1, width - 1)).to_bytes(2, "big") for i in range(width))


def _gradient_row(width: int) -> bytes:
    return bytes(range(256)) * (3 * width // 256) + bytes(3 * width % 256)


def _largest_side(bytes_per_pixel: int) -> int:
    """The side of the largest square image of this stored depth that loading's budget accepts."""
    from photomatch import loading

    side = int((loading.DEFAULT_MAX_BYTES / (bytes_per_pixel + 3)) ** 0.5)
    while loading._decode_cost_of((side, side), bytes_per_pixel) > loading.DEFAULT_MAX_BYTES:
        side -= 1
    return side


def make_hostile_inputs(folder: Path) -> list[tuple[str, str, str]]:
    """(class, description, path) of the worst accepted inputs and of their refused neighbours."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import numpy as np
    from PIL import Image

    import badinputs
    from photomatch import loading

    out: list[tuple[str, str, str]] = []

    def add(cls: str, what: str, name: str, data: bytes | None = None) -> Path:
        p = folder / name
        if data is not None:
            p.write_bytes(data)
        out.append((cls, what, str(p)))
        return p

    # Scan bombs: the most scans accepted, at the largest progressive JPEG the fast path accepts.
    side = 14000
    add("JPEG scans", f"progressive JPEG {side}x{side}, {loading.MAX_JPEG_SCANS} scans (limit)", "scans_max.jpg",
        badinputs.jpeg_scan_bomb(side, side, loading.MAX_JPEG_SCANS))
    add("JPEG scans", "progressive JPEG 2000x2000, 1000 scans (refused)", "scans_bomb.jpg",
        badinputs.jpeg_scan_bomb(2000, 2000, 1000))
    # Deep formats: 16-bit grey and float at the largest side the budget accepts.
    s16 = _largest_side(2)
    png_streamed(folder / "gray16_max.png", s16, s16, _gray16_row(s16), depth=16, colour=0)
    out.append(("deep pixels", f"16-bit grey PNG {s16}x{s16} ({s16 * s16 / 1e6:.0f} MP)", str(folder / "gray16_max.png")))
    png_streamed(folder / "gray16_14000.png", 14000, 14000, _gray16_row(14000), depth=16, colour=0)
    out.append(("deep pixels", "16-bit grey PNG 14000x14000 (refused)", str(folder / "gray16_14000.png")))
    sf = _largest_side(4)
    y = np.linspace(0.0, 1.0, sf, dtype=np.float32)
    Image.fromarray(np.broadcast_to(y[None, :], (sf, sf)).copy(), "F").save(folder / "float_max.tif")
    out.append(("deep pixels", f"float TIFF {sf}x{sf} ({sf * sf / 1e6:.0f} MP)", str(folder / "float_max.tif")))
    png_streamed(folder / "rgb_max.png", sf, sf, row=_gradient_row(sf))
    out.append(("wide pixels", f"RGB PNG {sf}x{sf} ({sf * sf / 1e6:.0f} MP)", str(folder / "rgb_max.png")))
    # Extreme aspect ratios: the longest 1-pixel-high and 4-pixel-high images accepted.
    for rows in (1, 4):
        w = 10
        while loading._decode_cost_of((w * 2, rows), 4) <= loading.DEFAULT_MAX_BYTES:
            w *= 2
        while loading._decode_cost_of((w + 100_000, rows), 4) <= loading.DEFAULT_MAX_BYTES:
            w += 100_000
        png_streamed(folder / f"wide_{rows}.png", w, rows, row=_gradient_row(w))
        out.append(("aspect ratio", f"RGB PNG {w}x{rows}", str(folder / f"wide_{rows}.png")))
    png_streamed(folder / "wide_refused.png", 199_999_999, 1, row=bytes(3 * 199_999_999))
    out.append(("aspect ratio", "RGB PNG 199999999x1 (refused)", str(folder / "wide_refused.png")))
    # Special files in place of an image: refused at once.
    os.mkfifo(folder / "fifo.jpg")
    out.append(("special file", "FIFO named .jpg", str(folder / "fifo.jpg")))
    os.symlink("/dev/zero", folder / "zero.jpg")
    out.append(("special file", "link to /dev/zero named .jpg", str(folder / "zero.jpg")))
    return out


def child_batch(path: str, mode: str, workers: int) -> dict:
    """Peak and time of one batch: ``workers`` copies of ``path`` on ``workers`` threads."""
    import numpy as np
    from PIL import Image

    pm = _warm_up()
    paths = [path] * workers
    if mode == "robust":
        store_dir = tempfile.mkdtemp(prefix="bench_memory_store_")
        y, x = np.mgrid[0:240, 0:320]
        photo = np.stack([128 + 100 * np.sin(x / 9) * np.cos(y / 13), x * 0.7, 255 - y], -1).astype(np.uint8)
        matcher = pm.Matcher(os.path.join(store_dir, "s.db"))
        matcher.add([photo, np.ascontiguousarray(photo[::-1])], features=True)
        list(matcher.match_many([photo], workers=1))  # features loaded, index built
        Image.fromarray(photo).save(os.path.join(store_dir, "warm.png"))
    base = _maxrss_mb()
    t0 = time.perf_counter()
    if mode == "robust":
        results = list(matcher.match_many(paths, mode="robust", workers=workers))
        outcome = [("ok" if r.ok else type(r.error).__name__) for r in results]
    else:
        results = list(pm.hash_files(paths, "pdq", workers=workers))
        outcome = [("ok" if r.ok else type(r.error).__name__) for r in results]
    seconds = time.perf_counter() - t0
    return {"baseline_mb": base, "peak_mb": _maxrss_mb(), "seconds": seconds, "outcome": outcome}


def run_ceilings(folder: Path, failures: list[str]) -> None:
    cases = make_hostile_inputs(folder)
    print(f"\n{'class':13s} {'input':44s} {'path':6s} {'workers':>7s} {'outcome':18s} {'peak-base MiB':>13s} "
          f"{'ceiling':>8s} {'s':>6s}")
    for cls, what, path in cases:
        for mode in ("fast", "robust"):
            for workers in (1, 2):
                r = _run_child("batch", path, mode, str(workers))
                extra = r["peak_mb"] - r["baseline_mb"]
                outcome = ",".join(sorted(set(r["outcome"])))
                ceiling = CEILING_MIB[mode] * workers  # two images in flight may each take their ceiling
                print(f"{cls:13s} {what:44s} {mode:6s} {workers:7d} {outcome:18s} {extra:13.0f} {ceiling:8.0f} "
                      f"{r['seconds']:6.2f}")
                if extra > ceiling or r["seconds"] > CEILING_S * workers:
                    failures.append(f"{what}, {mode}, {workers} worker(s): {extra:.0f} MiB, {r['seconds']:.1f} s")


# --- lists and dedup: memory bounded whatever the length (issue 9, item 5; issue 13) ------------

LIST_MIB = 256  # above the CLI's baseline, for any length of list or store
IMPORT_LINES_PER_S = 200_000  # issue 13's target for import


def child_cli(*argv: str) -> dict:
    """Peak resident set above the baseline (photomatch's CLI imported) and wall time of one command."""
    from photomatch import cli

    base = _maxrss_mb()
    t0 = time.perf_counter()
    code = cli.main(list(argv))
    return {"baseline_mb": base, "peak_mb": _maxrss_mb(), "seconds": time.perf_counter() - t0, "exit": code}


def _write_list(path: Path, lines: int) -> None:
    import numpy as np

    rng = np.random.default_rng(lines)
    with open(path, "w") as f:
        for start in range(0, lines, 100_000):
            codes = rng.integers(0, 256, (min(100_000, lines - start), 32), dtype=np.uint8)
            f.write("".join(f"{c.tobytes().hex()},{100 - i % 50}\n" for i, c in enumerate(codes)))


def run_lists(folder: Path, sizes: list[int], failures: list[str]) -> None:
    from PIL import Image

    print(f"\n{'command':52s} {'exit':>4s} {'peak-base MiB':>13s} {'s':>7s} {'lines/s':>9s}")

    def row(what: str, r: dict, lines: int | None = None) -> None:
        extra = r["peak_mb"] - r["baseline_mb"]
        rate = f"{lines / r['seconds']:9.0f}" if lines else " " * 9
        print(f"{what:52s} {r['exit']:4d} {extra:13.0f} {r['seconds']:7.1f} {rate}")
        if extra > LIST_MIB or r["exit"] != 0:
            failures.append(f"{what}: exit {r['exit']}, {extra:.0f} MiB (bound {LIST_MIB} MiB)")

    for lines in sizes:
        listed, store, out = folder / f"l{lines}.csv", folder / f"s{lines}.db", folder / f"e{lines}.csv"
        _write_list(listed, lines)
        r = _run_child("cli", "import", str(store), str(listed))
        row(f"import, {lines:,} lines (hash,quality)", r, lines)
        if lines >= 1_000_000 and lines / r["seconds"] < IMPORT_LINES_PER_S:
            failures.append(f"import of {lines:,} lines: {lines / r['seconds']:.0f} lines/s < {IMPORT_LINES_PER_S}")
        row(f"export, {lines:,} items", _run_child("cli", "export", str(store), "-o", str(out)))
        store2 = folder / f"s{lines}b.db"
        row(f"import of that export ({lines:,} lines with ids)", _run_child("cli", "import", str(store2), str(out)),
            lines)
        for f in folder.glob(f"*{lines}*"):
            f.unlink()
    copies = folder / "copies"
    copies.mkdir()
    Image.effect_mandelbrot((320, 240), (-2, -1.2, 1, 1.2), 64).convert("RGB").save(copies / "c0.jpg", quality=90)
    data = (copies / "c0.jpg").read_bytes()
    for i in range(1, 8000):
        (copies / f"c{i}.jpg").write_bytes(data)
    row("dedup, 8,000 copies of one image (one group)", _run_child("cli", "dedup", str(copies)))


# --- parent side --------------------------------------------------------------------------------


def _run_child(*args: str) -> dict:
    # "--child=" keeps the child's own arguments (export's "-o") away from this parser
    proc = subprocess.run([sys.executable, __file__, f"--child={json.dumps(args)}"], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 images in the leak check; no giant PNG")
    parser.add_argument("--worst", action="store_true", help="also a 196 MP PNG, just under the default limit")
    parser.add_argument("--hostile", action="store_true", help="only the ceilings table (worst accepted inputs)")
    parser.add_argument("--lists", action="store_true", help="only the hash-list import/export and dedup table")
    parser.add_argument("--lines", type=int, action="append", help="list lengths for --lists (default 1e5 and 1e6)")
    parser.add_argument("--child", type=json.loads, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "batch":
            result = child_batch(rest[0], rest[1], int(rest[2]))
        elif kind == "cli":
            with open(os.devnull, "w") as quiet:  # the command's own output is not the table's
                old, sys.stdout = sys.stdout, quiet
                try:
                    result = child_cli(*rest)
                finally:
                    sys.stdout = old
        elif kind == "leak":
            result = child_leak(int(rest[0]), rest[1])
        else:
            result = child_case(rest[0], rest[1], kind == "trace")
        print(json.dumps(result))
        return 0

    failures: list[str] = []
    if args.lists:
        with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
            run_lists(Path(tmp), args.lines or [100_000, 1_000_000], failures)
        for f in failures:
            print(f"BOUND EXCEEDED: {f}")
        return 1 if failures else 0
    if args.hostile:
        with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
            run_ceilings(Path(tmp), failures)
        for f in failures:
            print(f"CEILING EXCEEDED: {f}")
        return 1 if failures else 0
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
        cases = make_inputs(Path(tmp), quick=args.quick, worst=args.worst)
        print(f"{'case':52s} {'outcome':32s} {'peak-base MB':>12s} {'B/pixel':>8s} {'traced MB':>9s} {'s':>6s}")
        for name, (path, op, pixels) in cases.items():
            r = _run_child("rss", path, op)
            t = _run_child("trace", path, op)
            extra = r["peak_mb"] - r["baseline_mb"]
            per_px = extra * 2**20 / pixels if pixels else float("nan")
            print(f"{name:52s} {r['outcome']:32s} {extra:12.1f} {per_px:8.2f} {t['traced_peak_mb']:9.1f} "
                  f"{r['seconds']:6.2f}   (baseline {r['baseline_mb']:.0f} MB)")
            if pixels and per_px > GIANT_BYTES_PER_PIXEL:
                failures.append(f"{name}: {per_px:.1f} bytes/pixel > {GIANT_BYTES_PER_PIXEL}")
            if not pixels and (extra > BOMB_MB or not r["outcome"].startswith("refused")):
                failures.append(f"{name}: {r['outcome']}, {extra:.1f} MB (bound {BOMB_MB} MB, must be refused)")

        n = 2000 if args.quick else 10_000
        leak = _run_child("leak", str(n), tmp)
        for what, marks in leak["marks"].items():
            warm = marks[0][1]
            growth = marks[-1][1] - warm
            trail = " ".join(f"{rss:.0f}" for _, rss in marks)
            print(f"leak check, {n} images, {what:22s}: RSS after 1,000 {warm:.1f} MB, growth to {n}: "
                  f"{growth:+.1f} MB (bound {LEAK_MB}); RSS per 1,000: {trail}")
            if growth > LEAK_MB:
                failures.append(f"leak check ({what}): RSS grew {growth:.1f} MB after warm-up")
        print(f"leak check took {leak['seconds']:.0f} s")
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
        run_ceilings(Path(tmp), failures)
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
        run_lists(Path(tmp), [100_000, 1_000_000], failures)
    for f in failures:
        print(f"BOUND EXCEEDED: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
