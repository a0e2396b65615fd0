"""Issue 13, the index: read-only and shared caches (item 2), damage inside the index (item 6),
an INFERNAV_HOME that is a file, a full disk, a held write lock (item 9), temp files a SIGKILLed
build leaves (item 10). Every case runs the real executable: one line on stderr, the README's exit
codes (0 answered, 1 a source/index that cannot be had, 2 usage or input error)."""
from __future__ import annotations

import marshal
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile import INFERNAV, MINI_PINS, NOBODY, cli, error_line, need, shared_tmp

FIXTURES = Path(__file__).parent / "fixtures"
QUERY = ("callers", "kv::PrefixCache::Allocate", "-f", "mini")


@pytest.fixture
def cache():
    """A mini framework in a folder others can read: (base, env, index path)."""
    base = shared_tmp()
    shutil.copytree(FIXTURES / "mini", base / "src")
    (base / "pins.toml").write_text(MINI_PINS)
    env = {"INFERNAV_HOME": str(base / "home"), "INFERNAV_PINS": str(base / "pins.toml")}
    r = cli("fetch", "mini", "--path", str(base / "src"), env=env)
    assert r.returncode == 0, r.stderr
    r = cli("index", "mini", "-q", env=env)
    assert r.returncode == 0, r.stderr
    yield base, env, base / "home" / "index" / "mini@1.sqlite"
    shutil.rmtree(base, ignore_errors=True)


def _sql(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    for s in statements:
        conn.execute(s)
    conn.commit()
    conn.close()


def _answer(env, **kw) -> str:
    r = cli(*QUERY, env=env, **kw)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    return r.stdout


# ------------------------------------------------------------------ item 2: read-only, shared
def test_read_only_cache_answers_queries(cache):
    need("read-only")
    base, env, _ = cache
    assert _answer(env, read_only=base) == _answer(env)


def test_legacy_wal_index_answers_from_a_read_only_cache(cache):
    need("read-only")
    base, env, path = cache
    want = _answer(env)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    conn.close()
    assert _answer(env, read_only=base) == want


def test_another_user_queries_a_shared_cache(cache):
    need("user")
    base, env, _ = cache
    assert _answer(env, user=NOBODY) == _answer(env)


def test_index_needing_a_rebuild_in_a_read_only_cache_says_so_before_parsing(cache):
    need("read-only")
    base, env, path = cache
    _sql(path, "UPDATE meta SET value='1' WHERE key='schema_version'")
    for args in (QUERY, ("index", "mini")):
        r = cli(*args, env=env, read_only=base)
        assert r.returncode == 1, r.stderr
        assert "read-only" in error_line(r)
        assert "parse" not in r.stderr  # refused before any parsing


def test_another_user_cannot_rebuild_and_says_so(cache):
    need("user")
    base, env, path = cache
    _sql(path, "UPDATE meta SET value='1' WHERE key='schema_version'")
    r = cli("index", "mini", env=env, user=NOBODY)
    assert r.returncode == 1
    assert "cannot write" in error_line(r)


# ------------------------------------------------------------------ item 6: damage inside the index
def _corrupt_pages(path: Path) -> None:
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    for off in range(2 * page, len(data), 3 * page):   # every third page after the schema's
        data[off:off + page] = b"\xa5" * page
    path.write_bytes(bytes(data))


def _damage(path: Path, how: str) -> None:
    if how == "pages":
        _corrupt_pages(path)
    elif how == "dropped-table":
        _sql(path, "DROP TABLE edges")
    elif how == "schema-abc":
        _sql(path, "UPDATE meta SET value='abc' WHERE key='schema_version'")
    elif how == "facts-garbage":
        _sql(path, "UPDATE files SET facts=x'00ff13370a' WHERE path='app/core/base.py'")
    elif how == "facts-not-a-dict":
        blob = marshal.dumps(42).hex()
        _sql(path, f"UPDATE files SET facts=x'{blob}' WHERE path='app/core/base.py'")


@pytest.mark.parametrize("how", ["pages", "dropped-table", "schema-abc", "facts-garbage", "facts-not-a-dict"])
def test_damaged_index_is_rebuilt_without_force(cache, how):
    base, env, path = cache
    want = _answer(env)
    _damage(path, how)
    helpers = base / "src" / "app" / "core" / "helpers.py"
    helpers.write_text(helpers.read_text() + "\n\ndef added_later():\n    return 1\n")
    r = cli("index", "mini", env=env)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "damaged" in r.stdout and "rebuil" in r.stdout, r.stdout
    assert _answer(env) == want


@pytest.mark.parametrize("how", ["pages", "dropped-table", "schema-abc"])
def test_query_on_a_damaged_index_answers_or_says_so_in_one_line(cache, how):
    base, env, path = cache
    want = _answer(env)
    _damage(path, how)
    r = cli(*QUERY, env=env)
    if r.returncode == 0:    # rebuilt on the way (the damage was seen when the index was opened)
        assert r.stdout == want and "damaged" in r.stderr
    else:
        assert r.returncode == 1 and "damaged" in error_line(r)
        assert "infernav index" in r.stderr
    assert cli("index", "mini", "-q", env=env).returncode == 0
    assert _answer(env) == want


# ------------------------------------------------------------------ item 9: home, disk, lock
def test_infernav_home_that_is_a_file(tmp_path):
    home = tmp_path / "home"
    home.write_text("not a folder")
    (tmp_path / "pins.toml").write_text(MINI_PINS)
    env = {"INFERNAV_HOME": str(home), "INFERNAV_PINS": str(tmp_path / "pins.toml")}
    for args in (QUERY, ("index", "mini"), ("fetch", "mini", "--path", str(FIXTURES / "mini"))):
        r = cli(*args, env=env)
        assert r.returncode == 1, (args, r.stderr)
        assert "INFERNAV_HOME" in error_line(r) and "not a folder" in r.stderr


def test_full_disk_says_so_in_one_line(tmp_path):
    need("read-only")   # the same private mount namespace, here with a 96 KiB tmpfs as the cache
    shutil.copytree(FIXTURES / "mini", tmp_path / "src")
    (tmp_path / "pins.toml").write_text(MINI_PINS)
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "INFERNAV_HOME": str(home), "INFERNAV_PINS": str(tmp_path / "pins.toml")}
    script = ('mount -t tmpfs -o size=96k tmpfs "$0" && "$1" fetch mini --path "$2" >/dev/null && '
              'exec "$1" index mini')
    r = subprocess.run(["unshare", "-m", "sh", "-c", script, str(home), INFERNAV,
                        str(tmp_path / "src")], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1, r.stderr
    line = error_line(r)
    assert "full" in line or "No space left" in line


def test_held_write_lock_says_so_and_readers_still_answer(cache):
    base, env, path = cache
    want = _answer(env)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")   # another writer, mid-transaction
    try:
        helpers = base / "src" / "app" / "core" / "helpers.py"
        helpers.write_text(helpers.read_text() + "\n\ndef added_later():\n    return 1\n")
        assert _answer(env) == want
        r = cli("index", "mini", env=env)
        assert r.returncode == 1
        assert "another infernav" in error_line(r)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert cli("index", "mini", "-q", env=env).returncode == 0


# ------------------------------------------------------------------ item 10: temp files of killed builds
KILLED_BUILD = """
import os, sys, time
from pathlib import Path
from infernav.analyzer import sources, store
from infernav.analyzer.indexer import build
real = store._write_graph
def slow(conn, graph):
    real(conn, graph)
    Path(sys.argv[2]).write_text("writing")
    time.sleep(600)
store._write_graph = slow
ref = sources.parse_ref("mini")
build(ref, Path(sys.argv[1]), force=True, jobs=1)
"""


def test_sigkilled_build_leaves_a_temp_file_the_next_run_removes(cache):
    base, env, path = cache
    flag = base / "flag"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(base / "src"), str(flag)],
                            env={**os.environ, **env})
    try:
        for _ in range(600):
            if flag.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert flag.exists(), "the build never reached its write"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    left = list(path.parent.glob(".*.tmp"))
    assert [p.name for p in left] == [f".{path.name}.{proc.pid}.tmp"]
    alive = path.parent / f".{path.name}.{os.getpid()}.tmp"   # a live owner's file stays
    alive.write_bytes(b"")
    assert cli("index", "mini", "-q", "--force", env=env).returncode == 0
    assert sorted(p.name for p in path.parent.glob(".*.tmp")) == [alive.name]



