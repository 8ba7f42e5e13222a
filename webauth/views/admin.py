"""The admin console: users, their sessions and sign-ins, the audit log, the settings page.

Every route requires an administrator (403 otherwise). Lists are pages whose htmx requests
get the same partial the page includes; actions are plain forms that post, redirect and
flash, so the console works without JavaScript. The domain rules live in `webauth.admin`
and `webauth.settings`; nothing here reads a secret.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.exceptions import Forbidden
from werkzeug.exceptions import NotFound as HTTPNotFound
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField
from wtforms.validators import Optional

from webauth import admin, casdoor, offline, settings, tokens
from webauth.auth_session import current_session
from webauth.config import MAX_SESSION_HOURS
from webauth.extensions import db
from webauth.forms import ResetPasswordForm, at_most, between, input_required
from webauth.models import User
from webauth.passkeys import credentials as passkeys
from webauth.sharing import oversight
from webauth.users import UserError
from webauth.views.common import page_or_fragment, render_error

bp = Blueprint("admin", __name__, url_prefix="/admin")

SEARCH_MAX = 100


class AuditFilterForm(FlaskForm):
    """The audit log's filters: a GET form, so a filtered view is a link one can share."""

    class Meta:
        csrf = False

    user = StringField(_l("User"), validators=[Optional(), at_most(SEARCH_MAX)])
    event = SelectField(_l("Type"), validate_choice=False, validators=[Optional(), at_most(64)])
    since = DateField(_l("From (UTC)"), validators=[Optional()])
    until = DateField(_l("To (UTC)"), validators=[Optional()])


class DeleteUserForm(FlaskForm):
    confirmation = StringField(_l("Username"), validators=[input_required(), at_most(255)])


class SettingsForm(FlaskForm):
    local_signin = BooleanField(_l("Sign-in with a local password"))
    open_registration = BooleanField(_l("Open registration"))
    offline_allowed = BooleanField(_l("Offline copies"))
    session_hours = IntegerField(
        _l("Session lifetime (hours)"), validators=[input_required(), between(1, MAX_SESSION_HOURS)]
    )
    idle_lock_minutes = IntegerField(
        _l("Idle lock (minutes, 0 for off)"),
        validators=[input_required(), between(0, settings.MAX_IDLE_LOCK_MINUTES)],
    )


@bp.before_request
def require_admin():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not admin.is_admin(current_user):
        raise Forbidden()
    return None


@bp.app_template_global()
def current_user_is_admin() -> bool:
    return admin.is_admin(current_user)


def _user_or_404(user_id: int) -> User:
    try:
        return admin.get_user(user_id)
    except admin.NotFound:
        raise HTTPNotFound() from None


def _back_to(user: User):
    return redirect(url_for("admin.user", user_id=user.id))


# Users -------------------------------------------------------------------------------------


@bp.get("/")
def index():
    return redirect(url_for("admin.users"))


@bp.get("/users")
def users():
    search = request.args.get("q", "")[:SEARCH_MAX]
    page = admin.list_users(search, request.args.get("page", 1, type=int))
    return page_or_fragment(
        "admin/users.html", "admin/partials/users.html", search=search, page=page, sync=admin.sync_hooks() is not None
    )


@bp.get("/users/<int:user_id>")
def user(user_id: int):
    subject = _user_or_404(user_id)
    history = admin.signin_history(subject, request.args.get("page", 1, type=int))
    hooks = admin.sync_hooks()
    return page_or_fragment(
        "admin/user.html",
        "partials/signin_history.html",
        subject=subject,
        history=history,
        history_endpoint="admin.user",
        history_args={"user_id": subject.id},
        sessions=admin.active_sessions(subject),
        current_session_id=getattr(current_session(), "id", None),
        admin_role=admin.has_admin_role(subject),
        devices=offline.user_devices(subject),
        passkeys=passkeys.user_passkeys(subject),
        sync=hooks is not None,
        last_sync=hooks.last_results([subject.id]).get(subject.id) if hooks is not None else None,
        accounts=admin.account_count(subject),
        can_sync=admin.can_sync(subject),
        is_self=subject.id == current_user.id,
        tokens=tokens.tokens_of(subject),
        now=tokens.now(),
        share_links=oversight.running_links(subject),
        shares=oversight.shares_made(subject),
    )


