"""Connecting a user who signs in here to a Casdoor account, and Casdoor's login links.

Connecting sends the whole vault into a Casdoor account, so it is guarded at each step:

1. It starts from a POST with a CSRF token (`start`), by a user who entered their password in
   the last WEBAUTH_REAUTH_SECONDS; a link from another site cannot start it.
2. The Casdoor account that comes back (from Casdoor's sign-in page, or from a login link)
   is only offered (casdoor/connect.py): the confirmation page names it, owner/name and
   display name, and nothing is linked, stored or pushed until the user confirms there.
3. Confirming spends the password entry: the session that results must enter the password
   again before secrets leave the server.

A login link (`casdoor-authenticator://login?serverUrl=...&accessToken=...`, from the QR code
on Casdoor's account page) holds a token of the user's own Casdoor application, not one issued
to this app; any application on the same Casdoor holds tokens that look alike. So a link never
counts as a password entry, and by default it only connects (or renews the tokens of) a
signed-in user who just entered their password. Signing in with a link, which creates a
session from the token alone, needs the operator to name the applications whose tokens are
accepted: WEBAUTH_CASDOOR_LINK_AUDIENCES, checked against the token's `aud` and `azp`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import TextAreaField
from wtforms.validators import Optional

from webauth import audit, users
from webauth.auth_session import current_session, reauth_required, recently_authenticated
from webauth.casdoor import connect, oidc
from webauth.casdoor import sync as casdoor_sync
from webauth.casdoor.client import CasdoorError
from webauth.casdoor.oidc import Identity, SignInError, Tokens
from webauth.extensions import db, limiter
from webauth.forms import at_most
from webauth.keys import keyring
from webauth.listing import ListQuery
from webauth.models import User
from webauth.vault import Vault
from webauth.views.casdoor import (
    MANUAL_WAIT_SECONDS,
    check_organization,
    login_limit,
    offer_connection,
    refuse,
    require_casdoor,
    signed_in,
    user_for,
)
from webauth.views.common import render_error

bp = Blueprint("casdoor_connect", __name__)

MAX_LINK_LENGTH = 8192


class LoginLinkForm(FlaskForm):
    link = TextAreaField(_l("Login link"), validators=[Optional(), at_most(MAX_LINK_LENGTH)])
    image = FileField(_l("Or a picture of its QR code"))


def link_sign_in_allowed() -> bool:
    """Whether a login link may start a session here (the operator named the accepted audiences)."""
    return bool(current_app.config["WEBAUTH_CASDOOR_LINK_AUDIENCES"])


bp.add_app_template_global(link_sign_in_allowed, "casdoor_link_sign_in")


def _no_store(response):
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response


# Connecting ----------------------------------------------------------------------------------


@bp.route("/auth/casdoor/connect", methods=["GET", "POST"])
@login_required
@reauth_required
def start():
    """The page that says what connecting does (GET), and the way to Casdoor's sign-in page (POST)."""
    require_casdoor()
    if current_user.oidc_subject is not None:
        flash(_("Your account here is connected to Casdoor already."), "info")
        return redirect(url_for("codes.index"))
    if request.method == "POST":
        try:
            return oidc.begin(
                url_for("casdoor.callback", _external=True),
                next_url=url_for("codes.index"),
                mode="connect",
                user_id=current_user.id,
            )
        except SignInError as error:
            return refuse(error)
    user = db.session.get(User, current_user.id)
    count = Vault(user, keyring()).count(ListQuery())
    return render_template("casdoor/connect.html", count=count)


@bp.route("/auth/casdoor/connect/<offer_uuid>", methods=["GET", "POST"])
@login_required
def confirm(offer_uuid: str):
    """Which Casdoor account will receive the accounts; connecting (or not) only from here, by POST."""
    require_casdoor()
    record = current_session()
    made = connect.find(current_user.id, record, offer_uuid) if record is not None else None
    if made is None:
        return render_error(
            404, _("This connection has expired or was started elsewhere. Start again from your code list.")
        )
    user = db.session.get(User, current_user.id)
    vault = Vault(user, keyring())
    if request.method == "GET":
        page = render_template("casdoor/connect_confirm.html", offer=made, count=vault.count(ListQuery()))
        return _no_store(page)
    if request.form.get("action") == "cancel":
        connect.withdraw(made)
        audit.record("casdoor.connect_cancel", user=user, details={"casdoor": made.casdoor_id})
        db.session.commit()
        flash(_("Nothing was connected."), "info")
        return redirect(url_for("codes.index"))
    try:
        casdoor_id = connect.accept(vault, made, record)
    except users.UserError:
        db.session.rollback()
        return render_error(409, _("This Casdoor account is already linked to another user here."))
    db.session.commit()
    report = casdoor_sync.sync_user(user, casdoor_sync.Trigger.MANUAL, force=True, wait=MANUAL_WAIT_SECONDS)
    if report.error is not None:
        flash(_("Connected to %(account)s, but the sync failed: %(reason)s", account=casdoor_id, reason=report.message),
              "error")
    else:
        flash(_("Connected to the Casdoor account %(account)s.", account=casdoor_id), "success")
    return redirect(url_for("codes.index"))


# Login links ---------------------------------------------------------------------------------


