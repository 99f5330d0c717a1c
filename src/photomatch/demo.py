"""``photomatch demo``: an end-to-end run on sample photos, for a first look.

It builds a store from a few "reported" photos, writes altered copies of them (resized,
re-encoded, cropped, mirrored, letterboxed, inside a screenshot, as the round avatar of a profile
page) next to unrelated photos, matches every query, prints what was found and where, and writes
the evidence report of the run (``<out>/report/report.html``). The photos are scikit-image's
bundled samples unless the user names a folder.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from .algorithms import PDQ
from .errors import PhotomatchError
from .evidence import ReportWriter
from .files import iter_image_paths
from .loading import open_image
from .matcher import Matcher
from .regions import iou, round_views

# scikit-image ships these photographs inside its wheel (no download needed)
_SKIMAGE_REPORTED = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")
_SKIMAGE_OTHERS = ("motorcycle_left.png", "hubble_deep_field.jpg", "camera.png", "coins.png", "retina.jpg",
                   "ihc.png", "moon.png", "brick.png")

Alteration = Callable[[Image.Image, Sequence[Image.Image]], Image.Image]


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


def _profile(img: Image.Image, others: Sequence[Image.Image]) -> Image.Image:
    """A profile page: the photo's centre square as a round avatar, names and buttons, then a
    grid of square tiles of other photos, three to a row; forwarded at 540 px wide (JPEG q85)."""
    canvas = Image.new("RGB", (540, 1170), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, 540, 90), fill=(238, 238, 238))
    draw.text((20, 40), "someone_profile", fill=(20, 20, 20))
    side = 150
    mask = Image.new("L", (side, side), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, side - 1, side - 1), fill=255)
    canvas.paste(ImageOps.fit(img, (side, side), Image.Resampling.LANCZOS), (24, 110), mask)
    for i, label in enumerate(("posts", "followers", "following")):
        draw.text((215 + 110 * i, 160), f"{(i + 2) * 137}\n{label}", fill=(20, 20, 20))
    draw.rounded_rectangle((24, 300, 262, 340), radius=10, fill=(24, 119, 242))
    draw.rounded_rectangle((278, 300, 516, 340), radius=10, fill=(230, 230, 230))
    tile, gap, top = 178, 3, 370
    for k in range(12):
        x, y = (k % 3) * (tile + gap), top + (k // 3) * (tile + gap)
        if y + tile > 1170 or not others:
            break
        canvas.paste(ImageOps.fit(others[k % len(others)].convert("RGB"), (tile, tile)), (x, y))
    return canvas


ALTERATIONS: dict[str, tuple[Alteration, int]] = {
    # name: (what it does, given the photo and unrelated photos for the page around it; JPEG quality)
    "half-size": (lambda im, _: im.resize((im.width // 2, im.height // 2), Image.Resampling.BILINEAR), 85),
    "jpeg-q30": (lambda im, _: im, 30),
    "cropped-4pct": (lambda im, _: _crop(im, 0.96), 90),
    "mirrored": (lambda im, _: ImageOps.mirror(im), 90),
    "grey": (lambda im, _: ImageOps.grayscale(im).convert("RGB"), 90),
    "cropped-30pct": (lambda im, _: _crop(im, 0.70 ** 0.5), 90),
    "letterboxed": (lambda im, _: _letterbox(im), 90),
    "screenshot": (lambda im, _: _screenshot(im), 85),
    "profile-avatar": (_profile, 85),
}


def _is_avatar(query: Path, region: tuple[int, int, int, int]) -> bool:
    """Does ``region`` (where a match was found) cover a round view of the query, an avatar?"""
    views = round_views(np.asarray(open_image(query), dtype=np.uint8))
    return any(kind == "circle" and iou(box, region) >= 0.6 for box, kind in views)


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
    unrelated = []
    for src in others:
        with Image.open(src) as im:
            unrelated.append(ImageOps.exif_transpose(im).convert("RGB"))
    for i, src in enumerate(reported):
        with Image.open(src) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            for name, (alter, quality) in ALTERATIONS.items():
                q = queries / f"{src.stem}--{name}.jpg"
                alter(im, unrelated).save(q, quality=quality)
                expected[str(q)] = f"report-{i + 1}:{src.stem}"
    for src, im in zip(others, unrelated):
        q = queries / f"unrelated--{src.stem}.jpg"
        im.save(q, quality=80)
        expected[str(q)] = None
    if unrelated:  # the same profile page around an unrelated avatar: nothing may match
        q = queries / "unrelated--profile-avatar.jpg"
        _profile(unrelated[0], unrelated[1:]).save(q, quality=85)
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
                where = f"at {got.region}"
                if got.region is not None and _is_avatar(Path(r.query), got.region):
                    where = f"as the round avatar at {got.region}"
                verdict = f"found {got.label} (distance {got.distance}, {how}, {where})"
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
