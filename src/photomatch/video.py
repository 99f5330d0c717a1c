"""Video frames through PyAV (FFmpeg): limits checked first, memory bounded, rotation applied.

Every container and codec of the FFmpeg build that PyAV's wheel bundles is read (MP4/MOV,
MKV/WebM, AVI, MPEG-TS, animated GIF, ...). Frames stream one at a time: memory is that of the
decoder's few reference frames whatever the video's length. A video declaring more seconds
than ``max_duration``, or frames of more pixels than ``max_pixels``, is refused before any frame
is decoded, and the limits are checked again while decoding, since a header may lie.

A packet the decoder rejects, or a frame it flags as corrupt, is skipped and counted in
``VideoReader.skipped``: the rest of the video is still read. Only an unreadable container or
a stream without a single decodable frame is an error (``DecodeError``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Union

import av
import numpy as np

from ._fileio import open_regular
from .errors import DecodeError, ImageTooLargeError, VideoTooLongError
from .files import VIDEO_EXTENSIONS, extension
from .sources.sniff import HEAD, VIDEO, sniff_bytes
from .loading import source_name

VideoSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]
"""A path, the file's bytes, or a binary file object."""

DEFAULT_MAX_DURATION = 4 * 3600.0
"""Seconds of video read at most (a header declaring more is refused before decoding)."""

DEFAULT_MAX_FRAME_PIXELS = 40_000_000
"""Pixels per frame at most (8K UHD is 33 MP); more is refused, as image bombs are."""

MAX_FRAME_RATE = 1000.0
"""Frames per second a video may average while being decoded: with ``max_duration`` it bounds
the work a header that lies about its length can cause."""

SCENE_CHANGE = 0.25
"""Share of luma sample points that must change by more than ``CHANGED_LEVEL`` since the
last sampled frame for a frame to be sampled as a scene change."""

CHANGED_LEVEL = 24
"""Luma difference (0-255) above which a sample point counts as changed."""

NEAR_IDENTICAL = 0.001
"""Share of changed luma sample points below which two sampled frames are taken as the same
picture (matched once): a photo covering 0.1 % of a frame is far below what can be matched."""

MIN_SCENE_GAP = 0.25
"""Seconds between two scene-change samples at least, so fast motion can't flood the matcher."""

_LUMA_FORMATS = ("yuv", "yuvj", "nv12", "nv21", "gray")


