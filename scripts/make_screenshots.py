"""Photograph today's pages: the docs' screenshots (docs/screenshots/) and the web app manifest's
(static/screenshots/). The PNGs are committed; run again after changing how a page looks:

    make screenshots        # or: .venv/bin/python -m scripts.make_screenshots

They are real: the app runs on a temporary database with made-up accounts (scripts/demo_app.py),
and Chromium photographs the first screen of each main page (the code list, adding an account,
import and export, an account's page, the user's own page, administration) on a phone
(390x844, touch) and a desktop (1280x800), light and dark. The manifest's two (Chrome's richer
install dialog: `narrow` on phones, `wide` on desktops) are the code list, light. Every PNG is
reduced to a palette, which the app's flat colours survive, to keep it small.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, sync_playwright

from scripts.demo_app import CHROMIUM, CHROMIUM_ARGS, demo_app, sign_in

ROOT = Path(__file__).resolve().parents[1]
MANIFEST_OUT = ROOT / "static" / "screenshots"
DOCS_OUT = ROOT / "docs" / "screenshots"
MANIFEST = ROOT / "manifest.json"

# name: (viewport width, height, device pixel ratio, form factor)
MANIFEST_SHOTS = {
    "codes-narrow.png": (400, 860, 1.5, "narrow"),
    "codes-wide.png": (1280, 800, 1, "wide"),
}
# The docs' screens: name: (width, height, touch)
SCREENS = {"phone": (390, 844, True), "desktop": (1280, 800, False)}
THEMES = ("light", "dark")


def _pages(page: Page) -> dict[str, str]:
    """The main pages, by name: their paths in the demo app (an account's page: the first row's)."""
    page.goto("/")
    first = page.locator("#codes .account").first.get_attribute("id").removeprefix("account-")
    return {
        "codes": "/",
        "add": "/accounts/new",
        "import-export": "/transfer/",
        "account": f"/accounts/{first}",
        "me": "/me/",
        "admin": "/admin/users",
    }


def small_png(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        palette = image.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
        out = io.BytesIO()
        palette.save(out, format="PNG", optimize=True)
        return out.getvalue()


def _context(browser, base_url: str, width: int, height: int, scale: float, touch: bool, theme: str):
    return browser.new_context(
        base_url=base_url,
        viewport={"width": width, "height": height},
        device_scale_factor=scale,
        has_touch=touch,
        is_mobile=touch,
        locale="en-US",
        color_scheme=theme,
        reduced_motion="reduce",
    )


def _shoot(page: Page, path: str, target: Path) -> None:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    target.write_bytes(small_png(page.screenshot()))


def main() -> None:
    MANIFEST_OUT.mkdir(parents=True, exist_ok=True)
    DOCS_OUT.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with demo_app() as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for name, (width, height, scale, form) in MANIFEST_SHOTS.items():
            context = _context(browser, base_url, width, height, scale, form == "narrow", "light")
            page = context.new_page()
            sign_in(page, base_url)
            _shoot(page, "/", MANIFEST_OUT / name)
            written.append(MANIFEST_OUT / name)
            context.close()
        for screen, (width, height, touch) in SCREENS.items():
            for theme in THEMES:
                context = _context(browser, base_url, width, height, 1, touch, theme)
                page = context.new_page()
                sign_in(page, base_url)
                for page_name, path in _pages(page).items():
                    target = DOCS_OUT / f"{page_name}-{screen}-{theme}.png"
                    _shoot(page, path, target)
                    written.append(target)
                context.close()
        browser.close()
    manifest = json.loads(MANIFEST.read_text())
    for entry in manifest.get("screenshots", []):
        width, height, scale, form = MANIFEST_SHOTS[Path(entry["src"]).name]
        assert entry["sizes"] == f"{round(width * scale)}x{round(height * scale)}", entry
        assert entry["form_factor"] == form, entry
    for path in written:
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
