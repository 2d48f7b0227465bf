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
import time
import uuid

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """``python -m logitnet serve --model MODEL ARGS`` until :meth:`stop`."""

    def __init__(self, model, *args: str, start_timeout: float = 60) -> None:
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
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + start_timeout
        while True:
            if self.process.poll() is not None:
                _, err = self.process.communicate()
                raise RuntimeError(f"the server ended early: {err}")
            with contextlib.suppress(OSError):
                if self.request("GET", "/healthz")[0] == 200:
                    return
            if time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError("the server did not answer /healthz")
            time.sleep(0.1)

    def request(self, method, path, body=None, headers=None, timeout=30):
        """(status, headers as a dict with lower-case names, body bytes)."""
        connection = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
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

    def stop(self, signum: int | None = signal.SIGTERM, timeout: float = 30):
        """Send ``signum`` (None: none, wait for the end); (exit status, stderr)."""
        if signum is not None and self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            _, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return self.process.returncode, err


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
