"""The backups page: the backup password, a WebDAV folder, how the scheduled backups went, and
"Download the latest backup" (webauth/backups/, docs/backups.md).

Seeing the status needs a signed-in user; setting a password or a target, backing up now and
downloading need a recent password entry, like every export. Plain forms that redirect; with
htmx, "Back up now" swaps the status card alone.
"""

from __future__ import annotations

import io

from flask import Blueprint, current_app, flash, redirect, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.exceptions import NotFound
from wtforms import PasswordField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional

from webauth import audit
from webauth.auth_session import reauth_required
from webauth.backups import plan as backup_plan
from webauth.backups import removal
from webauth.backups.run import BackupSettings, backup_user
from webauth.backups.status import latest_backup, status_of
from webauth.extensions import db, limiter
from webauth.forms import at_most, required
from webauth.keys import keyring
from webauth.models import utcnow
from webauth.views.common import current_vault, page_or_fragment, render_error, wants_fragment
from webauth.views.transfer import BackupPasswordForm

bp = Blueprint("backups", __name__, url_prefix="/backups")

ACTION_LIMIT = "10 per minute; 60 per hour"


class WebDavForm(FlaskForm):
    url = StringField(_l("Folder address"), validators=[required(), at_most(backup_plan.MAX_URL)])
    username = StringField(_l("User name"), validators=[Optional(), at_most(255)])
    password = PasswordField(_l("Password or app password"), validators=[Optional(), at_most(1024)])


class StopForm(FlaskForm):
    """Stop the backups; what happens to the files written so far is the user's explicit choice."""

    files = RadioField(
        _l("The backups made so far"),
        choices=[
            SelectChoice("keep", _l("Keep them: the latest stays downloadable here, and I can resume later")),
            SelectChoice("delete", _l("Delete them from this server and its WebDAV storage, and forget the "
                                      "backup password")),
        ],
        validators=[InputRequired(_l("Choose whether to keep or delete the backups made so far."))],
    )


def _user_key() -> str:
    return f"backups-user:{current_user.get_id()}"


def _settings() -> BackupSettings:
    return BackupSettings.from_config(current_app.config)


