"""Issue 13, items 9 and 10: every error is one line on stderr with the documented exit status
(0 answered, 1 not found/empty/source or index unavailable, 2 usage or input error), and under
`--json` stdout carries a JSON document {"error": ..., "message": ...}.

The CLI runs as a real process (`python -m infernav.analyzer.cli`), so tracebacks, undecodable
arguments and the terminal (a pty, for NO_COLOR) are what a user would meet.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "infernav.analyzer.cli"]


def cli(*args, env: dict | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + [a if isinstance(a, bytes) else str(a) for a in args], capture_output=True,
                          env={**os.environ, **(env or {})}, input=stdin.encode() if stdin else None, timeout=120)


def one_line_error(r: subprocess.CompletedProcess, status: int) -> str:
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == status, (r.returncode, err, r.stdout[-500:])
    assert "Traceback" not in err and "infernav bug" not in err, err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def json_error(r: subprocess.CompletedProcess, status: int) -> dict:
    one_line_error(r, status)
    doc = json.loads(r.stdout)
    assert isinstance(doc.get("error"), str) and isinstance(doc.get("message"), str) and doc["message"], doc
    return doc


@pytest.fixture
def twin_index(mini):
    """mini with a second ops.py (app/core/ops.py), indexed: `ops.py:N` names two files."""
    from infernav.analyzer.indexer import build

    ref, src = mini
    (src / "app" / "core" / "ops.py").write_text("def twin():\n    return 1\n")
    build(ref, src, jobs=1)
    return ref, src


# ------------------------------------------------------------------------------- item 9
@pytest.mark.parametrize("as_json", [False, True])
def test_an_undecodable_argument_is_an_input_error(twin_index, as_json):
    r = cli("show", b"\xff\xfe", "-f", "mini", *(["--json"] if as_json else []))
    line = one_line_error(r, 2)
    assert "UTF-8" in line
    if as_json:
        json_error(r, 2)


def test_a_huge_line_number_is_not_found(twin_index):
    r = cli("show", "app/ops.py:99999999999999999999", "-f", "mini")
    assert "app/ops.py:99999999999999999999" in one_line_error(r, 1)
    json_error(cli("show", "app/ops.py:99999999999999999999", "-f", "mini", "--json"), 1)


def _notes_dir(tmp_path, monkeypatch, lock: str | None = None):
    from test_hostile_notes import ANCHORS, _note

    root = tmp_path / "notes"
    for fw in ("mini", "other"):
        (root / fw).mkdir(parents=True)
        (root / fw / "same.md").write_text(_note(ANCHORS))
    if lock is not None:
        (root / "notes.lock.json").write_text(lock)
    monkeypatch.setenv("INFERNAV_NOTES", str(root))
    return root


@pytest.mark.parametrize("lock", ["{not json", "[1, 2]", '{"notes": 3}', '{"notes": {"mini/same.md": 5}}',
                                  '{"notes": {"mini/same.md": {"anchors": {"mini:x": {"lines": "a"}}}}}', "\xff"])
def test_a_malformed_lock_is_one_line(twin_index, tmp_path, monkeypatch, lock):
    _notes_dir(tmp_path, monkeypatch, lock)
    line = one_line_error(cli("notes", "check", "mini/same.md"), 2)
    assert "notes.lock.json" in line
    json_error(cli("notes", "check", "mini/same.md", "--json"), 2)
    one_line_error(cli("notes", "relock", "mini/same.md"), 2)


def test_two_notes_with_one_name_are_ambiguous(twin_index, tmp_path, monkeypatch):
    _notes_dir(tmp_path, monkeypatch)
    line = one_line_error(cli("notes", "show", "same"), 2)
    assert "mini/same.md" in line and "other/same.md" in line
    assert json_error(cli("notes", "show", "same", "--json"), 2)["error"] == "ambiguous"
    one_line_error(cli("notes", "relock", "same"), 2)
    json_error(cli("notes", "show", "nosuch", "--json"), 1)


@pytest.mark.parametrize("args", [["--rate", "0"], ["--rate", "nan"], ["--rate", "inf"], ["--rate", "-1"],
                                  ["--block-size", "0"], ["--num-blocks", "0"], ["--requests", "0"],
                                  ["--strategy", "nosuch"]])
def test_simulator_arguments_are_checked(args):
    line = one_line_error(cli("simulate", "--requests", "5", *args), 2)
    assert args[0] in line
    json_error(cli("simulate", "--requests", "5", *args, "--json"), 2)


@pytest.mark.parametrize("content", [None, "garbage\n", "[1, 2]\n", '{"arrival_s": "soon", "prompt_len": 3}\n',
                                     '{"prompt_len": 3}\n', '{"arrival_s": 0, "prompt_len": -5, "max_tokens": 2}\n',
                                     '{"arrival_s": 0, "prompt_len": 3, "max_tokens": 2}\n\xff\n', ""])
def test_a_missing_or_bad_trace_is_one_line(tmp_path, content):
    trace = tmp_path / "trace.jsonl"
    if content is not None:
        trace.write_bytes(content.encode("latin-1"))
    line = one_line_error(cli("simulate", "--trace", trace), 2)
    assert "--trace" in line
    json_error(cli("simulate", "--trace", trace, "--json"), 2)


@pytest.mark.parametrize("where", ["/proc/nonexistent/x.png", "DIR"])
def test_an_unwritable_plot_is_one_line(tmp_path, where):
    where = str(tmp_path) if where == "DIR" else where
    line = one_line_error(cli("simulate", "--requests", "5", "--plot", where), 2)
    assert "--plot" in line
    json_error(cli("simulate", "--requests", "5", "--plot", where, "--json"), 2)


# ------------------------------------------------------------------------------- item 10
@pytest.mark.parametrize("args", [["find", "--json"], ["find", "x", "--json", "-n", "-1"],
                                  ["callers", "kv::PrefixCache::Allocate", "--json", "--depth", "0"],
                                  ["path", "a", "b", "-k", "0", "--json"], ["find", "x", "--json", "--bogus"],
                                  ["-f", "mini", "find", "x", "--json"]])
def test_usage_errors_under_json_print_json(twin_index, args):
    doc = json_error(cli(*args, "-f", "mini") if args[0] != "-f" else cli(*args), 2)
    assert doc["error"] == "usage"


@pytest.mark.parametrize("args", [["callers", "kv::PrefixCache::Allocate", "--depth", "-1"],
                                  ["callees", "kv::PrefixCache::Allocate", "--depth", "0"],
                                  ["path", "sched::Strategy::Step", "kv::PrefixCache::Free", "-k", "0"],
                                  ["find", "Prefix", "-n", "-1"], ["find", "Prefix", "-n", "0"],
                                  ["graph", "kv::PrefixCache::Allocate", "--depth", "0"]])
def test_counts_must_be_positive(twin_index, args):
    line = one_line_error(cli(*args, "-f", "mini"), 2)
    assert "range" in line or "positive" in line


def test_lookup_errors_under_json(twin_index):
    assert json_error(cli("show", "NoSuchSymbolAnywhere", "-f", "mini", "--json"), 1)["error"] == "not found"
    assert json_error(cli("show", "twin_or_not", "-f", "mini", "--json"), 1)["error"] == "not found"
    assert json_error(cli("find", "x", "-f", "nosuch", "--json"), 2)["error"] == "usage"
    doc = json_error(cli("callers", "Allocate", "-f", "mini", "--json"), 1)
    assert doc["error"] in ("ambiguous", "not found")


def test_find_wildcards_are_literal(twin_index):
    r = cli("find", "_", "-f", "mini", "-n", "1000", "--json")
    names = [x["name"] for x in json.loads(r.stdout)["results"]]
    assert names and all("_" in n for n in names), names
    one_line_error(cli("find", "%", "-f", "mini"), 1)            # no name holds a '%'
    r = cli("find", "%", "-f", "mini", "--json")                   # an empty answer, not an error document
    assert r.returncode == 1 and json.loads(r.stdout)["results"] == []
    assert "empty" in one_line_error(cli("find", "", "-f", "mini"), 2)
    one_line_error(cli("find", "   ", "-f", "mini"), 2)
    r = cli("find", "*_*", "-f", "mini", "-n", "1000", "--json")   # a glob's own '*' still works
    assert sorted(x["name"] for x in json.loads(r.stdout)["results"]) == sorted(names)


def test_a_path_line_naming_several_files_is_ambiguous(twin_index):
    line = one_line_error(cli("show", "ops.py:1", "-f", "mini"), 1)
    assert "ambiguous" in line and "app/ops.py" in line and "app/core/ops.py" in line
    doc = json_error(cli("show", "ops.py:1", "-f", "mini", "--json"), 1)
    assert doc["error"] == "ambiguous" and {"app/ops.py", "app/core/ops.py"} <= set(doc["files"])
    r = cli("show", "core/ops.py:1", "-f", "mini", "--json")       # more of the path picks one
    assert r.returncode == 0 and json.loads(r.stdout)["symbols"][0]["name"] == "app.core.ops.twin", r.stderr


def _in_pty(args: list[str], env: dict) -> bytes:
    import pty

    pid, fd = pty.fork()
    if pid == 0:
        os.execve(sys.executable, [sys.executable, "-m", "infernav.analyzer.cli", *args], env)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    return out


def test_no_color_is_honoured_on_a_terminal(twin_index):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = _in_pty(["find", "Prefix", "-f", "mini"], env)
    assert b"\x1b[" in coloured, coloured[:300]         # a terminal gets colour by default ...
    plain = _in_pty(["find", "Prefix", "-f", "mini"], {**env, "NO_COLOR": "1"})
    assert b"PrefixCache" in plain and b"\x1b[" not in plain, plain[:300]   # ... and NO_COLOR turns it off
    forced = _in_pty(["--color", "always", "find", "Prefix", "-f", "mini"], {**env, "NO_COLOR": "1"})
    assert b"\x1b[" in forced


# ------------------------------------------------- errors raised deep inside (sources, store, bugs)
def _run_in_process(capsys, *args: str) -> tuple[int, str, str]:
    from infernav.analyzer.cli import main
    from infernav.analyzer.cli.errors import run_main

    with pytest.raises(SystemExit) as exit_:
        run_main(main, list(args))
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


@pytest.mark.parametrize("raised,status,kind", [("source", 1, "source"), ("store", 1, "no index"),
                                                 ("bug", 2, "bug")])
def test_errors_from_below_are_one_line_and_json(twin_index, monkeypatch, capsys, raised, status, kind):
    from infernav.analyzer import indexer, store, workspace
    from infernav.analyzer.sources import SourceError

    exc = {"source": SourceError("mini@1: the cache is read-only"),
           "store": store.CorruptIndex(indexer.index_path(twin_index[0]), "damaged index (malformed)"),
           "bug": RuntimeError("boom\nsecond line")}[raised]

    def boom(*a, **k):
        raise exc

    monkeypatch.setattr(workspace, "open_index", boom)
    monkeypatch.setattr(indexer, "build", boom)
    for args in (["find", "Prefix", "-f", "mini"], ["index", "mini"]):
        code, out, err = _run_in_process(capsys, *args)
        lines = err.strip().splitlines()
        assert code == status and len(lines) == 1 and lines[0].startswith("error: "), (args, code, err)
        code, out, err = _run_in_process(capsys, *args, "--json")
        doc = json.loads(out)
        assert code == status and doc["error"] == kind and doc["message"] == lines[0][len("error: "):], (args, out)


def test_fetch_and_index_of_a_missing_version_under_json(twin_index):
    doc = json_error(cli("index", "mini@7", "--json"), 1)
    assert "not fetched" in doc["message"] and doc["framework"] == "mini@7"
    doc = json_error(cli("fetch", "mini@7", "--json"), 1)     # its git URL cannot be reached
    assert doc["framework"] == "mini@7"


def test_json_errors_do_not_leak_into_later_in_process_runs(twin_index, capsys):
    from infernav.analyzer.cli import output

    _run_in_process(capsys, "find", "", "-f", "mini", "--json")
    assert output.JSON_ERRORS is False
    code, out, err = _run_in_process(capsys, "find", "", "-f", "mini")
    assert code == 2 and out == "" and err.startswith("error: ")


def test_several_frameworks_under_json_print_one_document(mini):
    """fetch/index of several frameworks under --json: one JSON object, every framework's result,
    and `error`/`message` when any failed; exit 1 when named ones failed, 0 under --all (make goes on)."""
    def doc_of(r):
        doc = json.loads(r.stdout)              # one document, nothing else on stdout
        assert isinstance(doc, dict) and isinstance(doc["results"], list)
        assert "Traceback" not in r.stderr.decode()
        return doc

    r = cli("index", "mini", "mini@7", "--json", "-q")       # mini fetched by the fixture, mini@7 not
    doc = doc_of(r)
    assert r.returncode == 1
    assert [x["framework"] for x in doc["results"]] == ["mini@1", "mini@7"]
    assert "error" not in doc["results"][0] and doc["results"][0]["symbols"] > 0
    assert doc["results"][1]["error"].startswith("mini@7 is not fetched")
    assert doc["error"] == "no source" and doc["message"].startswith("1 of 2 failed: mini@7 is not fetched")
    assert "\n" not in doc["message"]

    r = cli("index", "--all", "--json", "-q")                # vllm is pinned but not fetched in this cache
    doc = doc_of(r)
    assert r.returncode == 0
    assert {x["framework"]: "error" in x for x in doc["results"]} == {"mini@1": False, "vllm@0.14.1": True}
    assert doc["error"] == "no source" and "1 of 2 failed" in doc["message"]

    r = cli("index", "mini", "--json", "-q")
    assert r.returncode == 0 and "error" not in doc_of(r)

    r = cli("fetch", "mini@7", "mini@8", "--json")           # their git URL cannot be reached
    doc = doc_of(r)
    assert r.returncode == 1
    assert [x["framework"] for x in doc["results"]] == ["mini@7", "mini@8"]
    assert all("cannot fetch" in x["error"] for x in doc["results"])
    assert doc["error"] == "source" and doc["message"].startswith("2 of 2 failed: mini@7: cannot fetch")