@dataclass(frozen=True)
class VideoInfo:
    """What a video's header declares. ``width``/``height`` are the coded frame's (before the
    display rotation, which frames carry); ``duration`` and ``frames`` are None when the header
    doesn't say."""

    name: str
    width: int
    height: int
    fps: float
    duration: float | None
    frames: int | None
    codec: str
    container: str


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``number`` counts frames in output order from 0 (vPDQ's frame
    number), ``time`` is in seconds from the start of the stream, ``pixels`` is RGB
    ``(height, width, 3)`` uint8 and ``scale`` the frame's pixels per pixel of ``pixels``
    (1.0 unless a smaller size was asked). ``reason`` says why it was sampled."""

    number: int
    time: float
    pixels: np.ndarray
    keyframe: bool
    scale: float = 1.0
    reason: str = "every"
    luma: np.ndarray | None = None  # the luma grid the sampler compared (``luma_grid``)


def is_video_file(path: str | os.PathLike[str]) -> bool:
    """Does the file's content start like a video container (or carry a video extension)?

    Animated GIF/WebP stay images for ``photomatch match`` (their first frame); the video
    functions read them too.
    """
    try:
        with open_regular(os.fspath(path)) as f:  # a FIFO or a device is no video: never block on it
            head = f.read(HEAD)
    except OSError:
        head = b""
    if _sniff(head):
        return True
    return extension(path) in VIDEO_EXTENSIONS


def is_video(source: object) -> bool:
    """Is a query or reported item a video: a path (content or extension, as ``is_video_file``)
    or bytes that start like a video container? Pixels, PIL images and file objects are images."""
    if isinstance(source, (str, os.PathLike)):
        return not os.path.isdir(source) and is_video_file(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _sniff(bytes(source[:HEAD]))
    return False


def _sniff(head: bytes) -> bool:
    # The same classification as the scan's (HEIF/AVIF brands are pictures, M4A is audio).
    return sniff_bytes(head).kind == VIDEO


class VideoReader:
    """An open video: its header checked against the limits, and its frames on demand.

    >>> import io, numpy as np
    >>> import av
    >>> buf = io.BytesIO()
    >>> with av.open(buf, "w", format="mp4") as c:
    ...     s = c.add_stream("libx264", rate=5)
    ...     s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
    ...     for i in range(10):
    ...         img = np.full((48, 64, 3), 20 * i, np.uint8)
    ...         c.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
    ...     c.mux(s.encode())
    >>> with VideoReader(buf.getvalue()) as v:
    ...     (v.info.width, v.info.fps), [f.number for f in v.sample(fps=1.0, scene_changes=False)]
    ((64, 5.0), [0, 5])
    """

    def __init__(self, source: VideoSource, *, max_duration: float | None = DEFAULT_MAX_DURATION,
                 max_pixels: int | None = DEFAULT_MAX_FRAME_PIXELS, threads: int | None = None) -> None:
        _check_limits(max_duration, max_pixels)
        self.name = source_name(source)
        self.max_duration = max_duration
        self.max_pixels = max_pixels
        self.skipped = 0
        self.skip_reasons: list[str] = []
        self._container = _open(source, self.name)
        try:
            self._stream = self._pick_stream()
            self.info = self._read_info()
            self._check_header()
            ctx = self._stream.codec_context
            # Frame threads (the decoder's own pool) where the codec has them; the reference
            # vPDQ uses slice threads only, which gives the same frames, just slower.
            ctx.thread_type = "AUTO"
            ctx.thread_count = threads or 0
        except BaseException:
            self._container.close()
            raise

    # --- context ---------------------------------------------------------------------------

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- header ----------------------------------------------------------------------------

    def _pick_stream(self) -> Any:
        streams = self._container.streams.video
        if not streams:
            raise DecodeError(self.name, "no video stream (audio or data only)")
        return streams[0]

    def _read_info(self) -> VideoInfo:
        s = self._stream
        ctx = s.codec_context
        if ctx is None:  # FFmpeg has no decoder for this stream's codec (or the codec id is garbage)
            raise DecodeError(self.name, "unsupported video codec (no decoder in this FFmpeg build)")
        rate = s.average_rate or s.guessed_rate or s.base_rate
        fps = float(rate) if rate else 0.0
        duration = None
        # The larger of the stream's and the container's claims: either may be the one that lies.
        claims = []
        if s.duration is not None and s.time_base is not None:
            claims.append(float(s.duration * s.time_base))
        if self._container.duration is not None:
            claims.append(self._container.duration / av.time_base)
        duration = max(claims) if claims else None
        return VideoInfo(self.name, int(ctx.width or 0), int(ctx.height or 0), fps, duration,
                         int(s.frames) if s.frames else None, ctx.name,
                         self._container.format.name)

    def _check_header(self) -> None:
        i = self.info
        if i.width <= 0 or i.height <= 0:
            raise DecodeError(self.name, f"video stream has no frame size ({i.width}x{i.height})")
        self._check_pixels(i.width, i.height)
        if self.max_duration is None:
            return
        if i.duration is not None and i.duration > self.max_duration:
            msg = f"video too long: declares {i.duration:.0f} s, above the limit of {self.max_duration:g} s (max_duration)"
            raise VideoTooLongError(self.name, msg)
        if i.frames is not None and i.frames > self.max_duration * MAX_FRAME_RATE:
            msg = (f"video too long: declares {i.frames} frames, above {self.max_duration:g} s "
                   f"at {MAX_FRAME_RATE:g} frames per second (max_duration)")
            raise VideoTooLongError(self.name, msg)

    def _check_pixels(self, width: int, height: int) -> None:
        if self.max_pixels is not None and width * height > self.max_pixels:
            msg = (f"video frames too large: {width}x{height} = {width * height} pixels, "
                   f"above the limit of {self.max_pixels} (max_pixels)")
            raise ImageTooLargeError(self.name, msg)

    # --- decoding --------------------------------------------------------------------------

    def decoded(self) -> Iterator[tuple[int, Any]]:
        """``(number, av.VideoFrame)`` for every decodable frame, in output order.

        Numbers count the frames the decoder outputs, as vPDQ's reference does; a frame that
        is skipped as corrupt (or a packet the decoder rejects) still takes its number, so the
        numbers of the rest stay in step with their times.
        """
        number = 0
        limit_frames = None if self.max_duration is None else int(self.max_duration * MAX_FRAME_RATE) + 1
        start = self._stream.start_time or 0
        decoded_any = False
        for frame in self._frames():
            n = number
            number += 1
            if frame is None:  # a packet the decoder rejected: its frame is lost, its number kept
                continue
            if limit_frames is not None and number > limit_frames:
                raise VideoTooLongError(self.name, f"video too long: more than {limit_frames} frames decoded (max_duration)")
            if frame.is_corrupt:
                self._skip(f"frame {n} flagged corrupt by the decoder")
                continue
            if self.max_duration is not None and frame.pts is not None and frame.time_base is not None:
                t = float((frame.pts - start) * frame.time_base)
                if t > self.max_duration:
                    msg = f"video too long: a frame at {t:.0f} s, above the limit of {self.max_duration:g} s (max_duration)"
                    raise VideoTooLongError(self.name, msg)
            if frame.width != self.info.width or frame.height != self.info.height:
                self._check_pixels(frame.width, frame.height)  # the size may change mid-stream
            decoded_any = True
            yield n, frame
        if not decoded_any:
            reason = "no decodable video frame"
            if self.skip_reasons:
                reason += f" ({self.skip_reasons[0]})"
            raise DecodeError(self.name, reason)

    def _frames(self) -> Iterator[Any]:
        """Decoded frames, with None in place of packets the decoder rejected."""
        stream = self._stream
        packets = self._container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.FFmpegError as e:  # truncated or corrupt container: what was read stands
                self._skip(f"container unreadable after this point ({_cause(e)})")
                break
            try:
                frames = stream.decode(packet)
            except av.FFmpegError as e:
                self._skip(f"packet at {_packet_time(packet)} rejected by the decoder ({_cause(e)})")
                yield None
                continue
            yield from frames  # demux ends with an empty packet, which drains the decoder

    def _skip(self, reason: str) -> None:
        self.skipped += 1
        if len(self.skip_reasons) < 20:  # enough to tell what happened, bounded
            self.skip_reasons.append(reason)

    def time_of(self, number: int, frame: Any) -> float:
        """Seconds from the stream's start: the frame's timestamp, else its number over the rate."""
        if frame.pts is not None and frame.time_base is not None:
            return max(0.0, float((frame.pts - (self._stream.start_time or 0)) * frame.time_base))
        return number / self.info.fps if self.info.fps > 0 else 0.0

    def rgb(self, frame: Any, *, max_side: int | None = None, rotate: bool = True,
            interpolation: str = "AREA") -> tuple[np.ndarray, float]:
        """The frame as RGB uint8, scaled by the decoder (swscale) to fit ``max_side``, rotated
        for display when ``rotate``; and the frame's pixels per returned pixel."""
        w, h = frame.width, frame.height
        scale = 1.0
        if max_side is not None and max(w, h) > max_side:
            scale = max(w, h) / max_side
            w, h = max(1, round(w / scale)), max(1, round(h / scale))
        # One swscale thread: callers convert frames on their own threads, and concurrent
        # conversions with swscale's automatic thread pools were seen to deadlock (PyAV 17.1).
        rgb = np.ascontiguousarray(frame.to_ndarray(format="rgb24", width=w, height=h, interpolation=interpolation,
                                                    threads=1))
        if rotate and frame.rotation:
            rgb = np.ascontiguousarray(np.rot90(rgb, k=(round(frame.rotation / 90)) % 4))
        return rgb, scale

    def sample(self, *, fps: float = 1.0, scene_changes: bool = True, keyframes: bool = False,
               max_side: int | None = None, rotate: bool = True,
               tap: Callable[[int, Any], None] | None = None) -> Iterator[Frame]:
        """Frames at ``fps`` per second of video time (the first frame always), plus frames where
        the picture changed much since the last sample (cuts, slides; at most one per
        ``MIN_SCENE_GAP`` s). The change is measured on a grid of luma points, read from the
        decoded plane without conversion, so every frame can be looked at cheaply. ``keyframes``
        also samples the frames the encoder made keyframes (its own scene-cut guess; same gap).
        ``tap(number, frame)`` sees every decoded frame first (vPDQ hashes its own frames from
        the same pass)."""
        if not fps > 0:
            msg = f"fps must be positive, got {fps!r}"
            raise ValueError(msg)
        period = 1.0 / fps
        next_time = 0.0
        last_time = -1e9
        last_luma: np.ndarray | None = None
        for number, frame in self.decoded():
            if tap is not None:
                tap(number, frame)
            t = self.time_of(number, frame)
            reason = None
            luma = None
            if t >= next_time - 1e-6 or last_luma is None:
                reason = "every"
            elif keyframes and frame.key_frame and t - last_time >= MIN_SCENE_GAP:
                reason = "keyframe"
            elif scene_changes and t - last_time >= MIN_SCENE_GAP:
                luma = luma_grid(frame)
                if luma.shape == last_luma.shape and changed_share(luma, last_luma) > SCENE_CHANGE:
                    reason = "scene"
            if reason is None:
                continue
            if reason == "every":
                next_time = (int(t / period + 1e-6) + 1) * period
            last_luma = luma if luma is not None else luma_grid(frame)
            last_time = t
            pixels, scale = self.rgb(frame, max_side=max_side, rotate=rotate)
            yield Frame(number, t, pixels, bool(frame.key_frame), scale, reason, last_luma)


