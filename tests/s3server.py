"""A real S3 server for the tests and the benchmark: moto's server mode, in
a process of its own on 127.0.0.1, spoken to over HTTP as any S3 is."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

HOST = "127.0.0.1"

#: What the clients of a server without credential checks are given.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class S3Server:
    """``python -m moto.server`` on a free port until :meth:`stop`.

    Parameters
    ----------
    no_auth_requests : int, optional
        With a number, moto checks credentials (its IAM) on every request
        after the first ``no_auth_requests``, which set up users and keys.
    """

    def __init__(self, no_auth_requests: int | None = None, timeout: float = 60):
        self.port = free_port()
        self.endpoint = f"http://{HOST}:{self.port}"
        env = {**os.environ}
        if no_auth_requests is not None:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(no_auth_requests)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto's server exited ({self.process.returncode})")
            try:
                # moto's own endpoint, outside S3: not counted as a request.
                urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto's server did not answer") from None
                time.sleep(0.1)

    def env(self, **credentials: str) -> dict[str, str]:
        """The environment of a client of this server."""
        return {
            **(credentials or CREDENTIALS),
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self, service: str = "s3", **credentials: str):
        import boto3

        keys = credentials or CREDENTIALS
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
