"""A WSGI app under gunicorn as production runs it, and a load generator to measure it.

``serve()`` starts gunicorn with the Dockerfile's arguments (sync workers, their count
from ``WEB_CONCURRENCY``, access log on stdout, here into a file) on a free local port.
``hammer()`` sends GETs from several client processes (spawned, so they share nothing
with the benchmark's own connections), one connection each, for a fixed time, and
measures each call at the client.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# The Dockerfile's CMD, less the bind address (chosen here).
GUNICORN_ARGS = ["--access-logfile", "-", "--no-control-socket"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(
    app: str, env: dict, workers: int, logdir: Path, probe: str, extra: list[str] | None = None
) -> Iterator[str]:
    """gunicorn serving ``app`` ("module:variable"); yields its base URL once ``probe``
    (a path) answers 200, stops it (SIGTERM) at the end."""
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    name = app.replace(":", "_").replace(".", "_")
    log = (logdir / f"{name}.log").open("wb")
    cmd = [str(gunicorn), "--bind", f"127.0.0.1:{port}", *GUNICORN_ARGS, *(extra or []), app]
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, **env, "WEB_CONCURRENCY": str(workers)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"FAILED: gunicorn {app} exited:\n{_tail(logdir / log.name)}")
            try:
                status, _ = get(port, probe, {})
                if status == 200:
                    break
                raise SystemExit(f"FAILED: {probe} answered {status}")
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"FAILED: gunicorn {app} did not answer in 60 s") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def get(port: int, path: str, headers: dict) -> tuple[int, bytes]:
    return call(port, "GET", path, headers)


def call(
    port: int, method: str, path: str, headers: dict, body: bytes | None = None
) -> tuple[int, bytes]:
    """One request on a new connection: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@dataclass
class Load:
    """What the clients measured after the warm-up: latencies (ms) and status codes."""

    seconds: float
    clients: int
    latencies: list[float]
    statuses: Counter

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds


def _client(args: tuple) -> tuple[list[float], Counter]:
    port, paths, headers, seed, measure_from, until = args
    rnd = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times: list[float] = []
    statuses: Counter = Counter()
    while True:
        start = time.time()
        if start >= until:
            break
        conn.request("GET", rnd.choice(paths), headers=headers)
        resp = conn.getresponse()
        resp.read()
        took = (time.time() - start) * 1000
        if start >= measure_from:
            times.append(took)
            statuses[resp.status] += 1
    conn.close()
    return times, statuses


def hammer(
    base: str,
    paths: list[str],
    *,
    seconds: float,
    clients: int,
    headers: dict | None = None,
    warmup: float = 3.0,
    seed: int = 1,
) -> Load:
    """``clients`` processes GET random ``paths`` back to back for ``warmup`` + ``seconds``;
    only calls started after the warm-up count. gunicorn's sync workers close the
    connection after each response, so http.client reconnects for each call, as any
    client of a sync-worker deployment does."""
    port = int(base.rsplit(":", 1)[1])
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(clients) as pool:
        pool.map(abs, range(clients))  # the processes are up before the clock starts
        begin = time.time() + 0.5
        jobs = [
            (port, paths, headers or {}, seed * 1000 + i, begin + warmup, begin + warmup + seconds)
            for i in range(clients)
        ]
        results = pool.map(_client, jobs)
    latencies = [t for times, _ in results for t in times]
    statuses = sum((s for _, s in results), Counter())
    return Load(seconds, clients, latencies, statuses)
