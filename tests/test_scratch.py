"""Scratch directories: a job's files stay while its process lives, whoever else starts,
and go once the process is gone, however it ended."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from saas import scratch

HOLDER = """
import sys
from saas import scratch
path = scratch.directory()
(path / "import-t_x-1-copy.csv").write_text("a,b\\n")
print(path, flush=True)
sys.stdin.read()  # until the test closes it or kills this process
"""


@contextmanager
def _holder() -> Iterator[tuple[subprocess.Popen, Path]]:
    """A process that made its scratch directory and a file in it, and waits."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            yield proc, Path(proc.stdout.readline().strip())
        finally:
            proc.kill()


def _age(path: Path) -> None:
    long_ago = time.time() - 2 * scratch.YOUNG
    os.utime(path, (long_ago, long_ago))


def test_a_running_job_s_files_survive_another_process_s_sweep():
    with _holder() as (_proc, path):
        _age(path)
        scratch.sweep()
        assert (path / "import-t_x-1-copy.csv").read_text() == "a,b\n"


def test_the_files_of_a_killed_process_are_removed_by_the_next_sweep():
    with _holder() as (proc, path):
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert path.exists()
    scratch.sweep()
    assert path.exists()  # just made: its process might not have locked it yet
    _age(path)
    assert scratch.sweep() >= 1
    assert not path.exists()


def test_each_process_has_a_private_directory_of_its_own():
    with _holder() as (_proc, path):
        mine = scratch.directory()
        assert path != mine and path.parent == mine.parent == scratch.base()
        assert (os.stat(scratch.base()).st_mode & 0o777) == 0o700
        assert (os.stat(mine).st_mode & 0o777) == 0o700


def test_a_directory_removed_under_a_long_lived_process_is_made_again():
    """A cleaner of old files in /tmp may remove a web process's directory."""
    first = scratch.directory()
    shutil.rmtree(first)
    again = scratch.directory()
    assert again.is_dir() and again != first
    assert scratch.directory() == again
