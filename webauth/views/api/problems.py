"""RFC 9457 problem details: every error the API answers, in one shape.

`render_error` (views/common.py) hands any error under /api/ here, so a 404 of an unknown
path, a 405, a 413 from the body limit or a 429 from the limiter read the same as the
API's own refusals: `application/problem+json` with `type`, `title`, `status` and `detail`,
and extension members where they help a client (`errors` for each field at fault).
"""

from __future__ import annotations

import json
import math
import time
from http import HTTPStatus
from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from webauth.auth_session import COOKIELESS_PREFIX
from webauth.extensions import limiter
from webauth.views.api.bodies import MAX_BODY_BYTES

MEDIA_TYPE = "application/problem+json"
# RFC 6750: which authentication a client should retry with.
REALM = 'Bearer realm="webauth"'
# Where the API's words differ from the pages' (views/common.py's ERROR_MESSAGES).
API_MESSAGES = {
    404: _l("There is nothing here: see /api/v1/openapi.json for what there is."),
    405: _l("This method is not allowed here: the Allow header says which are."),
    413: _l("The body is too large: at most %(kb)d KB.", kb=MAX_BODY_BYTES // 1024),
    500: _l("Something went wrong on the server. Nothing was changed."),
}


def is_api_request() -> bool:
    """A request for the API (known route or not): its errors are problem details, never pages."""
    return request.path.startswith(COOKIELESS_PREFIX)


def problem(status: int, detail: str, *, headers: dict[str, str] | None = None, **extensions: Any) -> Response:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    body.update(extensions)
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401 and "WWW-Authenticate" not in response.headers:
        response.headers["WWW-Authenticate"] = REALM
    if status == 429 and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = str(retry_after())
    return response


def retry_after() -> int:
    """Whole seconds until the limit that refused this request lets one through again (at least 1)."""
    limit = limiter.current_limit
    if limit is None:
        return 60
    return max(1, math.ceil(limit.reset_at - time.time()))