@bp.route("/auth/casdoor/link", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"])
def link():
    """Paste the `casdoor-authenticator://login?...` link, or upload a picture of its QR code.

    Signed in: connects this user (after a recent password entry), or renews the tokens of
    the Casdoor account already connected. Signed out: signs in only when the operator named
    the accepted audiences; otherwise says how to connect instead, before calling Casdoor.
    """
    require_casdoor()
    if current_user.is_authenticated and not recently_authenticated():
        return redirect(url_for("auth.reauth", next=url_for("casdoor_connect.link")))
    form = LoginLinkForm()
    if not current_user.is_authenticated and not link_sign_in_allowed():
        if request.method == "POST":
            audit.record("signin.failure", details={"method": "casdoor-link", "reason": "link-sign-in-off"})
            db.session.commit()
        return render_template("casdoor/link.html", form=form), 403 if request.method == "POST" else 200
    status = 200
    if form.validate_on_submit():
        identity = None
        try:
            parsed = oidc.parse_login_link(_link_text(form))
            _check_server(parsed.server_url)
            identity, tokens = _verify_link_token(parsed.access_token)
            check_organization(identity)
            if current_user.is_authenticated:
                return _connect_by_link(identity, tokens)
            user = user_for(identity)
        except SignInError as error:
            name = identity.casdoor_id if identity is not None else ""
            audit.record(
                "signin.failure", username=name[:255], details={"method": "casdoor-link", "reason": error.reason}
            )
            db.session.commit()
            form.link.errors = [*form.link.errors, error.message]
            status = error.status
        else:
            # A link is no password entry: the session starts without a recent re-authentication.
            return signed_in(
                user, identity, tokens, "casdoor-link", request.args.get("next") or "", reauthenticated_at=None
            )
    elif form.errors:
        status = 422
    return render_template("casdoor/link.html", form=form), status


def _check_server(server_url: str) -> None:
    configured = oidc.origin_of(current_app.config["WEBAUTH_CASDOOR_URL"])
    if oidc.origin_of(server_url) != configured:
        raise SignInError(
            _(
                "This login link is for another Casdoor server (%(server)s); this app uses %(ours)s.",
                server=oidc.origin_of(server_url)[:200],
                ours=configured,
            ),
            "link-server",
            400,
        )


def _connect_by_link(identity: Identity, tokens: Tokens):
    """A signed-in user's link: offered for connecting, or fresh tokens for the account already connected."""
    if current_user.oidc_subject is None:
        return offer_connection(identity, tokens, source="link")
    if (current_user.oidc_issuer, current_user.oidc_subject) != (identity.issuer, identity.subject):
        raise SignInError(
            _("Your account here is connected to another Casdoor user than this link's %(account)s.",
              account=identity.casdoor_id),
            "link-other-user",
            409,
        )
    user = db.session.get(User, current_user.id)
    casdoor_sync.connect(user, Vault(user, keyring()), identity.casdoor_id, tokens)
    audit.record("casdoor.tokens_renewed", user=user, details={"source": "link"})
    db.session.commit()
    flash(_("The sync with Casdoor works again, until this link's token expires."), "success")
    return redirect(url_for("codes.index"))


def _link_text(form: LoginLinkForm) -> str:
    """The pasted link, or the text of the QR code in the uploaded picture."""
    if form.link.data and form.link.data.strip():
        return form.link.data
    upload = form.image.data
    if not upload:
        raise SignInError(_("Paste the login link, or choose a picture of its QR code."), "link-missing", 422)
    from webauth.transfer.base import TransferError
    from webauth.transfer.qr_image import decode_qr_texts

    try:
        texts = decode_qr_texts(upload.read())
    except TransferError as error:
        raise SignInError(str(error), "link-image", 422) from None
    for text in texts:
        if text.lower().startswith(oidc.LOGIN_LINK_SCHEME + "://"):
            return text
    raise SignInError(_("The picture holds no Casdoor login link."), "link-image", 422)


def _verify_link_token(token: str) -> tuple[Identity, Tokens]:
    """Check the token here (signature, issuer, expiry; its audience when it would sign in), then with Casdoor.

    The audience check comes before any call to Casdoor, so a token of an application that
    is not accepted is refused without being replayed anywhere.
    """
    claims = oidc.verify_access_token(token)
    if not current_user.is_authenticated:
        accepted = current_app.config["WEBAUTH_CASDOOR_LINK_AUDIENCES"]
        parties = oidc.token_parties(claims)
        if not parties or not parties <= accepted:
            shown = ", ".join(sorted(parties - accepted))[:200] or "?"
            raise SignInError(
                _(
                    "This login link was issued to another application (%(client)s), whose tokens cannot sign in "
                    "here. Sign in first, then connect the link from your code list.",
                    client=shown,
                ),
                "link-audience",
                403,
            )
    try:
        with casdoor_sync.make_client() as client:
            info = client.userinfo(token)
            account = client.get_account(token)
    except CasdoorError as error:
        raise SignInError(
            _("Casdoor did not accept this login link: %(reason)s", reason=error.message), "link-token", 400
        ) from None
    expected_issuer = oidc.issuer()
    if info.get("iss") not in (None, expected_issuer):
        raise SignInError(
            _("The login link was issued by another server than the configured Casdoor."), "link-iss", 400
        )
    subject, owner, name = info.get("sub"), account.get("owner"), account.get("name")
    if not subject or claims.get("sub") != subject or account.get("id") != subject:
        raise SignInError(_("Casdoor's answers about this login link do not agree."), "link-subject", 400)
    if not all(isinstance(value, str) and value for value in (owner, name)):
        raise SignInError(_("Casdoor's answer does not say who signed in."), "claims-missing", 502)
    identity = Identity(
        issuer=expected_issuer,
        subject=str(subject),
        owner=owner,
        name=name,
        display_name=str(account.get("displayName") or name),
        is_admin=account.get("isAdmin") is True,
    )
    expires = claims.get("exp")
    if not isinstance(expires, int | float):
        raise SignInError(_("The access token in this login link is not valid."), "link-exp", 400)
    # A login link carries no refresh token: the sync works until the access token expires.
    return identity, Tokens(token, None, datetime.fromtimestamp(expires, UTC))
