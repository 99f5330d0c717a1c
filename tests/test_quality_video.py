"""The video quality benchmark (benchmarks/quality_video.py) on a few generated photos.

Oracles: the decoded frames themselves (each slideshow interval the script calls "fully shown"
shows that photo's board; a screen recording's shows the whole photo), the videos' known lengths
(one sample a second), and the cases' construction (distinct pictures: every reported photo is
found, nothing in the unrelated video).
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import videos

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is not installed: it lives beside the package
    sys.path.insert(0, str(ROOT))

from benchmarks import quality_video as qv  # noqa: E402

from photomatch.video import VideoReader  # noqa: E402


def _photos(tmp_path, n: int, seed: int) -> Path:
    """A folder of ``n`` distinct generated photos (PNG)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(n):
        rgb = np.ascontiguousarray(videos.smooth(seed + i, 240, 320))
        cv2.imwrite(str(folder / f"p{i}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return folder


def _decoded(path) -> list[tuple[float, np.ndarray]]:
    with VideoReader(str(path)) as v:
        return [(v.time_of(n, f), v.rgb(f, rotate=False)[0]) for n, f in v.decoded()]


def test_slideshow_intervals_show_their_photo(tmp_path):
    pics = [videos.smooth(i, 120, 160) for i in range(3)]
    boards = [qv._fit(p, 320, 240) for p in pics]
    for hold, fade in ((2.0, 0.5), (0.7, 0.0)):
        path = tmp_path / f"show_{hold}.mp4"
        shown = qv.slideshow(str(path), pics, 320, 240, hold=hold, fade=fade)
        assert [round(b - a, 6) for a, b in shown] == [hold] * 3
        frames = _decoded(path)
        assert len(frames) == round((3 * hold + 2 * fade) * qv.FPS)
        for t, rgb in frames:
            err = [np.abs(rgb.astype(int) - b).mean() for b in boards]
            inside = [k for k, (a, b) in enumerate(shown) if a <= t < b]
            if inside:  # the board shown is that photo's, give or take the codec
                assert np.argmin(err) == inside[0] and err[inside[0]] < 4, (t, err)
            else:  # a cross-fade: neither board
                assert min(err) > 4, (t, err)


def test_screen_recording_shows_the_whole_photo_in_its_interval(tmp_path):
    pic = videos.smooth(7, 150, 200)
    path = tmp_path / "screen.mp4"
    a, b = qv.screen(str(path), pic, w=360, h=640)
    assert 0 < a < b
    content_w = 360 - 40
    photo = cv2.resize(pic, (content_w, round(pic.shape[0] * content_w / pic.shape[1])), interpolation=cv2.INTER_AREA)
    for t, rgb in _decoded(path):
        best = cv2.minMaxLoc(cv2.matchTemplate(rgb, photo, cv2.TM_SQDIFF_NORMED))[0]
        if a <= t < b:
            assert best < 0.01, t  # the whole photo is on screen
        else:
            assert best > 0.01, t  # scrolled (partly) out


@pytest.mark.slow  # about 10 s: every case encoded and matched with three samplers
def test_main_reports_every_case_and_sampler(tmp_path, capsys):
    pytest.importorskip("pdqhash")
    photos = _photos(tmp_path, 4, seed=20)
    (photos / "notes.txt").write_text("not a photo")
    assert qv.main(["--limit", "2", "--photos", str(photos), "--out", str(tmp_path / "out")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["recall_percent"]) == {"slideshow", "fast", "screen", "low", "trimmed"}
    for case, counts in report["counts"].items():
        # Two distinct reported photos, each found in its span. The trimmed copy keeps 1.1-3.3 s of
        # 2 x 2 s + a 0.5 s fade: each photo fully for under a second, so it counts none.
        assert counts["photomatch"] == ([0, 0] if case == "trimmed" else [2, 2]), case
    assert report["false_matches_unrelated_videos"] == {"photomatch": 0, "pdqhash": 0, "every": 0, "luma": 0,
                                                          "keyframes": 0, "videos": 1}
    assert report["vpdq_trimmed_copies_matched"]["photomatch"] == [1, 1]
    assert report["vpdq_trimmed_copies_matched"]["pdqhash"] == [1, 1]
    s = report["samplers"]
    assert set(s) == {"slideshow", "fast", "screen", "low", "trimmed", "unrelated"}
    # One sample a second: a 2-photo slideshow lasts 2 x 2 s + a 0.5 s fade, a fast one 2 x 0.7 s.
    assert s["slideshow"]["every"]["frames"] == math.ceil(4.5) and s["fast"]["every"]["frames"] == math.ceil(1.4)
    for case, rows in s.items():
        assert rows["luma"]["frames"] >= rows["every"]["frames"] and rows["keyframes"]["frames"] >= rows["every"]["frames"]
        assert all(1 <= r["searched"] <= r["frames"] for r in rows.values()), case
    # A photo held 2 s is sampled twice a second apart, the same picture: searched once.
    assert s["slideshow"]["every"]["searched"] < s["slideshow"]["every"]["frames"]
    with pytest.raises(SystemExit):
        qv.main(["--samplers", "every,nosuch", "--photos", str(photos)])
    assert "unknown sampler 'nosuch'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        qv.main(["--cases", "slideshow,nosuch", "--photos", str(photos)])
    assert "unknown case 'nosuch'" in capsys.readouterr().err


def test_trimmed_copy_keeps_the_photos_it_still_shows():
    # 4 photos of 2 s with 0.5 s fades; the copy keeps 2.5-7.5 s of the original
    shown = {0: (0.0, 2.0), 1: (2.5, 4.5), 2: (5.0, 7.0), 3: (7.5, 9.5)}
    assert qv.within(shown, (2.5, 7.5)) == {1: (0.0, 2.0), 2: (2.5, 4.5)}
    assert qv.within(shown, (1.2, 5.8)) == {1: (1.3, 3.3)}  # photo 0: 0.8 s left, photo 2: 0.8 s
    assert qv.within(shown, (1.0, 5.8)) == {0: (0.0, 1.0), 1: (1.5, 3.5)}


def test_cases_option_runs_some_cases_only(tmp_path, capsys):
    pytest.importorskip("pdqhash")
    photos = _photos(tmp_path, 2, seed=40)
    assert qv.main(["--limit", "1", "--photos", str(photos), "--out", str(tmp_path / "o"), "--cases", "trimmed",
                    "--samplers", "luma"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["counts"]) == ["trimmed"] and report["counts"]["trimmed"]["photomatch"] == [1, 1]
    assert report["false_matches_unrelated_videos"]["videos"] == 0 and report["vpdq_trimmed_copies_matched"]["photomatch"] == [0, 0]
    assert sorted(n for n in os.listdir(tmp_path / "o") if n.endswith(".mp4")) == ["slideshow_000.mp4", "trimmed_000.mp4"]
