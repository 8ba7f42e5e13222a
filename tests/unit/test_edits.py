"""What an edit page changed, and what a refused save shows again (webauth/edits.py)."""

from __future__ import annotations

from webauth import edits

BASE = {
    "issuer": "GitHub", "name": "alice", "note": "line one\nline two", "favorite": False, "type": "hotp",
    "algorithm": "SHA1", "digits": 6, "period": 30, "counter": 5, "groups": ["Work", "Home"], "icon": "auto",
}


def test_only_what_the_person_changed_counts_as_changed():
    submitted = {**BASE, "note": "line one\r\nline two ", "groups": ["home", "work"], "issuer": "GitHub "}
    assert edits.changed(BASE, submitted) == set()  # as a browser sends the same values back
    assert edits.changed(BASE, {**BASE, "note": "new", "counter": 7}) == {"note", "counter"}


def test_a_refused_save_keeps_the_persons_changes_and_shows_the_others():
    current = {**BASE, "counter": 8, "issuer": "GitHub Inc", "name": "bob"}
    submitted = {**BASE, "note": "mine", "name": "carol", "counter": 5}
    merged, elsewhere = edits.merge(BASE, current, submitted)
    assert merged == {**current, "note": "mine"}  # name collided: the current value shows
    assert [(c.field, c.now, c.yours, c.collides) for c in elsewhere] == [
        ("issuer", "GitHub Inc", None, False),
        ("name", "bob", "carol", True),
        ("counter", 8, None, False),
    ]


def test_the_same_change_on_both_sides_is_no_collision():
    current = {**BASE, "issuer": "Same"}
    merged, elsewhere = edits.merge(BASE, current, {**BASE, "issuer": "Same"})
    assert merged["issuer"] == "Same" and [c.collides for c in elsewhere] == [False]


def test_values_sent_back_are_read_only_in_the_shape_written():
    assert edits.decode(edits.encode(BASE)) == BASE
    for broken in (None, "", "[]", '{"issuer": "x"}', "not json"):
        assert edits.decode(broken) is None
