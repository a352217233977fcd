"""A WSGI app under gunicorn as production runs it, and a load generator to measure it.

``serve()`` starts gunicorn with the Dockerfile's arguments (sync workers, their count
from ``WEB_CONCURRENCY``, access log on stdout, here into a file) on a free local port.
``hammer()`` sends GETs from several client processes (spawned, so they share nothing
with the benchmark's own connections), one connection each, for a fixed time, and
measures each call at the client. It also reads, over the measured window, how busy the
machine's CPUs were and how much CPU time gunicorn's workers used (Linux ``/proc``):
with clients and server on one machine, that tells a saturated machine from a slow app.
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


@dataclass(frozen=True)
class Server:
    url: str
    pid: int  # gunicorn's master

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def worker_cpu(self) -> float | None:
        """CPU seconds (user + system) used so far by the master's worker processes."""
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
            total = 0
            for pid in children:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            return total / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None


def machine_cpu() -> tuple[float, float] | None:
    """(busy, total) CPU ticks of the machine so far (``/proc/stat``), or None."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = ticks[3] + ticks[4]  # idle, iowait
    return sum(ticks) - idle, sum(ticks)


def cpu_seconds(since: tuple[float, float] | None) -> float | None:
    """CPU seconds the machine was busy since ``since`` (``machine_cpu()``), or None."""
    now = machine_cpu()
    if since is None or now is None:
        return None
    return (now[0] - since[0]) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(
    app: str, env: dict, workers: int, logdir: Path, probe: str, extra: list[str] | None = None
) -> Iterator[Server]:
    """gunicorn serving ``app`` ("module:variable"), yielded once ``probe`` (a path)
    answers 200; stopped (SIGTERM) at the end."""
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
        yield Server(f"http://127.0.0.1:{port}", proc.pid)
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
    """What the clients measured after the warm-up: latencies (ms) and status codes;
    the machine's CPU use (0-1 of all CPUs) and the workers' CPU seconds meanwhile."""

    seconds: float
    clients: int
    latencies: list[float]
    statuses: Counter
    machine_busy: float | None = None
    worker_cpu_s: float | None = None

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def worker_cpu_ms(self) -> float | None:
        """Server CPU per call (all workers' CPU time / calls)."""
        if self.worker_cpu_s is None or not self.latencies:
            return None
        return self.worker_cpu_s * 1000 / len(self.latencies)


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
    server: Server,
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
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(clients) as pool:
        pool.map(abs, range(clients))  # the processes are up before the clock starts
        begin = time.time() + 0.5
        measure_from, until = begin + warmup, begin + warmup + seconds
        jobs = [
            (server.port, paths, headers or {}, seed * 1000 + i, measure_from, until)
            for i in range(clients)
        ]
        pending = pool.map_async(_client, jobs)
        time.sleep(max(0.0, measure_from - time.time()))
        cpu0, workers0 = machine_cpu(), server.worker_cpu()
        time.sleep(max(0.0, until - time.time()))
        cpu1, workers1 = machine_cpu(), server.worker_cpu()
        results = pending.get()
    latencies = [t for times, _ in results for t in times]
    statuses = sum((s for _, s in results), Counter())
    busy = (
        (cpu1[0] - cpu0[0]) / (cpu1[1] - cpu0[1]) if cpu0 and cpu1 and cpu1[1] > cpu0[1] else None
    )
    worker_s = workers1 - workers0 if workers0 is not None and workers1 is not None else None
    return Load(seconds, clients, latencies, statuses, busy, worker_s)
