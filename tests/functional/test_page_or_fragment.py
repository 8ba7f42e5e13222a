"""One rule for every page that htmx also asks for (views/common.py `page_or_fragment`): htmx
gets the fragment the page includes, any other request (a boosted one too, which navigates)
the whole page, and the answer always varies on `HX-Request`, error pages included."""

from __future__ import annotations

import pytest

PAGES = ["/", "/me/", "/admin/users", "/admin/audit", "/accounts/no-such-account", "/nothing-here"]
PLAIN: dict[str, str] = {}
HTMX = {"HX-Request": "true"}
BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}


def is_page(html: str) -> bool:
    return html.lstrip().lower().startswith("<!doctype html>")


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize(("headers", "whole"), [(PLAIN, True), (HTMX, False), (BOOSTED, True)],
                         ids=["plain", "htmx", "boosted"])
def test_a_page_or_its_fragment_and_always_vary(signed_in, path, headers, whole):
    response = signed_in.get(path, headers=headers)
    assert is_page(response.get_data(as_text=True)) is whole
    assert "HX-Request" in response.headers.get("Vary", "")


def test_an_error_fragment_keeps_its_status(signed_in):
    response = signed_in.get("/accounts/no-such-account", headers=HTMX)
    assert response.status_code == 404
    assert "There is nothing here." in response.get_data(as_text=True)
