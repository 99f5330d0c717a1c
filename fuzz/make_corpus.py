"""Write the fuzzing seed corpora: small real files of every format photomatch reads, and hash lists.

    python fuzz/make_corpus.py            # -> fuzz/corpus/images, fuzz/corpus/videos, fuzz/corpus/hashlists
    python fuzz/make_corpus.py --out DIR  # elsewhere

Everything is generated here (Pillow, pillow-heif, numpy), deterministically, so the repository
holds this script instead of binaries. Images are tiny (a few dozen pixels a side): the fuzzer
mutates bytes, and small seeds keep every execution fast while still reaching each decoder's
header, chunk and entropy-coding paths. Formats whose encoder is missing from this Pillow build
(say AVIF or HEIC) are skipped with a note on stderr, never silently.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent


def _content(height: int = 29, width: int = 37, seed: int = 0) -> np.ndarray:
    """A gradient plus noise: structure for PDQ/pHash to threshold, and entropy for the coders."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) * 4 % 256], axis=-1)
    return np.clip(base + rng.integers(-20, 21, size=base.shape), 0, 255).astype(np.uint8)


def _save(im: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def _exif_rotated() -> Image.Image:
    return Image.fromarray(_content(seed=1))


def image_seeds() -> dict[str, Callable[[], bytes]]:
    """File name -> function making its bytes (one entry per format and interesting variant)."""
    rgb = Image.fromarray(_content())
    rgba = Image.fromarray(np.dstack([_content(), np.linspace(0, 255, 29 * 37).astype(np.uint8).reshape(29, 37)]))
    gray = rgb.convert("L")
    pal = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    gray16 = Image.fromarray(_content()[..., 0].astype(np.uint16) * 257)  # mode I;16
    flt = Image.fromarray(_content()[..., 1].astype(np.float32) / 255.0)  # mode F

    def exif_jpeg() -> bytes:
        exif = Image.Exif()
        exif[0x0112] = 6  # orientation: rotate 90 on display
        return _save(_exif_rotated(), "JPEG", quality=80, exif=exif)

    def animated(fmt: str, **params: object) -> Callable[[], bytes]:
        frames = [Image.fromarray(_content(seed=s)) for s in range(3)]
        return lambda: _save(frames[0], fmt, save_all=True, append_images=frames[1:], duration=40, loop=0, **params)

    def transparent_gif() -> bytes:
        return _save(pal, "GIF", transparency=0)

    return {
        "baseline.jpg": lambda: _save(rgb, "JPEG", quality=75),
        "progressive.jpg": lambda: _save(rgb, "JPEG", quality=75, progressive=True),
        "gray.jpg": lambda: _save(gray, "JPEG", quality=75),
        "cmyk.jpg": lambda: _save(rgb.convert("CMYK"), "JPEG", quality=75),
        "subsampling444.jpg": lambda: _save(rgb, "JPEG", quality=90, subsampling=0),
        "exif_orientation.jpg": exif_jpeg,
        "rgb.png": lambda: _save(rgb, "PNG"),
        "rgba.png": lambda: _save(rgba, "PNG"),
        "gray.png": lambda: _save(gray, "PNG"),
        "bilevel.png": lambda: _save(gray.convert("1"), "PNG"),
        "palette_trns.png": lambda: _save(pal, "PNG", transparency=0),
        "gray16.png": lambda: _save(gray16, "PNG"),
        "animated.png": animated("PNG"),
        "static.gif": lambda: _save(pal, "GIF"),
        "transparent.gif": transparent_gif,
        "animated.gif": animated("GIF"),
        "lossy.webp": lambda: _save(rgb, "WEBP", quality=60),
        "lossless_alpha.webp": lambda: _save(rgba, "WEBP", lossless=True),
        "animated.webp": animated("WEBP", quality=50),
        "rgb24.bmp": lambda: _save(rgb, "BMP"),
        "palette.bmp": lambda: _save(pal, "BMP"),
        "rgb.tif": lambda: _save(rgb, "TIFF"),
        "lzw.tif": lambda: _save(rgb, "TIFF", compression="tiff_lzw"),
        "deflate_rgba.tif": lambda: _save(rgba, "TIFF", compression="tiff_adobe_deflate"),
        "jpeg.tif": lambda: _save(rgb, "TIFF", compression="jpeg"),
        "gray16.tif": lambda: _save(gray16, "TIFF"),
        "float.tif": lambda: _save(flt, "TIFF"),
        "cmyk.tif": lambda: _save(rgb.convert("CMYK"), "TIFF"),
        "rgb.ppm": lambda: _save(rgb, "PPM"),
        "gray.pgm": lambda: _save(gray, "PPM"),
        "bilevel.pbm": lambda: _save(gray.convert("1"), "PPM"),
        "rgb.tga": lambda: _save(rgb, "TGA"),
        "rle.tga": lambda: _save(rgb, "TGA", compression="tga_rle"),
        "icon.ico": lambda: _save(rgb, "ICO", sizes=[(16, 16), (32, 32)]),
        "rgb.jp2": lambda: _save(rgb, "JPEG2000"),
        "rgb.avif": lambda: _save(rgb, "AVIF", quality=50),
        "rgb.heic": lambda: _heic(rgb),
    }


def _heic(im: Image.Image) -> bytes:
    import pillow_heif  # optional: the loader reads HEIC only when it is installed

    pillow_heif.register_heif_opener()
    return _save(im, "HEIF", quality=50)


def hashlist_seeds() -> dict[str, bytes]:
    """Hash lists in every dialect hashlists.read_hash_list accepts (made-up hashes, not real reports)."""
    pdq = ["0123456789abcdef" * 4, "f" * 64, "00ff" * 16]
    ph = ["0f1e2d3c4b5a6978", "8000000000000001"]
    return {
        "header.csv": ("hash,quality,label,source\n" + f"{pdq[0]},87,spam,a.jpg\n{pdq[1]},,\"x,y\",b.jpg\n").encode(),
        "algo_column.csv": ("algo,hex,quality\n" + f"pdq,{pdq[2]},100\nphash,{ph[0]},\n").encode(),
        "region.csv": ("pdq,x,y,w,h,kind\n" + f"{pdq[0]},0.1,0.2,0.5,0.5,crop\n").encode(),
        "ours.tsv": ("#path\talgo\thex\tquality\n" + f"a\\tb.jpg\tpdq\t{pdq[0]}\t50\nc.jpg\tphash\t{ph[1]}\t\n").encode(),
        "headerless.txt": "\n".join(pdq + ph).encode() + b"\n",
        "hash_quality_filename.txt": f"{pdq[0]},100,photo.jpg\n{pdq[1]},42,other.jpg\n".encode(),
        "pdq_photo_hasher_details.txt": f"hash={pdq[0]},norm=128,delta=0,quality=100,filename=x.jpg\n".encode(),
        "lines.jsonl": (
            json.dumps({"hash": pdq[0], "quality": 90, "label": "r1"}) + "\n"
            + json.dumps({"algo": "phash", "hex": ph[0], "x": 0, "y": 0, "w": 1, "h": 1}) + "\n"
        ).encode(),
        "bom_crlf.csv": ("\ufeffhash,quality\r\n" + f"{pdq[0]},3\r\n").encode("utf-8"),
        "comments_blank.csv": (f"# a comment\n\nhash\n{pdq[1]}\n\n# end\n").encode(),
    }


def video_seeds() -> dict[str, Callable[[], bytes]]:
    """Tiny clips (32 x 24, a few frames) in the containers and codecs the video path reads."""

    def clip(codec: str, fmt: str, pix_fmt: str = "yuv420p", frames: int = 6, rotation: int | None = None,
             **options: str) -> Callable[[], bytes]:
        def make() -> bytes:
            import av

            buf = io.BytesIO()
            with av.open(buf, "w", format=fmt) as c:
                s = c.add_stream(codec, rate=5)
                s.width, s.height, s.pix_fmt = 32, 24, pix_fmt
                if options:
                    s.options = dict(options)
                if rotation is not None:
                    s.set_display_rotation(rotation)
                for i in range(frames):
                    rgb = _content(24, 32, seed=i // 2)
                    c.mux(s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
                c.mux(s.encode())
            return buf.getvalue()

        return make

    return {
        "h264.mp4": clip("libx264", "mp4"),
        "h264_rotated.mov": clip("libx264", "mov", rotation=90),
        "h264.ts": clip("libx264", "mpegts"),
        "hevc.mkv": clip("libx265", "matroska"),
        "vp9.webm": clip("libvpx-vp9", "webm"),
        "vp8.mkv": clip("libvpx", "matroska"),
        "mjpeg.avi": clip("mjpeg", "avi", pix_fmt="yuvj420p"),
        "mpeg4.mp4": clip("mpeg4", "mp4"),
        "anim.gif": clip("gif", "gif", pix_fmt="rgb8"),
    }


def write_corpus(out: Path) -> tuple[int, int, list[str]]:
    """Write the corpora under ``out``; return (images and videos written, hash lists written,
    formats skipped)."""
    images, lists, clips = out / "images", out / "hashlists", out / "videos"
    clips.mkdir(parents=True, exist_ok=True)
    images.mkdir(parents=True, exist_ok=True)
    lists.mkdir(parents=True, exist_ok=True)
    skipped: list[str] = []
    n_images = 0
    for name, make in image_seeds().items():
        try:
            data = make()
        except (KeyError, OSError, ImportError, ValueError) as e:  # encoder not in this build
            skipped.append(f"{name} ({type(e).__name__}: {e})")
            continue
        (images / name).write_bytes(data)
        n_images += 1
    for name, make in video_seeds().items():
        try:
            (clips / name).write_bytes(make())
        except Exception as e:  # noqa: BLE001 -- an encoder missing from this PyAV build
            skipped.append(f"{name} ({type(e).__name__}: {e})")
            continue
        n_images += 1
    for name, data in hashlist_seeds().items():
        (lists / name).write_bytes(data)
    return n_images, len(hashlist_seeds()), skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "corpus")
    args = parser.parse_args(argv)
    n_images, n_lists, skipped = write_corpus(args.out)
    for s in skipped:
        print(f"make_corpus: skipped {s}", file=sys.stderr)
    print(f"make_corpus: {n_images} images, {n_lists} hash lists in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
