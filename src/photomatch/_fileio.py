"""File-system helpers: the one way to open a file for reading (regular files only, bounded),
the atomic writer shared by the modules that write files holding hashes, and the one way to open
a path a user names for output (:func:`open_output`)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from .errors import OutputPathError


def fsync_dir(folder: str) -> None:
    """Make a rename in ``folder`` durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path: str, *, binary: bool = True) -> Iterator[IO[Any]]:
    """Write ``path`` all or nothing and owner-only (0600 whatever the umask: these files hold
    reported hashes): a temporary file in the same folder, fsync, rename over ``path``, fsync of
    the folder. If the body raises, the temporary file is removed and ``path`` is untouched."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, 0o600)
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)


def output_kind(path: str) -> str:
    """How :func:`open_output` writes ``path``, or :class:`~photomatch.errors.OutputPathError`
    for a path it refuses (checked before any work starts, and again when it opens).

    - ``"stdout"``: ``-``;
    - ``"file"``: a regular file or a new name in an existing folder: written atomically;
    - ``"stream"``: a FIFO or a character device (a pipe, ``/dev/null``, ``/dev/stdout``, a
      terminal): written in place, never replaced by a file (``-o /dev/null`` run as root must
      not turn the system's device into a regular file);
    - refused: a directory, a socket, a block device, a missing folder.

    Links are followed, as a shell's ``>`` follows them.
    """
    if path == "-":
        return "stdout"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        folder = os.path.dirname(os.path.realpath(path))
        if not os.path.isdir(folder):
            raise OutputPathError(path, f"no folder {folder}") from None
        return "file"
    except OSError as e:  # a parent that is a file, a link loop, no permission
        raise OutputPathError(path, e.strerror or str(e)) from None
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
        return "stream"
    raise OutputPathError(path, f"is {_kind(st.st_mode)}; name a file, a FIFO or '-' (standard output)")


@contextmanager
def open_output(path: str, *, binary: bool = True) -> Iterator[IO[Any]]:
    """Open a path a user named for writing (``-o``), as :func:`output_kind` says: standard output
    for ``-``; a FIFO or a character device as a stream (opened without creating or truncating;
    a FIFO waits here for its reader, as a shell's ``>`` does); a regular file or a new path with
    :func:`atomic_write` (0600, all or nothing; a link is kept and its target replaced)."""
    kind = output_kind(path)
    if kind == "stdout":
        out = sys.stdout.buffer if binary else sys.stdout
        yield out
        out.flush()
        return
    if kind == "file":
        with atomic_write(os.path.realpath(path), binary=binary) as f:
            yield f
        return
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):  # swapped since it was checked
            raise OutputPathError(path, f"became {_kind(mode)} while it was opened")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        yield f


class NotRegularFileError(OSError):
    """Raised by :func:`open_regular` for a FIFO, device, socket, directory or unexpected link."""


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path: str, *, follow_symlinks: bool = True, max_bytes: int | None = None) -> IO[bytes]:
    """Open ``path`` for reading only if it is a regular file, checked on the open descriptor.

    The one way photomatch opens a file it reads (inputs and its own files), so that a FIFO, a
    device or a socket planted where a file is expected can neither hang the process (the open
    is non-blocking, and a FIFO is refused before any read) nor feed it without end
    (``/dev/zero``): the check is ``fstat`` on the descriptor, so nothing can be swapped in
    between a check and the open. ``follow_symlinks=False`` refuses a symbolic link in the last
    component (``O_NOFOLLOW``), for files photomatch itself names (its index caches), where a
    link can only have been planted. ``max_bytes`` refuses a larger file before reading it
    (:func:`read_bounded` bounds the read itself, for files that grow).

    Raises ``NotRegularFileError`` (an ``OSError``) naming what was found instead; other
    ``OSError``\\ s (not found, permission, link loop) pass through.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if not follow_symlinks and e.errno == errno.ELOOP and os.path.islink(path):
            raise NotRegularFileError(errno.ELOOP, "is a symbolic link, where photomatch keeps a file", path) from e
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            err = errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EINVAL
            raise NotRegularFileError(err, f"is {_kind(st.st_mode)}, not a regular file", path)
        if max_bytes is not None and st.st_size > max_bytes:
            raise NotRegularFileError(errno.EFBIG, f"is {st.st_size} bytes, above the limit of {max_bytes}", path)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # a regular file: back to ordinary reads
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def refuse_special(path: str) -> None:
    """Raise ``NotRegularFileError`` if something other than a regular file is at ``path`` (a
    link is not followed); nothing if the path is absent. For files another library opens by
    name (SQLite's ``-wal`` and ``-shm``), where :func:`open_regular` cannot be used."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise NotRegularFileError(errno.EINVAL, f"is {_kind(mode)}, not a regular file", path)


def read_bounded(f: IO[bytes], max_bytes: int, name: str) -> bytes:
    """Read all of ``f`` but refuse (``NotRegularFileError``, EFBIG) past ``max_bytes``."""
    data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise NotRegularFileError(errno.EFBIG, f"is larger than the limit of {max_bytes} bytes", name)
    return data


def sha256_file(path: str, *, max_bytes: int) -> tuple[str, int]:
    """``(hex sha256, size)`` of a regular file (``open_regular``), refused past ``max_bytes``."""
    digest = hashlib.sha256()
    size = 0
    with open_regular(path, max_bytes=max_bytes) as f:
        while chunk := f.read(1 << 20):
            size += len(chunk)
            if size > max_bytes:  # grew since it was opened
                raise NotRegularFileError(errno.EFBIG, f"is larger than the limit of {max_bytes} bytes", path)
            digest.update(chunk)
    return digest.hexdigest(), size
