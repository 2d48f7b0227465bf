"""Load benchmark of ``logitnet serve --workers 2``; writes RESULTS_SERVE.md.

A keep-alive load generator of our own on ``http.client``: several client
processes, each with a few threads, each thread one persistent connection
sending requests back to back for a fixed time. Measured, in one run:

- requests/s, p50 and p99 latency and errors for ``POST /api/predict`` with
  a 64x64 PNG and with a 1024x768 JPEG (raw bodies), and for ``GET
  /healthz`` (the same app, the same middleware: the ceiling), at 1, 8 and
  32 concurrent clients;
- the server's resident memory (its worker processes, summed) before and
  after ``--rss-requests`` more 64x64 PNG predictions.

Targets (issue 15): PNG throughput >= 50 % of the trivial endpoint's, p99
<= 10x p50 at 32 clients, zero errors, RSS growth <= 50 MB over 20,000
requests.

Run: ``python benchmarks/bench_serve.py`` (a few minutes; ``--seconds`` per
cell and ``--rss-requests`` make it shorter or longer).
"""

from __future__ import annotations

import argparse
import http.client
import io
import multiprocessing
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
CLIENT_PROCESSES = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def payloads() -> dict[str, tuple[str, str, bytes]]:
    """name: (method, path, body), the pictures made from a fixed seed."""
    from PIL import Image

    rng = np.random.default_rng(0)
    small = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
        small, format="PNG"
    )
    # A photo-like JPEG: smooth gradients and some noise, not pure noise.
    y, x = np.mgrid[0:768, 0:1024]
    base = np.stack([x / 4, y / 3, (x + y) / 7], axis=-1) % 256
    noise = rng.normal(0, 8, base.shape)
    large = io.BytesIO()
    Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(
        large, format="JPEG", quality=85
    )
    return {
        "healthz (trivial)": ("GET", "/healthz", b""),
        "64x64 PNG": ("POST", "/api/predict", small.getvalue()),
        "1024x768 JPEG": ("POST", "/api/predict", large.getvalue()),
    }


def _client_thread(port, method, path, body, until, count, out, errors):
    headers = {"Content-Type": "image/png"} if body else {}
    connection = None
    done = 0
    while (count is None and time.perf_counter() < until) or (
        count is not None and done < count
    ):
        if connection is None:
            connection = http.client.HTTPConnection(HOST, port, timeout=60)
            connection.connect()
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = time.perf_counter()
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            data = response.read()
            ok = response.status == 200 and b'"error"' not in data
        except (OSError, http.client.HTTPException):
            ok = False
            connection.close()
            connection = None
        out.append(time.perf_counter() - start)
        errors[0] += not ok
        done += 1
    if connection is not None:
        connection.close()


def _client_process(args):
    port, method, path, body, threads, seconds, count = args
    until = time.perf_counter() + seconds if seconds else None
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [[0] for _ in range(threads)]
    workers = [
        threading.Thread(
            target=_client_thread,
            args=(port, method, path, body, until, count, latencies[i], errors[i]),
        )
        for i in range(threads)
    ]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    return [x for xs in latencies for x in xs], sum(e[0] for e in errors), elapsed


def load(pool, port, payload, clients, *, seconds=None, per_client=None):
    """(requests/s, p50 s, p99 s, errors, requests) of ``clients`` keep-alive
    clients spread over the pool's processes."""
    method, path, body = payload
    processes = min(clients, CLIENT_PROCESSES)
    threads = [
        clients // processes + (i < clients % processes) for i in range(processes)
    ]
    jobs = [(port, method, path, body, t, seconds, per_client) for t in threads]
    start = time.perf_counter()
    results = pool.map(_client_process, jobs)
    wall = time.perf_counter() - start
    latencies = np.array([x for r in results for x in r[0]])
    errors = sum(r[1] for r in results)
    elapsed = max(r[2] for r in results) if seconds else wall
    return (
        len(latencies) / elapsed,
        float(np.percentile(latencies, 50)),
        float(np.percentile(latencies, 99)),
        int(errors),
        len(latencies),
    )


