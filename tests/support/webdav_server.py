"""A real WebDAV server for the backup tests: WsgiDAV (pinned in requirements-dev.txt) under gunicorn.

`WebDavServer` starts gunicorn in its own process, serving a folder at `/dav/` behind HTTP basic
authentication, and stops it at the end. The folder is the test's: the test reads what was
uploaded straight from the disk. gunicorn, not a thread: WsgiDAV reads a request body until
the server ends it, as a real server does at Content-Length.

gunicorn imports `app` from this module; the settings come from the environment it is given.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def _make_app():
    from wsgidav.wsgidav_app import WsgiDAVApp

    user, password = os.environ["WEBDAV_TEST_USER"], os.environ["WEBDAV_TEST_PASSWORD"]
    return WsgiDAVApp(
        {
            "provider_mapping": {"/dav": os.environ["WEBDAV_TEST_ROOT"]},
            "simple_dc": {"user_mapping": {"/dav": {user: {"password": password}}}},
            "http_authenticator": {
                "domain_controller": None,
                "accept_basic": True,
                "accept_digest": False,
                "default_to_digest": False,
            },
            "dir_browser": {"enable": False},
            "logging": {"enable": False},
            "verbose": 1,
        }
    )


app = _make_app() if "WEBDAV_TEST_ROOT" in os.environ else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WebDavServer:
    """WsgiDAV serving `root` at http://127.0.0.1:PORT/dav/ for `user` and `password`."""

    def __init__(self, root: Path, user: str = "backup-bot", password: str = "dav-password-123") -> None:
        self.root, self.user, self.password = root, user, password
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/dav/"
        env = {**os.environ, "WEBDAV_TEST_ROOT": str(root), "WEBDAV_TEST_USER": user, "WEBDAV_TEST_PASSWORD": password}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers", "1",
             "--threads", "4", "--worker-class", "gthread", "tests.support.webdav_server:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.request("OPTIONS", self.url, timeout=2)
                return
            except requests.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the WebDAV server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
