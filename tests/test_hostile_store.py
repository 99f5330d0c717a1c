"""Hostile input, second round (issue 9), the store's side: concurrent creation, read-only stores,
removal that leaves nothing behind, special files in place of the store's own files, and output
written only where it may be.

Every input is made here. Oracles: the set of items each process added (concurrent creation), the
database file's bytes before and after (read-only opens), the removed hash's 32 bytes searched in
every file of the store's folder, and the file type of an output path before and after a write.
Commands that could hang on a regression run in a subprocess with a timeout, so that CI fails
instead of hanging.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from PIL import Image

import photomatch
from photomatch import Hash, HashIndex, Matcher, OutputPathError, Store
from photomatch.cli import main
from photomatch.hashlists import export_hash_list
from photomatch.verify import Features, extract_features

PYTHON = sys.executable


def _run(args: list[str], *, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    """``python -m photomatch ARGS`` in a subprocess: a hang fails the test at ``timeout``."""
    return subprocess.run([PYTHON, "-m", "photomatch", *args], capture_output=True, timeout=timeout, **kwargs)


# --- item 7a: several processes creating one new store at once ------------------------------


def test_store_creation_waits_for_a_writer_instead_of_failing(tmp_path):
    """SQLite does not run its busy handler for the switch to a write-ahead log while another
    connection holds the write lock: the switch failed at once ("database is locked") and the
    store raised StoreLockedError. Now it waits (up to ``timeout``) and succeeds."""
    path = tmp_path / "s.db"
    path.touch()  # a new, empty store file, as the first of several creators leaves it
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another creator holding the write lock for a moment
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    start = time.monotonic()
    try:
        with Store(path, timeout=10) as store:
            store.add_item([("pdq", bytes(32), 100)])
            waited = time.monotonic() - start
            assert store.count() == 1
    finally:
        release.join()
        other.close()
    assert waited >= 0.25  # it waited for the lock rather than going around it


_CREATOR = textwrap.dedent("""
    import os, sys, time
    from photomatch import Store
    path, k, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    open(os.path.join(ready, str(k)), "w").close()
    while len(os.listdir(ready)) < int(sys.argv[4]):  # start together, once every process is up
        time.sleep(0.001)
    with Store(path, timeout=30) as store:
        store.add_item([("pdq", bytes([k + 1]) * 32, 100)], label=f"process {k}")
""")


@pytest.mark.parametrize("round_", range(3))
def test_processes_creating_one_new_store_at_once_all_succeed(tmp_path, round_):
    n = 4
    path, ready = tmp_path / "s.db", tmp_path / "ready"
    ready.mkdir()
    procs = [subprocess.Popen([PYTHON, "-c", _CREATOR, str(path), str(k), str(ready), str(n)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for k in range(n)]
    outcomes = [(p.wait(timeout=120), p.stderr.read().decode(errors="replace")) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert [rc for rc, _ in outcomes] == [0] * n, [err for _, err in outcomes]
    with Store(path, create=False) as store:
        assert sorted(item.label for item in store.items()) == [f"process {k}" for k in range(n)]
        assert store._connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# --- item 6: output written only where it may be -----------------------------------------------


@pytest.fixture
def exported_store(tmp_path):
    """A store of three items, and the hash list its export must give (written to a new file)."""
    path = tmp_path / "s.db"
    with Store(path) as store:
        for k in range(3):
            store.add_item([("pdq", bytes([k + 7]) * 32, 90)], label=f"item {k}")
    reference = tmp_path / "reference.csv"
    assert main(["export", str(path), "-o", str(reference)]) == 0
    text = reference.read_bytes()
    assert text.count(b"\n") == 4 and b"item 2" in text  # a header and three rows
    assert stat.S_IMODE(reference.stat().st_mode) == 0o600
    return path, text


def test_export_to_a_fifo_streams_into_it(exported_store, tmp_path):
    store, expected = exported_store
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    assert main(["export", str(store), "-o", str(fifo)]) == 0
    reader.join(timeout=30)
    assert got == [expected]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still the FIFO, not a file renamed over it


def test_export_to_stdout_and_to_dev_stdout(exported_store):
    store, expected = exported_store
    for target in ("-", "/dev/stdout"):
        done = _run(["export", str(store), "-o", target])
        assert done.returncode == 0, done.stderr
        assert done.stdout == expected


def _char_device(tmp_path):
    """A character device to write to: a null device made here (as root: a regression replaces
    it, not the system's), else /dev/null itself (which a user without root cannot replace)."""
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError):
        return "/dev/null"
    return str(node)


