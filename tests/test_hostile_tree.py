"""Issue 13, odd source trees (item 3: FIFOs, devices, symlinks leaving the root, huge files,
deep nesting), unreadable and vanishing files (item 5), and a latin-1 `def café` (item 10)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hostile import MINI_PINS, NOBODY, chown_tree, cli, need, shared_tmp

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """The mini framework linked from a temp checkout: (ref, source root)."""
    from infernav.analyzer import sources

    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "mini", src)
    (tmp_path / "pins.toml").write_text(MINI_PINS)
    monkeypatch.setenv("INFERNAV_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INFERNAV_PINS", str(tmp_path / "pins.toml"))
    ref = sources.parse_ref("mini")
    sources.fetch(ref, path=str(src))
    return ref, src


def _build(ref, src, **kw):
    from infernav.analyzer.indexer import build

    return build(ref, src, jobs=kw.pop("jobs", 1), **kw)


def _names(ref) -> set[str]:
    from infernav.analyzer.indexer import index_path
    from infernav.analyzer.query import Index

    idx = Index(index_path(ref))
    try:
        return {row[1] for row in idx.all_symbols()}
    finally:
        idx.close()


BUILD_IN_A_BOX = """
import resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (1 << 31, 1 << 31))   # 2 GiB: reading a huge file fails here
from infernav.analyzer import sources
from infernav.analyzer.indexer import build
r = build(sources.parse_ref("mini"), Path(sys.argv[1]), jobs=1)
print("\\n".join(f"{p}\\t{why}" for p, why in r.skipped))
"""


def _build_in_a_box(src: Path, timeout: float = 60) -> dict[str, str]:
    """Index in a subprocess with 2 GiB of address space and a deadline: a hang or an unbounded
    read fails the test instead of the machine. Returns the skipped files with their reasons."""
    try:
        r = subprocess.run([sys.executable, "-c", BUILD_IN_A_BOX, str(src)], capture_output=True, text=True,
                           timeout=timeout, env=dict(os.environ))
    except subprocess.TimeoutExpired:
        pytest.fail(f"index did not finish in {timeout} s (a hang)")
    assert r.returncode == 0, r.stderr[-3000:]
    return dict(line.split("\t", 1) for line in r.stdout.splitlines() if "\t" in line)


# ------------------------------------------------------------------ item 3: odd files
def test_fifo_named_like_source_does_not_hang(tree):
    ref, src = tree
    os.mkfifo(src / "app" / "fifo.py")
    skipped = _build_in_a_box(src)
    assert "not a regular file" in skipped["app/fifo.py"]
    assert "app.core.base.Base" in _names(ref)


def test_symlink_to_dev_zero_is_not_read(tree):
    ref, src = tree
    (src / "app" / "x.py").symlink_to("/dev/zero")
    skipped = _build_in_a_box(src)
    assert "app/x.py" in skipped and "outside" in skipped["app/x.py"]


def test_device_node_inside_the_root_is_not_read(tree):
    ref, src = tree
    try:
        os.mknod(src / "app" / "zero.py", 0o644 | 0o020000, os.makedev(1, 5))   # a /dev/zero
    except PermissionError as exc:
        print(f"skip: cannot make a device node here ({exc})")
        pytest.skip(f"cannot make a device node here ({exc})")
    skipped = _build_in_a_box(src)
    assert "not a regular file" in skipped["app/zero.py"]


def test_symlink_to_a_file_outside_the_root_is_skipped(tree, tmp_path):
    ref, src = tree
    outside = tmp_path / "secret.py"
    outside.write_text("def secret():\n    pass\n")
    (src / "app" / "leak.py").symlink_to(outside)
    report = _build(ref, src)
    assert "outside" in dict(report.skipped)["app/leak.py"]
    assert not any("secret" in n for n in _names(ref))


def test_symlink_inside_the_root_is_indexed(tree):
    ref, src = tree
    (src / "app" / "alias.py").symlink_to(src / "app" / "ops.py")
    report = _build(ref, src)
    assert "app/alias.py" not in dict(report.skipped)
    assert any(n.startswith("app.alias.") for n in _names(ref))


def test_huge_sparse_file_is_skipped_by_its_size_without_reading_it(tree):
    ref, src = tree
    with open(src / "app" / "huge.py", "wb") as f:
        f.truncate(8 << 30)   # 8 GiB of holes: reading it whole would need 8 GiB
    skipped = _build_in_a_box(src)
    assert "limit" in skipped["app/huge.py"]


def test_deep_nesting_indexes_with_the_right_module_names(tree):
    ref, src = tree
    d = src / "app"
    depth = 300
    for i in range(depth):
        d = d / f"p{i % 10}"
        d.mkdir()
        (d / "__init__.py").write_text(f"def level{i}():\n    return 1\n")
    report = _build(ref, src)
    assert report.skipped == []
    deepest = "app." + ".".join(f"p{i % 10}" for i in range(depth)) + f".level{depth - 1}"
    assert deepest in _names(ref)


# ------------------------------------------------------------------ item 5: unreadable, vanishing files
def test_unreadable_file_is_a_skip_that_does_not_poison_later_runs():
    need("user")   # root reads every file; the indexing user here is nobody
    base = shared_tmp()
    try:
        shutil.copytree(FIXTURES / "mini", base / "src")
        (base / "pins.toml").write_text(MINI_PINS)
        chown_tree(base, NOBODY)
        env = {"INFERNAV_HOME": str(base / "home"), "INFERNAV_PINS": str(base / "pins.toml")}
        secret = base / "src" / "app" / "core" / "secret.py"
        secret.write_text("def hidden():\n    return 1\n")
        os.chown(secret, NOBODY, NOBODY)
        secret.chmod(0o000)
        assert cli("fetch", "mini", "--path", str(base / "src"), env=env, user=NOBODY).returncode == 0
        first = cli("index", "mini", env=env, user=NOBODY)
        assert first.returncode == 0, first.stderr
        assert "app/core/secret.py: skipped: unreadable" in first.stdout
        helpers = base / "src" / "app" / "core" / "helpers.py"
        helpers.write_text(helpers.read_text() + "\n\ndef added_later():\n    return 1\n")
        second = cli("index", "mini", env=env, user=NOBODY)
        assert second.returncode == 0 and "Traceback" not in second.stderr, second.stderr
        assert "incremental" in second.stdout
        secret.chmod(0o644)   # readable again: the next run picks it up without --force
        third = cli("index", "mini", env=env, user=NOBODY)
        assert third.returncode == 0, third.stderr
        found = cli("show", "app.core.secret.hidden", "-f", "mini", env=env, user=NOBODY)
        assert found.returncode == 0, found.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("jobs", [1, 2])
def test_file_vanishing_between_scan_and_parse_is_a_reported_skip(tree, monkeypatch, jobs):
    from infernav.analyzer import indexer
    from infernav.analyzer.sources import walk

    ref, src = tree
    doomed = src / "app" / "core" / "doomed.py"
    doomed.write_text("def gone():\n    pass\n")
    real_scan = walk.scan

    def scan_then_delete(*a, **k):
        out = real_scan(*a, **k)
        doomed.unlink()          # after the scan saw it, before it is read
        return out

    monkeypatch.setattr(walk, "scan", scan_then_delete)
    monkeypatch.setattr(indexer, "_PARALLEL_MIN_FILES", 1)
    report = _build(ref, src, jobs=jobs)
    assert "vanished" in dict(report.skipped)["app/core/doomed.py"]
    monkeypatch.setattr(walk, "scan", real_scan)
    assert _build(ref, src).mode in ("incremental", "up-to-date")


# ------------------------------------------------------------------ item 10: encodings
def test_latin1_identifier_with_a_coding_cookie(tree):
    ref, src = tree
    (src / "app" / "accents.py").write_bytes(b"# -*- coding: latin-1 -*-\ndef caf\xe9():\n    return 1\n")
    report = _build(ref, src)
    names = _names(ref)
    assert "app.accents.caf\u00e9" in names and "app.accents.caf" not in names, report.skipped


def test_latin1_identifier_without_a_cookie(tree):
    ref, src = tree
    (src / "app" / "accents.py").write_bytes(b"def caf\xe9():\n    return 1\n")
    _build(ref, src)
    assert "app.accents.caf\u00e9" in _names(ref)
