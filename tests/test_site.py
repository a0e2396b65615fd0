"""The documentation site: built from the real vLLM index, driven in headless Chromium, links
checked, nothing loaded from the network, and hostile upstream text rendered inert."""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
from helpers import serve_folder

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = REPO / "bench" / "out" / "screenshots"
MKDOCS = [sys.executable, "-m", "mkdocs"]


def mkdocs_build(out: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", **(env or {})}
    return subprocess.run(MKDOCS + ["build", "-q", "-d", str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True)


def build_mini_site(tmp_path: Path, notes: Path) -> Path:
    """The mini fixture fetched into a private INFERNAV_HOME (pins in tmp_path) and a site built over
    it with the notes folder `notes`; returns the built site's folder."""
    from conftest import FIXTURES

    from infernav.analyzer import sources

    src = tmp_path / "mini"
    shutil.copytree(FIXTURES / "mini", src)
    (tmp_path / "pins.toml").write_text(PINS)
    env = {"INFERNAV_HOME": str(tmp_path / "home"), "INFERNAV_PINS": str(tmp_path / "pins.toml"),
           "INFERNAV_NOTES": str(notes)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        sources.fetch(sources.parse_ref("mini"), path=str(src))
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    out = tmp_path / "public"
    r = mkdocs_build(out, env)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def built_site(vllm_index, tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "public"
    env = {k: v for k, v in os.environ.items() if k not in ("INFERNAV_PINS", "INFERNAV_NOTES")}
    r = subprocess.run(MKDOCS + ["build", "-q", "-d", str(out)], cwd=REPO, capture_output=True, text=True,
                       env={**env, "NO_MKDOCS_2_WARNING": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    return out


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str]] = []   # (tag, url)

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if v and (k == "href" or k == "src"):
                self.links.append((tag, v))


def _pages(site: Path):
    return sorted(site.rglob("*.html"))


def test_internal_links_resolve_and_nothing_loads_from_the_network(built_site):
    broken, external_assets, checked = [], [], 0
    for page in _pages(built_site):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        base = "/" + page.relative_to(built_site).as_posix()
        for tag, url in parser.links:
            scheme = urlparse(url).scheme
            if scheme in ("http", "https"):
                if tag in ("script", "link", "img", "iframe"):
                    external_assets.append((page.name, url))
                continue
            if scheme in ("mailto", "data", "javascript") or url.startswith("#"):
                continue
            target = unquote(urlparse(urljoin(base, url)).path)
            p = built_site / target.lstrip("/")
            checked += 1
            if not (p.is_file() or (p / "index.html").is_file()):
                broken.append((page.relative_to(built_site).as_posix(), url))
    assert checked > 5000
    assert broken == [], broken[:20]
    assert external_assets == [], external_assets[:10]
    assert (built_site / "assets/vendor/mermaid.min.js").stat().st_size > 100_000


def test_generated_pages_exist(built_site):
    assert (built_site / "mechanisms/prefix-cache/index.html").is_file()
    assert (built_site / "frameworks/vllm/index.html").is_file()
    data = json.loads((built_site / "explorer/data/vllm.json").read_text())
    assert len(data["nodes"]) > 20000 and len(data["edges"]) > 100000
    arch = (built_site / "frameworks/vllm/index.html").read_text()
    assert "Most central functions" in arch and "Entry points" in arch
    symbols = list((built_site / "symbols" / "vllm").iterdir())
    assert len(symbols) >= 300


@pytest.fixture(scope="session")
def browser_site(built_site):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (`apt-get install chromium`; .ci/run does it)")
    with serve_folder(built_site) as url:
        yield url


def test_browser_walkthrough(browser_site):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    errors, external = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        # Material draws Mermaid into a closed shadow root; open it so the test can see the SVG.
        page.add_init_script("""const attach = Element.prototype.attachShadow;
            Element.prototype.attachShadow = function (init) { return attach.call(this, {...init, mode: 'open'}); };""")
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: external.append(r.url)
                if not r.url.startswith(browser_site) and not r.url.startswith(("data:", "blob:")) else None)

        page.goto(browser_site + "/")
        assert "infernav" in page.title()
        page.screenshot(path=str(SCREENSHOTS / "home.png"))

        # Home -> a mechanism page through the navigation; its Mermaid graph becomes an SVG.
        page.click("text=Browse mechanisms")
        page.click("a[href$='prefix-cache/']")
        page.wait_for_selector(".mermaid svg", timeout=20000)
        assert page.locator(".mermaid svg").count() >= 1
        assert page.locator("pre.inav-src").count() >= 3
        page.screenshot(path=str(SCREENSHOTS / "mechanism.png"), full_page=False)

        # Explorer: search a symbol, open it, expand a neighbour.
        page.goto(browser_site + "/explorer/")
        page.wait_for_function("document.getElementById('inav-panel').textContent.includes('call edges')")
        page.fill("#inav-q", "Scheduler.update_from_output")
        page.wait_for_selector("#inav-hits li")
        page.locator("#inav-hits li", has_text="vllm.v1.core.sched.scheduler.Scheduler.update_from_output").first.click()
        page.wait_for_function("Number(document.getElementById('inav-explorer').dataset.nodes) > 3")
        before = int(page.get_attribute("#inav-explorer", "data-nodes"))
        page.wait_for_function("document.querySelector('#inav-panel pre').textContent.includes('def update_from_output')")
        node = page.evaluate("""() => { const cy = document.querySelector('#inav-graph')._cyreg.cy;
            const n = cy.nodes().filter(n => n.data('label') === 'EngineCore.step')[0];
            n.emit('tap'); return n.data('label'); }""")
        assert node == "EngineCore.step"
        page.wait_for_function(f"Number(document.getElementById('inav-explorer').dataset.nodes) > {before}")
        page.screenshot(path=str(SCREENSHOTS / "explorer.png"))

        # Built-in search finds a symbol page; open the hit.
        page.goto(browser_site + "/")
        page.click("label.md-search__icon, .md-search__input")
        page.fill("input.md-search__input", "BlockPool.get_new_blocks")
        page.wait_for_selector(".md-search-result__item a", timeout=20000)
        page.locator(".md-search-result__item a").first.click()
        page.wait_for_load_state()
        assert "/symbols/vllm/" in page.url or "/notes/" in page.url
        assert "get_new_blocks" in page.content()
        page.screenshot(path=str(SCREENSHOTS / "search-hit.png"))
        browser.close()
    assert errors == [], errors
    assert external == [], external[:10]


SCRIPT_NOTE = """---
title: Hostile text
framework: mini
version: "1"
mechanism: paged-attention
anchors:
  - demo::add_norm_kernel
  - app.core.engine.Worker.work
  - add_norm
---
Kernels: [[demo::add_norm_kernel]].
"""

GHOST_NOTE = """---
title: Ghost engine
framework: ghost
version: "1"
mechanism: swap
anchors:
  - ghost::Swap::In
  - ghost::Swap::Out
  - src/ghost/swap.cc
---
Its source is never present.
"""

PINS = """
[mini]
source = "git"
url = "file:///nonexistent/mini.git"
default = "1"
roots = ["app", "csrc"]
permalink = "https://example.invalid/mini/{path}#L{line}"
[ghost]
source = "git"
url = "file:///nonexistent/ghost.git"
default = "1"
roots = ["src"]
permalink = "https://example.invalid/ghost/{path}#L{line}"
"""


def test_hostile_text_renders_inert_and_absent_sources_still_build(tmp_path):
    notes = tmp_path / "notes"
    (notes / "mini").mkdir(parents=True)
    (notes / "ghost").mkdir(parents=True)
    (notes / "mini" / "hostile.md").write_text(SCRIPT_NOTE)
    (notes / "ghost" / "ghost.md").write_text(GHOST_NOTE)
    out = build_mini_site(tmp_path, notes)
    pages = {p.relative_to(out).as_posix(): p.read_text(errors="replace") for p in out.rglob("*.html")}
    everything = "\n".join(pages.values())
    # The C++ comment and the Python docstring both carry <script>; neither may survive as a tag.
    assert not re.search(r"<script>\s*alert", everything)
    # ... and both are shown as text (character references, which decode to the same text).
    shown = html.unescape(everything)
    assert '<script>alert("doc")</script>' in shown and "<script>alert('py')</script>" in shown
    assert "&lt;script&gt;alert&#40;&quot;doc&quot;&#41;&lt;/script&gt;" in everything
    ghost = pages["notes/ghost/ghost/index.html"]
    assert "not present where this site was built" in ghost
    assert "https://example.invalid/ghost/src/ghost/swap.cc#L1" in html.unescape(ghost)
    assert "Not indexed where this site was built" in pages["frameworks/ghost/index.html"]
