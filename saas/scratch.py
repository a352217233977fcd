"""Scratch space on this host's disk for files a job needs while it runs (an import's copy
of its upload, an Excel export's row files).

Each process gets a private directory of its own under ``<tmp>/saas-<uid>/`` and holds
a lock on it for as long as it lives. The kernel drops the lock when the process ends,
however it ends, so a directory whose lock can be taken belongs to a process that is gone
(a worker killed mid-job): the next process to ask for its directory removes those.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

YOUNG = 60  # seconds: a directory this new may not be locked yet by its process
_mine: tuple[int, Path, int] | None = None  # (pid, directory, fd holding its lock)


def base() -> Path:
    """The host's scratch root for this OS user, private to it."""
    root = Path(tempfile.gettempdir()) / f"saas-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise RuntimeError(f"{root} is not a directory of this user")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(root, 0o700)
    return root


def directory() -> Path:
    """This process's scratch directory (made, and the gone processes' ones swept, on
    first use in each process)."""
    global _mine
    if _mine is not None and _mine[0] == os.getpid():
        if _mine[1].is_dir():
            return _mine[1]
        os.close(_mine[2])  # removed under it (a cleaner of old files in /tmp): anew
    sweep()
    path = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=base()))
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    _mine = (os.getpid(), path, fd)
    return path


def sweep() -> int:
    """Remove the directories of processes that are gone; returns how many."""
    removed, now = 0, time.time()
    for path in base().iterdir():
        if _mine is not None and path == _mine[1]:
            continue
        try:
            if now - path.lstat().st_mtime < YOUNG or not path.is_dir():
                continue
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:  # gone meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # its process is alive
        finally:
            os.close(fd)
        shutil.rmtree(path, ignore_errors=True)
        log.info("removed %s, left by a process that is gone", path)
        removed += 1
    return removed
