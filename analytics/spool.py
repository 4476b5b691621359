"""An append-only spool of events, written before a request is answered and replayed after a crash.

The database is written in batches by one thread (fast requests); the spool is what makes an
acknowledged event durable in the meantime. Each event is one record, copied into a shared memory
mapping of the segment file before ``append`` returns: the page cache has it from then on, so it
survives a kill -9 or an OOM kill of the process (as an ``os.write`` would, but without a system call
or a release of the GIL on the search path); with ``fsync=True`` the record is also on the disk
(``msync`` + ``fdatasync``, shared by the requests that arrive while one is running, a group commit)
and survives a power loss. Segments are allocated whole (4 MB) when created.

A record is a length, a CRC-32 and a pickle (protocol 5): about 1 µs to encode where JSON took 6-15,
which matters on a search answered from the cache in 60 µs. A record cut short by the crash (or
garbage after a power loss) fails its length or checksum and ends the segment: its request was
never answered. Pickle is safe here because only kb writes these files (mode 0600, in the data
folder, which also holds the Whoosh index that Whoosh itself stores with pickle).

A process writes only its own segments (``events-<folder id>-<time>-<pid>.spool``), holds an exclusive
``flock`` on each while it lives, and deletes a segment once everything in it is stored. Segments
without a lock belong to a process that is gone: ``orphans`` hands them to the replay. Nothing here
knows about SQLite: the database records, in the same transaction as the events, how far into each
segment it has stored (``analytics.events``), so a replay stores every event exactly once.

Several nodes may share one database (PostgreSQL): each spool folder has its own random id
(``folder_id``, kept beside it), part of every segment name, so one node's bookkeeping rows are
never mistaken for another's (``is_own``).
"""

from __future__ import annotations

import mmap
import os
import pickle
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: no locking, one process per data folder
    fcntl = None

SUFFIX = ".spool"
_HEADER = struct.Struct("<II")  # payload length, CRC-32 of the payload


def encode(obj) -> bytes:
    """One spool record holding obj (plain Python data)."""
    payload = pickle.dumps(obj, protocol=5)
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def decode(content: bytes, offset: int = 0) -> Iterator[tuple[object, int]]:
    """The records of a segment from offset on, each with the offset just past it; stops at a torn one."""
    while offset + _HEADER.size <= len(content):
        length, crc = _HEADER.unpack_from(content, offset)
        if length == 0:
            return  # the unused, zero-filled rest of the segment
        start, end = offset + _HEADER.size, offset + _HEADER.size + length
        if end > len(content) or zlib.crc32(content[start:end]) != crc:
            return
        yield pickle.loads(content[start:end]), end
        offset = end


