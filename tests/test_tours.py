"""The Start-here tours (annotations/tours/<framework>.yaml, format in annotations/README.md):
each file parses, every stop names an existing note of its framework whose anchors or [[references]]
include the stop's anchor, stops are unique, and every anchor is a canonical name of the framework's
index.

The anchor check opens an index that is already built and never builds one; where it is absent
the test skips, saying why (`infernav fetch` and `infernav index` provide it)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from infernav.analyzer.notes import load_notes, notes_root
from infernav.analyzer.sources import load_pins

REQUIRED = ("title", "framework", "intro", "stops")
STOP_KEYS = ("title", "note", "anchor", "summary")


def tour_files() -> list[Path]:
    return sorted((notes_root() / "tours").glob("*.yaml"))


def load_tour(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: a tour is a mapping"
    return data


TOURS = tour_files()


def test_there_is_a_tour_per_engine():
    assert {p.stem for p in TOURS} >= {"vllm", "ksanallm", "sglang"}


@pytest.mark.parametrize("path", TOURS, ids=lambda p: p.name)
def test_tour_is_well_formed(path: Path):
    tour = load_tour(path)
    for key in REQUIRED:
        assert tour.get(key), f"{path.name}: missing '{key}'"
    assert tour["framework"] == path.stem, f"{path.name}: framework must match the file name"
    assert tour["framework"] in load_pins(), f"{path.name}: unknown framework {tour['framework']}"
    stops = tour["stops"]
    assert isinstance(stops, list) and len(stops) >= 3, f"{path.name}: a tour needs stops"
    for i, stop in enumerate(stops):
        assert isinstance(stop, dict), f"{path.name}: stop {i} is not a mapping"
        for key in STOP_KEYS:
            assert isinstance(stop.get(key), str) and stop[key].strip(), \
                f"{path.name}: stop {i} lacks '{key}'"
        assert not (set(stop) - set(STOP_KEYS)), f"{path.name}: stop {i} has unknown keys"
    for key in ("title", "anchor"):
        values = [s[key] for s in stops]
        dupes = sorted({v for v in values if values.count(v) > 1})
        assert not dupes, f"{path.name}: stops share a {key}: {dupes}"


@pytest.mark.parametrize("path", TOURS, ids=lambda p: p.name)
def test_every_stop_note_exists_in_its_framework(path: Path):
    tour = load_tour(path)
    notes, errors = load_notes()
    assert errors == []
    by_path = {n.rel.removesuffix(".md"): n for n in notes}
    for stop in tour["stops"]:
        note = by_path.get(stop["note"])
        assert note is not None, f"{path.name}: stop '{stop['title']}' names a missing note {stop['note']}"
        assert note.framework == tour["framework"], \
            f"{path.name}: stop '{stop['title']}' names a {note.framework} note"
        named = {a.target for a in note.anchors + note.refs if a.framework == tour["framework"]}
        assert stop["anchor"] in named, \
            f"{path.name}: stop '{stop['title']}' shows {stop['anchor']}, which {stop['note']} neither anchors nor references"


@pytest.mark.parametrize("path", TOURS, ids=lambda p: p.name)
def test_every_stop_anchor_resolves(path: Path):
    from infernav.analyzer import sources, store
    from infernav.analyzer.indexer import index_path
    from infernav.analyzer.query import Index

    tour = load_tour(path)
    ref = sources.parse_ref(tour["framework"])
    try:
        idx = Index(index_path(ref))
    except store.IndexProblem as exc:
        reason = (f"{ref.key} is not indexed here ({exc.reason}); "
                  f"run: infernav fetch {ref.name} && infernav index {ref.name}")
        print(reason)
        pytest.skip(reason)
    try:
        missing = [s["anchor"] for s in tour["stops"] if not idx.exact(s["anchor"])]
    finally:
        idx.close()
    assert missing == [], f"{path.name}: anchors that are not canonical names in {ref.key}: {missing}"


# ---------------------------------------------------------------------------- figures in the notes
# The tour's data-structure figures live in the notes (annotations/README.md, "Body"): Mermaid,
# never ASCII art, and small enough to read.
MAX_FIGURE_NODES = 12
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```", re.S | re.M)
_KEYWORDS = {"flowchart", "graph", "subgraph", "end", "direction", "TD", "TB", "LR", "RL", "BT"}


def figure_nodes(src: str) -> set[str]:
    """Node ids of a Mermaid flowchart: every id that is defined or joined by an edge, without
    labels, subgraph names and keywords."""
    nodes: set[str] = set()
    for line in src.splitlines():
        line = re.sub(r'"[^"]*"', "", line)            # quoted labels
        line = re.sub(r"\|[^|]*\|", " ", line)         # edge labels
        line = re.sub(r"[\[\(\{][^\]\)\}]*[\]\)\}]+", "", line)   # shapes
        words = line.split()
        if not words or words[0] in ("subgraph", "direction", "flowchart", "graph", "%%"):
            continue
        nodes |= {w for w in re.split(r"[-.=<>ox]*[-=.]{2,}[>x o]?|&|\s+", line)
                  if w and re.fullmatch(r"[A-Za-z_][\w]*", w) and w not in _KEYWORDS}
    return nodes


def test_figures_are_small_mermaid_diagrams():
    notes, errors = load_notes()
    assert errors == []
    figures = 0
    for note in notes:
        for lang, src in _FENCE.findall(note.body):
            lang = lang.strip()
            if lang == "mermaid":
                figures += 1
                n = figure_nodes(src)
                assert 0 < len(n) <= MAX_FIGURE_NODES, f"{note.rel}: a figure with {len(n)} nodes ({sorted(n)})"
            elif not lang:
                art = re.search(r"[─│┌┐└┘├┤┬┴┼]|->|<-|\+--|--\+", src)
                assert not art, f"{note.rel}: ASCII art in a plain fence; draw it as a Mermaid figure"
    assert figures >= 5, "the block table, free queue, hash chain, prefix tree and swap queues are figures"
