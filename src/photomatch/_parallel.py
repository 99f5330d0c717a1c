"""Thread-pool plumbing shared by the batch verbs (``hash_files``, ``Matcher.match_many``...): the
decoder, OpenCV and the C core release the GIL, so threads scale."""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = ["default_workers", "ordered_map", "prefetch", "resolve_workers"]


def default_workers() -> int:
    """Threads to use by default: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def resolve_workers(workers: int | None) -> int:
    """``workers`` checked (a whole number >= 1), or ``default_workers()`` for None."""
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        msg = f"workers must be a whole number >= 1 or None, got {workers!r}"
        raise ValueError(msg)
    return int(workers)


def ordered_map(fn: Any, items: Iterable[Any], *, workers: int) -> Iterator[Any]:
    """``map(fn, items)`` on a thread pool, in order, with at most ``4 * workers`` items in flight."""
    if workers == 1:
        yield from map(fn, items)
        return
    window: deque[Future[Any]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="photomatch") as pool:
        try:
            for item in items:
                window.append(pool.submit(fn, item))
                if len(window) >= 4 * workers:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for f in window:  # the consumer stopped early: don't hash the rest
                f.cancel()


_DONE = object()


def prefetch(items: Iterable[Any], *, depth: int = 2) -> Iterator[Any]:
    """``items`` produced by a background thread, at most ``depth`` ahead of the consumer.

    For a producer in Python (parsing) feeding a consumer that releases the GIL (SQLite runs a
    statement without it): the two overlap on two cores. An exception of the producer is raised
    to the consumer where the item would have come; a consumer that stops early stops the producer.
    """
    out: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(x: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for x in items:
                if not put((True, x)):
                    return
            put((True, _DONE))
        except BaseException as exc:  # handed to the consumer, which raises it
            put((False, exc))

    thread = threading.Thread(target=produce, name="photomatch-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            ok, x = out.get()
            if not ok:
                raise x
            if x is _DONE:
                return
            yield x
    finally:
        stop.set()
        thread.join()
