"""The real server for tests that go through HTTP: gunicorn serving `wsgi:app` as `make run` does
(2 workers x 4 threads), on loopback, with the settings a test gives; and a signed-in client.

Used by the browser tests (tests/e2e), the multi-instance tests (tests/scale) and the race
tests (tests/faults), which need requests from several processes and threads at once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from tests.conftest import TEST_PASSWORD, csrf_from

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env_overrides: dict[str, str], tmp_path: Path) -> tuple[subprocess.Popen, str]:
    """gunicorn serving wsgi:app as `make run` does; returns the process and its base URL."""
    port = free_port()
    env = {**os.environ, "WEBAUTH_INSTANCE_PATH": str(tmp_path), **env_overrides}
    log = open(tmp_path / "server.log", "ab")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "gthread", "--threads", "4",
         "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {(tmp_path / 'server.log').read_text()}")
        try:
            requests.get(f"{base_url}/manifest.json", timeout=1)
            return process, base_url
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start in 30 s")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def token(browser: requests.Session, url: str) -> str:
    """The CSRF token of the page at `url`, as a browser would find it in the form."""
    return csrf_from(browser.get(url, timeout=30).text)


def sign_in(base: str, username: str = "alice", password: str = TEST_PASSWORD) -> requests.Session:
    """A browser-like client (cookies kept) signed in to the server at `base`."""
    browser = requests.Session()
    answer = browser.post(
        f"{base}/login",
        data={"csrf_token": token(browser, f"{base}/login"), "username": username, "password": password},
        allow_redirects=False, timeout=30,
    )
    assert answer.status_code == 302, answer.text
    return browser


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same instant, one thread each; their results in order."""
    barrier = threading.Barrier(len(calls))

    def released(call: Callable[[], Any]) -> Any:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return [future.result() for future in [pool.submit(released, call) for call in calls]]
