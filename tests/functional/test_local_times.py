"""Times on the pages: each one an instant in UTC, named so, that the browser rewrites in its own zone.

The server cannot know the reader's time zone, so every page writes `<time datetime="...+00:00"
data-local-time>Mar 14, 2026 3:09 PM UTC</time>` (in the page's language) through one macro;
static/js/local-time.js shows it local (tests/e2e/test_account_browser.py), and without JavaScript
the UTC text says what it is.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import update

from tests.support.accounts import add, link, vault
from webauth.extensions import db
from webauth.models import Account, AuditEvent, User

MOMENT = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
TIME = '<time datetime="2026-03-14T15:09:26+00:00" data-local-time>Mar 14, 2026 3:09\u202fPM UTC</time>'
ANY_TIME = re.compile(r"<time\b[^>]*>")
UTC_TIME = re.compile(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00" data-local-time>[^<]+ UTC</time>')


def _at_the_moment(app) -> None:
    with app.app_context():
        for column in (Account.created_at, Account.updated_at, Account.last_used_at):
            db.session.execute(update(Account).values({column: MOMENT}))
        db.session.execute(update(Account).where(Account.deleted_at.is_not(None)).values(deleted_at=MOMENT))
        db.session.execute(update(AuditEvent).values(at=MOMENT))
        db.session.commit()


def test_every_page_with_times_writes_utc_instants_for_the_browser(app, signed_in):
    shown = add(app, link("GitHub", "alice"))
    trashed = add(app, link("GitLab", "alice", "GEZDGNBVGY3TQOJQ"))
    with app.app_context():
        vault(app).delete(trashed)
        db.session.commit()
    _at_the_moment(app)
    pages = {f"/accounts/{shown}": TIME, "/accounts/trash": TIME, "/admin/audit": TIME}
    pages |= {"/me/": None, "/admin/users": None}
    for page, time in pages.items():
        html = signed_in.get(page).get_data(as_text=True)
        assert (time in html) if time else UTC_TIME.search(html), page  # sessions: this one, started now
        # Every time on the page goes through the macro: none is left in the server's zone, unnamed.
        assert all("data-local-time" in tag for tag in ANY_TIME.findall(html)), page


def test_the_utc_text_is_written_in_the_pages_language(app, signed_in):
    """Dates by locale: the text the browser starts from (and a reader without JavaScript keeps)."""
    shown = add(app, link("GitHub", "alice"))
    _at_the_moment(app)
    written = {
        "de": "14.03.2026 15:09 UTC",
        "ja": "2026/03/14 15:09 UTC",
        "zh_Hans": "2026年3月14日 15:09 UTC",
        "ar": "14\u200f/03\u200f/2026 3:09 م UTC",
    }
    for locale, text in written.items():
        with app.app_context():
            db.session.execute(update(User).values(locale=locale))
            db.session.commit()
        html = signed_in.get(f"/accounts/{shown}").get_data(as_text=True)
        assert f'data-local-time>{text}</time>' in html, locale
