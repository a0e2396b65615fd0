"""Index.signature (analyzer/query/signature.py): the header as written, comments and decorators
dropped, shared by the CLI's `show` (text and --json `signature`) and the site's symbol pages.
Fixture: tests/fixtures/signatures (multi-line parameters with comments, a comment opening the
body, decorators of one and several lines, a one-line def, a C++ member-initializer list)."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from conftest import FIXTURES

PINS = """
[sigs]
source = "git"
url = "file:///nonexistent/sigs.git"
default = "1"
roots = ["pkg", "csrc"]
permalink = "https://example.invalid/sigs/{path}#L{line}"
"""


@pytest.fixture(scope="module")
def sigs(tmp_path_factory):
    from infernav.analyzer import sources
    from infernav.analyzer.indexer import build, index_path
    from infernav.analyzer.query import Index

    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("sigs")
    src = tmp / "src"
    shutil.copytree(FIXTURES / "signatures", src)
    (tmp / "pins.toml").write_text(PINS)
    mp.setenv("INFERNAV_HOME", str(tmp / "home"))
    mp.setenv("INFERNAV_PINS", str(tmp / "pins.toml"))
    ref = sources.parse_ref("sigs")
    sources.fetch(ref, path=str(src))
    build(ref, src, jobs=1)
    idx = Index(index_path(ref))
    yield idx
    idx.close()
    mp.undo()


def _sig(idx, name):
    (row,) = idx.exact(name)
    return idx.signature(row)


def test_multi_line_python_header_without_comments_or_decorators(sigs):
    assert _sig(sigs, "pkg.headers.Pool.allocate") == (
        "def allocate(num_blocks: int,\n"
        "             hashes: list[str] | None = None,\n"
        "             *, evict: bool = True) -> dict[str, int]")


def test_body_comment_docstring_and_one_line_defs_are_not_the_header(sigs):
    assert _sig(sigs, "pkg.headers.Pool.size") == "def size(self) -> int"
    assert _sig(sigs, "pkg.headers.Pool.one_line") == "def one_line(self, x)"
    assert _sig(sigs, "pkg.headers.plain") == 'def plain(a, b="#not a comment", c=":")'
    assert _sig(sigs, "pkg.headers.Pool") == "class Pool"


def test_cpp_header_drops_comments_initializer_list_and_body(sigs):
    assert _sig(sigs, "kv::Cache::Allocate") == "int Allocate(int n,\n             bool evict) const"
    assert _sig(sigs, "kv::Cache::Cache") == "Cache(int blocks,\n      int block_size)"


def test_cli_show_prints_the_header_and_json_adds_signature(sigs):
    from infernav.analyzer.cli import main

    run = CliRunner().invoke
    r = run(main, ["show", "pkg.headers.Pool.allocate", "-f", "sigs", "--no-source"])
    assert r.exit_code == 0, r.output
    assert "hashes: list[str] | None = None," in r.output and "# one per full block" not in r.output
    assert "opens the body" not in r.output and "@cached" not in r.output
    r = run(main, ["show", "pkg.headers.Pool.allocate", "-f", "sigs", "--json", "--no-source"])
    sym = json.loads(r.stdout)["symbols"][0]
    assert sym["signature"] == _sig(sigs, "pkg.headers.Pool.allocate")
    assert {"sig", "name", "path", "line", "permalink", "source"} <= set(sym)   # existing fields kept
    assert sym["source"] is None


def test_site_and_mcp_read_the_header_through_the_query_layer():
    import inspect

    from infernav.analyzer.mcp import tools
    from infernav.analyzer.site import code, symbols

    assert not hasattr(code, "signature")              # the site is not the owner
    assert "index.signature(" in inspect.getsource(symbols)
    assert "idx.signature(" in inspect.getsource(tools)
