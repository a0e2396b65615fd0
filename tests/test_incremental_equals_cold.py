"""An incremental re-index equals a cold index of the same tree, for every kind of edit (issue 13
item 4): the whole index is dumped (symbols, edges with their labels, overrides, aliases,
unresolved sites, every file row with its facts and module name, the counts in meta) and compared.

The fixture framework `incr` is written here: a package `app` (with a namespace folder inside),
a folder `tools` that is not a package but holds one (`tools/sub`: an import root, so its modules
are `sub.a`, `run`; adding `tools/__init__.py` renames them all to `tools.sub.a`, `tools.run`),
and a C++ file.
"""
from __future__ import annotations

import marshal
import os
import sqlite3
from pathlib import Path

import pytest

from infernav.analyzer import sources
from infernav.analyzer.indexer import build, index_path

PINS = """
[incr]
source = "git"
url = "file:///nonexistent/incr.git"
default = "1"
roots = ["app", "tools", "csrc"]
permalink = "https://example.invalid/incr/{path}#L{line}"
"""

TREE = {
    "app/__init__.py": "from .core import Engine\n",
    "app/core.py": (
        "from .util import helper, other\n\n\n"
        "class Base:\n    def run(self):\n        return self.step()\n\n"
        "    def step(self):\n        return helper(1)\n\n\n"
        "class Engine(Base):\n    def step(self):\n        return other(2)\n\n\n"
        "def make():\n    e = Engine()\n    return e.run()\n"),
    "app/util.py": (
        "# helpers\n"
        "def helper(x):\n    return x + 1\n\n\n"
        "def other(x):\n    return helper(x)\n\n\n"
        "def unused():\n    return undefined_thing()\n"),
    "app/ns/plugin.py": "from app.util import helper\n\n\ndef plug():\n    return helper(3)\n",
    "tools/sub/__init__.py": "from .a import fa\n",
    "tools/sub/a.py": "from app.core import make\n\n\ndef fa():\n    return make()\n",
    "tools/sub/b.py": "from .a import fa\n\n\ndef fb():\n    return fa()\n",
    "tools/run.py": "from sub.b import fb\nfrom tools.sub.b import fb as fb2\n\n\ndef main():\n    return fb() + fb2()\n",
    "csrc/k.cpp": ("namespace k {\nint add(int a, int b) { return a + b; }\n"
                   "int twice(int a) { return add(a, a); }\n}\n"),
}


@pytest.fixture
def incr(tmp_path, monkeypatch):
    src = tmp_path / "incr-src"
    for rel, text in TREE.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    pins = tmp_path / "pins.toml"
    pins.write_text(PINS)
    monkeypatch.setenv("INFERNAV_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INFERNAV_PINS", str(pins))
    ref = sources.parse_ref("incr")
    sources.fetch(ref, path=str(src))
    assert build(ref, src, jobs=1).mode == "cold"
    return ref, src


def dump(path: Path) -> dict:
    """Everything an index holds but the time it was made."""
    conn = sqlite3.connect(path)
    out = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
           for t in ("symbols", "edges", "overrides", "aliases", "unresolved")}
    out["files"] = [(*row[:6], marshal.loads(row[6]) if row[6] else None)
                    for row in conn.execute("SELECT * FROM files ORDER BY path")]
    out["meta"] = {k: v for k, v in conn.execute("SELECT key, value FROM meta") if k != "indexed_at"}
    conn.close()
    return out


def names(d: dict) -> set[str]:
    return {row[1] for row in d["symbols"]}


def edge_names(d: dict) -> set[tuple[str, str, str]]:
    by_id = {row[0]: row[1] for row in d["symbols"]}
    return {(by_id[s], by_id[t], res) for s, t, _line, res, _via in d["edges"]}


def incremental_then_cold(ref, src) -> dict:
    report = build(ref, src, jobs=1)
    assert report.mode == "incremental", report
    inc = dump(index_path(ref))
    assert build(ref, src, force=True, jobs=1).mode == "cold"
    cold = dump(index_path(ref))
    for key in cold:
        assert inc[key] == cold[key], f"incremental differs from cold in {key}"
    return inc


def test_edit_body(incr):
    ref, src = incr
    f = src / "app" / "util.py"
    f.write_text(f.read_text().replace("return x + 1", "return other(x) + unknown_call(x)"))
    d = incremental_then_cold(ref, src)
    assert ("app.util.helper", "app.util.other", "exact") in edge_names(d)


def test_same_size_edit_with_mtime_restored(incr):
    ref, src = incr
    f = src / "app" / "util.py"
    st = f.stat()
    text = f.read_text()
    new = text.replace("    return helper(x)", "    return unused(x)")
    assert len(new) == len(text) and new != text
    f.write_text(new)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    d = incremental_then_cold(ref, src)
    assert ("app.util.other", "app.util.unused", "exact") in edge_names(d)
    assert ("app.util.other", "app.util.helper", "exact") not in edge_names(d)


