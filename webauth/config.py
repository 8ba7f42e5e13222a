"""Settings: every `WEBAUTH_*` environment variable, its default, and the instance folder.

This is the one place settings are read. docs/configuration.md documents each variable; a
test (tests/test_readme.py) checks that every variable named here is in its table.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# The project folder: templates, static files, translations and migrations live beside the package.
ROOT = Path(__file__).resolve().parent.parent
# The longest session the settings page allows (a year): also the session cookie's lifetime.
MAX_SESSION_HOURS = 24 * 366


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


def _positive(value: int, name: str) -> int:
    if value < 1:
        raise SystemExit(f"{name} must be 1 or more, not {value}")
    return value


def _read_or_create_secret(path: Path) -> tuple[str, bool]:
    """A random secret key kept in the instance folder, created once with mode 0600; and whether it is new."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip(), False
    with os.fdopen(fd, "w") as handle:
        key = secrets.token_urlsafe(48)
        handle.write(key)
    return key, True


def _private_file(path: Path) -> Path:
    """Create an empty file readable by its owner only (SQLite keeps the mode for WAL files)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path


def _networks(name: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Addresses or networks (`127.0.0.1`, `10.0.0.0/24`, `::1`), comma- or space-separated."""
    raw = os.environ.get(name, "")
    try:
        return tuple(ip_network(item, strict=False) for item in re.split(r"[\s,]+", raw) if item)
    except ValueError as error:
        raise SystemExit(f"{name} must list IP addresses or networks: {error}") from None


def _names(name: str) -> frozenset[str]:
    """Names (usernames, client ids, organizations), comma- or space-separated."""
    return frozenset(item for item in re.split(r"[\s,]+", os.environ.get(name, "")) if item)


def _public_url(raw: str) -> str:
    """`WEBAUTH_PUBLIC_URL` as an origin (`https://auth.example.com`, a port only when not the
    scheme's default), or empty. Passkeys are bound to its host name, so it must be exact."""
    raw = raw.strip()
    if not raw:
        return ""
    parts = urlsplit(raw)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or port == -1
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise SystemExit(
            f"WEBAUTH_PUBLIC_URL must be the address people open, scheme and host only (https://auth.example.com), "
            f"not {raw!r}"
        )
    default_port = 443 if parts.scheme == "https" else 80
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default_port) else "")


def instance_path() -> Path:
    return Path(os.environ.get("WEBAUTH_INSTANCE_PATH", "instance")).resolve()


# The languages offered (webauth/languages.py names them; docs/languages.md says how to add one):
# each but English has its catalog in translations/, and a test fails on any string it lacks.
LANGUAGES = ("en", "ar", "de", "es", "fr", "ja", "ko", "pt", "ru", "th", "uk", "zh_Hans", "zh_Hant")


