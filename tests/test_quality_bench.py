"""The quality benchmark harness (benchmarks/quality) on a handful of generated photos.

Oracles: Pillow re-computations for the alterations' geometry, imagehash's own
``ImageMultiHash.matches`` for the vectorised crop-resistant rule, brute-force bit counting
for the packed Hamming search, and a toy system whose answers are known for the metrics.
"""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is not installed: it lives beside the package
    sys.path.insert(0, str(ROOT))

from benchmarks.quality import alterations as alt  # noqa: E402
from benchmarks.quality import report, runner, systems  # noqa: E402


def _photo(i: int, size: tuple[int, int] = (161, 113)) -> Image.Image:
    """A smooth random 'photo' (coarse noise upsampled): distinct per i, with structure for hashes."""
    rng = np.random.default_rng(1000 + i)
    coarse = (rng.random((6, 8, 3)) * 255).astype(np.uint8)
    img = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
    fine = rng.normal(0, 6, (size[1], size[0], 3))
    return Image.fromarray(np.clip(np.asarray(img, float) + fine, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("photos")
    (d / "sub").mkdir()
    for i in range(8):
        size = (161, 113) if i % 2 else (113, 161)
        target = d / ("sub" if i == 7 else ".") / f"p{i}.png"
        _photo(i, size).save(target)
    (d / "notes.txt").write_text("not an image")
    return d


def _decoded(name: str, img: Image.Image) -> bytes:
    return alt.encode(name, img)


# --- alterations ----------------------------------------------------------------------------------


def test_every_alteration_is_deterministic_and_seeded():
    img, fillers = _photo(0), [_photo(i) for i in (1, 2, 3)]
    for name in alt.ALTERATIONS:
        a = alt.apply(name, img, alt.rng_for("p0", name, 0), fillers)
        b = alt.apply(name, img, alt.rng_for("p0", name, 0), fillers)
        assert _decoded(name, a) == _decoded(name, b), name
    # Random placement depends on the seed and the photo id.
    crops = {alt.apply("crop_50", img, alt.rng_for(pid, "crop_50", s)).tobytes() for pid in ("a", "b", "c") for s in (0, 1)}
    assert len(crops) > 1


def test_alteration_geometry():
    img = _photo(0, (161, 113))
    w, h = img.size
    rng = lambda name: alt.rng_for("p", name, 0)  # noqa: E731
    assert alt.apply("resize_0.5", img, rng("resize_0.5")).size == (80, 56)
    assert alt.apply("resize_0.25", img, rng("resize_0.25")).size == (40, 28)
    assert alt.apply("resize_1.5", img, rng("resize_1.5")).size == (242, 170)
    assert alt.apply("stretch_w1.3", img, rng("stretch_w1.3")).size == (209, 113)
    assert alt.apply("rotate_90", img, rng("rotate_90")).size == (h, w)
    assert alt.apply("grey", img, rng("grey")).mode == "L"
    flipped = alt.apply("flip_h", img, rng("flip_h"))
    assert np.array_equal(np.asarray(flipped), np.asarray(img)[:, ::-1])
    # Crops keep the asked share of the area and the aspect ratio, and are a real window of the photo.
    src = np.asarray(img)
    for name, area in (("crop_90", 0.9), ("crop_70", 0.7), ("crop_50", 0.5)):
        c = alt.apply(name, img, rng(name))
        assert abs(c.width * c.height / (w * h) - area) < 0.02
        assert abs(c.width / c.height - w / h) < 0.03
        arr = np.asarray(c)
        hits = [(x, y) for y in range(h - c.height + 1) for x in range(w - c.width + 1) if np.array_equal(src[y : y + c.height, x : x + c.width], arr)]
        assert len(hits) == 1
    # Rotation by 5 degrees expands the canvas: |w cos| + |h sin| by |w sin| + |h cos|.
    r = alt.apply("rotate_5", img, rng("rotate_5"))
    t = math.radians(5)
    assert abs(r.width - (w * math.cos(t) + h * math.sin(t))) <= 2
    assert abs(r.height - (w * math.sin(t) + h * math.cos(t))) <= 2
    # JPEG alterations differ from each other only by the saved quality.
    q30 = Image.open(io.BytesIO(alt.encode("jpeg_q30", img)))
    q70 = Image.open(io.BytesIO(alt.encode("jpeg_q70", img)))
    assert len(alt.encode("jpeg_q30", img)) < len(alt.encode("jpeg_q70", img)) < len(alt.encode("resize_1.5", img))
    assert q30.size == q70.size == img.size


def test_compositions_contain_the_photo():
    img, fillers = _photo(0, (161, 113)), [_photo(i) for i in (1, 2, 3)]
    src = np.asarray(img)
    # Border: the photo unchanged, centred, on a canvas of another aspect ratio.
    b = alt.apply("border", img, alt.rng_for("p", "border", 0))
    x0, y0 = (b.width - img.width) // 2, (b.height - img.height) // 2
    assert np.array_equal(np.asarray(b)[y0 : y0 + img.height, x0 : x0 + img.width], src)
    assert abs(b.width / b.height - img.width / img.height) > 0.2
    # Collage: the photo (resized to its cell) is exactly one of the four cells.
    c = alt.apply("collage", img, alt.rng_for("p", "collage", 0), fillers)
    cell = np.asarray(img.resize(img.size, Image.Resampling.LANCZOS))
    g = max(2, round(0.015 * max(img.size)))
    assert c.size == (2 * img.width + 3 * g, 2 * img.height + 3 * g)
    cells = [np.asarray(c)[g + r * (img.height + g) : g + r * (img.height + g) + img.height, g + k * (img.width + g) : g + k * (img.width + g) + img.width] for r in (0, 1) for k in (0, 1)]
    assert sum(np.array_equal(x, cell) for x in cells) == 1
    with pytest.raises(ValueError, match="3 filler photos"):
        alt.apply("collage", img, alt.rng_for("p", "collage", 0), fillers[:2])
    # Screenshot: a phone-shaped canvas; text adds pixels but leaves most of the photo.
    s = alt.apply("screenshot", img, alt.rng_for("p", "screenshot", 0))
    assert abs(s.height / s.width - 2340 / 1080) < 0.01 and 480 <= s.width <= 820
    t = np.asarray(alt.apply("text", img, alt.rng_for("p", "text", 0)))
    changed = (t != src).any(axis=2).mean()
    assert 0.01 < changed < 0.6
    with pytest.raises(ValueError, match="unknown alteration"):
        alt.apply("sepia", img, alt.rng_for("p", "sepia", 0))


def test_screens_hold_the_photo_as_an_avatar_or_a_tile():
    img, fillers = _photo(0, (161, 113)), [_photo(i) for i in range(1, 30)]
    # Grid: the photo's centre square, at the tile's size, is exactly one tile of the screen.
    g = alt.apply("grid", img, alt.rng_for("p", "grid", 0), fillers)
    assert g.size == (1080, 2340)
    arr = np.asarray(g)
    found = []
    sides = set()
    for cols in (3, 4):
        for gap in range(1, 7):
            side = (1080 - (cols - 1) * gap) // cols
            sides |= {side, 1080 - (cols - 1) * (side + gap)}  # the last column takes the rounding
    for side in sorted(sides):
        want = np.asarray(ImageOps.fit(img, (side, side), Image.Resampling.LANCZOS))
        ys, xs = np.nonzero((arr[:, :, 0] == want[0, 0, 0]) & (arr[:, :, 1] == want[0, 0, 1]))
        found += [(x, y, side) for x, y in zip(xs, ys) if y + side <= 2340 and x + side <= 1080
                  and np.array_equal(arr[y : y + side, x : x + side], want)]
    assert len(found) == 1
    # Profile: the photo's centre square, 250-400 px across, is the middle of the avatar disc.
    page = alt.apply("profile", img, alt.rng_for("p", "profile", 0), fillers)
    p = np.asarray(page)[:800]  # the avatar sits in the top third, above the grid
    hits = []
    for side in range(250, 401):
        want = np.asarray(ImageOps.fit(img, (side, side), Image.Resampling.LANCZOS))
        c = side // 2
        core = want[c - 20 : c + 20, c - 20 : c + 20]  # well inside the disc: untouched by the mask's edge
        ys, xs = np.nonzero((p[:, :, 0] == core[0, 0, 0]) & (p[:, :, 1] == core[0, 0, 1]) & (p[:, :, 2] == core[0, 0, 2]))
        hits += [(side, x, y) for x, y in zip(xs, ys) if np.array_equal(p[y : y + 40, x : x + 40], core)]
    assert len(hits) == 1
    p = page
    # Forwarded: the same screenshot scaled to 1280 px on its long side, saved at quality 85.
    for name, base in (("profile_fwd", p), ("grid_fwd", g)):
        f = alt.apply(name, img, alt.rng_for("p", alt.rng_name(name), 0), fillers)
        assert max(f.size) == 1280
        small = np.asarray(base.resize(f.size, Image.Resampling.BICUBIC), np.int16)
        assert np.abs(np.asarray(f, np.int16) - small).max() == 0
        assert alt.SAVE_QUALITY[name] == 85


def test_contact_sheet_cli(tmp_path, photo_dir):
    assert alt.main(["--show", str(photo_dir / "p0.png"), "--out", str(tmp_path)]) == 0
    with Image.open(tmp_path / "contact_sheet.png") as sheet:
        assert sheet.width == 5 * 300 and sheet.height == math.ceil(len(alt.ALTERATIONS) / 5) * 324


# --- split and matching rules ---------------------------------------------------------------------


def test_split_is_deterministic_and_fillers_are_distractors(photo_dir):
    photos = runner.list_photos(photo_dir)
    assert [p for p, _ in photos] == sorted(f"p{i}.png" for i in range(7)) + ["sub/p7.png"]
    r1, d1 = runner.split(photos, 3, 0)
    r2, d2 = runner.split(list(reversed(photos)), 3, 0)
    assert r1 == r2 and d1 == d2 and len(r1) == 3 and not {p for p, _ in r1} & {p for p, _ in d1}
    assert any(runner.split(photos, 3, seed)[0] != r1 for seed in range(1, 6))  # the seed matters
    dids = [p for p, _ in d1]
    for pid, _ in photos:
        f = runner.fillers_for(pid, dids, 0)
        assert len(set(f)) == 3 and pid not in f and set(f) <= set(dids)
        assert f == runner.fillers_for(pid, dids, 0)
    with pytest.raises(ValueError, match="--reported 5"):
        runner.split(photos, 5, 0)  # 3 distractors cannot fill a collage of a distractor


def test_packed_hamming_matches_brute_force():
    rng = np.random.default_rng(7)
    q = rng.integers(0, 256, (3, 32), dtype=np.uint8)
    idx = rng.integers(0, 256, (5, 32), dtype=np.uint8)
    want = np.array([[np.unpackbits(a ^ b).sum() for b in idx] for a in q])
    assert np.array_equal(systems._packed_hamming(q, idx), want)


def test_crop_resistant_lookup_equals_imagehash_matches():
    imagehash = pytest.importorskip("imagehash")
    imgs = [_photo(i, (200, 150)) for i in range(3)]
    imgs.append(imgs[0].crop((20, 10, 180, 140)))
    multis = [imagehash.crop_resistant_hash(im) for im in imgs]  # ~1 s each: computed once
    s = systems.CropResistantSystem()
    s.index([(f"r{i}", s.pack(m)) for i, m in enumerate(multis[:2])])
    answers = []
    for qm in multis[1:]:
        want = [f"r{i}" for i in range(2) if qm.matches(multis[i])]
        assert s.lookup(s.pack(qm)) == want
        answers.append(want)
    assert "r0" in answers[-1]  # the crop is found, so the comparison above covered a match


def test_pdq_dihedral_finds_rotations_that_plain_pdq_misses():
    pytest.importorskip("pdqhash")
    img = _photo(3, (160, 120))
    plain, dihedral = systems.PdqSystem(), systems.PdqDihedralSystem()
    for s in (plain, dihedral):
        s.index([("r", s.hash_reported(img)), ("other", s.hash_reported(_photo(4, (160, 120))))])
    turned = img.transpose(Image.Transpose.ROTATE_90)
    assert plain.lookup(plain.hash(img)) == ["r"] == dihedral.lookup(dihedral.hash(turned))
    assert plain.lookup(plain.hash(turned)) == []


# --- metrics and the whole run --------------------------------------------------------------------


class AlwaysFirst(systems.System):
    """Toy system: every query 'matches' reported photo ``target`` and nothing else."""

    name = "toy-always"
    note = "answers [target] to everything"

    def __init__(self, target: str) -> None:
        self.target = target

    def build(self, reported):
        self.built = [rid for rid, _ in reported]

    def query(self, image):
        return [self.target]


class Broken(systems.System):
    name = "toy-broken"

    def build(self, reported):
        msg = "no store"
        raise RuntimeError(msg)


def test_metrics_on_known_answers():
    q = [
        runner.Query("a", "r1", True, Path("x")),
        runner.Query("a", "r2", True, Path("x")),
        runner.Query("a", "d1", False, Path("x")),
        runner.Query("a", "d2", False, Path("x")),
        runner.Query("b", "r1", True, Path("x")),
        runner.Query("b", "d1", False, Path("x")),
    ]
    o = runner.Outcome("toy")
    o.answers = {("a", "r1"): ["r1", "r2"], ("a", "r2"): [], ("a", "d1"): ["r1"], ("a", "d2"): [], ("b", "r1"): ["r2"], ("b", "d1"): []}
    o.seconds = dict.fromkeys(o.answers, 0.5)
    m = runner.metrics(q, o, ["a", "b"])
    a, b = m["per_alteration"]["a"], m["per_alteration"]["b"]
    assert (a["hits"], a["n_reported"], a["recall"], a["wrong"]) == (1, 2, 0.5, 1)
    assert (a["false_matches"], a["n_distractor"], a["fmr"]) == (1, 2, 0.5)
    assert (b["recall"], b["wrong"], b["fmr"]) == (0.0, 1, 0.0)
    assert m["overall"]["false_matches"] == 1 and m["overall"]["n_distractor"] == 3
    assert m["overall"]["queries_per_second"] == pytest.approx(2.0)


def test_run_writes_results_and_reuses_its_cache(tmp_path, photo_dir):
    pytest.importorskip("pdqhash")
    pytest.importorskip("matplotlib")
    names = ["original", "resize_0.5", "rotate_90", "collage"]
    photos = runner.list_photos(photo_dir)
    reported, distractors = runner.split(photos, 3, 0)
    target = reported[0][0]
    cfg = runner.Config(
        images=photo_dir,
        out=tmp_path / "out",
        reported=3,
        systems=["pdqhash", "pdqhash-dihedral", AlwaysFirst(target), Broken(), "photomatch-robust"],
        alterations=names,
        workers=1,
        progress=False,
    )
    result = runner.run(cfg)
    assert result["config"]["copies_generated"] == 8 * 3  # every photo, every alteration but "original"
    summary = report.write(result, cfg.out)
    for f in ("results.json", "results.md", "recall.png", "queries.jsonl"):
        assert (cfg.out / f).stat().st_size > 0
    assert (cfg.out / "queries.jsonl").stat().st_mode & 0o077 == 0
    assert all(p.stat().st_mode & 0o077 == 0 for p in (runner.cache_root(cfg) / "hashes").iterdir())
    loaded = json.loads((cfg.out / "results.json").read_text())
    assert loaded["systems"].keys() == summary["systems"].keys()
    s = loaded["systems"]
    # The toy's answers are known: exactly 1 of 3 reported copies right per alteration, every distractor copy a false match.
    toy = s["toy-always"]["per_alteration"]
    assert all(toy[n]["hits"] == 1 and toy[n]["n_reported"] == 3 and toy[n]["fmr"] == 1.0 for n in names)
    assert s["toy-always"]["overall"]["false_matches"] == 5 * len(names)
    assert not s["toy-broken"]["available"] and "no store" in s["toy-broken"]["reason"]
    assert not s["photomatch-robust"]["available"] or "per_alteration" in s["photomatch-robust"]
    # PDQ finds unaltered photos; only its dihedral variant finds the 90-degree rotation.
    assert s["pdqhash"]["per_alteration"]["original"]["recall"] == 1.0
    assert s["pdqhash"]["per_alteration"]["rotate_90"]["recall"] == 0.0
    assert s["pdqhash-dihedral"]["per_alteration"]["rotate_90"]["recall"] >= 2 / 3  # smooth toy photos: PDQ bits near their median
    md = (cfg.out / "results.md").read_text()
    assert "| original | 100.0 | 100.0 | 33.3 |" in md and "toy-broken`: **unavailable**" in md

    again = runner.run(runner.Config(**{**cfg.__dict__, "systems": ["pdqhash"]}))
    assert again["config"]["copies_generated"] == 0
    assert again["outcomes"][0].answers == result["outcomes"][0].answers


def test_cli(tmp_path, photo_dir, capsys):
    pytest.importorskip("pdqhash")
    from benchmarks.quality.__main__ import main

    out = tmp_path / "cli"
    args = ["--images", str(photo_dir), "--out", str(out), "--reported", "3", "--workers", "1", "--quiet"]
    assert main([*args, "--systems", "pdqhash", "pdqhash-dihedral", "--alterations", "original,flip_h"]) == 0
    summary = json.loads((out / "results.json").read_text())
    assert list(summary["systems"]) == ["pdqhash", "pdqhash-dihedral"]
    assert summary["config"]["alterations"] == ["original", "flip_h"] and summary["config"]["reported"] == 3
    assert summary["systems"]["pdqhash-dihedral"]["per_alteration"]["flip_h"]["n_reported"] == 3
    assert "| flip_h |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([*args, "--systems", "nosuch"])
    assert "unknown system 'nosuch'" in capsys.readouterr().err


class FakeMatcher:
    """Stands in for photomatch.Matcher (same calls): labels kept in a JSON 'store', matched by a tiny thumbnail."""

    def __init__(self, path, **kwargs):
        self.path = Path(path)
        self.items = json.loads(self.path.read_text()) if self.path.exists() else []

    @staticmethod
    def _thumb(image):
        if not isinstance(image, Image.Image):
            with Image.open(image) as im:
                image = im.convert("RGB")
        return np.asarray(image.convert("L").resize((8, 8), Image.Resampling.BOX), float).ravel().tolist()

    def add(self, images, *, label=None, features=False):
        for im in images:
            self.items.append([label, self._thumb(im)])
        self.path.write_text(json.dumps(self.items))
        return list(range(len(self.items) - len(images), len(self.items)))

    def match(self, image, *, mode="robust"):
        from types import SimpleNamespace

        if mode not in ("fast", "robust"):
            msg = f"bad mode {mode}"
            raise ValueError(msg)
        t = np.array(self._thumb(image))
        return [SimpleNamespace(id=i, label=lab, distance=0, verified=False, region=None) for i, (lab, th) in enumerate(self.items) if np.abs(t - th).mean() < 4]

    def close(self):
        pass


def test_photomatch_adapter_serial_and_parallel(tmp_path, photo_dir, monkeypatch):
    import photomatch

    monkeypatch.setattr(photomatch, "Matcher", FakeMatcher, raising=False)
    answers = []
    for workers in (1, 2):  # 2: worker processes reopen the store (fork inherits the fake)
        cfg = runner.Config(images=photo_dir, out=tmp_path / f"w{workers}", reported=3, systems=["photomatch-fast"], alterations=["original", "resize_0.5", "flip_h"], workers=workers, progress=False)
        result = runner.run(cfg)
        [o] = result["outcomes"]
        assert o.available and o.errors == 0, o.reason
        m = runner.metrics(result["queries"], o, cfg.alterations)["per_alteration"]
        assert m["original"]["recall"] == 1.0 and m["original"]["fmr"] == 0.0 and m["flip_h"]["recall"] < 1.0
        answers.append(o.answers)
    assert answers[0] == answers[1]

    class NoMode(FakeMatcher):
        def match(self, image):
            return []

    monkeypatch.setattr(photomatch, "Matcher", NoMode)
    ok, reason = systems.make_system("photomatch-robust", tmp_path).available()
    assert not ok and "mode=" in reason

    class Raises(FakeMatcher):
        def match(self, image, *, mode="robust"):
            msg = "index missing"
            raise RuntimeError(msg)

    monkeypatch.setattr(photomatch, "Matcher", Raises)
    cfg = runner.Config(images=photo_dir, out=tmp_path / "r", reported=3, systems=["photomatch-robust"], alterations=["original", "resize_0.5", "flip_h", "grey", "blur_r2", "crop_90", "crop_70"], workers=1, progress=False)
    [o] = runner.run(cfg)["outcomes"]
    assert not o.available and "every query raised" in o.reason and "index missing" in o.reason


def test_shared_pdq_equals_separate_calls():
    pytest.importorskip("pdqhash")
    for i in range(3):
        img = _photo(i, (171 + 10 * i, 133))
        both = systems.hash_all(img, [("pdqhash", False), ("pdqhash-dihedral", False), ("imagehash-phash", False)])
        assert np.array_equal(both["pdqhash"][0], systems.PdqSystem().hash(img))
        assert np.array_equal(both["pdqhash-dihedral"][0], systems.PdqDihedralSystem().hash(img))
        assert np.array_equal(both["imagehash-phash"][0], systems.PhashSystem().hash(img))
        rep = systems.hash_all(img, [("pdqhash", True), ("pdqhash-dihedral", True)])
        assert np.array_equal(rep["pdqhash-dihedral"][0], systems.PdqDihedralSystem().hash_reported(img))
