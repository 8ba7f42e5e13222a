"""The app with made-up accounts, served on loopback for scripts that drive it in Chromium
(scripts/make_screenshots.py, bench/offline_unlock.py). Everything lives in a temporary
folder that is removed afterwards; the secrets are random.

    with demo_app() as base_url: ...   # sign in as DEMO_USER / DEMO_PASSWORD
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync", "--no-first-run"]
DEMO_USER = "demo"
DEMO_PASSWORD = "demo password, not a secret"  # noqa: S105 - a throwaway account in a temporary database

# (type, issuer, account name, URI parameters): a plausible list, with each kind of code.
DEMO_ACCOUNTS = [
    ("totp", "GitHub", "ada@example.com", ""),
    ("totp", "Google", "ada.lovelace@example.com", ""),
    ("totp", "Amazon Web Services", "root", "&algorithm=SHA256&digits=8"),
    ("totp", "Proton", "ada", "&period=60"),
    ("totp", "Steam", "analytical_engine", "&encoder=steam"),
    ("hotp", "Company VPN", "ada", "&counter=12"),
    ("totp", "Microsoft", "ada.lovelace@analytical-engine.example.org", ""),
    ("totp", "Dropbox", "ada@example.com", ""),
    ("totp", "Dropbox", "ada@example.com", ""),  # twins: the key hint tells them apart
    ("totp", "Cloudflare", "ops", ""),
]


def _random_base32(length: int = 20) -> str:
    return base64.b32encode(secrets.token_bytes(length)).decode().rstrip("=")


@contextmanager
def demo_app() -> Iterator[str]:
    """Serve a fresh app with the demo user and accounts; yields its base URL."""
    from flask_migrate import upgrade

    from webauth import create_app, users
    from webauth.extensions import db
    from webauth.keys import keyring
    from webauth.otpauth import parse_uri
    from webauth.vault import Vault

    with tempfile.TemporaryDirectory() as folder:
        keys = {"primary": "demo", "keys": {"demo": base64.b64encode(os.urandom(32)).decode()}}
        app = create_app(
            {
                "INSTANCE_PATH": folder,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'demo.db'}",
                "SECRET_KEY": secrets.token_urlsafe(32),
                "WEBAUTH_KEYS": json.dumps(keys),
                "RATELIMIT_ENABLED": False,
            }
        )
        with app.app_context():
            upgrade(revision="heads")
            user = users.create_local_user(DEMO_USER, DEMO_PASSWORD, keyring(), is_admin=True)
            vault = Vault(user, keyring())
            for kind, issuer, name, extra in DEMO_ACCOUNTS:
                uri = f"otpauth://{kind}/{issuer}:{name}?secret={_random_base32()}&issuer={issuer}{extra}"
                vault.add(parse_uri(uri))
            db.session.commit()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            thread.join()


def sign_in(page, base_url: str) -> None:
    """Sign in as the demo user (an administrator) in a Playwright page and wait for the code list."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Username").fill(DEMO_USER)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_selector("#codes")
