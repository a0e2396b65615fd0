"""Issue 15 in the browser: the whole site (vLLM, and KsanaLLM where its source is) in Debian's
Chromium at 1400 px and 400 px, light and dark. Each point of the issue is driven (Start here,
mechanism pages, note figures, the explorer, class pages, line anchors, narrow layout), no console
errors, and screenshots written to bench/out/screenshots/ for a person to look at."""
from __future__ import annotations

import pytest

import os

from test_site import CHROMIUM, SCREENSHOTS, browser_site, built_site  # noqa: F401 (fixtures)

SCHED = "vllm.v1.core.sched.scheduler.Scheduler.schedule"
VIEWS = [(1400, "light"), (1400, "dark"), (400, "light"), (400, "dark")]


@pytest.fixture(scope="module")
def site(request):
    """The site under test: built by this session (browser_site), or one already being served
    at $INFERNAV_TEST_SITE_URL (a build made with this checkout, to look at without rebuilding)."""
    return os.environ.get("INFERNAV_TEST_SITE_URL") or request.getfixturevalue("browser_site")


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


def _page(chromium, base: str, width: int, scheme: str, errors: list):
    ctx = chromium.new_context(viewport={"width": width, "height": 1000 if width > 600 else 860})
    if scheme == "dark":   # Material keeps the palette choice in localStorage
        ctx.add_init_script("localStorage.setItem('/.__palette', JSON.stringify("
                            "{index: 1, color: {scheme: 'slate', primary: 'indigo', accent: 'indigo'}}))")
    page = ctx.new_page()
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    page.on("request", lambda r: errors.append(f"external request {r.url}")
            if not r.url.startswith(base) and not r.url.startswith(("data:", "blob:")) else None)
    return ctx, page


def _shot(page, name: str, width: int, scheme: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}-{scheme}.png"))


