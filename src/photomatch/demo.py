"""``photomatch demo``: an end-to-end run on sample photos, for a first look.

It builds a store from a few "reported" photos, writes altered copies of them (resized,
re-encoded, cropped, mirrored, letterboxed, inside a screenshot) next to unrelated photos, matches every query, prints what
was found and writes the evidence report of the run (``<out>/report/report.html``). The photos are scikit-image's bundled samples unless the user names a folder.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from .algorithms import PDQ
from .errors import PhotomatchError
from .evidence import ReportWriter
from .files import iter_image_paths
from .matcher import Matcher

# scikit-image ships these photographs inside its wheel (no download needed)
_SKIMAGE_REPORTED = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")
_SKIMAGE_OTHERS = ("motorcycle_left.png", "hubble_deep_field.jpg", "camera.png", "coins.png", "retina.jpg",
                   "ihc.png", "moon.png", "brick.png")

Alteration = Callable[[Image.Image], Image.Image]


def _crop(img: Image.Image, keep: float) -> Image.Image:
    w, h = img.size
    dx, dy = round(w * (1 - keep) / 2), round(h * (1 - keep) / 2)
    return img.crop((dx, dy, w - dx, h - dy))


def _letterbox(img: Image.Image) -> Image.Image:
    w, h = img.size
    canvas = Image.new("RGB", (w, int(h * 1.6)), (0, 0, 0))
    canvas.paste(img, (0, (canvas.height - h) // 2))
    return canvas


def _screenshot(img: Image.Image) -> Image.Image:
    """The photo inside a phone-sized canvas with an app header, an avatar, a name and text lines."""
    canvas = Image.new("RGB", (540, 1170), (250, 250, 250))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, 540, 110), fill=(40, 90, 160))
    draw.ellipse((20, 130, 100, 210), fill=(200, 120, 90))
    draw.text((120, 150), "someone_posted_this", fill=(20, 20, 20))
    photo = img.resize((500, round(img.height * 500 / img.width)), Image.Resampling.BILINEAR)
    canvas.paste(photo, (20, 240))
    for i in range(6):
        y = 260 + photo.height + 30 * i
        draw.rectangle((20, y, 20 + 400 - 40 * (i % 3), y + 12), fill=(150, 150, 150))
    return canvas


ALTERATIONS: dict[str, tuple[Alteration, int]] = {
    # name: (what it does, JPEG quality it is saved with)
    "half-size": (lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.BILINEAR), 85),
    "jpeg-q30": (lambda im: im, 30),
    "cropped-4pct": (lambda im: _crop(im, 0.96), 90),
    "mirrored": (ImageOps.mirror, 90),
    "grey": (lambda im: ImageOps.grayscale(im).convert("RGB"), 90),
    "cropped-30pct": (lambda im: _crop(im, 0.70 ** 0.5), 90),
    "letterboxed": (_letterbox, 90),
    "screenshot": (_screenshot, 85),
}


def _sample_photos(images: str | None) -> tuple[list[Path], list[Path]]:
    if images is not None:
        if not os.path.isdir(images):
            msg = f"{images}: no such folder"
            raise PhotomatchError(msg)
        found = [Path(p) for p in iter_image_paths([images])]
        if len(found) < 2:
            msg = f"{images}: need at least 2 photos (found {len(found)})"
            raise PhotomatchError(msg)
        n = max(1, min(5, len(found) // 2))
        return found[:n], found[n : n + 20]
    try:
        import skimage.data
    except ImportError:
        msg = "the demo's sample photos come from scikit-image: pip install 'photomatch[demo]' or pass --images DIR"
        raise PhotomatchError(msg) from None
    base = Path(skimage.data.__file__).parent
    reported = [base / n for n in _SKIMAGE_REPORTED if (base / n).is_file()]
    others = [base / n for n in _SKIMAGE_OTHERS if (base / n).is_file()]
    return reported, others


def run_demo(*, out: str, images: str | None = None) -> int:
    reported, others = _sample_photos(images)
    out_dir = Path(out)
    queries = out_dir / "queries"
    if queries.exists():
        shutil.rmtree(queries)
    queries.mkdir(parents=True)
    store = out_dir / "reports.db"
    for suffix in ("", "-wal", "-shm", ".pdq.index", ".phash.index"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)

    expected: dict[str, str | None] = {}
    for i, src in enumerate(reported):
        with Image.open(src) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            for name, (alter, quality) in ALTERATIONS.items():
                q = queries / f"{src.stem}--{name}.jpg"
                alter(im).save(q, quality=quality)
                expected[str(q)] = f"report-{i + 1}:{src.stem}"
    for src in others:
        with Image.open(src) as im:
            q = queries / f"unrelated--{src.stem}.jpg"
            ImageOps.exif_transpose(im).convert("RGB").save(q, quality=80)
            expected[str(q)] = None

    report_dir = out_dir / "report"
    if report_dir.exists():
        shutil.rmtree(report_dir)

    print(f"photomatch demo: {len(reported)} reported photos, {len(expected)} query images in {queries}\n")
    with Matcher(store) as m:
        for i, src in enumerate(reported):
            # features=True keeps ORB keypoints for geometric verification (see the README's privacy note)
            m.add([str(src)], label=f"report-{i + 1}:{src.stem}", features=True)
        found = missed = false = 0
        width = max(len(Path(q).name) for q in expected)
        report = ReportWriter(report_dir, store=m.store, inputs=[str(queries)],
                              parameters={"store": str(store), "inputs": [str(queries)], "mode": "robust",
                                          "threshold": PDQ.default_threshold})
        for r in m.match_many(sorted(expected)):
            report.add(r.to_json(correspondences=True))
            want = expected[r.query]
            got = r.matches[0] if r.matches else None
            if got is None:
                verdict = "missed" if want else "no match (right: unrelated)"
            elif got.label == want:
                how = got.stage + (", verified" if got.verified and got.stage != "verified" else "")
                verdict = f"found {got.label} (distance {got.distance}, {how}, at {got.region})"
            else:
                verdict = f"WRONG: {got.label} (distance {got.distance})"
            found += int(got is not None and got.label == want and want is not None)
            missed += int(want is not None and (got is None or got.label != want))
            false += int(want is None and got is not None)
            print(f"  {Path(r.query).name:<{width}}  {verdict}")
        page = report.finish()
    n_copies = sum(1 for v in expected.values() if v)
    print(f"\nfound {found} of {n_copies} altered copies; {false} false matches among "
          f"{len(expected) - n_copies} unrelated photos. Store: {store}")
    print(f"Evidence report (open it in a browser): {page.resolve()}")
    print(f"Try: photomatch match {store} {queries} --json (or --report NEW_FOLDER)", file=sys.stderr)
    return 0 if missed == 0 and false == 0 else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_demo(out=os.environ.get("PHOTOMATCH_DEMO_OUT", "photomatch-demo")))
