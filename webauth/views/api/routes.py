"""The endpoints of /api/v1: accounts and their codes, the token in use, the contract and its page.

Every change goes through the token user's `Vault` and is committed here, as a page does:
the same duplicate rule, trash, revisions and audit events, and the same Casdoor sync after
the response (casdoor/triggers.py notes the committed account events of any request).
Accounts others share with the token's user are in the list, code only, with `shared_by`
(`SharedView.as_row`): never their secret, note or groups, and no other endpoint reaches them.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from webauth import clock
from webauth.extensions import csrf, db
from webauth.listing import MAX_SEARCH_LENGTH, CodeView, ListQuery
from webauth.models import Account
from webauth.otp import OtpType
from webauth.sharing.received import SHARED_GROUP
from webauth.vault import DuplicateAccount, StaleRevision
from webauth.views.api import bodies, openapi
from webauth.views.api.guard import current_token, init_blueprint, writes
from webauth.views.api.problems import problem
from webauth.views.common import current_received, current_vault

bp = Blueprint("api", __name__, url_prefix="/api/v1")
init_blueprint(bp)
# No cookie is read under /api/ (auth_session.CookielessSessions): a cross-site request carries
# nothing the API honours, so there is nothing for a CSRF token to protect.
csrf.exempt(bp)


@bp.errorhandler(bodies.BodyError)
def _body_error(error: bodies.BodyError) -> Response:
    extensions = {"errors": error.errors} if error.errors else {}
    return problem(error.status, error.detail, **extensions)


def _account(view: CodeView) -> dict[str, Any]:
    """An account as the API gives it: with its code, an HOTP account's too; never its secret."""
    return view.as_row(hotp_code=True)


def _code(view: CodeView) -> dict[str, Any]:
    row = {key: value for key, value in _account(view).items() if key in ("code", "period", "remaining", "counter")}
    return {"id": view.account.uuid, **row}


def _view_of(account: Account) -> CodeView:
    return current_vault().codes([account], at=clock.now())[0]


def _duplicate(error: DuplicateAccount) -> Response:
    label = error.existing.issuer or error.existing.name
    detail = _("This account is already in your vault (%(label)s).", label=label)
    return problem(409, detail, existing=error.existing.uuid)


# Reading ---------------------------------------------------------------------------------------


@bp.get("/accounts")
def list_accounts():
    text, group = request.args.get("q", ""), request.args.get("group", "")
    if len(text) > MAX_SEARCH_LENGTH or len(group) > MAX_SEARCH_LENGTH:
        name = "q" if len(text) > MAX_SEARCH_LENGTH else "group"
        detail = _("This parameter must be at most %(limit)s characters long.", limit=MAX_SEARCH_LENGTH)
        return problem(422, _("Some input is not valid."), errors=[{"pointer": f"?{name}", "detail": detail}])
    vault, query, now = current_vault(), ListQuery(text=text, group=group), clock.now()
    views = [] if group == SHARED_GROUP else vault.codes(vault.accounts(query), at=now)
    shared = current_received().views(query, at=now)
    return jsonify([*(_account(view) for view in views), *(view.as_row() for view in shared)])


def _with_etag(account: Account) -> Response:
    """The account as JSON, with its revision as `ETag` for a later `If-Match`."""
    response = jsonify(_account(_view_of(account)))
    response.set_etag(str(account.revision))
    return response


def _if_match() -> int | None:
    """The revision `If-Match` names: None without the header, -1 for one that names no revision."""
    if "If-Match" not in request.headers or request.if_match.star_tag:
        return None
    tags = request.if_match.as_set()
    return int(next(iter(tags))) if len(tags) == 1 and next(iter(tags)).isdigit() else -1


@bp.get("/accounts/<id>")
def get_account(id: str):
    return _with_etag(current_vault().get(id))


@bp.get("/accounts/<id>/code")
def get_code(id: str):
    vault = current_vault()
    view = _view_of(vault.get(id))
    vault.mark_used(id)
    db.session.commit()
    return jsonify(_code(view))


@bp.get("/token")
def get_token():
    token = current_token()
    return jsonify(
        {
            "name": token.name,
            "scope": token.scope,
            "user": current_vault().user.username,
            "created_at": token.created_at.isoformat(),
            "expires_at": token.expires_at.isoformat(),
        }
    )


# Changing --------------------------------------------------------------------------------------


@bp.post("/accounts")
@writes
def add_account():
    spec = bodies.new_account(bodies.read_object())
    try:
        with bodies.as_field_error():  # an mOTP or Yandex account without its PIN, say
            account = current_vault().add(spec, source="api")
    except DuplicateAccount as error:
        return _duplicate(error)
    db.session.commit()
    response = _with_etag(account)
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_account", id=account.uuid)
    return response


@bp.patch("/accounts/<id>")
@writes
def change_account(id: str):
    vault = current_vault()
    account = vault.get(id)
    body = bodies.read_object()
    spec = bodies.changed_account(vault.spec(account), body)
    groups = spec.groups if "groups" in body else None
    try:
        account = vault.update(id, spec, source="api", groups=groups, revision=_if_match())
    except DuplicateAccount as error:
        return _duplicate(error)
    except StaleRevision as error:
        detail = _("The account changed since you read it (it is at revision %(revision)d now): read it again, "
                   "then change it.", revision=error.account.revision)
        db.session.rollback()
        return problem(412, detail)
    db.session.commit()
    return _with_etag(account)


@bp.delete("/accounts/<id>")
@writes
def delete_account(id: str):
    current_vault().delete(id, source="api")
    db.session.commit()
    return "", 204


@bp.post("/accounts/<id>/next")
@writes
def next_code(id: str):
    vault = current_vault()
    if vault.get(id).type != OtpType.HOTP.value:
        return problem(409, _("Only HOTP accounts have a next code; this one is time-based."))
    account = vault.advance_hotp(id)
    # This request's counter, read before the commit: afterwards the row may already hold another's.
    answer = _code(_view_of(account))
    vault.mark_used(id)
    db.session.commit()
    return jsonify(answer)


# The contract ----------------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(openapi.document())


@bp.get("/docs")
def reference():
    """The document as a page to read: server-rendered, no script, under the strict CSP."""
    return render_template("api/reference.html", doc=openapi.document())