def _no_sideways_scroll(page, width: int) -> None:
    """At 400 px the page itself never scrolls sideways (wide tables and code scroll inside)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1


@pytest.mark.parametrize("width,scheme", VIEWS)
def test_start_here_stop_and_next(site, chromium, width, scheme):
    errors: list[str] = []
    ctx, page = _page(chromium, site, width, scheme, errors)
    page.goto(site + "/")
    page.click("article a[href$='start/vllm/']")             # the home page's first call to action
    page.wait_for_selector("#stop-2")
    page.locator("#stop-2").scroll_into_view_if_needed()
    assert page.locator(".inav-stop").count() >= 5
    stop = page.locator(".inav-stop").nth(1)
    assert stop.locator(".inav-code .inav-line").count() >= 5 and stop.locator(".inav-code span.k").count() >= 1
    assert stop.locator("a", has_text="symbol page").count() == 1
    assert stop.locator("a", has_text="read the note").count() == 1
    assert stop.locator(".inav-stop-n a.inav-skip").get_attribute("href") == "#stop-3"   # next, before the code
    _shot(page, "start-here", width, scheme)
    stop.locator("a.inav-next").click()
    assert page.url.endswith("#stop-3")
    if width < 600:
        _no_sideways_scroll(page, width)
    ctx.close()
    assert errors == [], errors


@pytest.mark.parametrize("width,scheme", VIEWS)
def test_mechanism_page_engines_side_by_side_graph_zoom_and_links(site, chromium, width, scheme):
    errors: list[str] = []
    ctx, page = _page(chromium, site, width, scheme, errors)
    page.goto(site + "/mechanisms/prefix-cache/")
    assert page.locator("h2#compared").count() == 1 and page.locator("table").first.is_visible()
    assert page.locator(".tabbed-labels label").count() >= 2       # one tab per engine
    _compared_cells_linked(page)
    page.locator("h2#compared").evaluate("h => window.scrollTo(0, h.getBoundingClientRect().top + scrollY - 60)")
    _shot(page, "compared", width, scheme)                         # the engines side by side, claim by claim
    page.wait_for_selector(".inav-graph-view svg", timeout=30000)
    box = page.locator(".inav-graph").first
    box.scroll_into_view_if_needed()
    _shot(page, "mechanism", width, scheme)
    font = page.evaluate("""() => { const svg = document.querySelector('.inav-graph-view svg');
        const el = [...svg.querySelectorAll('g.node *')].find(e => e.childElementCount === 0 && e.textContent.trim());
        const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
        return parseFloat(getComputedStyle(el).fontSize) * scale; }""")
    assert font >= 9, f"graph labels {font}px high"
    before = float(box.get_attribute("data-scale"))
    box.locator("button[data-zoom=in]").click()
    assert float(box.get_attribute("data-scale")) > before
    linked = page.locator(".inav-graph-view svg g.node.inav-link")
    assert linked.count() >= 5
    linked.first.dispatch_event("click")
    page.wait_for_url("**/symbols/**")
    if width < 600:
        page.go_back()
        _no_sideways_scroll(page, width)
    ctx.close()
    assert errors == [], errors


def _compared_cells_linked(page) -> None:
    """Each engine's claim in the "Compared" table links the symbol it is about (the cross note's
    [[refs]]), with a short label; KsanaLLM's and SGLang's only where their index was built into the site."""
    cells = page.evaluate("""() => { const t = document.querySelector('h2#compared ~ table, h2#compared ~ * table');
        const head = [...t.querySelectorAll('thead th')].map(th => th.textContent.trim());
        return [...t.querySelectorAll('tbody tr')].map(tr => Object.fromEntries([...tr.children]
            .map((td, k) => [head[k], [...td.querySelectorAll('a[href]')].map(a => a.textContent)]))); }""")
    assert len(cells) >= 6
    assert all(row["vLLM"] for row in cells), cells
    assert all(len(t) < 60 for row in cells for t in row["vLLM"] + row["KsanaLLM"] + row.get("SGLang", []))
    if page.locator(".tabbed-labels label", has_text="ksanallm").count():
        assert sum(bool(row["KsanaLLM"]) for row in cells) >= 5, cells
    # Every SGLang claim, where the table has an SGLang column (the scheduler's compares two engines).
    if "SGLang" in cells[0] and page.locator(".tabbed-labels label", has_text="sglang").count():
        assert all(row["SGLang"] for row in cells), cells


@pytest.mark.parametrize("width,scheme", VIEWS)
def test_prefix_cache_charts_are_drawn_readable_and_follow_the_palette(site, chromium, width, scheme):
    """The four build-time SVG charts (analyzer/site/charts.py: hit rate, preemptions, peak cached
    blocks, peak index entries): on screen, every bar as tall as its
    data-value says, labels readable, text in the palette's colour, no sideways scroll at 400 px."""
    errors: list[str] = []
    ctx, page = _page(chromium, site, width, scheme, errors)
    page.goto(site + "/mechanisms/prefix-cache/")
    charts = page.locator("figure.inav-chart")
    assert charts.count() == 4
    charts.first.scroll_into_view_if_needed()
    _shot(page, "charts", width, scheme)
    info = page.evaluate("""() => [...document.querySelectorAll('figure.inav-chart svg')].map(svg => {
        const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
        const bars = [...svg.querySelectorAll('rect[data-value]')].map(r => [parseFloat(r.dataset.value),
            r.getBoundingClientRect().height]);
        const label = svg.querySelector('text.inav-chart-group');
        return {bars, scale, visible: svg.getBoundingClientRect().width > 0,
                font: parseFloat(getComputedStyle(label).fontSize) * scale,
                fill: getComputedStyle(label).fill, bg: getComputedStyle(document.body).backgroundColor}; })""")
    for chart in info:
        assert chart["visible"] and len(chart["bars"]) >= 12
        top = max(v for v, _ in chart["bars"])
        tallest = max(h for _, h in chart["bars"])
        for v, h in chart["bars"] if top else []:   # drawn height proportional to the value
            assert abs(h - tallest * v / top) <= 1.5, (v, h, top, tallest)
        assert chart["font"] >= 8, chart["font"]     # 560 px at least: the figure scrolls instead
        assert chart["fill"] != chart["bg"]
    if width < 600:
        _no_sideways_scroll(page, width)
    ctx.close()
    assert errors == [], errors


def test_scheduler_mechanism_page_compares_the_engines_claim_by_claim(site, chromium):
    errors: list[str] = []
    ctx, page = _page(chromium, site, 1400, "light", errors)
    page.goto(site + "/mechanisms/scheduler/")
    assert page.locator("h2#compared").count() == 1
    _compared_cells_linked(page)
    ctx.close()
    assert errors == [], errors


@pytest.mark.parametrize("width,scheme", VIEWS)
def test_note_data_structure_figure(site, chromium, width, scheme):
    errors: list[str] = []
    ctx, page = _page(chromium, site, width, scheme, errors)
    page.goto(site + "/notes/vllm/prefix-caching/")
    page.wait_for_selector(".inav-graph-view svg", timeout=30000)
    page.locator(".inav-graph").first.scroll_into_view_if_needed()
    _shot(page, "diagram", width, scheme)
    ctx.close()
    assert errors == [], errors