# ------------------------------------------------------------------ item 2: `notes check` on the real cache
@pytest.mark.parametrize("how", ["another-user", "read-only"])
def test_notes_check_reads_a_shared_or_read_only_cache(vllm_index, ksana_index, how):
    from infernav.analyzer import sources

    need("user" if how == "another-user" else "read-only")
    home = sources.home()
    if how == "another-user":
        import stat

        closed = [p for p in (home, *home.parents) if not p.stat().st_mode & stat.S_IXOTH]
        if closed:   # the other user cannot even reach the cache: not a shared cache (CLI says so in one line)
            pytest.skip(f"{closed[0]} is not traversable by other users, so {home} cannot be shared from there")
    env = {"INFERNAV_HOME": str(home)}
    as_owner = cli("notes", "check", env=env)
    assert as_owner.returncode == 0, as_owner.stderr
    kw = {"user": NOBODY} if how == "another-user" else {"read_only": home}
    r = cli("notes", "check", env=env, **kw)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert r.stdout == as_owner.stdout


def test_up_to_date_index_in_a_read_only_cache_is_fine(cache):
    need("read-only")
    base, env, _ = cache
    helpers = base / "src" / "app" / "core" / "helpers.py"
    helpers.write_bytes(helpers.read_bytes())   # a new mtime, the same content: nothing to write
    r = cli("index", "mini", env=env, read_only=base / "home")
    assert r.returncode == 0 and "up-to-date" in r.stdout, r.stderr