def _lock(fd: int) -> bool:
    """Take the segment's exclusive lock without waiting; False when a live process holds it."""
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """This process's segments: append records, and drop segments whose records are all stored."""

    def __init__(self, folder: Path, fsync: bool = False, segment_bytes: int = 4 * 1024 * 1024):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        # _lock orders appends (callers hold it while they also queue the event, so queue order is file
        # order); _fd_lock keeps a segment open while another thread fsyncs it.
        self._lock = threading.Lock()
        self._fd_lock = threading.Lock()
        self._synced: dict[str, int] = {}
        self._retired: dict[str, tuple[int, mmap.mmap, int]] = {}  # full, not yet stored: name -> (fd, map, size)
        self.id = folder_id(self.folder)
        self._open_segment(segment_bytes)

    @property
    def lock(self) -> threading.Lock:
        """Hold it around append() and whatever must happen in the same order (queueing the event)."""
        return self._lock

    def _open_segment(self, capacity: int) -> None:
        name = f"events-{self.id}-{time.time_ns():020d}-{os.getpid()}{SUFFIX}"
        # Created under a temporary name and locked before it gets its real one, so no other process
        # can mistake a new segment for an orphan.
        tmp = self.folder / (name + ".new")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _lock(fd)
            # Reserve the blocks now: a full disk fails here, as an error, not later as a SIGBUS.
            try:
                os.posix_fallocate(fd, 0, capacity)
            except (AttributeError, OSError):  # not on this platform or file system
                os.ftruncate(fd, capacity)
            # Records are copied into a shared mapping of the file: the page cache holds them the moment
            # the copy ends (a kill -9 cannot undo that), without a system call, and without releasing the GIL.
            segment_map = mmap.mmap(fd, capacity)
            os.rename(tmp, self.folder / name)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        if self.fsync:
            _fsync_dir(self.folder)
        self.name, self._fd, self._map, self._size = name, fd, segment_map, 0

    def append(self, record: bytes) -> tuple[str, int]:
        """Write one record (caller holds ``lock``); returns (segment, offset just past it)."""
        end = self._size + len(record)
        if self._map is None or end > len(self._map):
            if self._map is not None:
                with self._fd_lock:
                    self._retired[self.name] = (self._fd, self._map, self._size)
                self._map = None  # until a new segment opens (if that fails, the next append tries again)
            self._open_segment(max(self.segment_bytes, len(record)))
            end = len(record)
        self._map[self._size:end] = record
        self._size = end
        return self.name, end

    def sync(self, segment: str, offset: int) -> None:
        """Return once the segment is on disk up to offset (no-op unless fsync); one fsync serves many."""
        if not self.fsync:
            return
        with self._fd_lock:
            if self._synced.get(segment, 0) >= offset:
                return  # someone else's flush covered this record while we waited
            if segment in self._retired:
                fd, segment_map, size = self._retired[segment]
            elif segment == self.name and self._map is not None:
                fd, segment_map, size = self._fd, self._map, self._size
            else:
                return  # already stored in the database and removed
            segment_map.flush()  # msync: what POSIX requires for a mapping
            os.fdatasync(fd)  # and the file's allocation, so the records can be read back
            self._synced[segment] = size

    def release(self, stored: dict[str, int], final: bool = False) -> list[str]:
        """Delete full segments stored up to their end (and the current one if final); return their names."""
        done = []
        with self._lock, self._fd_lock:
            if final and self._map is not None:
                self._retired[self.name] = (self._fd, self._map, self._size)
                self._map = None
            for name, (fd, segment_map, size) in list(self._retired.items()):
                if size == 0 or stored.get(name, 0) >= size:
                    (self.folder / name).unlink(missing_ok=True)
                    segment_map.close()
                    os.close(fd)
                    del self._retired[name]
                    self._synced.pop(name, None)
                    done.append(name)
        return done


def orphans(folder: Path) -> Iterator[tuple[str, bytes]]:
    """Segments left by processes that are gone, locked while the caller replays each one.

    Yields (name, content); once the caller resumes the generator, that segment is deleted.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*" + SUFFIX)):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # stored and deleted by its owner meanwhile
        try:
            if not _lock(fd):
                continue  # a live process's segment
            try:
                if os.stat(path).st_ino != os.fstat(fd).st_ino:
                    continue
            except FileNotFoundError:
                continue  # another process replayed and deleted it while we waited for the lock
            with os.fdopen(os.dup(fd), "rb") as f:
                content = f.read()
            yield path.name, content
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)
    for path in folder.glob("*" + SUFFIX + ".new"):  # never renamed: a process died creating it (empty)
        try:
            if time.time() - path.stat().st_mtime > 60:
                path.unlink()
        except FileNotFoundError:
            pass


def folder_id(folder: Path) -> str:
    """This spool folder's id (made once, kept beside it in <folder>.id): unique among nodes sharing a database."""
    folder = Path(folder)
    path = folder.with_name(folder.name + ".id")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    tmp = path.with_name(f"{path.name}.{os.getpid()}.new")
    tmp.write_text(os.urandom(6).hex())
    try:
        os.link(tmp, path)  # the first process to link wins; the others read its id
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def is_own(name: str, folder: Path) -> bool:
    """True when segment name was written through this folder (or is an old name without a folder id)."""
    rest = name.removeprefix("events-").split("-")
    return len(rest) == 2 or rest[0] == folder_id(folder)


def segment_names(folder: Path) -> set[str]:
    """Names of the segments present now (live or orphaned)."""
    folder = Path(folder)
    return {p.name for p in folder.glob("*" + SUFFIX)} if folder.is_dir() else set()
