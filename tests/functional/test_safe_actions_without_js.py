"""Safe actions without JavaScript, and the answers the browser's scripts build on: deleting
asks first, the reveal lands at the top of the page, "Confirm it is you" can be left out of
the history, review tables say what each cell is."""

from __future__ import annotations

import re

from tests.conftest import TEST_PASSWORD, csrf_from, post_form
from tests.functional.test_accounts import age_reauth
from tests.support.accounts import HTMX, OTHER, add, events, link, stored


def test_the_lists_trash_button_asks_first(app, signed_in):
    uuid = add(app, link("GitHub", "alice"))
    page = signed_in.get("/").get_data(as_text=True)
    row = page[page.index(f'id="account-{uuid}"') :]
    row = row[: row.index("</li>")]
    # No button of the row deletes by itself: the trash button leads to the question.
    assert "/delete" not in "".join(re.findall(r'formaction="([^"]+)"', row))
    question_url = re.search(r'<a class="delete" href="([^"]+)"', row).group(1)
    assert question_url == f"/accounts/{uuid}/delete"
    assert 'id="delete-dialog"' in page  # and the same question as a dialog, for the script

    question = signed_in.get(question_url)
    html = question.get_data(as_text=True)
    assert question.status_code == 200 and "Move GitHub to the trash?" in html
    assert f'href="/#account-{uuid}"' in html  # Cancel goes back to the row
    assert stored(app) == [("GitHub", "alice")] and events(app, "account.delete") == []  # asking deletes nothing

    response = signed_in.post(question_url, data={"csrf_token": csrf_from(html)})
    assert response.status_code == 302 and response.headers["Location"] == f"/?undo={uuid}"
    assert stored(app) == [] and len(events(app, "account.delete")) == 1
    after = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    opening = r'<div class="snackbar" id="snackbar" role="status" aria-live="polite"[^>]*>'
    snackbar = re.search(opening + r"(.*?)</div>", after, re.S).group(1)
    assert "Moved GitHub to the trash." in snackbar and f'formaction="/accounts/{uuid}/restore"' in snackbar


def test_the_question_is_for_ones_own_accounts_only(app, signed_in, make_user):
    make_user("bob")
    uuid = add(app, link("Bank", "bob"), username="bob")
    assert signed_in.get(f"/accounts/{uuid}/delete").status_code == 404


def test_the_delete_answer_to_htmx_carries_the_snackbar(app, signed_in):
    uuid = add(app, link("GitHub", "alice"))
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    html = signed_in.post(f"/accounts/{uuid}/delete", data={"csrf_token": token}, headers=HTMX).get_data(as_text=True)
    assert 'class="snackbar"' in html and "Undo" in html


def test_what_is_revealed_comes_first_on_the_page(app, signed_in):
    uuid = add(app, link("Bank", "carol", OTHER))
    html = signed_in.get(f"/accounts/{uuid}/reveal/secret").get_data(as_text=True)
    main = html[html.index('<main id="main"') :]
    assert main.index('data-testid="secret"') < main.index("<h1")
    assert 'id="revealed" tabindex="-1" data-focus-on-load' in main


def test_confirm_it_is_you_answers_a_script_with_where_to_go(app, signed_in):
    uuid = add(app, link("Bank", "carol", OTHER))
    age_reauth(app)
    target = f"/accounts/{uuid}/reveal/secret"
    page = f"/reauth?next={target}"
    json_headers = {"Accept": "application/json"}
    wrong = post_form(signed_in, page, page, {"password": "wrong"}, headers=json_headers)
    assert wrong.status_code == 401 and "data-replace-on-success" in wrong.get_data(as_text=True)
    right = post_form(signed_in, page, page, {"password": TEST_PASSWORD}, headers=json_headers)
    assert right.status_code == 200 and right.get_json() == {"location": target}
    assert "Cache-Control" in right.headers and "no-store" in right.headers["Cache-Control"]
    # Never anywhere but this site, as for the plain post's redirect.
    away = post_form(signed_in, page, "/reauth?next=https://evil.example/", {"password": TEST_PASSWORD},
                     headers=json_headers)
    assert away.get_json() == {"location": "/"}
    plain = post_form(signed_in, page, page, {"password": TEST_PASSWORD})
    assert plain.status_code == 303 and plain.headers["Location"] == target


def test_back_from_a_reveal_without_a_script_skips_confirm_it_is_you(app, signed_in):
    """The history a browser without JavaScript builds: the account's page, "Confirm it is you",
    then (the POST answered by a 303, so no form entry and no re-post) the revealed secret. Back
    from the secret fetches the form's address again, which now sends on to the account's page."""
    uuid = add(app, link("Bank", "carol", OTHER))
    account_page = f"http://localhost/accounts/{uuid}"
    age_reauth(app)
    asked = signed_in.get(f"/accounts/{uuid}/reveal/secret", headers={"Referer": account_page})
    assert asked.status_code == 302
    confirm = asked.headers["Location"]
    assert confirm == f"/reauth?next=/accounts/{uuid}/reveal/secret&back=/accounts/{uuid}"
    form = signed_in.get(confirm)
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and "Confirm it is you" in html
    assert f'action="/reauth?next=/accounts/{uuid}/reveal/secret&amp;back=/accounts/{uuid}"' in html
    assert f'href="/accounts/{uuid}">Cancel</a>' in html
    # Back to the form before confirming: the form again, not the account (nothing confirmed yet).
    assert signed_in.get(confirm).status_code == 200

    sent = signed_in.post(confirm, data={"csrf_token": csrf_from(html), "password": TEST_PASSWORD})
    assert sent.status_code == 303 and sent.headers["Location"] == f"/accounts/{uuid}/reveal/secret"
    revealed = signed_in.get(sent.headers["Location"])
    assert revealed.status_code == 200 and 'data-testid="secret"' in revealed.get_data(as_text=True)
    assert revealed.headers["Cache-Control"] == "no-store"
    assert OTHER not in sent.headers["Location"] and OTHER not in confirm  # never a secret in an address

    back = signed_in.get(confirm)  # what Back from the secret asks for
    assert back.status_code == 303 and back.headers["Location"] == f"/accounts/{uuid}"
    assert "no-store" in back.headers["Cache-Control"]


def test_back_after_confirming_stays_on_this_site(app, signed_in):
    """`back` is read as `next` is: a path of this site only; another site's Referer is dropped."""
    uuid = add(app, link("Bank", "carol", OTHER))
    age_reauth(app)
    asked = signed_in.get(f"/accounts/{uuid}/reveal/qr", headers={"Referer": "https://evil.example/accounts"})
    assert asked.headers["Location"] == f"/reauth?next=/accounts/{uuid}/reveal/qr"
    page = "/reauth?next=/&back=https://evil.example/"
    assert post_form(signed_in, page, page, {"password": TEST_PASSWORD}).status_code == 303
    assert signed_in.get(page).headers["Location"] == "/"


def test_review_tables_label_every_cell_for_the_phone_layout(app, signed_in):
    text = "\n".join([link("Amazon Web Services", "a-very-long-name-for-the-root-account@example.com"),
                      link("微信", "张伟", OTHER), "otpauth://totp/Broken?secret=not-base32!"])
    html = post_form(signed_in, "/accounts/new", "/accounts/new/uri", {"uri-uri": text, "uri-origin": "link"}
                     ).get_data(as_text=True)
    table = html[html.index("<table") : html.index("</table>")]
    assert "review-table" in table
    cells = re.findall(r"<td([^>]*)>", table)
    assert cells and all("data-label=" in cell for cell in cells)
    assert 'data-label="Status"' in table
