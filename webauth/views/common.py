"""What every view shares: the signed-in user's vault, the page-or-fragment answer, error pages,
and the one check of a `next` address.

One helper per concern, so a rule fixed here holds on every page:

- `page_or_fragment`: a page and the partial it includes come from the same templates; htmx
  gets the partial, any other request (a boosted one too: `HX-Boosted` navigates) the page,
  and the answer always says it depends on `HX-Request` (`Vary`), for any cache in between.
- `render_error`: the error page, or its fragment for htmx, with the same rule; under /api/,
  RFC 9457 problem details instead (views/api/problems.py).
- `safe_next`: where a `next` parameter may send the browser: a path of this site, nothing else.
- `json_response`, `json_problem`: the JSON answers scripts call for (the offline copy, passkeys),
  never cached; a problem names its `error` for the script to act on, and says why in words.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

from flask import g, jsonify, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Response

from webauth.keys import keyring
from webauth.sharing.received import Received
from webauth.transfer.limits import MAX_IMPORT_BYTES
from webauth.vault import Vault
from webauth.views.api.problems import API_MESSAGES, is_api_request, problem

ERROR_MESSAGES = {
    400: _l("The request could not be understood."),
    401: _l("Please sign in."),
    403: _l("You are not allowed to do that."),
    404: _l("There is nothing here."),
    405: _l("That action is not available here."),
    409: _l("That conflicts with what is already there."),
    413: _l("The upload is too large: a file may be at most %(mb)d MB.", mb=MAX_IMPORT_BYTES // 2**20),
    422: _l("Some input is not valid."),
    429: _l("Too many attempts. Wait a little and try again."),
}

# C0 controls and DEL: browsers drop tabs and newlines inside a URL, so `/\t/evil.example`
# would reach them as `//evil.example`; and a CR or LF cannot go into a header at all.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def current_vault() -> Vault:
    """The signed-in user's vault for this request (its data key is unwrapped once)."""
    if "vault" not in g:
        # The user itself, not the proxy: a vault reads `user.id` for every secret it opens.
        g.vault = Vault(current_user._get_current_object(), keyring())
    return g.vault


def current_received() -> Received:
    """The accounts others share with the signed-in user, for this request (codes, never secrets)."""
    if "received" not in g:
        g.received = Received(current_user._get_current_object(), keyring())
    return g.received


def wants_fragment() -> bool:
    """htmx swapping part of a page; a boosted request (`HX-Boosted`) navigates, so it wants the page."""
    return bool(request.htmx) and not request.htmx.boosted


def page_or_fragment(page_template: str | None, fragment_template: str, /, status: int = 200, **context) -> Response:
    """The whole page, or for htmx the fragment that the page itself includes; `context` goes to either.

    `page_template` is None for a route only htmx asks for (its view redirects a plain request first).
    """
    template = fragment_template if page_template is None or wants_fragment() else page_template
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def render_error(status: int, message: str | None = None, headers: dict[str, str] | None = None) -> Response:
    """The error page or fragment; under /api/ the same error as RFC 9457 problem details.

    `headers` go on the answer when they matter to a client (a 405's Allow), for the API only:
    pages say it in words.
    """
    if is_api_request():
        text = message or str(API_MESSAGES.get(status) or ERROR_MESSAGES.get(status) or _("Something went wrong."))
        return problem(status, text, headers=headers)
    text = message or str(ERROR_MESSAGES.get(status, _("Something went wrong.")))
    return page_or_fragment("error.html", "partials/error.html", status, error_status=status, message=text)


def json_response(payload: dict, status: int = 200) -> Response:
    response = jsonify(payload)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def json_problem(status: int, code: str, message: str, **extra) -> Response:
    """An error a script acts on by `error`, with the message to show."""
    return json_response({"error": code, "message": message, **extra}, status)


def safe_next(target: str | None) -> str:
    """Where `next` may send the browser: a path of this site (with its query), else the code list.

    Control characters are dropped first (as browsers drop them), then the address is parsed:
    no scheme, no host, a path from the root that does not start with two slashes once decoded
    (`//`, `/%2F`), and no backslash anywhere (browsers read `/\\` as `//`).
    """
    fallback = url_for("codes.index")
    cleaned = _CONTROL_CHARACTERS.sub("", target or "")
    if "\\" in cleaned or "\\" in unquote(cleaned):
        return fallback
    parts = urlsplit(cleaned)
    path = unquote(parts.path)
    if parts.scheme or parts.netloc or not path.startswith("/") or path.startswith("//"):
        return fallback
    # Percent-encoded, so that any path (`/中文`, a space) fits a Location header.
    return iri_to_uri(urlunsplit(("", "", parts.path, parts.query, parts.fragment)))


def group_code(code: str | None) -> str:
    """Digits in groups that are easy to read aloud: 123 456, 1234 5678, 123 4567."""
    if not code or not code.isdigit() or len(code) < 6:
        return code or ""
    split = len(code) // 2
    return f"{code[:split]} {code[split:]}"


def otp_type_label(otp_type: str) -> str:
    """What a type is called on the pages (`type` as the vault stores it)."""
    labels = {
        "totp": _("Time-based (TOTP)"),
        "hotp": _("Counter-based (HOTP)"),
        "steam": "Steam",
        "motp": _("mOTP (Mobile-OTP)"),
        "yandex": _("Yandex Key"),
    }
    return labels.get(otp_type, otp_type)
