"""Settings: every `WEBAUTH_*` environment variable, its default, and the instance folder.

This is the one place settings are read. README.md documents each variable; a test
checks that every variable named here is documented there.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from None


def _read_or_create_secret(path: Path) -> str:
    """A random secret key kept in the instance folder, created once with mode 0600."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        key = secrets.token_urlsafe(48)
        handle.write(key)
    return key


def _private_file(path: Path) -> Path:
    """Create an empty file readable by its owner only (SQLite keeps the mode for WAL files)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path


def instance_path() -> Path:
    return Path(os.environ.get("WEBAUTH_INSTANCE_PATH", "instance")).resolve()


def load_config(instance: Path) -> dict[str, Any]:
    """Flask configuration from the environment, creating instance files on first run."""
    instance.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = os.environ
    https = _bool(env.get("WEBAUTH_HTTPS"), False)
    database_url = env.get("WEBAUTH_DATABASE_URL")
    if not database_url:
        database_url = f"sqlite:///{_private_file(instance / 'webauth.db')}"
    secret_key = env.get("WEBAUTH_SECRET_KEY") or _read_or_create_secret(instance / "secret_key")
    return {
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "WEBAUTH_KEYS": env.get("WEBAUTH_KEYS"),
        "WEBAUTH_KEYRING_PATH": instance / "keyring.json",
        "RATELIMIT_STORAGE_URI": env.get("WEBAUTH_RATELIMIT_STORAGE_URL", "memory://"),
        "RATELIMIT_ENABLED": _bool(env.get("WEBAUTH_RATELIMIT_ENABLED"), True),
        "WEBAUTH_LOGIN_RATE_LIMIT": env.get("WEBAUTH_LOGIN_RATE_LIMIT", "10 per minute; 50 per hour"),
        "WEBAUTH_HTTPS": https,
        "WEBAUTH_PROXY_HOPS": _int("WEBAUTH_PROXY_HOPS", 0),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=_int("WEBAUTH_SESSION_HOURS", 24 * 14)),
        "SESSION_COOKIE_NAME": "__Host-webauth" if https else "webauth_session",
        "SESSION_COOKIE_SECURE": https,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_DURATION": timedelta(seconds=0),
        # The CSRF token lives as long as the session: an installed app stays open for days.
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_SSL_STRICT": https,
        "MAX_CONTENT_LENGTH": 6 * 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": "en",
        "WEBAUTH_LANGUAGES": ["en", "zh_Hans"],
        "WEBAUTH_REAUTH_SECONDS": _int("WEBAUTH_REAUTH_SECONDS", 300),
    }
