"""Issue 15, "Start here": a guided path per engine from annotations/tours/<engine>.yaml. A fixture
tour over the `mini` framework is built into a site; each stop must show its title, summary, the
anchor's highlighted excerpt with line anchors, links to the note and the symbol page (at a URL
made from the canonical name), and the next stop."""
from __future__ import annotations

import html
import re

from test_site import build_mini_site

NOTE = """---
title: The mini engine loop
framework: mini
version: "1"
mechanism: engine-loop
anchors:
  - app.core.engine.Engine.step
  - app.core.engine.Worker.work
  - app.ops.add_norm
---
The engine steps its worker; the op reaches a kernel.
"""

TOUR = """title: "A request's life in mini"
framework: mini
intro: "Three stops: <b>the loop</b>, the worker, the op."
stops:
  - title: "The step"
    note: mini/loop
    anchor: app.core.engine.Engine.step
    summary: "The engine's step asks the worker."
  - title: "The worker"
    note: mini/loop
    anchor: app.core.engine.Worker.work
    summary: "The worker does the work."
  - title: "The op"
    note: mini/absent
    anchor: app.ops.add_norm
    summary: "Into compiled code."
"""


def test_start_here_tour_pages(tmp_path):
    notes = tmp_path / "notes"
    (notes / "mini").mkdir(parents=True)
    (notes / "tours").mkdir()
    (notes / "mini" / "loop.md").write_text(NOTE)
    (notes / "tours" / "mini.yaml").write_text(TOUR)
    out = build_mini_site(tmp_path, notes)
    page = (out / "start/mini/index.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    # Titles, summaries, "stop k of n", next-stop links, the end of the path.
    for k, title in enumerate(("The step", "The worker", "The op"), 1):
        assert f'id="stop-{k}"' in page and title in text and f"Stop {k} of 3" in text
    assert 'href="#stop-2"' in page and "Next stop 2: The worker" in text and "Next stop 3: The op" in text
    assert "End of the path" in text
    assert "The engine's step asks the worker." in text
    assert "<b>the loop</b>" not in page and "&lt;b&gt;the loop&lt;/b&gt;" in page    # escaped intro
    # The anchor's excerpt: highlighted (Pygments classes), each line number an anchor to itself.
    assert '<span class="k">def</span>' in page
    m = re.search(r'<span class="inav-line" id="(app-core-engine-py-L\d+)"><a class="ln" href="#\1">', page)
    assert m, "line anchors missing"
    # The note link resolves; a missing note is said, not fatal; symbol pages at name-based URLs.
    assert "read the note: The mini engine loop" in text and "note mini/absent is not in this build" in text
    article = page[page.index("<article"):page.index("</article>")]     # the content, not the nav
    hrefs = set(re.findall(r'href="([^"#]+)"', article))
    assert "../../notes/mini/loop/" in hrefs
    assert "../../symbols/mini/app.core.engine.Engine.step/" in hrefs
    assert (out / "symbols/mini/app.core.engine.Engine.step/index.html").is_file()
    for h in hrefs:
        if not h.startswith(("http", "/")):
            target = (out / "start/mini" / h).resolve()
            assert target.is_file() or (target / "index.html").is_file(), h
    # The index lists the tour; an engine without one says so.
    index = html.unescape((out / "start/index.html").read_text())
    assert "A request's life in mini" in index and "3 stops" in index
    ghost = html.unescape((out / "start/ghost/index.html").read_text())
    assert "No guided path for ghost" in ghost
