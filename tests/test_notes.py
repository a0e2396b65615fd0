"""Notes: the format validator, the lock, `check`, and drift across two versions of a fixture."""
from __future__ import annotations

import json
import shutil
import textwrap

import pytest
from click.testing import CliRunner

from infernav.analyzer import sources
from infernav.analyzer.cli import main
from infernav.analyzer.notes import Note, load_note, validate

PINS = """
[mini]
source = "git"
url = "file:///nonexistent/mini.git"
default = "{default}"
roots = ["app", "csrc"]

[mini.torch_extension_names]
"" = "_C"
"""

CACHE_NOTE = """---
title: The mini cache
framework: mini
version: "1"
mechanism: prefix-cache
anchors:
  - kv::PrefixCache::Evict
  - kv::PrefixCache::Create
  - sched::Strategy::StepAll
  - kv::PrefixCache::Allocate
  - csrc/cache.h
tests:
  - tests/test_notes.py
---
Allocation calls [[kv::PrefixCache::Evict]] first.
"""

HELPERS_NOTE = """---
title: Helpers
framework: mini
version: "1"
mechanism: engine-loop
anchors:
  - app.core.helpers.compute
  - app.core.helpers.outer
  - app.core.base.Base.helper
---
The engine is [[app.core.engine.Engine]]. Code blocks are not references:

```
[[not.a.reference]]
```
"""


def _edit(path, old, new):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def world(tmp_path, monkeypatch):
    """mini@1 (the fixture) and mini@2 (edited), a notes root with two notes."""
    from conftest import FIXTURES

    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    shutil.copytree(FIXTURES / "mini", v1)
    shutil.copytree(FIXTURES / "mini", v2)
    # v2: a body edit, a rename, a line move, a deletion, a comment-only change, a file change.
    _edit(v2 / "csrc/cache.cpp", "int PrefixCache::Evict(int n) { return n; }",
          "int PrefixCache::Evict(int n) { return n + blocks_.size(); }")
    _edit(v2 / "csrc/cache.cpp", "PrefixCache* PrefixCache::Create() { return new PrefixCache(); }\n", "")
    _edit(v2 / "csrc/cache.cpp", "  this->Evict(n, true);", "  this->Evict(n,   true);  // force")
    _edit(v2 / "csrc/cache.h", "  static PrefixCache* Create();\n", "")
    _edit(v2 / "app/core/helpers.py", "def compute(x):\n    return x\n", "def compute_value(x):\n    return x\n")
    _edit(v2 / "app/core/helpers.py", "def outer():", "# a new comment line\n\n\ndef outer():")
    notes_dir = tmp_path / "notes"
    (notes_dir / "mini").mkdir(parents=True)
    (notes_dir / "mini" / "cache.md").write_text(CACHE_NOTE)
    (notes_dir / "mini" / "helpers.md").write_text(HELPERS_NOTE)
    pins = tmp_path / "pins.toml"
    pins.write_text(PINS.format(default="1"))
    monkeypatch.setenv("INFERNAV_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INFERNAV_PINS", str(pins))
    monkeypatch.setenv("INFERNAV_NOTES", str(notes_dir))
    sources.fetch(sources.parse_ref("mini@1"), path=str(v1))
    sources.fetch(sources.parse_ref("mini@2"), path=str(v2))
    return {"v1": v1, "v2": v2, "notes": notes_dir, "pins": pins}


def run(*args):
    return CliRunner().invoke(main, list(args))


# ---------------------------------------------------------------- format
def _note(tmp_path, front: str, body: str = "Body.\n") -> Note:
    p = tmp_path / "n.md"
    p.write_text(f"---\n{textwrap.dedent(front)}---\n{body}")
    return load_note(p, tmp_path)


def test_validator_accepts_a_good_note(world):
    note = load_note(world["notes"] / "mini" / "cache.md", world["notes"])
    assert validate(note) == []
    assert [a.target for a in note.anchors][-1] == "csrc/cache.h" and note.anchors[-1].is_file
    refs = load_note(world["notes"] / "mini" / "helpers.md", world["notes"]).refs
    assert [r.target for r in refs] == ["app.core.engine.Engine"]  # fenced code is skipped


def test_validator_rejects_bad_notes(world, tmp_path):
    problems = validate(_note(tmp_path, """\
        title: x
        framework: nosuch
        mechanism: magic
        anchors: [a, b]
        reimpl: [infernav.reimpl.nothing_here]
        """))
    text = " | ".join(problems)
    assert "missing 'version'" in text and "framework 'nosuch'" in text
    assert "mechanism 'magic'" in text and "at least 3" in text
    assert "reimpl 'infernav.reimpl.nothing_here' does not exist" in text
    cross = validate(_note(tmp_path, """\
        title: x
        framework: cross
        version: any
        mechanism: swap
        anchors: ["mini:kv::PrefixCache::Evict", "mini:sched::Strategy::Step", "app.core.helpers.compute"]
        """))
    assert any("must prefix every anchor" in p for p in cross)


