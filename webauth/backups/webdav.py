"""The WebDAV target (Nextcloud, ownCloud, Apache mod_dav, any RFC 4918 server): upload, list, prune.

A backup is uploaded under a temporary name and then MOVEd to its own, so the folder never
shows a half-uploaded backup. Every failure becomes a `WebDavError` with a kind the status page
puts in words; the password goes in the Authorization header only, never in a URL, a message
or a log line.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, unquote, urljoin, urlsplit

import requests
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as ET

from webauth.backups.files import is_backup_name, name_key, stamp_of

TIMEOUT = 30
# A PROPFIND answer for a folder of backups is small; a bigger one is refused, not read.
MAX_LISTING_BYTES = 2 * 1024 * 1024
_DAV = "{DAV:}"
# A temporary upload (`upload` names it so), never taken for a backup.
_PART = re.compile(r"\.webauth-backup-.*\.part")


class WebDavError(Exception):
    """A WebDAV request failed: `kind` is webdav-auth, webdav-unreachable or webdav-refused."""

    def __init__(self, kind: str, status: int | None = None) -> None:
        super().__init__(f"{kind} (HTTP {status})" if status else kind)
        self.kind = kind
        self.status = status


@dataclass(frozen=True)
class WebDavTarget:
    """A WebDAV folder (`url` ends with a slash) and the credentials that open it."""

    url: str
    username: str
    password: str = field(repr=False)
    # Make the folder before the first upload (a user's folder on the instance-wide target).
    make: bool = False

    def _request(self, method: str, url: str, **kwargs) -> requests.Response:
        auth = (self.username, self.password) if self.username or self.password else None
        try:
            response = requests.request(method, url, auth=auth, timeout=TIMEOUT, allow_redirects=False, **kwargs)
        except requests.RequestException:
            raise WebDavError("webdav-unreachable") from None
        if response.status_code in (401, 403):
            raise WebDavError("webdav-auth", response.status_code)
        return response

    def _check(self, response: requests.Response, *ok: int) -> None:
        if response.status_code not in ok:
            raise WebDavError("webdav-refused", response.status_code)

    def folder_for(self, name: str) -> WebDavTarget:
        """The target's sub-folder `name` (a user's folder on the instance-wide target)."""
        return WebDavTarget(urljoin(self.url, quote(name) + "/"), self.username, self.password, make=True)

    def _make_folder(self) -> None:
        response = self._request("MKCOL", self.url)
        # 201: made; 405 when it exists already (some servers answer otherwise): PROPFIND tells.
        if response.status_code != 201:
            self._check(self._request("PROPFIND", self.url, headers={"Depth": "0"}), 207)

    def upload(self, name: str, data: bytes) -> None:
        """Put `data` in the folder as `name`: under a temporary name first, then moved into place."""
        if self.make:
            self._make_folder()
        temp = urljoin(self.url, quote(f".{name}.{secrets.token_hex(4)}.part"))
        final = urljoin(self.url, quote(name))
        self._check(self._request("PUT", temp, data=data, headers={"Content-Type": "application/json"}), 200, 201, 204)
        moved = self._request("MOVE", temp, headers={"Destination": final, "Overwrite": "T"})
        if moved.status_code not in (201, 204):
            self._request("DELETE", temp)
            raise WebDavError("webdav-refused", moved.status_code)

    def entries(self, max_bytes: int = MAX_LISTING_BYTES) -> list[tuple[str, bool]]:
        """The folder's members (not the folder itself): (name, is a folder), in no set order.

        A folder that is not there has none; a listing over `max_bytes` is refused, not read.
        """
        body = b"<?xml version='1.0'?><propfind xmlns='DAV:'><prop><resourcetype/></prop></propfind>"
        response = self._request(
            "PROPFIND", self.url, data=body, headers={"Depth": "1", "Content-Type": "application/xml"}, stream=True
        )
        if response.status_code == 404:
            response.close()
            return []
        self._check(response, 207)
        raw = response.raw.read(max_bytes + 1, decode_content=True)
        response.close()
        if len(raw) > max_bytes:
            raise WebDavError("webdav-refused", 207)
        try:
            tree = ET.fromstring(raw)
        except (ET.ParseError, DefusedXmlException):
            raise WebDavError("webdav-refused", 207) from None
        own = unquote(urlsplit(self.url).path).rstrip("/")
        found: dict[str, bool] = {}
        for item in tree.iter(f"{_DAV}response"):
            href = item.find(f"{_DAV}href")
            text = href.text if href is not None else None
            path = unquote(urlsplit(text or "").path).rstrip("/")
            if not path or path == own:
                continue
            name = path.rsplit("/", 1)[-1]
            found[name] = item.find(f".//{_DAV}resourcetype/{_DAV}collection") is not None
        return list(found.items())

    def holds_backups(self) -> bool:
        """Whether the folder holds anything the app puts there: a backup, or a temporary upload."""
        return any(
            not is_folder and (is_backup_name(name) or _PART.fullmatch(name)) for name, is_folder in self.entries()
        )

    def backups(self) -> list[str]:
        """The names of the backups in the folder, oldest first."""
        names = {name for name, is_folder in self.entries() if not is_folder and is_backup_name(name)}
        return sorted(names, key=name_key)

    def prune(self, keep: int) -> list[str]:
        names = self.backups()
        doomed = names[: max(0, len(names) - keep)]
        for name in doomed:
            self._check(self._request("DELETE", urljoin(self.url, quote(name))), 200, 204, 404)
        return doomed

    def remove_backups(self, up_to: datetime | None = None) -> int:
        """Delete the backups in this folder, and the folder once it holds nothing else; returns how
        many backups went. A folder that is not there is fine.

        Only what the app puts there goes: backups, and with the whole folder the temporary
        uploads of an interrupted run. With `up_to`, only the backups made up to that time (the
        folder belongs to a newer plan). Only for a folder the app made for one user on the
        instance-wide target, never a user's own.
        """
        limit = stamp_of(up_to) if up_to is not None else None
        removed, others = 0, 0
        for name, is_folder in self.entries():
            if is_folder:
                others += 1
            elif is_backup_name(name) and (limit is None or name_key(name)[0] <= limit):
                self._check(self._request("DELETE", urljoin(self.url, quote(name))), 200, 204, 404)
                removed += 1
            elif limit is None and _PART.fullmatch(name):
                self._check(self._request("DELETE", urljoin(self.url, quote(name))), 200, 204, 404)
            else:
                others += 1
        if limit is None and not others:
            self._check(self._request("DELETE", self.url), 200, 204, 404)
        return removed

    def download(self, name: str) -> bytes:
        response = self._request("GET", urljoin(self.url, quote(name)))
        self._check(response, 200)
        return response.content
