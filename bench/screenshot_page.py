"""Screenshot one page of a built site in Debian's Chromium (the browser tests' set-up): the site is
served from its folder on a local port, nothing else is fetched, graphs are given time to draw.

    python bench/screenshot_page.py SITE_DIR PAGE OUT.png [--width 1400] [--dark] [--full]
                                    [--until CSS_SELECTOR]

PAGE is a path inside the site (`mechanisms/prefix-cache/`). --until cuts the shot at the bottom of
the first element the selector finds (the page from its top down to it), so a long page can be
shown without its folded source at the end. Prints the PNG's size."""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from helpers import start_server  # noqa: E402  (the browser tests' local server)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def shoot(site: Path, page_path: str, out: Path, width: int = 1400, dark: bool = False,
          full: bool = False, until: str | None = None) -> list[str]:
    """Write the screenshot; return the console errors and outside requests seen (should be none)."""
    from playwright.sync_api import sync_playwright

    server, base = start_server(site)
    problems: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            ctx = browser.new_context(viewport={"width": width, "height": 1000})
            if dark:
                ctx.add_init_script("localStorage.setItem('/.__palette', JSON.stringify("
                                    "{index: 1, color: {scheme: 'slate', primary: 'indigo', accent: 'indigo'}}))")
            page = ctx.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("request", lambda r: problems.append(f"outside request {r.url}")
                    if not r.url.startswith((base, "data:", "blob:")) else None)
            page.goto(f"{base}/{page_path.lstrip('/')}", wait_until="networkidle")
            page.wait_for_timeout(1500)                     # Mermaid graphs draw after load
            out.parent.mkdir(parents=True, exist_ok=True)
            if until:
                box = page.locator(until).first.bounding_box()
                scroll = page.evaluate("window.scrollY")
                bottom = box["y"] + scroll + box["height"] + 16
                page.screenshot(path=str(out), full_page=True,
                                clip={"x": 0, "y": 0, "width": width, "height": bottom})
            else:
                page.screenshot(path=str(out), full_page=full)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("site", type=Path)
    ap.add_argument("page")
    ap.add_argument("out", type=Path)
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--dark", action="store_true")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--until")
    a = ap.parse_args()
    problems = shoot(a.site, a.page, a.out, a.width, a.dark, a.full, a.until)
    print(f"{a.out}: {a.out.stat().st_size:,} bytes")
    for line in problems:
        print("problem:", line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