def test_export_to_a_character_device_keeps_the_device(exported_store, tmp_path):
    store, _ = exported_store
    device = _char_device(tmp_path)
    before = os.stat(device)
    assert main(["export", str(store), "-o", device]) == 0
    after = os.stat(device)
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_export_replaces_a_regular_file_atomically_and_keeps_a_link(exported_store, tmp_path):
    store, expected = exported_store
    target = tmp_path / "list.csv"
    target.write_bytes(b"old contents\n")
    target.chmod(0o644)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert main(["export", str(store), "-o", str(link)]) == 0
    assert link.is_symlink() and target.read_bytes() == expected
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # holds reported hashes


def _refused_outputs(tmp_path):
    yield "a directory", str(tmp_path)
    yield "a missing folder", str(tmp_path / "no" / "such" / "folder" / "list.csv")
    sock = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock))
    yield "a socket", str(sock)
    server.close()
    block = tmp_path / "block"
    try:
        os.mknod(block, stat.S_IFBLK | 0o600, os.makedev(7, 0))
    except (PermissionError, AttributeError):
        return  # a block device can only be made by root; the kinds above still run
    yield "a block device", str(block)


def test_export_refuses_other_outputs_with_one_line(exported_store, tmp_path):
    store, _ = exported_store
    seen = []
    for what, path in _refused_outputs(tmp_path):
        before = os.lstat(path) if os.path.lexists(path) else None
        done = _run(["export", str(store), "-o", path])
        err = done.stderr.decode()
        assert done.returncode == 2, (what, err)
        assert err.count("\n") == 1 and path in err and "Traceback" not in err, (what, err)
        if before is not None:  # left as it was
            after = os.lstat(path)
            assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino), what
        seen.append(what)
    assert seen[:3] == ["a directory", "a missing folder", "a socket"]
    with Store(store, create=False) as s, pytest.raises(OutputPathError, match="is a directory"):
        export_hash_list(s, str(tmp_path))  # the API refuses the same way


def test_demo_refuses_an_out_that_is_not_a_folder(tmp_path):
    for what in ("file", "fifo"):
        out = tmp_path / what
        if what == "fifo":
            os.mkfifo(out)
        else:
            out.write_bytes(b"x")
        done = _run(["demo", "--out", str(out)], timeout=60)
        err = done.stderr.decode()
        assert done.returncode == 2 and err.count("\n") == 1 and str(out) in err and "not a folder" in err, err
        assert os.path.lexists(out) and not out.is_dir()


# --- item 7b: stores that cannot be written ---------------------------------------------------


@pytest.fixture
def photo_store(tmp_path):
    """A closed store of one image (no -wal, no -shm), the image, and the store's bytes."""
    folder = tmp_path / "stores"
    folder.mkdir()
    path = folder / "s.db"
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 80, 3), dtype=np.uint8)).save(photo)
    with Matcher(path) as m:
        [added] = m.add_many([str(photo)], workers=1)
        assert added.ok and added.id == 1
    assert sorted(os.listdir(folder)) == ["s.db"]
    return path, photo, path.read_bytes()


