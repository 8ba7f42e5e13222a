"""The caller owns the transaction: domain steps join it, so a caller can keep two or none.

tests/test_architecture.py checks the source for commits outside views and commands; this
shows what that buys, on a real database: a caller that does two domain steps and then rolls
back (a later step failed) is left with neither, audit events included.
"""

from __future__ import annotations

from sqlalchemy import func, select

from webauth import admin, settings, users
from webauth.extensions import db
from webauth.models import AuditEvent, SessionRecord, User


def test_two_domain_steps_roll_back_together(app, make_user) -> None:
    alice, bob = make_user("alice", admin=True), make_user("bob")
    with app.test_request_context():
        actor, subject = db.session.get(User, alice.id), db.session.get(User, bob.id)
        users.start_session(subject, "password", settings.session_lifetime(), reauthenticated_at=None)
        db.session.commit()
        events = db.session.scalar(select(func.count(AuditEvent.id)))

        assert admin.set_disabled(subject, True, actor) == 1
        settings.update_settings({"idle_lock_minutes": 5})
        db.session.rollback()  # the caller changes its mind: neither step happened

        assert db.session.get(User, bob.id).disabled is False
        assert settings.all_settings()["idle_lock_minutes"] != 5
        assert db.session.scalar(select(func.count(SessionRecord.id)).where(SessionRecord.revoked_at.is_(None))) == 1
        assert db.session.scalar(select(func.count(AuditEvent.id))) == events

        admin.set_disabled(db.session.get(User, bob.id), True, actor)
        settings.update_settings({"idle_lock_minutes": 5})
        db.session.commit()  # now both, in one transaction
        assert db.session.get(User, bob.id).disabled is True
        assert settings.all_settings()["idle_lock_minutes"] == 5
        assert db.session.scalar(select(func.count(AuditEvent.id))) == events + 2