def worker_rss_mb(pid: int) -> float:
    """The resident memory of ``pid``'s child processes (uvicorn's
    workers), summed, in MB."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != pid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e6


def start_server(model: Path, workers: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "logitnet", "serve", "--model", str(model),
         "--port", str(port), "--workers", str(workers)],
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection(HOST, port, timeout=5)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                c.close()
                # Every worker up: a few more answers on fresh connections.
                time.sleep(1.0)
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the server did not start: {process.stderr.read()}")


def make_model(path: Path) -> None:
    from logitnet.app.modelfile import SavedModel, save_model

    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.01, 64 * 64 * 3)
    save_model(
        path,
        SavedModel(w=w, b=0.0, classes=["non-cat", "cat"], image_shape=(64, 64, 3)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="per cell")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rss-requests", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS_SERVE.md")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model.npz"
        make_model(model)
        server, port = start_server(model, args.workers)
        try:
            bodies = payloads()
            with multiprocessing.get_context("fork").Pool(CLIENT_PROCESSES) as pool:
                load(pool, port, bodies["64x64 PNG"], 8, seconds=1.0)  # warm up
                for clients in args.clients:
                    for name, payload in bodies.items():
                        result = load(
                            pool, port, payload, clients, seconds=args.seconds
                        )
                        rows.append((name, clients, *result))
                        rate, p50, p99, errors, _ = result
                        print(
                            f"{name:18} {clients:3} clients: {rate:7.0f}/s p50 "
                            f"{1e3 * p50:6.1f} ms p99 {1e3 * p99:6.1f} ms "
                            f"errors {errors}",
                            flush=True,
                        )
                rss_before = worker_rss_mb(server.pid)
                clients = 8
                per_client = args.rss_requests // clients
                rss_run = load(
                    pool, port, bodies["64x64 PNG"], clients, per_client=per_client
                )
                rss_after = worker_rss_mb(server.pid)
        finally:
            server.terminate()
            _, err = server.communicate(timeout=60)
            stopped = server.returncode
    print(f"RSS {rss_before:.1f} MB -> {rss_after:.1f} MB over {rss_run[4]} requests")
    write(args, rows, rss_before, rss_after, rss_run, stopped, err, bodies)


def write(args, rows, rss_before, rss_after, rss_run, stopped, err, bodies) -> None:
    by = {(r[0], r[1]): r for r in rows}
    top = max(args.clients)
    trivial = by[("healthz (trivial)", top)]
    png = by[("64x64 PNG", top)]
    ratio = png[2] / trivial[2]
    errors = sum(r[5] for r in rows) + rss_run[3]
    growth = rss_after - rss_before
    p99_ratio = png[4] / png[3]
    cpu = platform.processor() or platform.machine()
    lines = [
        "# `logitnet serve` under load",
        "",
        f"`python benchmarks/bench_serve.py` (`make bench`): `logitnet serve "
        f"--workers {args.workers}` on 127.0.0.1, a random 64x64x3 model; "
        f"{os.cpu_count()} CPUs ({cpu}), shared by the server and the load "
        f"generator ({CLIENT_PROCESSES} client processes of `http.client` "
        "keep-alive connections, one per client thread). Each cell runs "
        f"{args.seconds:g} s; requests are sent back to back. Raw bodies: "
        f"PNG {len(bodies['64x64 PNG'][2]):,} bytes, JPEG "
        f"{len(bodies['1024x768 JPEG'][2]):,} bytes.",
        "",
        "| request | clients | requests | requests/s | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, clients, rate, p50, p99, errs, n in rows:
        lines.append(
            f"| {name} | {clients} | {n:,} | {rate:,.0f} | {1e3 * p50:.1f} | "
            f"{1e3 * p99:.1f} | {errs} |"
        )
    verdict = {True: "met", False: "**missed**"}
    lines += [
        "",
        f"Memory: the workers' RSS {rss_before:.1f} MB before and {rss_after:.1f} MB "
        f"after {rss_run[4]:,} more 64x64 PNG predictions at 8 clients "
        f"({rss_run[0]:,.0f}/s, {rss_run[3]} errors): {growth:+.1f} MB.",
        "",
        f"Stopped with SIGTERM: exit status {stopped}"
        + (
            f", stderr ending `{err.strip().splitlines()[-1]}`." if err.strip() else "."
        ),
        "",
        "## Targets",
        "",
        f"- PNG prediction throughput at {top} clients, {png[2]:,.0f}/s, is "
        f"{ratio:.0%} of the trivial endpoint's {trivial[2]:,.0f}/s in the same "
        f"run (target >= 50 %): {verdict[ratio >= 0.5]}.",
        f"- p99 / p50 at {top} clients for the PNG: {p99_ratio:.1f} (target <= 10): "
        f"{verdict[p99_ratio <= 10]}.",
        f"- Errors: {errors} (target 0): {verdict[errors == 0]}.",
        f"- RSS growth over {rss_run[4]:,} requests: {growth:+.1f} MB (target "
        f"<= 50 MB): {verdict[growth <= 50]}.",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