def test_read_only_open_never_writes_the_store(photo_store):
    path, photo, before = photo_store
    with Matcher(path, create=False, read_only=True) as m:
        assert [x.id for x in m.match(str(photo), mode="fast")] == [1]
        with pytest.raises(photomatch.StoreError):
            m.store.add_item([("pdq", bytes(32), 100)])
        assert m.info()["opened"] == "read-only"
    assert path.read_bytes() == before
    # SQLite's mode=ro may make an empty -wal and its -shm where the folder allows: no data in them.
    wal = path.parent / "s.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    assert not (path.parent / "s.db.pdq.index").exists()  # a read-only store saves no cache


def test_read_only_folder_gives_an_immutable_open(photo_store):
    """In a folder that cannot be written, mode=ro cannot make the -wal and -shm of a WAL store:
    it is read with immutable=1, the store file alone, and nothing is created or changed."""
    path, photo, before = photo_store
    if os.geteuid() == 0:
        pytest.skip("chmod does not stop root: test_cli_matches_a_store_on_a_read_only_file_system covers it")
    path.parent.chmod(0o555)
    try:
        with Matcher(path, create=False, read_only="auto") as m:
            assert [x.id for x in m.match(str(photo), mode="fast")] == [1]
            assert m.info()["opened"] == "read-only, immutable"
    finally:
        path.parent.chmod(0o755)
    assert path.read_bytes() == before and sorted(os.listdir(path.parent)) == ["s.db"]


_RO_MOUNT = """
set -e
mount --bind "$1" "$2"
mount -o remount,bind,ro "$2"
shift 2
exec "$@"
"""


@pytest.fixture
def read_only_mount(tmp_path):
    """``run(folder, argv)``: run ``python -m photomatch ARGV`` with ``folder`` seen read-only at
    the returned mount point: a read-only bind mount in a private mount namespace (needs root or
    user namespaces; skipped, saying so, where neither is allowed)."""
    mount = tmp_path / "ro"
    mount.mkdir()

    def run(folder, argv):
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", _RO_MOUNT, "sh", str(folder), str(mount)]
        return subprocess.run(cmd + argv, capture_output=True, timeout=60, check=False)

    probe = run(tmp_path, ["touch", str(mount / "x")]) if shutil.which("unshare") else None
    if probe is None or b"Read-only file system" not in probe.stderr:
        pytest.skip("cannot make a read-only bind mount here (unshare -m and mount need root or user namespaces)")
    return mount, run


def test_cli_matches_a_store_on_a_read_only_file_system(photo_store, read_only_mount):
    path, photo, before = photo_store
    mount, run = read_only_mount
    for args in (["match", "--mode", "fast", str(mount / "s.db"), str(photo)], ["info", str(mount / "s.db")],
                 ["export", str(mount / "s.db")]):
        done = run(path.parent, [PYTHON, "-m", "photomatch", *args])
        assert done.returncode == 0, (args, done.stderr.decode())
        if args[0] == "match":
            assert b"id=1\tdistance=0" in done.stdout
        if args[0] == "info":
            assert b"opened: read-only, immutable" in done.stdout
    assert path.read_bytes() == before and sorted(os.listdir(path.parent)) == ["s.db"]


def test_read_only_refuses_a_wal_it_cannot_read(photo_store, read_only_mount, tmp_path):
    """A store left by a crash (its -wal holding commits, no -shm) on a read-only file system:
    immutable=1 would match without those commits, so it is refused, naming the cause."""
    path, _, _ = photo_store
    mount, run = read_only_mount
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    with Store(path, create=False) as store:
        store._connection().execute("PRAGMA wal_autocheckpoint = 0")
        store.add_item([("pdq", bytes(32), 100)], label="only in the wal")
        for name in ("s.db", "s.db-wal"):  # the files as a crash now would leave them
            (crashed / name).write_bytes((path.parent / name).read_bytes())
    assert (crashed / "s.db-wal").stat().st_size > 0
    done = run(crashed, [PYTHON, "-m", "photomatch", "info", str(mount / "s.db")])
    err = done.stderr.decode()
    assert done.returncode == 2 and "holds commits" in err and err.count("\n") == 1, err
    # Where the folder can be written, mode=ro reads the -wal's commits.
    with Store(crashed / "s.db", create=False, read_only=True) as store:
        assert [item.label for item in store.items()][-1] == "only in the wal"