def test_add_file(incr):
    ref, src = incr
    (src / "app" / "extra.py").write_text("from .core import make\n\n\ndef go():\n    return make()\n")
    d = incremental_then_cold(ref, src)
    assert ("app.extra.go", "app.core.make", "exact") in edge_names(d)


def test_remove_file(incr):
    ref, src = incr
    (src / "app" / "util.py").unlink()
    d = incremental_then_cold(ref, src)
    assert not any(n.startswith("app.util") for n in names(d))


def test_add_init_py_renames_the_package_siblings(incr):
    ref, src = incr
    before = names(dump(index_path(ref)))
    assert "sub.a.fa" in before and "run.main" in before
    (src / "tools" / "__init__.py").write_text("")
    d = incremental_then_cold(ref, src)
    assert "tools.sub.a.fa" in names(d) and "tools.run.main" in names(d)
    assert "sub.a.fa" not in names(d) and "run.main" not in names(d)


def test_remove_init_py_renames_the_package_siblings(incr):
    ref, src = incr
    (src / "tools" / "__init__.py").write_text("")
    build(ref, src, jobs=1)
    assert "tools.sub.b.fb" in names(dump(index_path(ref)))
    (src / "tools" / "__init__.py").unlink()
    d = incremental_then_cold(ref, src)
    assert "sub.b.fb" in names(d) and "tools.sub.b.fb" not in names(d)


def test_namespace_folder_becomes_a_package(incr):
    ref, src = incr
    (src / "app" / "ns" / "__init__.py").write_text("from .plugin import plug\n")
    d = incremental_then_cold(ref, src)
    assert "app.ns.plugin.plug" in names(d)


def test_rename_file(incr):
    ref, src = incr
    (src / "tools" / "sub" / "b.py").rename(src / "tools" / "sub" / "c.py")
    d = incremental_then_cold(ref, src)
    assert "sub.c.fb" in names(d) and "sub.b.fb" not in names(d)


def test_edit_that_changes_a_cross_file_edge(incr):
    """Only core.py changes (Engine no longer overrides step), so the edges of run() and make()
    that reach util.py through the MRO change, and util.py's facts do not."""
    ref, src = incr
    f = src / "app" / "core.py"
    f.write_text(f.read_text().replace("class Engine(Base):\n    def step(self):", "class Engine(Base):\n    def other_step(self):"))
    d = incremental_then_cold(ref, src)
    assert ("app.core.Base.run", "app.core.Engine.step", "dispatch") not in edge_names(d)


def test_cpp_edit(incr):
    ref, src = incr
    f = src / "csrc" / "k.cpp"
    f.write_text(f.read_text().replace("return add(a, a);", "return add(a, add(a, a));"))
    incremental_then_cold(ref, src)


def test_several_kinds_at_once(incr):
    ref, src = incr
    (src / "tools" / "__init__.py").write_text("")
    (src / "app" / "ns" / "plugin.py").unlink()
    (src / "app" / "more.py").write_text("from app.util import other\n\n\ndef m():\n    return other(1)\n")
    f = src / "tools" / "sub" / "a.py"
    f.write_text(f.read_text() + "\n\ndef fz():\n    return fa()\n")
    incremental_then_cold(ref, src)


def test_no_change_is_up_to_date_and_unchanged(incr):
    ref, src = incr
    before = dump(index_path(ref))
    (src / "app" / "core.py").touch()
    assert build(ref, src, jobs=1).mode == "up-to-date"
    assert dump(index_path(ref))["symbols"] == before["symbols"]
    assert dump(index_path(ref))["edges"] == before["edges"]


def test_edit_that_leaves_the_facts_as_they_were_skips_resolution(incr):
    """A comment reworded (same length: the flow facts keep byte positions): new hash, same facts;
    the derived tables are kept (resolution is a pure function of the facts) and the file row gets
    the new hash."""
    ref, src = incr
    f = src / "app" / "util.py"
    f.write_text(f.read_text().replace("# helpers", "# HELPERS"))
    report = build(ref, src, jobs=1)
    assert report.mode == "incremental" and report.parsed == 1 and "resolve" not in report.seconds
    inc = dump(index_path(ref))
    build(ref, src, force=True, jobs=1)
    assert inc == dump(index_path(ref))
    assert build(ref, src, jobs=1).mode == "up-to-date"


def test_parallel_parse_from_a_script_without_a_main_guard(incr, tmp_path):
    """Parse workers are fresh interpreters fed over pipes: a script that calls build() at top
    level works (multiprocessing's spawn and forkserver re-run such a script in every worker and
    fail), and the index equals a serial cold build's."""
    import subprocess
    import sys

    ref, src = incr
    serial = dump(index_path(ref))
    script = tmp_path / "script.py"
    script.write_text(
        "from infernav.analyzer import indexer, sources\n"
        "indexer._PARALLEL_MIN_FILES = 1\n"
        "ref = sources.parse_ref('incr')\n"
        "r = indexer.build(ref, sources.locate(ref), force=True, jobs=2)\n"
        "print(r.mode, r.parsed)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=os.environ, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["cold", str(len(TREE))]
    assert dump(index_path(ref)) == serial