@pytest.mark.parametrize("width,scheme", VIEWS)
def test_explorer_deep_link_exact_edges_and_layout(site, chromium, width, scheme):
    errors: list[str] = []
    ctx, page = _page(chromium, site, width, scheme, errors)
    page.goto(f"{site}/explorer/?fw=vllm&q={SCHED}")       # an old ?q= link
    page.wait_for_function("Number(document.getElementById('inav-explorer').dataset.nodes) > 10", timeout=30000)
    assert "sym=" in page.url and "q=" not in page.url.split("?", 1)[1]
    assert not page.evaluate("document.getElementById('__search').checked"), "search overlay opened"
    stats = page.evaluate("""() => { const cy = document.querySelector('#inav-graph')._cyreg.cy;
        const out = cy.edges().filter(e => e.source().hasClass('focus'));
        return {exact: out.filter(e => e.data('res') === 'exact').length,
                fan: cy.nodes('.fanout').map(n => n.data('label')),
                color: cy.nodes()[0].style('color')}; }""")
    assert stats["exact"] >= 10
    if width >= 600:     # at 400 px the graph draws 12 entries each way; the list carries the fan-outs
        assert "10 overrides of KVConnectorBase_V1.get_num_new_matched_tokens" in stats["fan"]
    if scheme == "dark":
        assert stats["color"] in ("rgb(224,224,224)", "rgb(224, 224, 224)")
    if width < 600:
        _narrow_explorer(page, width, scheme)
    else:
        g, p = page.locator("#inav-graph").bounding_box(), page.locator("#inav-panel").bounding_box()
        assert p["x"] >= g["x"] + g["width"] - 1                                 # side by side
        assert not page.locator("#inav-list").is_visible()
        _shot(page, "explorer", width, scheme)
    ctx.close()
    assert errors == [], errors


def _narrow_explorer(page, width: int, scheme: str) -> None:
    """At 400 px the ranked list is the view: readable rows, exact calls first, a fan-out one row;
    the graph waits behind its button and, opened, draws few enough nodes to read."""
    lst = page.locator("#inav-list")
    assert lst.is_visible() and not page.locator("#inav-graph").is_visible()
    rows = page.evaluate("""() => [...document.querySelectorAll('#inav-list ul.inav-nb')][0].children.length""")
    first = page.evaluate("""() => [...document.querySelectorAll('#inav-list ul.inav-nb > li')].slice(0, 10)
        .map(li => li.querySelector('.inav-res').textContent)""")
    assert rows >= 30 and first == ["exact"] * 10, first
    font = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#inav-list li a')).fontSize)")
    assert font >= 12, f"list rows {font}px high"
    fan = page.locator("#inav-list .inav-fanrow summary", has_text="10 overrides of KVConnectorBase_V1.get_num_new_matched_tokens")
    assert fan.count() == 1
    box = lst.bounding_box()
    assert box["width"] >= width - 60                                             # full width
    _no_sideways_scroll(page, width)
    _shot(page, "explorer", width, scheme)
    fan.click()                                                                   # unfolds in place
    assert page.locator("#inav-list .inav-fanrow details[open] li").count() == 10
    page.click("#inav-graph-toggle")
    assert page.locator("#inav-graph").is_visible()
    g = page.evaluate("""() => { const cy = document.querySelector('#inav-graph')._cyreg.cy;
        return {nodes: cy.nodes().length, label: cy.zoom() * parseFloat(cy.nodes()[0].style('font-size'))}; }""")
    assert g["nodes"] <= 2 * 12 + 1 and g["label"] >= 9, g
    _no_sideways_scroll(page, width)
    _shot(page, "explorer-graph", width, scheme)
    page.locator("#inav-list ul.inav-nb > li a").first.click()                    # a row moves the focus
    page.wait_for_function("!location.search.includes('Scheduler.schedule')")
    assert "sym=" in page.url


@pytest.mark.parametrize("width,scheme", VIEWS)
def test_class_page_members_and_line_ranges(site, chromium, width, scheme):
    errors: list[str] = []
    ctx, page = _page(chromium, site, width, scheme, errors)
    page.goto(site + "/symbols/vllm/vllm.v1.core.sched.scheduler.Scheduler/")
    rows = page.evaluate("""() => { const h = document.querySelector('h2[id^=members]');
        const t = h && h.nextElementSibling; return t ? t.querySelectorAll('tr').length : 0; }""")
    assert rows >= 10, rows
    assert page.locator("p.inav-read a").count() >= 1              # where to read about it, first
    assert not page.locator(".inav-code").first.is_visible()       # the source is folded below the members
    assert page.locator("h2[id^=callers]").count() == 0            # no empty "Callers (0)" on a class
    _shot(page, "class", width, scheme)
    page.goto(site + f"/symbols/vllm/{SCHED}/")
    lines = page.locator(".inav-code .inav-line a.ln")
    lines.nth(2).click()
    lines.nth(6).click(modifiers=["Shift"])
    assert page.url.endswith("-L254-L258")
    assert page.locator(".inav-line.sel").count() == 5
    assert page.locator("a.inav-upstream").first.get_attribute("href").endswith("#L254-L258")
    page.reload()
    assert page.locator(".inav-line.sel").count() == 5                            # the range survives a reload
    if width < 600:
        _no_sideways_scroll(page, width)
    ctx.close()
    assert errors == [], errors
