"""What the benchmarks share: a throwaway instance, its seeded user, gunicorn, and the load generator.

Every benchmark builds its own instance folder (SQLite by default, or `--database-url`),
seeds it through the product's own domain layer (so the rows are exactly what the app
writes), serves it with the same gunicorn command line as `make run` (gthread, 2 workers x
4 threads, no access log), and drives it on loopback only. Load loops are bounded both in
requests and in seconds, so a slow or broken server never makes a benchmark hang.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

import requests
from flask import Flask
from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parent.parent
# The shape every figure in RESULTS.md is measured with: `make run`'s defaults.
WORKERS, THREADS, CONNECTIONS = 2, 4, 8
PASSWORD = "bench password 1234"  # noqa: S105 - a throwaway user of a throwaway instance
LOOPBACK = "127.0.0.1"


@dataclass
class Instance:
    """A throwaway installation: its folder, database, keys and the environment that serves it."""

    path: Path
    database_url: str
    env: dict[str, str]

    def app(self) -> Flask:
        """The Flask app of this instance, in this process (for seeding and in-process timing)."""
        from webauth import create_app

        return create_app(
            {
                "INSTANCE_PATH": str(self.path),
                "SQLALCHEMY_DATABASE_URI": self.database_url,
                "WEBAUTH_KEYS": self.env["WEBAUTH_KEYS"],
                "SECRET_KEY": self.env["WEBAUTH_SECRET_KEY"],
            }
        )


@contextmanager
def instance(database_url: str | None = None) -> Iterator[Instance]:
    """A fresh instance folder with a migrated database; removed afterwards.

    With `database_url` (e.g. PostgreSQL) the database is used as it is: migrations are
    applied, nothing is dropped, and each run seeds its own randomly named user.
    """
    with tempfile.TemporaryDirectory(prefix="webauth-bench-") as folder:
        path = Path(folder)
        url = database_url or f"sqlite:///{path / 'webauth.db'}"
        keys = json.dumps({"primary": "k1", "keys": {"k1": base64.b64encode(os.urandom(32)).decode()}})
        env = {
            "WEBAUTH_INSTANCE_PATH": str(path),
            "WEBAUTH_DATABASE_URL": url,
            "WEBAUTH_KEYS": keys,
            "WEBAUTH_SECRET_KEY": secrets.token_urlsafe(32),
        }
        inst = Instance(path, url, env)
        app = inst.app()
        with app.app_context():
            from flask_migrate import upgrade

            upgrade(revision="heads")
            from webauth.extensions import db

            db.engine.dispose()
        yield inst


# Issuers as people have them: mostly services with a brand icon (some on a dark chip), a few
# without one (a coloured letter). Each account's name is unique and searchable: "service-0421".
ISSUERS = (
    "GitHub", "Google", "Dropbox", "Discord", "GitLab", "Cloudflare", "DigitalOcean", "PayPal", "Facebook",
    "Twitter", "Apple", "Reddit", "Twitch", "npm", "PyPI", "Docker", "Stripe", "Coinbase", "Binance", "Proton",
    "Bitwarden", "1Password", "Mailchimp", "Atlassian", "Zoom", "Notion", "Figma", "Shopify", "WordPress",
    "Okta", "Fastly", "Hetzner", "OVH", "Namecheap", "Tumblr", "Acme Payroll", "City Library", "Home Router",
)


def seed_specs(count: int, username: str) -> list:
    """`count` accounts as a user might have them: TOTP mostly, an HOTP and a Steam account in every
    25, a favorite in every 17 (the list shows favorites first)."""
    from webauth.otp import OtpParams, OtpType
    from webauth.otpauth import AccountSpec

    specs = []
    for number in range(count):
        kind = OtpType.HOTP if number % 25 == 7 else OtpType.STEAM if number % 25 == 13 else OtpType.TOTP
        specs.append(AccountSpec(
            issuer="Steam" if kind is OtpType.STEAM else ISSUERS[number % len(ISSUERS)],
            name=f"{username}.service-{number:04d}@example.com",
            params=OtpParams(type=kind, secret=os.urandom(20)),
            favorite=number % 17 == 0,
        ))
    return specs


def seed_user(inst: Instance, accounts: int) -> str:
    """A local user with `accounts` accounts (`seed_specs`), added through the vault; returns the username."""
    from webauth import users
    from webauth.extensions import db
    from webauth.keys import keyring
    from webauth.vault import Vault

    username = f"bench-{secrets.token_hex(4)}"
    app = inst.app()
    with app.app_context():
        user = users.create_local_user(username, PASSWORD, keyring())
        vault = Vault(user, keyring())
        for spec in seed_specs(accounts, username):
            vault.add(spec, source="bench")
        db.session.commit()
        db.engine.dispose()
    return username


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _start_gunicorn(app_spec: str, env: dict[str, str], probe: str, log: Path) -> tuple[subprocess.Popen, str] | None:
    """gunicorn on a free port, once it answers `probe`; None when another process took the port first."""
    port = free_port()
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--worker-class", "gthread",
             "--threads", str(THREADS),
             "--worker-connections", str(CONNECTIONS), "--bind", f"{LOOPBACK}:{port}", app_spec],
            cwd=ROOT, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT,
        )
    base = f"http://{LOOPBACK}:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if process.poll() is not None:
                if "Address already in use" in log.read_text():
                    return None
                raise RuntimeError(f"gunicorn exited: {log.read_text()[-2000:]}")
            try:
                requests.get(base + probe, timeout=1, allow_redirects=False)
                return process, base
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not answer in 60 s") from None
                time.sleep(0.05)
    except BaseException:  # also SIGTERM's SystemExit: no gunicorn is left behind
        _stop(process)
        raise


def _stop(process: subprocess.Popen) -> None:
    # SIGQUIT: gunicorn's quick shutdown. The measuring is over, so nothing is lost by not
    # waiting out the workers' keep-alive connections, which a graceful stop (SIGTERM) does.
    process.send_signal(signal.SIGQUIT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def gunicorn(app_spec: str, env: dict[str, str], probe: str = "/") -> Iterator[tuple[subprocess.Popen, str]]:
    """`app_spec` under gunicorn as `make run` serves the product; yields the process and base URL.

    The port is one the system had free a moment before: when another process (a benchmark run
    beside this one) takes it first, gunicorn starts again on another.
    """
    # `timeout` or a terminal's kill sends SIGTERM: leave through `finally`, so gunicorn stops too.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="webauth-bench-gunicorn-") as folder:
        log = Path(folder) / "gunicorn.log"
        try:
            for _attempt in range(5):
                started = _start_gunicorn(app_spec, env, probe, log)
                if started is not None:
                    break
            else:
                raise RuntimeError("gunicorn found no free port in 5 attempts")
            process, base = started
            try:
                yield process, base
            finally:
                _stop(process)
        finally:
            signal.signal(signal.SIGTERM, previous)


def sign_in(base: str, username: str) -> str:
    """Sign in through the login form as a browser does; returns the `Cookie` header to replay."""
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if token is None:
        raise RuntimeError("the login page has no CSRF token")
    answer = session.post(
        f"{base}/login", data={"csrf_token": token.group(1), "username": username, "password": PASSWORD},
        allow_redirects=False, timeout=30,
    )
    if answer.status_code != 302:
        raise RuntimeError(f"signing in failed with status {answer.status_code}")
    return "; ".join(f"{name}={value}" for name, value in session.cookies.items())


def clock_url(base: str, headers: dict[str, str]) -> str:
    """The URL of the list's clock (`#codes-clock`): what an open page asks at each boundary and
    preview, with the time its codes were computed (`at`) left off (`with_at` puts one back)."""
    listed = requests.get(f"{base}/", headers=headers, timeout=10, allow_redirects=False)
    found = re.search(r'id="codes-clock"[^>]* hx-get="([^"]+)"', listed.text)
    if listed.status_code != 200 or found is None:
        raise RuntimeError(f"the list has no clock (status {listed.status_code})")
    return re.sub(r"&at=\d+", "", f"{base}{html.unescape(found.group(1))}")


# Every account the benchmarks seed has a 30-second period (TOTP and Steam).
CLOCK_PERIOD = 30
PREVIEW_SECONDS = 10


def tick_at(now: float, period: int = CLOCK_PERIOD) -> int:
    """The `at` of the tick an open page sends at this moment: at a boundary it showed the codes
    of the period before (new codes come), in the last seconds the codes of this period without
    their preview (the next codes come). Either way the clock sends one thing for every account."""
    second = int(now)
    phase = second % period
    return second - period if phase < period - PREVIEW_SECONDS else second - phase


def with_at(url: str, at: int) -> str:
    return f"{url}&at={at}"


# Load ---------------------------------------------------------------------------------------


@dataclass
class Load:
    """What one load run measured."""

    tool: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers, socket errors and timeouts
    timeouts: int = 0  # of which: requests given up after 5 s (a saturated server, not a failing one)
    server_cpu_ms: float | None = None  # the server's CPU time per request (`load(server=...)`)
    load_after: float | None = None  # the machine's load average (1 minute) when the run ended

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self, label: str) -> str:
        cpu = f"   server CPU {self.server_cpu_ms:5.2f} ms/request" if self.server_cpu_ms is not None else ""
        machine_load = f", load {self.load_after:.1f}" if self.load_after is not None else ""
        return (
            f"{label:<22} {self.rps:9.0f} req/s   p50 {self.p50_ms:7.2f} ms   p99 {self.p99_ms:7.2f} ms   "
            f"errors {self.errors} (timeouts {self.timeouts}){cpu}   "
            f"({self.requests} requests in {self.seconds:.1f} s, {self.tool}{machine_load})"
        )


# Each wrk thread stops after its share of `max_requests` and leaves a marker file; when every
# thread has, `load` interrupts wrk (SIGINT: wrk then prints its summary at once instead of
# sleeping out `-d`). One JSON line at the end; non-2xx answers count as errors (wrk's own
# `status` counter), as do socket errors and timeouts.
_WRK_SCRIPT = """
local headers_text = os.getenv("BENCH_HEADERS") or ""
for line in string.gmatch(headers_text, "[^\\n]+") do
  local name, value = string.match(line, "^([^:]+):%s*(.*)$")
  if name then wrk.headers[name] = value end
