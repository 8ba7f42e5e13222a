"""The deployment of deploy/ run for real: gunicorn as the systemd unit starts it, behind nginx
with the site file, over HTTPS with a self-signed certificate, driven by Chromium and by plain
HTTPS clients bound to different loopback addresses.

The files of deploy/ are read as they are and only their paths and ports are changed
(`PATHS` below), the way deploy/README.md tells an administrator to install them. The unit's
ExecStartPre and ExecStart run as written, with the environment of its Environment= lines and
of deploy/webauth.env; the test sets only what belongs to this machine (database, keys,
ports, a rate limit small enough to reach). nginx runs without root: `-p` and `-c` with its
pid, logs and temporary files in the test's folder.

A second nginx serves the same site with single sign-on turned on as deploy/README.md says
(the two `#include` lines uncommented), in front of a small forward-auth server standing for
Authelia.
"""

from __future__ import annotations

import base64
import datetime as dt
import getpass
import hashlib
import http.client
import ipaddress
import os
import re
import shlex
import shutil
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, browser_sign_in
from tests.e2e.pwa_support import wait_for_worker
from tests.support.server import free_port
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import AuditEvent, User
from webauth.otpauth import parse_uri
from webauth.vault import Vault

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
LOGIN_LIMIT = 4  # sign-in attempts per address (and per username) an hour
SSO_PORTAL = "https://sso.example.test/"

pytestmark = pytest.mark.e2e


@dataclass
class Deployment:
    url: str  # https://localhost:PORT, the plain site
    sso_url: str  # the same site with single sign-on on
    port: int
    sso_port: int
    cafile: Path
    spki: str  # base64 SHA-256 of the certificate's public key, for Chromium
    logs: Path


def substitute(text: str, paths: dict[str, str]) -> str:
    for old, new in paths.items():
        text = text.replace(old, new)
    return text


def make_certificate(folder: Path) -> tuple[Path, Path, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)  # fixed: valid from long ago to far ahead
    san = [x509.DNSName("localhost")] + [x509.IPAddress(ipaddress.ip_address(f"127.0.0.{n}")) for n in (1, 2, 3)]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * 30))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return cert_path, key_path, base64.b64encode(hashlib.sha256(spki).digest()).decode()


def unit_commands(unit: str) -> tuple[dict[str, str], list[list[str]], str]:
    """Environment, commands (ExecStartPre..., ExecStart) and working directory of a service unit."""
    environment, commands, workdir = {}, [], str(ROOT)
    for line in unit.splitlines():
        key, _, value = line.partition("=")
        if key == "Environment":
            name, _, setting = value.partition("=")
            environment[name] = setting
        elif key in ("ExecStartPre", "ExecStart"):
            commands.append(shlex.split(value))
        elif key == "WorkingDirectory":
            workdir = value
    return environment, commands, workdir