# --- item 7c: a removed hash is nowhere in the store's files ------------------------------------


def _files_holding(folder, secret: bytes) -> list[str]:
    """Every file of ``folder`` (the database, its -wal and -shm, the index caches) whose bytes
    hold ``secret``."""
    return sorted(p.name for p in folder.iterdir() if p.is_file() and secret in p.read_bytes())


def test_remove_leaves_the_hash_in_no_file_even_while_a_reader_is_open(tmp_path):
    folder = tmp_path / "stores"
    folder.mkdir()
    path = folder / "s.db"
    secret = bytes(range(101, 133))  # 32 bytes no other file has by chance
    keep = bytes(range(1, 33))
    with Matcher(path) as m:
        [kept, gone] = m.add_hashes([Hash("pdq", keep, 100), Hash("pdq", secret, 100)])
        assert [x.id for x in m.match_hash(Hash("pdq", secret, 100))] == [gone]
    assert "s.db.pdq.index" in _files_holding(folder, secret)  # the match saved the cache, with it
    # A long-lived matcher keeps the store open (so the -wal stays) and its index in memory.
    with Matcher(path, create=False) as reader:
        assert [x.id for x in reader.match_hash(Hash("pdq", secret, 100))] == [gone]
        done = _run(["remove", str(path), str(gone)])
        assert done.returncode == 0, done.stderr
        assert _files_holding(folder, secret) == []  # right after the removal, in the same operation
        assert reader.match_hash(Hash("pdq", secret, 100)) == []
        assert [x.id for x in reader.match_hash(Hash("pdq", keep, 100))] == [kept]
    assert _files_holding(folder, secret) == []  # the reader saved its cache on close: without it
    with Matcher(path, create=False) as m:
        assert [x.id for x in m.match_hash(Hash("pdq", keep, 100))] == [kept]
        assert m.info()["index"]["pdq"]["origin"] == "cache"


def test_remove_behind_a_reader_of_an_old_snapshot_says_where_the_hash_stays(tmp_path, caplog):
    """A reader inside a transaction pins the log: the removal still commits and counts, waits
    ``timeout`` for the log to empty, then says the rows stay in the -wal; the last close clears it."""
    folder = tmp_path / "stores"
    folder.mkdir()
    path = folder / "s.db"
    secret = bytes(range(101, 133))
    with Store(path) as store:
        gone = store.add_item([("pdq", secret, 100)])
        store.add_item([("pdq", bytes(32), 100)])
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM items").fetchone()  # holds its snapshot
    with Store(path, timeout=0.3) as store:
        assert store.remove([gone]) == 1
        assert store.count() == 1
    assert "stay in its -wal" in caplog.text
    reader.execute("COMMIT")
    reader.close()
    assert _files_holding(folder, secret) == []  # the last connection's close emptied it


def test_remove_rewrites_the_feature_cache_too(tmp_path, photo_store):
    """Local features are derived from the picture: a removed item's leave the feature cache."""
    path, photo, _ = photo_store
    other = tmp_path / "other.png"
    Image.fromarray(np.random.default_rng(4).integers(0, 256, (64, 80, 3), dtype=np.uint8)).save(other)
    with Matcher(path, create=False) as m:
        [item] = m.add([str(other)], features=True)
        m.match(str(other))  # robust mode: builds and saves the feature index
        blob = m.store.get_keypoints(item)
    cache = path.parent / "s.db.features.index"
    assert cache.exists()
    assert main(["remove", str(path), str(item)]) == 0
    assert not cache.exists() or Features.from_bytes(blob).descriptors[:4].tobytes() not in cache.read_bytes()