def load_config(instance: Path) -> dict[str, Any]:
    """Flask configuration from the environment, creating instance files on first run."""
    instance.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = os.environ
    https = _bool(env.get("WEBAUTH_HTTPS"), False)
    database_url = env.get("WEBAUTH_DATABASE_URL")
    if not database_url:
        database_url = f"sqlite:///{_private_file(instance / 'webauth.db')}"
    key_source = "environment"
    secret_key = env.get("WEBAUTH_SECRET_KEY")
    if not secret_key:
        secret_key, created = _read_or_create_secret(instance / "secret_key")
        key_source = "new file" if created else "file"
    return {
        "SECRET_KEY": secret_key,
        # Where the key came from, for `flask doctor`: "environment", "file" or "new file" (made just now).
        "WEBAUTH_SECRET_KEY_SOURCE": key_source,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "WEBAUTH_KEYS": env.get("WEBAUTH_KEYS"),
        "WEBAUTH_KEYRING_PATH": instance / "keyring.json",
        "RATELIMIT_STORAGE_URI": env.get("WEBAUTH_RATELIMIT_STORAGE_URL", "memory://"),
        "RATELIMIT_ENABLED": _bool(env.get("WEBAUTH_RATELIMIT_ENABLED"), True),
        # Sign-in attempts per address, and per (username, address): the limit that refuses.
        "WEBAUTH_LOGIN_RATE_LIMIT": env.get("WEBAUTH_LOGIN_RATE_LIMIT", "10 per minute; 50 per hour"),
        # Failed sign-ins per username from browsers that never signed in as that user: a short
        # window, so nobody can keep a user out for long (views/signin_limits.py).
        "WEBAUTH_LOGIN_USER_RATE_LIMIT": env.get("WEBAUTH_LOGIN_USER_RATE_LIMIT", "5 per minute"),
        # The REST API (docs/api.md): calls per token (or per address without a valid token), and
        # refused tokens per address.
        "WEBAUTH_API_RATE_LIMIT": env.get("WEBAUTH_API_RATE_LIMIT", "120 per minute; 3000 per hour"),
        "WEBAUTH_API_REFUSAL_RATE_LIMIT": env.get("WEBAUTH_API_REFUSAL_RATE_LIMIT", "20 per minute; 200 per hour"),
        # Share links (docs/share-links.md): code requests per address and per link, refused
        # tokens per address, links made per user, and how many links one user may have running.
        "WEBAUTH_SHARE_LINK_RATE_LIMIT": env.get("WEBAUTH_SHARE_LINK_RATE_LIMIT", "30 per minute; 600 per hour"),
        "WEBAUTH_SHARE_LINK_PER_LINK_RATE_LIMIT": env.get("WEBAUTH_SHARE_LINK_PER_LINK_RATE_LIMIT", "60 per minute"),
        "WEBAUTH_SHARE_LINK_REFUSAL_RATE_LIMIT": env.get(
            "WEBAUTH_SHARE_LINK_REFUSAL_RATE_LIMIT", "10 per minute; 50 per hour"
        ),
        "WEBAUTH_SHARE_LINK_CREATE_RATE_LIMIT": env.get("WEBAUTH_SHARE_LINK_CREATE_RATE_LIMIT", "20 per hour"),
        "WEBAUTH_SHARE_LINK_MAX_ACTIVE": _positive(
            _int("WEBAUTH_SHARE_LINK_MAX_ACTIVE", 10), "WEBAUTH_SHARE_LINK_MAX_ACTIVE"
        ),
        "WEBAUTH_HTTPS": https,
        "WEBAUTH_PROXY_HOPS": _int("WEBAUTH_PROXY_HOPS", 0),
        # The address people open (behind a proxy, the proxy's): passkeys are bound to its host
        # name (the relying party id) and to its origin. Empty: taken from each request (passkeys/relying_party.py).
        "WEBAUTH_PUBLIC_URL": _public_url(env.get("WEBAUTH_PUBLIC_URL", "")),
        # Single sign-on from the proxy (proxy_auth.py): off unless both are set. The header is
        # believed only from these immediate peers (the proxy's own address, not X-Forwarded-For).
        "WEBAUTH_TRUSTED_PROXIES": _networks("WEBAUTH_TRUSTED_PROXIES"),
        "WEBAUTH_REMOTE_USER_HEADER": env.get("WEBAUTH_REMOTE_USER_HEADER", "").strip(),
        # Whether a name the proxy vouches for, unknown here, becomes a new user (without a password).
        "WEBAUTH_REMOTE_USER_CREATE": _bool(env.get("WEBAUTH_REMOTE_USER_CREATE"), False),
        # Where "Sign out" sends a single sign-on session, to end it at the proxy too (optional).
        "WEBAUTH_REMOTE_USER_LOGOUT_URL": env.get("WEBAUTH_REMOTE_USER_LOGOUT_URL", "").strip(),
        # The default of the "session lifetime" setting (see settings.py); the settings page can change it.
        "WEBAUTH_SESSION_HOURS": _int("WEBAUTH_SESSION_HOURS", 24 * 14),
        # The cookie only carries the session token: the server-side record's expiry, from the setting,
        # decides when a session ends. The cookie may live as long as the longest lifetime allowed.
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=MAX_SESSION_HOURS),
        # So the cookie is sent again only when its contents change, not signed anew for every
        # request: the code list's clock asks every 20 to 30 s on every open page.
        "SESSION_REFRESH_EACH_REQUEST": False,
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
        "WEBAUTH_LANGUAGES": list(LANGUAGES),
        "WEBAUTH_REAUTH_SECONDS": _int("WEBAUTH_REAUTH_SECONDS", 300),
        # How many wrong PINs in a row wipe a device's offline copy (docs/offline-copy.md).
        "WEBAUTH_OFFLINE_PIN_ATTEMPTS": _int("WEBAUTH_OFFLINE_PIN_ATTEMPTS", 10),
        # Administration (docs/administration.md). Usernames that are administrators besides the local flag.
        # Open registration and the proxy's user creation never hand out these names (users.py).
        "WEBAUTH_ADMINS": _names("WEBAUTH_ADMINS"),
        "WEBAUTH_AUDIT_RETENTION_DAYS": _int("WEBAUTH_AUDIT_RETENTION_DAYS", 365),
        # /metrics wants this bearer token when set, and answers loopback only when not.
        "WEBAUTH_METRICS_TOKEN": env.get("WEBAUTH_METRICS_TOKEN") or None,
        # Defaults of the settings page's switches, until an administrator changes them there.
        "WEBAUTH_OPEN_REGISTRATION": _bool(env.get("WEBAUTH_OPEN_REGISTRATION"), False),
        "WEBAUTH_OFFLINE_ALLOWED": _bool(env.get("WEBAUTH_OFFLINE_ALLOWED"), True),
        "WEBAUTH_IDLE_LOCK_MINUTES": _int("WEBAUTH_IDLE_LOCK_MINUTES", 0),
        # Casdoor (docs/casdoor.md): sign-in with OpenID Connect and the sync of mfaAccounts.
        # Without a URL and a client id, Casdoor is off. PKCE is always used; the secret is optional.
        "WEBAUTH_CASDOOR_URL": env.get("WEBAUTH_CASDOOR_URL", "").strip().rstrip("/"),
        "WEBAUTH_CASDOOR_CLIENT_ID": env.get("WEBAUTH_CASDOOR_CLIENT_ID", "").strip(),
        "WEBAUTH_CASDOOR_CLIENT_SECRET": env.get("WEBAUTH_CASDOOR_CLIENT_SECRET", "").strip(),
        # Only users of this organization may sign in (empty: any user the application accepts).
        "WEBAUTH_CASDOOR_ORGANIZATION": env.get("WEBAUTH_CASDOOR_ORGANIZATION", "").strip(),
        # Organizations whose `isAdmin` (and whose `organization/name` entries in WEBAUTH_ADMINS)
        # make administrators here; empty: the organization above, or none (users.admin_organizations).
        "WEBAUTH_CASDOOR_ADMIN_ORGANIZATIONS": _names("WEBAUTH_CASDOOR_ADMIN_ORGANIZATIONS"),
        # Client ids whose access tokens a login link may sign in with; empty: a link only connects
        # a signed-in user who just entered their password (views/casdoor_connect.py).
        "WEBAUTH_CASDOOR_LINK_AUDIENCES": _names("WEBAUTH_CASDOOR_LINK_AUDIENCES"),
        # The Casdoor application's name, for the "create a Casdoor account" link.
        "WEBAUTH_CASDOOR_APPLICATION": env.get("WEBAUTH_CASDOOR_APPLICATION", "").strip(),
        # Written as `origin` into the entries this installation creates (default: derived from SECRET_KEY).
        "WEBAUTH_CASDOOR_ORIGIN": env.get("WEBAUTH_CASDOOR_ORIGIN", "").strip(),
        # Seconds to wait for one Casdoor answer; reads are tried three times with backoff.
        "WEBAUTH_CASDOOR_TIMEOUT": _int("WEBAUTH_CASDOOR_TIMEOUT", 10),
        # Seconds between syncs while the app is open and visible.
        "WEBAUTH_CASDOOR_SYNC_INTERVAL": _int("WEBAUTH_CASDOOR_SYNC_INTERVAL", 60),
        # 0 hides the username and password form when Casdoor is configured: Casdoor is then the only way in.
        "WEBAUTH_LOCAL_LOGIN": _bool(env.get("WEBAUTH_LOCAL_LOGIN"), True),
        # Scheduled backups (docs/backups.md): each user's folder of Aegis vaults, how many to keep,
        # and how often the timer (or cron) runs `flask backups run --all`, to tell users the next one.
        "WEBAUTH_BACKUP_DIR": Path(env.get("WEBAUTH_BACKUP_DIR") or instance / "backups").resolve(),
        "WEBAUTH_BACKUP_KEEP": _positive(_int("WEBAUTH_BACKUP_KEEP", 10), "WEBAUTH_BACKUP_KEEP"),
        "WEBAUTH_BACKUP_INTERVAL_HOURS": _positive(
            _int("WEBAUTH_BACKUP_INTERVAL_HOURS", 24), "WEBAUTH_BACKUP_INTERVAL_HOURS"
        ),
        # An instance-wide WebDAV target (Nextcloud-style): every user's backups also go there, one folder each.
        "WEBAUTH_BACKUP_WEBDAV_URL": env.get("WEBAUTH_BACKUP_WEBDAV_URL", "").strip(),
        "WEBAUTH_BACKUP_WEBDAV_USERNAME": env.get("WEBAUTH_BACKUP_WEBDAV_USERNAME", "").strip(),
        "WEBAUTH_BACKUP_WEBDAV_PASSWORD": env.get("WEBAUTH_BACKUP_WEBDAV_PASSWORD", ""),
        # Whether users may name a WebDAV folder of their own on the backups page (a request the server makes).
        "WEBAUTH_BACKUP_USER_WEBDAV": _bool(env.get("WEBAUTH_BACKUP_USER_WEBDAV"), False),
    }