def test_broken_yaml_is_a_clear_error(world):
    (world["notes"] / "mini" / "bad.md").write_text("---\ntitle: [unclosed\nframework: mini\n---\nx\n")
    (world["notes"] / "mini" / "nofront.md").write_text("just text\n")
    r = run("notes", "list")
    assert r.exit_code == 1
    assert "mini/bad.md:3: front matter is not valid YAML" in r.output
    assert "mini/nofront.md:1: no front matter" in r.output
    assert "mini/cache.md" in r.output  # the good notes are still listed


# ---------------------------------------------------------------- lock and check
def test_check_requires_a_lock_then_passes(world):
    r = run("notes", "check")
    assert r.exit_code == 1 and "UNLOCKED" in r.output
    r = run("notes", "relock", "--all")
    assert r.exit_code == 0 and "locked mini/cache.md: 5 anchors" in r.output
    lock = json.loads((world["notes"] / "notes.lock.json").read_text())
    entry = lock["notes"]["mini/cache.md"]["anchors"]["mini:kv::PrefixCache::Evict"]
    assert entry["framework"] == "mini@1" and entry["path"] == "csrc/cache.cpp"
    assert set(entry) == {"framework", "kind", "path", "lines", "fingerprint"}  # no upstream text
    r = run("notes", "check")
    assert r.exit_code == 0, r.output
    assert "8 ok" in r.output  # 5 + 3 anchors; references are not counted unless broken


def test_check_against_a_newer_pin_reports_drift_with_diff_and_broken(world):
    run("notes", "relock", "--all")
    world["pins"].write_text(PINS.format(default="2"))
    r = run("notes", "check")
    assert r.exit_code == 1
    assert "DRIFTED   mini/cache.md: kv::PrefixCache::Evict: body changed" in r.output
    assert "+int PrefixCache::Evict(int n) { return n + blocks_.size(); }" in r.output
    assert "BROKEN    mini/cache.md: kv::PrefixCache::Create: no symbol" in r.output
    assert "BROKEN    mini/helpers.md: app.core.helpers.compute: no symbol" in r.output
    assert "kv::PrefixCache::Allocate" not in r.output  # a comment and spaces do not count
    assert "sched::Strategy::StepAll" not in r.output


def test_broken_inline_reference(world):
    run("notes", "relock", "--all")
    _edit(world["notes"] / "mini" / "helpers.md", "[[app.core.engine.Engine]]", "[[app.core.engine.Engin]]")
    r = run("notes", "check")
    assert r.exit_code == 1
    assert "BROKEN    mini/helpers.md: [[app.core.engine.Engin]]: no symbol app.core.engine.Engin" in r.output
    assert "near: app.core.engine.Engine" in r.output


# ---------------------------------------------------------------- drift
def test_drift_classifies_every_kind_of_change(world):
    run("notes", "relock", "--all")
    r = run("notes", "drift", "--to", "mini@2", "--json")
    assert r.exit_code == 0, r.output
    got = {a["anchor"]: a for a in json.loads(r.stdout)["anchors"]}
    assert got["kv::PrefixCache::Evict"]["status"] == "changed"
    assert (got["kv::PrefixCache::Evict"]["added"], got["kv::PrefixCache::Evict"]["removed"]) == (1, 1)
    assert got["kv::PrefixCache::Create"]["status"] == "gone"
    assert got["sched::Strategy::StepAll"]["status"] == "unchanged"
    assert got["kv::PrefixCache::Allocate"]["status"] == "unchanged"       # comment/whitespace only
    assert got["csrc/cache.h"]["status"] == "changed"
    assert got["app.core.helpers.compute"]["status"] == "renamed"
    assert "app.core.helpers.compute_value" in got["app.core.helpers.compute"]["detail"]
    assert got["app.core.helpers.outer"]["status"] == "moved"
    assert got["app.core.helpers.outer"]["new"].startswith("app/core/helpers.py:11-")
    assert got["app.core.base.Base.helper"]["status"] == "unchanged"
    r = run("notes", "drift", "--to", "mini@2")
    assert "renamed" in r.output and "gone" in r.output and "4 unchanged" not in r.output


def test_show_lists_notes_on_a_symbol(world):
    r = run("show", "kv::PrefixCache::Evict", "-f", "mini", "--no-source")
    assert r.exit_code == 0 and "mini/cache.md  The mini cache" in r.output