@bp.post("/users/<int:user_id>/sessions/<int:session_id>/revoke")
def revoke_session(user_id: int, session_id: int):
    subject = _user_or_404(user_id)
    try:
        admin.revoke_session(subject, session_id, event="admin.session.revoke")
    except admin.NotFound:
        raise HTTPNotFound() from None
    db.session.commit()
    flash(_("The session is ended: its next request is signed out."), "success")
    return _back_to(subject)


@bp.post("/users/<int:user_id>/tokens/<int:token_id>/revoke")
def revoke_token(user_id: int, token_id: int):
    """Revoke one of the user's API tokens: the program using it is refused from its next call."""
    subject = _user_or_404(user_id)
    try:
        token = tokens.get(subject, token_id)
    except LookupError:
        raise HTTPNotFound() from None
    name = token.name
    tokens.revoke(subject, token, by="admin")
    db.session.commit()
    flash(_("Revoked the token %(name)s: programs using it are refused from now on.", name=name), "success")
    return _back_to(subject)


@bp.post("/users/<int:user_id>/sessions/revoke")
def revoke_sessions(user_id: int):
    """End all of the user's sessions (but the administrator's own current one)."""
    subject = _user_or_404(user_id)
    keep = getattr(current_session(), "id", None) if subject.id == current_user.id else None
    ended = admin.revoke_sessions(subject, event="admin.session.revoke_all", keep=keep)
    db.session.commit()
    flash(ngettext("Ended %(num)d session.", "Ended %(num)d sessions.", ended), "success")
    return _back_to(subject)


@bp.post("/users/<int:user_id>/devices/<device_uuid>/end")
def end_device(user_id: int, device_uuid: str):
    subject = _user_or_404(user_id)
    try:
        admin.end_offline_device(subject, device_uuid)
    except admin.NotFound:
        raise HTTPNotFound() from None
    db.session.commit()
    flash(_("The offline copy is ended: the device deletes it when it next goes online."), "success")
    return _back_to(subject)


@bp.post("/users/<int:user_id>/passkeys/<passkey_uuid>/remove")
def remove_passkey(user_id: int, passkey_uuid: str):
    """Remove a user's passkey (a lost device); their last one also turns "passkey only" off."""
    subject = _user_or_404(user_id)
    try:
        turned_off = passkeys.remove(subject, passkey_uuid, event="admin.passkey.remove")
    except passkeys.PasskeyError:
        raise HTTPNotFound() from None
    db.session.commit()
    flash(_("The passkey is removed: it can no longer sign %(name)s in.", name=subject.username), "success")
    if turned_off:
        flash(_("It was their last passkey, so their password signs them in again."), "info")
    return _back_to(subject)


def _set_disabled(user_id: int, disabled: bool):
    subject = _user_or_404(user_id)
    try:
        ended = admin.set_disabled(subject, disabled, current_user._get_current_object())
    except admin.AdminError as error:
        return render_error(409, error.message)
    db.session.commit()
    if disabled:
        flash(
            ngettext(
                "Disabled %(name)s and ended %(num)d session.",
                "Disabled %(name)s and ended %(num)d sessions.",
                ended,
                name=subject.username,
            ),
            "success",
        )
    else:
        flash(_("Enabled %(name)s: they can sign in again.", name=subject.username), "success")
    return _back_to(subject)


@bp.post("/users/<int:user_id>/disable")
def disable(user_id: int):
    return _set_disabled(user_id, True)


@bp.post("/users/<int:user_id>/enable")
def enable(user_id: int):
    return _set_disabled(user_id, False)