end
local limit = tonumber(os.getenv("BENCH_LIMIT_PER_THREAD") or "0")
local markers = os.getenv("BENCH_MARKERS")
-- With BENCH_CLOCK_PERIOD, each request is the list's clock as an open page sends it at this
-- moment (bench._common.tick_at): new codes at a boundary, next codes in the last seconds.
local period = tonumber(os.getenv("BENCH_CLOCK_PERIOD") or "0")
local preview = tonumber(os.getenv("BENCH_PREVIEW_SECONDS") or "0")
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("number", threads)
end
if period > 0 then
  request = function()
    local now = os.time()
    local phase = now % period
    local at = phase < period - preview and now - period or now - phase
    return wrk.format(nil, wrk.path .. "&at=" .. at)
  end
end
local seen = 0
function response(status, headers, body)
  seen = seen + 1
  if limit > 0 and seen == limit then
    wrk.thread:stop()
    local marker = io.open(markers .. "/" .. tostring(number), "w")
    if marker then marker:close() end
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "micros": %d, "p50": %d, "p99": %d, "status": %d, "timeout": %d, "socket": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.timeout, e.connect + e.read + e.write))
end
"""


def ensure_wrk() -> str | None:
    """wrk's path, installing Debian's package when running as root; None means use the Python load."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": {**os.environ,
             "DEBIAN_FRONTEND": "noninteractive"}}
    if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], **quiet).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], **quiet)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], **quiet)
    return shutil.which("wrk")