def env_file(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


class ForwardAuth(BaseHTTPRequestHandler):
    """Authelia's auth-request endpoint, reduced: the `sso` cookie names the signed-in user."""

    def do_GET(self) -> None:
        cookie = self.headers.get("Cookie", "")
        match = re.search(r"(?:^|;\s*)sso=([a-z]+)", cookie)
        if match and self.path == "/api/authz/auth-request":
            self.send_response(200)
            self.send_header("Remote-User", match.group(1))
        else:
            self.send_response(401)
            original = self.headers.get("X-Original-URL", "")
            self.send_header("Location", f"{SSO_PORTAL}?rd={urllib.parse.quote(original, safe='')}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def wait_for(url: str, process: subprocess.Popen, log: Path, **kwargs) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited:\n{log.read_text()}")
        try:
            requests.get(url, timeout=2, allow_redirects=False, **kwargs)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in 60 s:\n{log.read_text()}")


def start_nginx(name: str, site: str, folder: Path, port: int, cafile: Path) -> subprocess.Popen:
    """nginx as any user: its own prefix, pid, logs and temporary folders; the site included as-is."""
    prefix = folder / name
    for sub in ("logs", "tmp"):
        (prefix / sub).mkdir(parents=True)
    # Debian's module files load `modules/...` from the prefix, which links there in /usr/share/nginx.
    (prefix / "modules").symlink_to("/usr/lib/nginx/modules")
    (prefix / "site.conf").write_text(site)
    temp_paths = "\n".join(
        f"    {kind}_temp_path {prefix}/tmp/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        f"""# What Debian's /etc/nginx/nginx.conf gives a site, for a server started by a test.
user {getpass.getuser()};
worker_processes 1;
include /etc/nginx/modules-enabled/*.conf;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log {prefix}/logs/access.log;
    gzip on;
{temp_paths}
    include {prefix}/site.conf;
}}
"""
    )
    command = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "logs" / "error.log")]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen([*command, "-g", "daemon off;"], stderr=subprocess.STDOUT, stdout=subprocess.DEVNULL)
    wait_for(f"https://localhost:{port}/healthz", process, prefix / "logs" / "error.log", verify=str(cafile))
    return process


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def deployment(base_config, migrated_database, tmp_path_factory) -> Iterator[Deployment]:
    if not os.path.exists(NGINX):
        pytest.fail("nginx is not installed: scripts/ensure-test-deps.sh installs it")
    folder = tmp_path_factory.mktemp("deploy")
    cert, key, spki = make_certificate(folder)
    app_port, port, sso_port, http_port, sso_http_port = (free_port() for _ in range(5))
    auth_server = ThreadingHTTPServer(("127.0.0.1", 0), ForwardAuth)
    threading.Thread(target=auth_server.serve_forever, daemon=True).start()
    (folder / "state").mkdir(mode=0o700)
    (folder / "run" / "metrics").mkdir(parents=True)  # what RuntimeDirectory= makes
    (folder / "logs").mkdir()
    (folder / "nginx-files").mkdir()
    paths = {
        "/srv/webauth/deploy/nginx/": f"{folder}/nginx-files/",
        "/srv/webauth": str(ROOT),
        "/etc/letsencrypt/live/auth.example.com/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/auth.example.com/privkey.pem": str(key),
        "/var/log/nginx": str(folder / "logs"),
        "/var/lib/webauth": str(folder / "state"),
        "/run/webauth": str(folder / "run"),
        "127.0.0.1:8000": f"127.0.0.1:{app_port}",
        "127.0.0.1:9091": f"127.0.0.1:{auth_server.server_port}",
    }

    # gunicorn, as the unit starts it.
    (folder / "gunicorn.conf.py").write_text(substitute((DEPLOY / "gunicorn.conf.py").read_text(), paths))
    unit = substitute((DEPLOY / "systemd" / "webauth.service").read_text(), paths)
    unit = unit.replace(f"{ROOT}/deploy/gunicorn.conf.py", str(folder / "gunicorn.conf.py"))
    unit_env, commands, workdir = unit_commands(unit)
    env = {key: value for key, value in os.environ.items() if key != "NOTIFY_SOCKET"}
    env |= unit_env | env_file(substitute((DEPLOY / "webauth.env").read_text(), paths))
    env |= {
        # This machine's database and keys, one worker (so memory:// counts for the whole server).
        "WEBAUTH_DATABASE_URL": migrated_database,
        "WEBAUTH_KEYS": base_config["WEBAUTH_KEYS"],
        "WEBAUTH_SECRET_KEY": base_config["SECRET_KEY"],
        "WEB_CONCURRENCY": "1",
        "WEBAUTH_RATELIMIT_STORAGE_URL": "memory://",
        "WEBAUTH_LOGIN_RATE_LIMIT": f"{LOGIN_LIMIT} per hour",
        # Single sign-on as deploy/webauth.env describes it (commented there).
        "WEBAUTH_TRUSTED_PROXIES": "127.0.0.1 ::1",
        "WEBAUTH_REMOTE_USER_HEADER": "Remote-User",
        "WEBAUTH_REMOTE_USER_CREATE": "1",
    }
    assert env["WEBAUTH_HTTPS"] == "1" and env["WEBAUTH_PROXY_HOPS"] == "1"  # from deploy/webauth.env
    app_log = folder / "logs" / "gunicorn.log"
    *before, start = commands
    for command in before:
        subprocess.run(command, cwd=workdir, env=env, check=True, capture_output=True)
    with open(app_log, "wb") as log:
        gunicorn = subprocess.Popen(start, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)

    def site(https: int, plain: int) -> str:
        text = substitute((DEPLOY / "nginx" / "webauth.conf").read_text(), paths)
        text = text.replace("listen 443 ", f"listen {https} ").replace("listen [::]:443 ", f"listen [::]:{https} ")
        return text.replace("listen 80;", f"listen {plain};").replace("listen [::]:80;", f"listen [::]:{plain};")

    for source in (DEPLOY / "nginx").glob("*.conf"):
        (folder / "nginx-files" / source.name).write_text(substitute(source.read_text(), paths))
    processes = [gunicorn]
    try:
        wait_for(f"http://127.0.0.1:{app_port}/healthz", gunicorn, app_log)
        processes.append(start_nginx("plain", site(port, http_port), folder, port, cert))
        # deploy/README.md, step 9: single sign-on is the two include lines, uncommented.
        sso_site = site(sso_port, sso_http_port).replace("    #include ", "    include ")
        assert sso_site.count("    include ") == 4  # proxy-headers.conf twice, and the two of single sign-on
        processes.append(start_nginx("sso", sso_site, folder, sso_port, cert))
        yield Deployment(
            url=f"https://localhost:{port}", sso_url=f"https://localhost:{sso_port}", port=port,
            sso_port=sso_port, cafile=cert, spki=spki, logs=folder / "logs",
        )
    finally:
        for process in reversed(processes):
            stop(process)
        auth_server.shutdown()


class Client:
    """An HTTPS client whose connections come from one loopback address, with its own cookies."""

    def __init__(self, deployment: Deployment, source: str, port: int | None = None) -> None:
        self.port = port or deployment.port
        self.source = source
        self.context = ssl.create_default_context(cafile=str(deployment.cafile))
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None,
                raw: bool = False):
        """The response and its body, as text (or, with `raw`, the bytes as sent)."""
        connection = http.client.HTTPSConnection(
            "localhost", self.port, context=self.context, source_address=(self.source, 0), timeout=30
        )
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        encoded = None
        if body is not None:
            encoded = urllib.parse.urlencode(body)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=encoded, headers=sent)
        response = connection.getresponse()
        data = response.read()
        text = data if raw else data.decode(errors="replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        connection.close()
        return response, text

    def try_password(self, username: str, forged_for: str | None = None) -> int:
        """One sign-in attempt with a wrong password, as a browser makes it (form, CSRF token)."""
        headers = {"X-Forwarded-For": forged_for} if forged_for else {}
        _, page = self.request("GET", "/login", headers=headers)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response, _ = self.request(
            "POST", "/login", {"csrf_token": token, "username": username, "password": "not the password"},
            headers={**headers, "Referer": f"https://localhost:{self.port}/login"},
        )
        return response.status


def test_chromium_signs_in_over_https_and_installs_the_app(deployment, app, make_user):
    make_user("alice")
    with app.app_context():
        alice = db.session.scalar(select(User).where(User.username == "alice"))
        Vault(alice, keyring()).add(parse_uri("otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP"), source="test")
        db.session.commit()
    with sync_playwright() as playwright:
        # The certificate is trusted by its key, as a real one is by its CA: no error is waved through.
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={deployment.spki}"],
        )
        try:
            context = browser.new_context(base_url=deployment.url, locale="en-US")
            page = context.new_page()
            first = page.goto("/login")
            assert first.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
            assert page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol") == "h2"
            browser_sign_in(page, "alice", TEST_PASSWORD)
            digits = page.locator("#codes .code span[id]").first  # the words naming the button are hidden
            expect(digits).to_have_text(re.compile(r"^\d{3} \d{3}$"))
            wait_for_worker(page)
            shell = page.evaluate("caches.keys()")
            assert len(shell) == 1 and shell[0].startswith("webauth-shell-")
            # The session, and the browser known for its user (views/signin_limits.py): both bound to the host.
            cookies = sorted((c for c in context.cookies() if c["name"] != "sso"), key=lambda c: c["name"])
            assert [cookie["name"] for cookie in cookies] == ["__Host-webauth", "__Host-webauth_known"]
            for cookie in cookies:
                assert cookie["secure"] and cookie["httpOnly"]
                assert cookie["path"] == "/" and cookie["domain"] == "localhost"
        finally:
            browser.close()
    with app.app_context():
        [signin] = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "signin.success")).all()
        assert signin.ip in ("127.0.0.1", "::1") and signin.details == {"method": "password"}


def test_the_rate_limit_counts_the_real_client_and_ignores_forged_addresses(deployment, app, make_user):
    make_user("alice")
    forger = Client(deployment, "127.0.0.2")
    # Each attempt claims to come from somewhere else, and names another user: only the
    # address nginx saw can tie them together.
    statuses = [forger.try_password(f"nobody{n}", forged_for=f"192.0.2.{n}") for n in range(LOGIN_LIMIT + 1)]
    assert statuses == [401] * LOGIN_LIMIT + [429]
    # Another address is counted apart: it is not limited by the first one's attempts.
    assert Client(deployment, "127.0.0.3").try_password("someone") == 401
    with app.app_context():
        addresses = db.session.scalars(select(AuditEvent.ip).where(AuditEvent.event == "signin.failure")).all()
    assert sorted(set(addresses)) == ["127.0.0.2", "127.0.0.3"]


def test_single_sign_on_through_nginx_believes_only_the_forward_auth_server(deployment, app, make_user):
    make_user("alice")
    # The plain site drops a Remote-User header the client sends, though the app trusts nginx.
    plain = Client(deployment, "127.0.0.2")
    response, _ = plain.request("GET", "/", headers={"Remote-User": "alice", "Sec-Fetch-Mode": "navigate"})
    assert response.status == 302 and response.headers["Location"].startswith("/login")
    # With single sign-on on, the forward-auth server's answer decides; the client's header loses.
    sso = Client(deployment, "127.0.0.2", deployment.sso_port)
    response, _ = sso.request("GET", "/", headers={"Remote-User": "alice"})
    assert response.status == 302 and response.headers["Location"].startswith(SSO_PORTAL)
    sso.cookies["sso"] = "carol"
    response, page = sso.request("GET", "/", headers={"Remote-User": "alice", "Sec-Fetch-Mode": "navigate"})
    assert response.status == 200 and "Sign out" in page
    with app.app_context():
        carol = db.session.scalar(select(User).where(User.username == "carol"))
        assert carol is not None and carol.password_hash is None
        [signin] = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "signin.success")).all()
        assert signin.user_id == carol.id and signin.ip == "127.0.0.2" and signin.details == {"method": "proxy"}


def test_nginx_serves_static_files_limits_bodies_and_logs_no_query_strings(deployment, app, make_user):
    make_user("alice")
    client = Client(deployment, "127.0.0.1")
    # The static files come from nginx, with HSTS; the worker from the app. Under the
    # content-hashed names the pages use, kept a year and sent as the copy made at set-up.
    _, page = client.request("GET", "/login")
    styles = re.search(r'href="(/static/dist/css/app\.[0-9a-f]{12}\.css)"', page).group(1)
    built = (ROOT / styles.lstrip("/")).read_bytes()
    for accepted, encoding in (("gzip, deflate, br", "br"), ("gzip", "gzip"), ("identity", None)):
        response, body = client.request("GET", styles, headers={"Accept-Encoding": accepted}, raw=True)
        assert response.status == 200 and response.headers.get("Content-Encoding") == encoding, accepted
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
        assert "Accept-Encoding" in response.headers.get("Vary", "")
        assert body == (ROOT / (styles.lstrip("/") + {"br": ".br", "gzip": ".gz", None: ""}[encoding])).read_bytes()
    assert body == built
    # By their plain names, revalidated by ETag.
    response, _ = client.request("GET", "/static/css/app.css")
    assert response.status == 200 and response.headers["Cache-Control"] == "no-cache" and response.headers["ETag"]
    again, _ = client.request("GET", "/static/css/app.css", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304
    worker, source = client.request("GET", "/service-worker.js")
    assert worker.headers["Cache-Control"] == "no-cache" and worker.headers["Service-Worker-Allowed"] == "/"
    assert "__SHELL_VERSION__" not in source
    page, _ = client.request("GET", "/login", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in page.headers  # pages with CSRF tokens are never compressed (BREACH)
    # Bodies: the same limit as the app's.
    limit = re.search(r"client_max_body_size (\d+)m;", (DEPLOY / "nginx" / "webauth.conf").read_text())
    assert int(limit.group(1)) * 1024 * 1024 == app.config["MAX_CONTENT_LENGTH"]
    response, _ = client.request("POST", "/import", body={"data": "x" * app.config["MAX_CONTENT_LENGTH"]})
    assert response.status == 413
    response, _ = client.request("GET", "/login?next=/probe-query-string")
    assert response.status == 200
    log = (deployment.logs / "webauth.access.log").read_text()
    assert "GET /login HTTP/2.0" in log or "GET /login HTTP/1.1" in log
    assert "probe-query-string" not in log