@bp.route("/users/<int:user_id>/delete", methods=["GET", "POST"])
def delete(user_id: int):
    """Deleting a user and their vault cannot be undone: the administrator types the username."""
    subject = _user_or_404(user_id)
    if subject.id == current_user.id:
        return render_error(409, _("You cannot delete your own account."))
    form = DeleteUserForm()
    status = 200
    if form.validate_on_submit():
        try:
            deleted = admin.delete_user(subject, form.confirmation.data, current_user._get_current_object())
        except admin.AdminError as error:
            form.confirmation.errors.append(error.message)
            status = 422
        else:
            db.session.commit()
            flash(
                ngettext(
                    "Deleted %(name)s and %(num)d account.",
                    "Deleted %(name)s and %(num)d accounts.",
                    deleted.accounts,
                    name=subject.username,
                ),
                "success",
            )
            if deleted.backups_pending:
                flash(_("Their remaining backups are removed at the next backup run."), "info")
            return redirect(url_for("admin.users"))
    elif form.errors:
        status = 422
    return render_template("admin/delete.html", subject=subject, form=form), status


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
def reset_password(user_id: int):
    """Give another user a password to hand over; they must change it at their next sign-in.

    Their sessions end at once. Administrators change their own password on their account
    page, with their current password; a Casdoor-only user's password lives in Casdoor.
    """
    subject = _user_or_404(user_id)
    if subject.id == current_user.id:
        return redirect(url_for("me.password"))
    if not admin.password_resettable(subject):
        return render_error(
            409,
            _("%(name)s signs in with Casdoor and has no password here: reset it in Casdoor.", name=subject.username),
        )
    form = ResetPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            ended = admin.reset_password(subject, form.password.data, current_user._get_current_object())
        except (UserError, admin.AdminError) as error:
            form.password.errors.append(error.message)
            status = 422
        else:
            db.session.commit()
            flash(
                ngettext(
                    "The password of %(name)s is reset and %(num)d session ended. "
                    "They must choose a new password when they next sign in.",
                    "The password of %(name)s is reset and %(num)d sessions ended. "
                    "They must choose a new password when they next sign in.",
                    ended,
                    name=subject.username,
                ),
                "success",
            )
            return _back_to(subject)
    elif form.errors:
        status = 422
    return render_template("admin/password.html", subject=subject, form=form), status


@bp.post("/users/<int:user_id>/sync")
def sync(user_id: int):
    subject = _user_or_404(user_id)
    try:
        result = admin.force_sync(subject)
    except admin.NotFound:
        raise HTTPNotFound() from None
    db.session.commit()
    if result.ok:
        flash(_("Synced %(name)s with Casdoor.", name=subject.username), "success")
    else:
        flash(_("The sync of %(name)s failed: %(reason)s", name=subject.username, reason=result.message), "error")
    return _back_to(subject)


# The audit log -----------------------------------------------------------------------------


def _audit_filters() -> tuple[AuditFilterForm, admin.AuditFilter | None]:
    """The filters from the query string, or None with the form's errors set."""
    form = AuditFilterForm(formdata=request.args)
    types = admin.event_types()
    families = sorted({name.split(".")[0] for name in types})
    choices = [("", _("All types"))]
    for family in families:
        choices.append((f"{family}.*", _("%(family)s: all", family=family)))
        choices.extend((name, name) for name in types if name.split(".")[0] == family)
    chosen = request.args.get("event", "")
    if chosen and chosen not in dict(choices):
        choices.append((chosen, chosen))
    form.event.choices = choices
    if not form.validate():
        return form, None
    try:
        filters = admin.AuditFilter(
            user=form.user.data or "", event=form.event.data or "", since=form.since.data, until=form.until.data
        )
    except admin.AdminError as error:
        getattr(form, error.field or "event").errors.append(error.message)
        return form, None
    return form, filters


@bp.get("/audit")
def audit():
    form, filters = _audit_filters()
    if filters is None:
        page = admin.AuditPage([], newer=False, older=False)
        status = 400
    else:
        page = admin.audit_page(
            filters, before=request.args.get("before", type=int), after=request.args.get("after", type=int)
        )
        status = 200
    response = page_or_fragment("admin/audit.html", "admin/partials/audit.html", form=form, page=page)
    response.status_code = status
    return response


@bp.get("/audit.csv")
def audit_csv():
    form, filters = _audit_filters()
    if filters is None:
        errors = [error for field_errors in form.errors.values() for error in field_errors]
        return render_error(400, " ".join(errors))
    admin.record_export(filters, "csv download")
    db.session.commit()  # the export is audited before the stream starts: a stream cannot roll back
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(
        stream_with_context(admin.audit_csv(filters)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="webauth-audit-{stamp}.csv"'},
    )


# Settings ----------------------------------------------------------------------------------


@bp.route("/settings", methods=["GET", "POST"])
def settings_page():
    form = SettingsForm() if request.method == "POST" else SettingsForm(data=settings.all_settings())
    status = 200
    if form.validate_on_submit():
        values = {name: form[name].data for name in settings.SPECS}
        if not casdoor.enabled():
            # The switch is greyed out: without Casdoor the password form is the only way in.
            del values["local_signin"]
        try:
            changes = settings.update_settings(values)
        except settings.SettingError as error:
            form[error.name].errors.append(error.message)
            status = 422
        else:
            db.session.commit()
            flash(_("Settings saved.") if changes else _("Nothing changed."), "success")
            return redirect(url_for("admin.settings_page"))
    elif form.errors:
        status = 422
    return render_template("admin/settings.html", form=form), status
