"""Render the web app manifest's screenshots into static/screenshots/ (the PNGs are committed).

Chrome shows them in its richer install dialog: `narrow` on phones, `wide` on desktops. They
are real: the app runs on a temporary database with made-up accounts (scripts/demo_app.py),
and Chromium photographs the code list. The PNGs are reduced to a palette, which the app's
flat colours survive, to keep them small. Run from the repository root:

    .venv/bin/python -m scripts.make_screenshots
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

from scripts.demo_app import CHROMIUM, CHROMIUM_ARGS, demo_app, sign_in

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "static" / "screenshots"
MANIFEST = ROOT / "manifest.json"

# name: (viewport width, height, device pixel ratio, form factor)
SHOTS = {
    "codes-narrow.png": (400, 860, 1.5, "narrow"),
    "codes-wide.png": (1280, 800, 1, "wide"),
}


def _small_png(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        palette = image.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
        out = io.BytesIO()
        palette.save(out, format="PNG", optimize=True)
        return out.getvalue()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with demo_app() as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for name, (width, height, scale, _form) in SHOTS.items():
            context = browser.new_context(
                viewport={"width": width, "height": height},
                device_scale_factor=scale,
                locale="en-US",
                color_scheme="light",
                reduced_motion="reduce",
            )
            page = context.new_page()
            sign_in(page, base_url)
            (OUT / name).write_bytes(_small_png(page.screenshot()))
            context.close()
        browser.close()
    manifest = json.loads(MANIFEST.read_text())
    for entry in manifest.get("screenshots", []):
        width, height, scale, form = SHOTS[Path(entry["src"]).name]
        assert entry["sizes"] == f"{round(width * scale)}x{round(height * scale)}", entry
        assert entry["form_factor"] == form, entry
    for name in SHOTS:
        print(f"{OUT / name}: {(OUT / name).stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