def load(url: str, headers: dict[str, str], *, connections: int, seconds: float, max_requests: int,
         clock: bool = False, server: Sequence[int] = ()) -> Load:
    """GET `url` from `connections` keep-alive connections until `seconds` pass or `max_requests`
    are answered. With `clock`, each request carries the `at` of the list's clock as pages send
    it at that moment (`tick_at`). With `server` (its processes), the CPU time they spent per
    request is measured too."""
    if urlsplit(url).hostname != LOOPBACK:
        raise ValueError("benchmarks load loopback only")
    before = cpu_seconds(list(server))
    result = _load(url, headers, connections=connections, seconds=seconds, max_requests=max_requests, clock=clock)
    if server and result.requests:
        result.server_cpu_ms = (cpu_seconds(list(server)) - before) * 1000 / result.requests
    result.load_after = os.getloadavg()[0]
    return result


def _load(url: str, headers: dict[str, str], *, connections: int, seconds: float, max_requests: int,
          clock: bool) -> Load:
    wrk = ensure_wrk()
    if wrk is None:
        return _python_load(url, headers, connections=connections, seconds=seconds, max_requests=max_requests,
                            clock=clock)
    threads = min(2, connections)
    with tempfile.TemporaryDirectory(prefix="webauth-bench-wrk-") as folder:
        script = Path(folder) / "bench.lua"
        script.write_text(_WRK_SCRIPT)
        markers = Path(folder) / "markers"
        markers.mkdir()
        env = {
            **os.environ,
            "BENCH_HEADERS": "\n".join(f"{name}: {value}" for name, value in headers.items()),
            "BENCH_LIMIT_PER_THREAD": str(max(1, max_requests // threads)),
            "BENCH_MARKERS": str(markers),
            "BENCH_CLOCK_PERIOD": str(CLOCK_PERIOD if clock else 0),
            "BENCH_PREVIEW_SECONDS": str(PREVIEW_SECONDS),
        }
        process = subprocess.Popen(
            [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{max(1, math.ceil(seconds))}s", "--timeout", "5s",
             "-s", str(script), url],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + seconds + 60
        while process.poll() is None and time.monotonic() < deadline:
            if len(list(markers.iterdir())) >= threads:
                process.send_signal(signal.SIGINT)
                break
            time.sleep(0.05)
        try:
            stdout, stderr = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            raise RuntimeError("wrk did not finish in time") from None
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed:\n{stdout}\n{stderr}")
    match = re.search(r"^BENCH_JSON (.*)$", stdout, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no summary:\n{stdout}\n{stderr}")
    data = json.loads(match.group(1))
    return Load("wrk", data["requests"], data["micros"] / 1e6, data["p50"] / 1000, data["p99"] / 1000,
                data["status"] + data["timeout"] + data["socket"], data["timeout"])


def _python_load(url: str, headers: dict[str, str], *, connections: int, seconds: float, max_requests: int,
                 clock: bool = False) -> Load:
    """A plain load generator for machines without wrk: one thread per keep-alive connection.

    It measures the same things as the wrk run but is slower than the server it drives on a
    small machine, so its requests per second are a floor, not the server's capacity.
    """
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies: list[float] = []
    errors = [0, 0]  # failed requests, of which timeouts
    lock = threading.Lock()
    budget = [max_requests]
    deadline = time.monotonic() + seconds

    def worker() -> None:
        conn = HTTPConnection(parts.hostname, parts.port, timeout=5)
        while time.monotonic() < deadline:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            began = time.perf_counter()
            timed_out = False
            try:
                conn.request("GET", with_at(target, tick_at(time.time())) if clock else target, headers=headers)
                answer = conn.getresponse()
                answer.read()
                failed = answer.status >= 300
            except OSError as error:
                conn.close()
                conn = HTTPConnection(parts.hostname, parts.port, timeout=5)
                failed, timed_out = True, isinstance(error, TimeoutError)
            took = time.perf_counter() - began
            with lock:
                latencies.append(took)
                errors[0] += failed
                errors[1] += timed_out
        conn.close()

    began = time.perf_counter()
    workers = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(seconds + 10)
    elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return Load("python", len(latencies), elapsed, cuts[49] * 1000, cuts[98] * 1000, errors[0], errors[1])


def workers_of(master: int) -> list[int]:
    """The process ids whose parent is `master` (gunicorn's workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a process that ended while we looked
        if int(fields[1]) == master:
            found.append(int(stat.parent.name))
    return sorted(found)


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time these processes have used (from /proc), in seconds.

    On a machine shared with other work, requests per second follow the load; the CPU time a
    request costs the server does not, so it is the steadier figure to compare two requests by.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def load_average() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def goal(label: str, figure: str, target: str, met: bool) -> str:
    """One line of a benchmark's verdict: the figure, its goal beside it, and whether it is met."""
    return f"  {label:<40} {figure:>14}   goal {target:<16} {'met' if met else 'MISSED'}"


def machine() -> str:
    """Cores, memory and CPU model, for the figures' context."""
    memory_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kib = int(line.split()[1])
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        "unknown CPU",
    )
    return (
        f"{os.cpu_count()} cores ({model}), {memory_kib / 1024 / 1024:.1f} GiB memory, "
        f"Python {sys.version.split()[0]}; load average before the run {load_average()}"
    )


def sign_in_client(client: FlaskClient, username: str) -> None:
    """Sign a Flask test client in through the login form (for in-process timing)."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if token is None:
        raise RuntimeError("the login page has no CSRF token")
    answer = client.post("/login", data={"csrf_token": token.group(1), "username": username, "password": PASSWORD})
    if answer.status_code != 302:
        raise RuntimeError(f"signing in failed with status {answer.status_code}")


@dataclass
class Timing:
    """Server times of one request repeated, in milliseconds."""

    samples: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p99(self) -> float:
        return statistics.quantiles(self.samples, n=100)[98] if len(self.samples) > 1 else self.samples[0]

    def line(self, label: str) -> str:
        return (
            f"{label:<34} p50 {self.p50:8.2f} ms   p99 {self.p99:8.2f} ms   min {min(self.samples):8.2f} ms   "
            f"({len(self.samples)} requests)"
        )


def time_requests(client: FlaskClient, path: str, headers: dict[str, str], count: int, seconds: float) -> Timing:
    """Time `path` in-process (server time, no network) up to `count` times or `seconds`, after one warm-up."""
    first = client.get(path, headers=headers)
    if first.status_code != 200:
        raise RuntimeError(f"{path} answered {first.status_code}")
    samples: list[float] = []
    deadline = time.monotonic() + seconds
    while len(samples) < count and time.monotonic() < deadline:
        began = time.perf_counter()
        client.get(path, headers=headers)
        samples.append((time.perf_counter() - began) * 1000)
    return Timing(samples)
