"""Video decoding: containers and codecs, sampling, rotation, limits and bad input."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import videos

import photomatch
from photomatch.video import VideoReader, is_video_file


def _steps(n: int, per: int = 10) -> list[np.ndarray]:
    """n frames, a new picture every ``per`` frames."""
    return [videos.smooth(i // per) for i in range(n)]


CLIP = videos.write_clip(_steps(50), fps=10)


@pytest.mark.parametrize(
    ("codec", "fmt", "pix_fmt", "options", "tolerance"),
    [
        ("libx264", "mp4", None, None, 12),
        ("libx265", "mov", None, None, 12),
        ("libvpx-vp9", "webm", None, None, 12),
        ("libvpx", "matroska", None, None, 12),
        ("libsvtav1", "mp4", None, {"preset": "12"}, 12),
        ("mjpeg", "avi", None, {"b": "4000000"}, 12),
        ("mpeg4", "mov", None, {"b": "4000000"}, 12),
        ("gif", "gif", "rgb8", None, 24),  # 3-3-2 bit palette
    ],
)
def test_reads_containers_and_codecs(codec, fmt, pix_fmt, options, tolerance):
    data = videos.write_clip(_steps(20), fps=10, codec=codec, fmt=fmt, pix_fmt=pix_fmt, options=options)
    with VideoReader(data) as v:
        assert (v.info.width, v.info.height) == (128, 96)
        frames = list(v.sample(fps=10, scene_changes=False))
    assert len(frames) == 20
    assert frames[0].pixels.shape == (96, 128, 3)
    # Decoded pictures are the encoded ones, give or take the codec's loss.
    def err(seed):
        return np.abs(frames[12].pixels.astype(int) - videos.smooth(seed).astype(int)).mean()

    assert err(1) < tolerance and err(1) < err(0) / 2 and err(1) < err(2) / 2, (err(0), err(1), err(2))


def test_sampling_one_per_second_and_at_scene_changes():
    # 10 fps; the picture changes at frames 10, 20, ... (1 s apart) and once at frame 25 (2.5 s).
    pics = [videos.smooth(i // 10 if i < 25 else 99) for i in range(50)]
    with VideoReader(videos.write_clip(pics, fps=10)) as v:
        got = [(f.number, f.reason) for f in v.sample(fps=1.0)]
    assert got == [(0, "every"), (10, "every"), (20, "every"), (25, "scene"), (30, "every"), (40, "every")]
    with VideoReader(videos.write_clip(pics, fps=10)) as v:
        assert [f.number for f in v.sample(fps=2.0, scene_changes=False)] == list(range(0, 50, 5))
    with VideoReader(CLIP) as v, pytest.raises(ValueError, match="fps"):
        next(v.sample(fps=0))


def test_keyframes_sampled_on_request():
    # The encoder makes every 7th frame a keyframe (no scene-cut guessing); the picture never changes.
    data = videos.write_clip([videos.smooth(1)] * 50, fps=10, options={"x264-params": "keyint=7:min-keyint=7:scenecut=0"})
    with VideoReader(data) as v:
        keys = [n for n, f in v.decoded() if f.key_frame]
    assert keys == list(range(0, 50, 7))
    with VideoReader(data) as v:
        got = [(f.number, f.reason) for f in v.sample(fps=1.0, scene_changes=False, keyframes=True)]
    # Keyframes 21 and 42 come 0.1 and 0.2 s after a once-a-second sample: within MIN_SCENE_GAP.
    assert got == [(0, "every"), (7, "keyframe"), (10, "every"), (14, "keyframe"), (20, "every"),
                   (28, "keyframe"), (30, "every"), (35, "keyframe"), (40, "every"), (49, "keyframe")]
    with VideoReader(data) as v:
        assert [f.number for f in v.sample(fps=1.0)] == list(range(0, 50, 10))  # off by default


def test_frame_numbers_and_times():
    with VideoReader(CLIP) as v:
        pairs = [(n, v.time_of(n, f)) for n, f in v.decoded()]
    assert [n for n, _ in pairs] == list(range(50))
    assert [round(t, 6) for _, t in pairs] == [round(n / 10, 6) for n in range(50)]


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_display_rotation_is_applied(rotation):
    plain = videos.write_clip(_steps(5), fps=5)
    turned = videos.write_clip(_steps(5), fps=5, rotation=rotation)
    with VideoReader(plain) as v:
        a = next(v.sample()).pixels
    with VideoReader(turned) as v:
        b = next(v.sample()).pixels
        raw, _ = v.rgb(next(f for _, f in v.decoded()), rotate=False)
    # (x264 may round a level differently between two encodes of the same frames)
    np.testing.assert_allclose(b, np.rot90(a, k=rotation // 90), atol=3)
    np.testing.assert_allclose(raw, a, atol=3)


def test_decoder_side_scaling():
    with VideoReader(CLIP) as v:
        f = next(v.sample(max_side=64))
    assert f.pixels.shape == (48, 64, 3) and f.scale == 2.0


def test_limits_refused_from_the_header():
    with pytest.raises(photomatch.VideoTooLongError, match="max_duration"):
        VideoReader(CLIP, max_duration=2.0)
    with pytest.raises(photomatch.ImageTooLargeError, match="max_pixels"):
        VideoReader(CLIP, max_pixels=128 * 96 - 1)
    with VideoReader(CLIP, max_duration=5.5, max_pixels=128 * 96):
        pass
    with pytest.raises(ValueError, match="max_duration"):
        VideoReader(CLIP, max_duration=0)


def _avi_with_frame_count(count: int) -> bytes:
    data = bytearray(videos.write_clip(_steps(10), fps=10, codec="mjpeg", fmt="avi"))
    i = data.find(b"strh")
    assert i > 0
    struct.pack_into("<I", data, i + 8 + 32, count)  # AVISTREAMHEADER.dwLength
    j = data.find(b"avih")
    struct.pack_into("<I", data, j + 8 + 16, count)  # AVIMAINHEADER.dwTotalFrames
    return bytes(data)


def test_absurd_header_frame_count_is_refused():
    with pytest.raises(photomatch.VideoTooLongError, match="too long"):
        VideoReader(_avi_with_frame_count(0x7FFFFFFF))
    with VideoReader(_avi_with_frame_count(12)) as v:  # a header off by a little is no problem
        assert len(list(v.decoded())) == 10


def _mp4_with_duration(seconds: int, *, samples: bool = False) -> bytes:
    """Rewrite every duration field of an MP4 (mvhd, tkhd, mdhd) to ``seconds`` and, with
    ``samples``, the sample durations (stts) and the edit list too: FFmpeg takes the smallest
    of these claims."""
    data = bytearray(CLIP)
    if samples:
        i = data.find(b"stts")
        count, delta = struct.unpack_from(">II", data, i + 12)
        assert struct.unpack_from(">I", data, i + 8)[0] == 1 and count == 50
        struct.pack_into(">I", data, i + 16, min(0xFFFFFFFF, seconds * 10240 // count))
    for box in (b"mvhd", b"mdhd"):
        i = data.find(box)
        version = data[i + 4]
        assert version == 0
        scale = struct.unpack_from(">I", data, i + 4 + 12)[0]
        struct.pack_into(">I", data, i + 4 + 16, min(0xFFFFFFFF, seconds * scale))
    i = data.find(b"tkhd")
    struct.pack_into(">I", data, i + 4 + 20, min(0xFFFFFFFF, seconds * 1000))
    if samples:  # the edit list's one segment, in the movie's time scale (1000), cuts the rest
        i = data.find(b"elst")
        struct.pack_into(">I", data, i + 12, min(0xFFFFFFFF, seconds * 1000))
    return bytes(data)


def test_absurd_header_duration_is_refused():
    with pytest.raises(photomatch.VideoTooLongError, match="declares"):
        VideoReader(_mp4_with_duration(400_000, samples=True))


def test_frame_limit_holds_while_decoding_when_the_header_lies():
    # The header claims 1 s; the frames run to 4.9 s: the limit is enforced on the frames' times.
    with VideoReader(_mp4_with_duration(1), max_duration=2.0) as v:
        it = v.decoded()
        with pytest.raises(photomatch.VideoTooLongError, match="max_duration"):
            for _ in it:
                pass


def test_corrupt_frame_mid_stream_is_skipped_and_said():
    data = bytearray(videos.write_clip(_steps(30, per=3), fps=10, codec="mjpeg", fmt="avi"))
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    k = starts[len(starts) // 2]
    data[k + 150 : k + 600] = b"\xff\xd9" * 225  # the middle frame's entropy-coded data destroyed
    with VideoReader(bytes(data)) as v:
        frames = [n for n, _ in v.decoded()]
    assert v.skipped == 1 and "rejected by the decoder" in v.skip_reasons[0]
    assert frames == [n for n in range(30) if n != 15]  # decoding went on past it, numbers in step


def test_truncated_videos():
    with pytest.raises(photomatch.DecodeError, match="truncated or corrupt video"):
        VideoReader(CLIP[: len(CLIP) // 2])  # an MP4 whose index (moov) was at the end
    mkv = videos.write_clip(_steps(50), fps=10, fmt="matroska")
    with VideoReader(mkv[: len(mkv) // 2]) as v:  # streamable containers give what they hold
        n = len(list(v.decoded()))
    assert 5 < n < 50


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (b"this is not a video\n" * 20, "not a video"),
        (b"\x00\x00\x00\x18ftypmp42" + bytes(200), "truncated or corrupt video"),
    ],
)
def test_bad_bytes(data, match):
    with pytest.raises(photomatch.DecodeError, match=match):
        VideoReader(data)


def test_no_video_stream():
    import io

    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        s = c.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        for _ in range(4):
            c.mux(s.encode(frame))
        c.mux(s.encode())
    with pytest.raises(photomatch.DecodeError, match="no video stream"):
        VideoReader(buf.getvalue())


def test_paths_and_sniffing(tmp_path):
    p = tmp_path / "clip.bin"
    p.write_bytes(CLIP)
    assert is_video_file(p)
    fake = tmp_path / "fake.mp4"
    fake.write_text("hello")
    assert is_video_file(fake)  # the extension says video: the video reader reports the error
    with pytest.raises(photomatch.DecodeError, match="fake.mp4: not a video"):
        VideoReader(fake)
    photo = tmp_path / "a.png"
    from PIL import Image

    Image.fromarray(videos.smooth(0)).save(photo)
    assert not is_video_file(photo)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(photomatch.DecodeError, match="empty"):
        VideoReader(empty)
    with pytest.raises(photomatch.DecodeError, match="folder"):
        VideoReader(tmp_path)
    with VideoReader(p) as v, open(p, "rb") as f, VideoReader(f) as w:
        assert v.info == w.info.__class__(**{**w.info.__dict__, "name": str(p)})


def test_fuzz_finding_a_stream_without_decoder():
    """fuzz/fuzz_video.py found it (a mutated seed whose codec FFmpeg has no decoder for): PyAV
    gives the stream no codec context; the reader says so instead of raising AttributeError."""
    import os

    path = os.path.join(os.path.dirname(__file__), "data", "video", "fuzz-no-decoder.bin")
    with pytest.raises(photomatch.DecodeError, match="no decoder"):
        VideoReader(path)
