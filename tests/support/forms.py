"""A page's form as a browser would send it: every field with the value the page shows.

An edit form posts back every field, also those left alone; tests that change one field
start from what the page shows, as a person does.
"""

from __future__ import annotations

from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.inside = found.get("action") == self.action
        if not self.inside:
            return
        name = found.get("name")
        if tag == "input" and name and found.get("type") not in ("file", "submit"):
            if found.get("type") in ("checkbox", "radio") and "checked" not in found:
                return
            self.fields.append((name, found.get("value", "on" if found.get("type") == "checkbox" else "")))
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in found:
            self.fields.append((self._select, found.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            text = "".join(self._text).replace("\r\n", "\n")
            self.fields.append((self._textarea, text.removeprefix("\n")))  # as browsers read it
            self._textarea = None


def form_fields(html: str, action: str) -> dict[str, str | list[str]]:
    """The fields of the form posting to `action`, as the page fills them (several values: a list)."""
    reader = _FormReader(action)
    reader.feed(html)
    fields: dict[str, str | list[str]] = {}
    for name, value in reader.fields:
        if name in fields:
            previous = fields[name]
            fields[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[name] = value
    return fields
