"""A ``logitnet serve`` process on a free port of 127.0.0.1, and a client
for it built on ``http.client``: shared by the server's tests."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """``python -m logitnet serve --model MODEL ARGS`` until :meth:`stop`;
    requests go to ``connect`` (the address it listens on)."""

    def __init__(
        self, model, *args: str, start_timeout: float = 60, connect: str = HOST
    ) -> None:
        self.host = connect
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "logitnet",
                "serve",
                "--model",
                str(model),
                "--port",
                str(self.port),
                *args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        # Read as it comes, so that a server that logs much never blocks on
        # a full pipe, and a test can look at the log while it runs.
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + start_timeout
        while True:
            if self.process.poll() is not None:
                self._reader.join(timeout=10)
                raise RuntimeError(f"the server ended early: {self.stderr()}")
            with contextlib.suppress(OSError):
                if self.request("GET", "/healthz")[0] == 200:
                    return
            if time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError("the server did not answer /healthz")
            time.sleep(0.1)

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)

    def stderr(self) -> str:
        """What the server has written to stderr so far."""
        return "".join(self.lines)

    def request(self, method, path, body=None, headers=None, timeout=30):
        """(status, headers as a dict with lower-case names, body bytes)."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                data,
            )
        finally:
            connection.close()

    def json(self, method, path, body=None, headers=None):
        status, _, data = self.request(method, path, body, headers)
        return status, json.loads(data)

    def answers(self) -> bool:
        return self.request("GET", "/healthz")[0] == 200

    def memory_mb(self, field: str = "VmRSS") -> float:
        """The server process's ``VmRSS`` (resident memory now) or ``VmHWM``
        (its peak since :meth:`reset_peak`), in MiB, from /proc."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
        raise KeyError(field)

    def reset_peak(self) -> None:
        """Start ``VmHWM`` again from the resident memory now."""
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def stop(self, signum: int | None = signal.SIGTERM, timeout: float = 30):
        """Send ``signum`` (None: none, wait for the end); (exit status, stderr)."""
        if signum is not None and self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=10)
        self.process.stderr.close()
        return self.process.returncode, self.stderr()


def multipart(files, boundary: str | None = None):
    """(body, headers) of a multipart/form-data upload of (name, bytes)."""
    boundary = boundary or uuid.uuid4().hex
    out = io.BytesIO()
    for name, data in files:
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        )
        out.write(data)
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), {"Content-Type": f"multipart/form-data; boundary={boundary}"}
