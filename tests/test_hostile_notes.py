"""Issue 13, item 7 (and the BOM of item 10): notes accept only what can be checked.

Anchors are normalized before they are counted, file anchors stay inside the framework root,
relock refuses what it cannot fingerprint and broken [[references]], and `check` says "source
absent" where the source is gone instead of calling every anchor drifted.
"""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from infernav.analyzer.cli import main
from infernav.analyzer.notes import load_note, validate

ANCHORS = ["kv::PrefixCache::Evict", "kv::PrefixCache::Create", "sched::Strategy::StepAll"]


def _note(anchors: list[str], body: str = "Body.\n", framework: str = "mini") -> str:
    lines = ["---", "title: T", f"framework: {framework}", 'version: "1"', "mechanism: prefix-cache", "anchors:"]
    lines += [f"  - {json.dumps(a)}" for a in anchors]
    return "\n".join(lines + ["---", body])


@pytest.fixture
def notes_world(mini, tmp_path, monkeypatch):
    from infernav.analyzer.indexer import build

    ref, src = mini
    build(ref, src, jobs=1)
    root = tmp_path / "notes"
    (root / "mini").mkdir(parents=True)
    monkeypatch.setenv("INFERNAV_NOTES", str(root))
    return {"root": root, "src": src}


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def _write(world, name: str, text: str):
    p = world["root"] / "mini" / name
    p.write_text(text, encoding="utf-8")
    return p


def test_spellings_of_one_anchor_count_once(notes_world):
    p = _write(notes_world, "dup.md", _note(["kv::PrefixCache::Evict", "mini:kv::PrefixCache::Evict",
                                             " kv::PrefixCache::Evict "]))
    problems = validate(load_note(p, notes_world["root"]))
    assert "duplicate anchors" in problems
    assert any("1 distinct anchors; a note needs at least 3" in x for x in problems), problems


@pytest.mark.parametrize("bad", ["/etc/passwd", "../../etc/hostname", "csrc/../../../etc/hostname"])
def test_file_anchors_outside_the_framework_root_are_refused(notes_world, bad):
    p = _write(notes_world, "esc.md", _note(ANCHORS + [bad]))
    problems = validate(load_note(p, notes_world["root"]))
    assert any("outside the framework root" in x for x in problems), problems
    r = run("notes", "check", "mini/esc.md")
    assert r.exit_code == 1 and "outside the framework root" in r.output, r.output
    r = run("notes", "relock", "mini/esc.md")
    assert r.exit_code == 1 and "outside the framework root" in r.output, r.output
    lock = notes_world["root"] / "notes.lock.json"
    assert not lock.exists() or "esc.md" not in lock.read_text()


def test_a_symlink_out_of_the_root_is_not_an_anchor(notes_world):
    (notes_world["src"] / "csrc" / "escape.h").symlink_to("/etc/hostname")
    p = _write(notes_world, "link.md", _note(ANCHORS + ["csrc/escape.h"]))
    assert validate(load_note(p, notes_world["root"])) == []     # the text itself is a fine path
    r = run("notes", "relock", "mini/link.md")
    assert r.exit_code == 1 and "outside the framework root" in r.output, r.output


def test_broken_references_block_relock(notes_world):
    _write(notes_world, "refs.md", _note(ANCHORS, "Calls [[kv::PrefixCache::NoSuchThing]].\n"))
    r = run("notes", "relock", "mini/refs.md")
    assert r.exit_code == 1, r.output
    assert "kv::PrefixCache::NoSuchThing" in r.output and "reference" in r.output
    assert not (notes_world["root"] / "notes.lock.json").exists()


def test_source_gone_check_says_absent_and_relock_refuses(notes_world):
    _write(notes_world, "ok.md", _note(ANCHORS + ["csrc/cache.h"]))
    r = run("notes", "relock", "mini/ok.md")
    assert r.exit_code == 0, r.output
    lock = (notes_world["root"] / "notes.lock.json").read_text()
    shutil.rmtree(notes_world["src"])        # the index stays; the source it was built from is gone
    r = run("notes", "check", "mini/ok.md", "--json")
    anchors = json.loads(r.stdout)["anchors"]
    assert [a["status"] for a in anchors] == ["absent"] * 4, anchors
    assert all("source absent" in a["detail"] for a in anchors)
    r = run("notes", "check", "mini/ok.md")
    assert "drifted" not in r.output.lower() and "source absent" in r.output, r.output
    r = run("notes", "relock", "mini/ok.md")
    assert r.exit_code == 1 and "cannot fingerprint" in r.output, r.output
    assert (notes_world["root"] / "notes.lock.json").read_text() == lock     # nothing empty written
    assert '"fingerprint": ""' not in lock


def test_a_note_with_a_utf8_bom_has_its_front_matter(notes_world):
    p = _write(notes_world, "bom.md", "\ufeff" + _note(ANCHORS))
    note = load_note(p, notes_world["root"])
    assert note.title == "T" and [a.target for a in note.anchors] == ANCHORS
    assert validate(note) == []