def _page(
    password_form: BackupPasswordForm | None = None,
    webdav_form: WebDavForm | None = None,
    stop_form: StopForm | None = None,
    status: int = 200,
):
    user = current_vault().user
    backup_status = status_of(user, _settings())
    if webdav_form is None:
        webdav_form = WebDavForm(formdata=None, url=backup_status.webdav_url, username=backup_status.webdav_username)
    response = page_or_fragment(
        "backups/index.html",
        "backups/status.html",
        status,
        backup=backup_status,
        password_form=password_form or BackupPasswordForm(formdata=None),
        webdav_form=webdav_form,
        stop_form=stop_form or StopForm(formdata=None),
        min_password=backup_plan.MIN_PASSWORD,
        user_webdav=current_app.config["WEBAUTH_BACKUP_USER_WEBDAV"],
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
@login_required
def index():
    return _page()


@bp.post("/password")
@login_required
@reauth_required
@limiter.limit(ACTION_LIMIT, key_func=_user_key)
def password():
    form = BackupPasswordForm()
    if not form.validate_on_submit():
        return _page(password_form=form, status=422)
    try:
        backup_plan.set_password(current_vault(), form.password.data)
    except backup_plan.PlanError as error:
        form.password.errors = [str(error)]
        return _page(password_form=form, status=422)
    db.session.commit()
    flash(_("Your backup password is set: the next scheduled backup opens with it."), "success")
    return redirect(url_for("backups.index"), 303)


@bp.post("/webdav")
@login_required
@reauth_required
@limiter.limit(ACTION_LIMIT, key_func=_user_key)
def webdav():
    if not current_app.config["WEBAUTH_BACKUP_USER_WEBDAV"]:
        raise NotFound()
    vault = current_vault()
    plan = backup_plan.plan_of(vault.user)
    if plan is None:
        return render_error(409, _("Set a backup password first."))
    form = WebDavForm()
    if not form.validate_on_submit():
        return _page(webdav_form=form, status=422)
    try:
        backup_plan.set_webdav(vault, plan, form.url.data, form.username.data or "", form.password.data or None)
    except backup_plan.PlanError as error:
        form.url.errors = [str(error)]
        return _page(webdav_form=form, status=422)
    db.session.commit()
    flash(_("Your backups will also go to this WebDAV folder."), "success")
    return redirect(url_for("backups.index"), 303)


@bp.post("/webdav/remove")
@login_required
@reauth_required
def remove_webdav():
    vault = current_vault()
    plan = backup_plan.plan_of(vault.user)
    if plan is not None and plan.webdav_url:
        backup_plan.clear_webdav(vault, plan)
        db.session.commit()
    flash(_("Your backups no longer go to WebDAV."), "info")
    return redirect(url_for("backups.index"), 303)


@bp.post("/stop")
@login_required
@reauth_required
@limiter.limit(ACTION_LIMIT, key_func=_user_key)
def stop():
    """Stop the scheduled backups, keeping or deleting the files written so far, as the user chose."""
    vault = current_vault()
    plan = backup_plan.plan_of(vault.user)
    if plan is None:
        return render_error(409, _("Your backups are not on: there is nothing to stop."))
    form = StopForm()
    if not form.validate_on_submit():
        return _page(stop_form=form, status=422)
    if form.files.data == "keep":
        backup_plan.stop_keeping_files(vault, plan)
        db.session.commit()
        flash(_("Your backups are stopped. The backups made so far are kept."), "info")
        return redirect(url_for("backups.index"), 303)
    settings = _settings()
    found = removal.stop_and_delete(vault.user, settings)
    db.session.commit()
    if found is not None and removal.remove_local_now(found, settings):
        flash(_("Your backups are stopped and the backups made so far are deleted."), "info")
    else:
        flash(_("Your backups are stopped. The backups made so far are being deleted: the last of them "
                "go at the next backup run."), "info")
    return redirect(url_for("backups.index"), 303)


@bp.post("/resume")
@login_required
@reauth_required
@limiter.limit(ACTION_LIMIT, key_func=_user_key)
def resume():
    vault = current_vault()
    plan = backup_plan.plan_of(vault.user)
    if plan is None:
        return render_error(409, _("Set a backup password first."))
    backup_plan.resume(vault, plan)
    db.session.commit()
    flash(_("Your backups are on again: the next scheduled run backs up your vault."), "success")
    return redirect(url_for("backups.index"), 303)


@bp.post("/run")
@login_required
@reauth_required
@limiter.limit(ACTION_LIMIT, key_func=_user_key)
def run_now():
    """Back up now rather than at the next scheduled run (nothing is written when nothing changed)."""
    vault = current_vault()
    plan = backup_plan.plan_of(vault.user)
    if plan is None:
        return render_error(409, _("Set a backup password first."))
    if plan.stopped_at is not None:
        return render_error(409, _("Your backups are stopped: resume them first."))
    outcome = backup_user(vault.user, keyring(), _settings(), utcnow())
    db.session.commit()
    if outcome.result == "unchanged":
        flash(_("Nothing changed since the last backup: it is up to date."), "info")
    elif outcome.error is None:
        flash(ngettext("Backed up %(num)d account.", "Backed up %(num)d accounts.", outcome.accounts), "success")
    # htmx swaps the status card (its flash included); a plain form comes back to the page.
    return _page() if wants_fragment() else redirect(url_for("backups.index"), 303)


@bp.post("/latest")
@login_required
@reauth_required
@limiter.limit(ACTION_LIMIT, key_func=_user_key)
def download_latest():
    user = current_vault().user
    path = latest_backup(user, _settings())
    if path is None:
        return render_error(404, _("There is no backup yet."))
    data = path.read_bytes()
    audit.record("backup.download", user=user, details={"file": path.name, "bytes": len(data)})
    db.session.commit()
    response = send_file(
        io.BytesIO(data),
        mimetype="application/json",
        as_attachment=True,
        download_name=path.name,
        etag=False,
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
