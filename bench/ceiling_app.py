"""The ceiling: a bare Flask endpoint, served by gunicorn with the product's settings.

It does no I/O and renders nothing, so its requests per second are what gunicorn and Flask
alone can answer on this machine; the codes fragment is measured as a share of it.
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "ok"
