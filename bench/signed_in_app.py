"""The app as `wsgi.py` serves it, plus the reference the list's clock is measured against.

The reference is the app's cheapest signed-in request: the session checked and the user loaded
(one statement for both, and the settings a session's lifetime and idle lock come from), then
an empty answer. It runs in the same processes as the clock, so whatever gunicorn, Flask and
the app's hooks cost per request is in both figures, and the ratio is the cost of the clock's
own work: the vault's signature, the shown rows' secrets, the codes and their digits.

(`/manifest.json` is no such reference: it is public and reads nothing from the database,
not even the session.) The route exists only here, in the benchmark's copy of the app.
"""

from __future__ import annotations

from flask_login import login_required

from webauth import create_app

app = create_app()


@app.get("/bench/signed-in")
@login_required
def signed_in() -> tuple[str, int]:
    return "", 204