# --- item 3: special files in place of the store's own files -------------------------------------


def _plant(path, what: str) -> None:
    """Put a FIFO, or a link to /dev/zero, where photomatch keeps a file."""
    if path.exists() or path.is_symlink():
        path.unlink()
    if what == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")


@pytest.mark.parametrize("what", ["fifo", "dev_zero"])
@pytest.mark.parametrize("cache", ["pdq", "features"])
def test_a_planted_cache_is_discarded_and_rebuilt(photo_store, what, cache):
    path, photo, _ = photo_store
    with Matcher(path, create=False) as m:
        m.store.set_keypoints(1, extract_features(np.asarray(Image.open(photo).convert("RGB"))).to_bytes())
        assert m.match(str(photo))  # robust: saves the pdq and the feature caches
    planted = path.parent / f"s.db.{cache}.index"
    assert planted.is_file()
    _plant(planted, what)
    done = _run(["match", str(path), str(photo)], timeout=60)  # hangs or floods memory before the fix
    err = done.stderr.decode()
    assert done.returncode == 0 and b"id=1\tdistance=0" in done.stdout, err
    said = [line for line in err.splitlines() if str(planted) in line]
    assert len(said) == 1 and "rebuilding" in said[0], err  # said on stderr, once
    assert planted.is_file() and not planted.is_symlink()  # replaced by the rebuilt cache
    if what == "dev_zero":
        assert stat.S_ISCHR(os.stat("/dev/zero").st_mode)  # the link was replaced, not its target


def test_a_cache_larger_than_its_checkpoint_is_not_read(photo_store):
    """A cache file whose header promises more entries than the store recorded (a sparse file
    of 2**40 bytes here) is refused from its size, before anything is read."""
    path, photo, _ = photo_store
    with Matcher(path, create=False) as m:
        m.match(str(photo), mode="fast")
    cache = path.parent / "s.db.pdq.index"
    header = bytearray(cache.read_bytes()[:32])
    n = 2**35
    header[16:24] = n.to_bytes(8, "little")  # magic 8, version 4, bits 4, n 8, next id 8
    with open(cache, "wb") as f:
        f.write(header)
        f.truncate(HashIndex.file_size(n, 256))  # sparse: the size agrees with the header
    done = _run(["match", "--mode", "fast", str(path), str(photo)], timeout=60)
    assert done.returncode == 0 and b"id=1\tdistance=0" in done.stdout, done.stderr
    assert b"above the limit" in done.stderr


@pytest.mark.parametrize("what", ["fifo", "dev_zero"])
@pytest.mark.parametrize("command", ["info", "add", "match"])
def test_a_special_file_as_the_store_is_a_clear_error(tmp_path, photo_store, what, command):
    """(export and remove open the store the same way, through Store._prepare_file.)"""
    _, photo, _ = photo_store
    store = tmp_path / "planted.db"
    _plant(store, what)
    args = {"info": [], "add": [str(photo)], "match": [str(photo)]}[command]
    done = _run([command, str(store), *args], timeout=60)
    err = done.stderr.decode()
    kind = "FIFO" if what == "fifo" else "character device"
    assert done.returncode == 2 and err.count("\n") == 1 and str(store) in err and kind in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("what", ["fifo", "dev_zero"])
@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_a_special_file_beside_the_store_is_a_clear_error(photo_store, what, suffix, capsys):
    """SQLite opens its side files by name: a FIFO as the -wal lost the log's frames (a "disk
    I/O error" at the next add, or a silent loss), a link wrote through to its target. (In
    process: these never hung, SQLite's opens of them do not block.)"""
    path, photo, _ = photo_store
    side = path.parent / f"s.db{suffix}"
    _plant(side, what)
    for args in (["info", str(path)], ["add", str(path), str(photo)]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{side}: is a " in err, err
    assert os.path.lexists(side) and not side.is_file()  # left for its owner to look at