def luma_grid(frame: Any, step: int = 8) -> np.ndarray:
    """Every ``step``-th luma sample of a frame, as int16 (a cheap fingerprint for change tests)."""
    if frame.format.name.startswith(_LUMA_FORMATS):
        plane = frame.planes[0]
        y = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        return y[::step, : plane.width : step].astype(np.int16)
    small = frame.to_ndarray(format="gray", width=max(1, frame.width // step),
                             height=max(1, frame.height // step), interpolation="AREA", threads=1)
    return small.astype(np.int16)


def changed_share(a: np.ndarray, b: np.ndarray) -> float:
    """Share of sample points whose luma differs by more than ``CHANGED_LEVEL``."""
    return float(np.count_nonzero(np.abs(a - b) > CHANGED_LEVEL)) / a.size


def _open(source: VideoSource, name: str) -> Any:
    if isinstance(source, (bytes, bytearray, memoryview)):
        import io

        source = io.BytesIO(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        source = path = os.fsdecode(os.fspath(source))
        if os.path.isdir(path):
            raise DecodeError(name, "is a folder, not a video")
        try:
            if os.path.getsize(path) == 0:
                raise DecodeError(name, "empty file (0 bytes)")
        except OSError as e:
            raise DecodeError(name, f"cannot open ({e.strerror or e})") from e
    else:
        try:
            pos = source.tell()
            empty = not source.read(1)
            source.seek(pos)
        except (OSError, AttributeError, ValueError) as e:
            raise DecodeError(name, f"cannot read the video stream ({e})") from e
        if empty:
            raise DecodeError(name, "empty file (0 bytes)")
    try:
        return av.open(source, "r", metadata_errors="ignore")
    except av.FFmpegError as e:
        what = "truncated or corrupt video" if _sniff(_head(source)) else "not a video or unsupported format"
        raise DecodeError(name, f"{what} ({_cause(e)})") from e
    except OSError as e:
        raise DecodeError(name, f"cannot open ({e.strerror or e})") from e


def _head(source: Any) -> bytes:
    try:
        if isinstance(source, str):
            with open_regular(source) as f:
                return f.read(HEAD)
        source.seek(0)
        return source.read(HEAD)
    except (OSError, AttributeError, ValueError):
        return b""


def _cause(e: BaseException) -> str:
    text = getattr(e, "strerror", None) or str(e)
    return f"{type(e).__name__}: {text}"


def _packet_time(packet: Any) -> str:
    if packet.pts is not None and packet.time_base is not None:
        return f"{float(packet.pts * packet.time_base):.3f} s"
    return "unknown time"


def _check_limits(max_duration: float | None, max_pixels: int | None) -> None:
    if max_duration is not None and (isinstance(max_duration, bool) or not isinstance(max_duration, (int, float))
                                     or not max_duration > 0):
        msg = f"max_duration must be a positive number of seconds or None, not {max_duration!r}"
        raise ValueError(msg)
    if max_pixels is not None and (isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1):
        msg = f"max_pixels must be a positive int or None, not {max_pixels!r}"
        raise ValueError(msg)
