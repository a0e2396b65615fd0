"""Issue 13, the source cache: read-only and shared caches (item 2), the cache re-verified against
the pins after download (item 8), pins files that are missing, broken or incomplete (item 9),
versions that point outside INFERNAV_HOME and downloads a SIGKILL interrupted (item 10).

`tiny` is a PyPI-sdist framework served by a simple index on 127.0.0.1 (tests/hostile.py)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
from hostile import INFERNAV, MINI_PINS, NOBODY, SimpleIndex, cli, error_line, need, sha, shared_tmp, tiny_pins, tiny_sdist

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def tiny():
    """(base, env, index server, sdist bytes): `tiny` pinned to its sdist's sha256, not fetched yet."""
    base = shared_tmp()
    sdist = tiny_sdist()
    server = SimpleIndex({"1.0": sdist, "2.0": tiny_sdist("2.0")})
    (base / "pins.toml").write_text(tiny_pins(sha(sdist)))
    env = {"INFERNAV_HOME": str(base / "home"), "INFERNAV_PINS": str(base / "pins.toml"),
           "INFERNAV_PYPI_URL": server.url}
    yield base, env, server, sdist
    server.close()
    shutil.rmtree(base, ignore_errors=True)


def _fetch_and_index(env) -> Path:
    r = cli("fetch", "tiny", env=env)
    assert r.returncode == 0, r.stderr
    r = cli("index", "tiny", "-q", env=env)
    assert r.returncode == 0, r.stderr
    return Path(env["INFERNAV_HOME"]) / "sources" / "tiny@1.0"


def _answer(env, **kw) -> str:
    r = cli("callees", "tiny.core.top", "-f", "tiny", env=env, **kw)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "tiny.core.leaf" in r.stdout
    return r.stdout


# ------------------------------------------------------------------ item 2: shared caches
def test_extracted_sources_are_readable_by_others(tiny):
    base, env, _, _ = tiny
    root = _fetch_and_index(env)
    for d in (root, root / "tiny"):
        assert stat.S_IMODE(d.stat().st_mode) & 0o005 == 0o005, oct(d.stat().st_mode)


def test_another_user_reads_sources_of_a_shared_cache(tiny):
    need("user")
    base, env, _, _ = tiny
    _fetch_and_index(env)
    r = cli("show", "tiny.core.top", "-f", "tiny", env=env, user=NOBODY)
    assert r.returncode == 0 and "return leaf()" in r.stdout, r.stderr


def test_read_only_cache_answers_and_refuses_writes_in_one_line(tiny):
    need("read-only")
    base, env, _, _ = tiny
    _fetch_and_index(env)
    assert _answer(env, read_only=base) == _answer(env)
    r = cli("fetch", "tiny@2.0", env=env, read_only=base)
    assert r.returncode == 1
    assert "read-only" in error_line(r)


# ------------------------------------------------------------------ item 8: the cache re-verified
@pytest.mark.parametrize("change", ["edited", "added", "removed"])
def test_changed_cached_sources_are_refused_and_fetch_restores_them(tiny, change):
    base, env, _, _ = tiny
    root = _fetch_and_index(env)
    core = root / "tiny" / "core.py"
    if change == "edited":
        core.write_text(core.read_text().replace("return leaf()", "return evil()"))
    elif change == "added":
        (root / "tiny" / "planted.py").write_text("def planted():\n    pass\n")
    else:
        core.unlink()
    r = cli("index", "tiny", env=env)
    assert r.returncode == 1
    line = error_line(r)
    assert "differs from the pinned archive" in line and "infernav fetch tiny" in line
    r = cli("fetch", "tiny", env=env)
    assert r.returncode == 0, r.stderr
    assert "return leaf()" in core.read_text() and not (root / "tiny" / "planted.py").exists()
    assert cli("index", "tiny", "-q", env=env).returncode == 0
    _answer(env)


def test_marker_with_a_garbage_sha_is_refused(tiny):
    base, env, _, sdist = tiny
    root = _fetch_and_index(env)
    marker = root / ".infernav-source.json"
    info = json.loads(marker.read_text())
    info["archive_sha256"] = "0" * 64
    marker.write_text(json.dumps(info))
    r = cli("index", "tiny", env=env)
    assert r.returncode == 1 and "not the pinned" in error_line(r)
    assert cli("fetch", "tiny", env=env).returncode == 0   # re-extracted from the verified archive
    assert json.loads(marker.read_text())["archive_sha256"] == sha(sdist)


def test_pins_with_another_sha_refuse_the_extracted_source(tiny):
    base, env, server, sdist = tiny
    _fetch_and_index(env)
    (base / "pins.toml").write_text(tiny_pins("f" * 64))
    r = cli("index", "tiny", env=env)
    assert r.returncode == 1 and "not the pinned" in error_line(r)
    r = cli("fetch", "tiny", env=env)
    assert r.returncode == 1
    error_line(r)


def test_wrong_pin_keeps_the_cached_archive(tiny):
    base, env, server, sdist = tiny
    root = _fetch_and_index(env)
    shutil.rmtree(root)                    # only the archive is left in the cache
    archive = root.parent / "tiny@1.0.tar.gz"
    assert archive.read_bytes() == sdist
    (base / "pins.toml").write_text(tiny_pins("f" * 64))
    r = cli("fetch", "tiny", env=env)
    assert r.returncode == 1
    assert "sha256" in error_line(r)
    assert archive.read_bytes() == sdist   # kept: the pin, not the archive, may be what is wrong
    (base / "pins.toml").write_text(tiny_pins(sha(sdist)))
    downloads = server.downloads
    assert cli("fetch", "tiny", env=env).returncode == 0
    assert server.downloads == downloads   # the kept archive served


def test_unpinned_version_without_a_published_hash_needs_a_flag(tiny):
    base, env, server, _ = tiny
    server.hashes = False
    r = cli("fetch", "tiny@2.0", env=env)
    assert r.returncode == 1
    assert "--allow-unverified" in error_line(r)
    assert not (Path(env["INFERNAV_HOME"]) / "sources" / "tiny@2.0").exists()
    r = cli("fetch", "tiny@2.0", "--allow-unverified", env=env)
    assert r.returncode == 0, r.stderr
    assert "unverified" in r.stderr   # said, not silent


def test_unpinned_version_with_a_published_hash_is_checked_against_it(tiny):
    base, env, server, _ = tiny
    r = cli("fetch", "tiny@2.0", env=env)
    assert r.returncode == 0, r.stderr
    server.sdists["3.0"] = tiny_sdist("3.0")
    server.listed["3.0"] = "e" * 64      # the index lists one digest and serves other bytes
    r = cli("fetch", "tiny@3.0", env=env)
    assert r.returncode == 1 and "sha256" in error_line(r)
    sources = Path(env["INFERNAV_HOME"]) / "sources"
    assert sorted(p.name for p in sources.iterdir()) == ["tiny@2.0", "tiny@2.0.tar.gz", "tiny@2.0.tar.gz.sha256"]


# ------------------------------------------------------------------ item 9: pins files
@pytest.mark.parametrize("pins", ["missing", "broken", "no-default", "no-source", "no-roots"])
def test_pins_problems_are_one_line(tmp_path, pins):
    path = tmp_path / "pins.toml"
    if pins == "broken":
        path.write_text("[mini\nsource = ")
    elif pins == "no-default":
        path.write_text(MINI_PINS.replace('default = "1"\n', ""))
    elif pins == "no-source":
        path.write_text(MINI_PINS.replace('source = "git"\n', ""))
    elif pins == "no-roots":
        path.write_text(MINI_PINS.replace('roots = ["app", "csrc"]\n', ""))
    env = {"INFERNAV_HOME": str(tmp_path / "home"), "INFERNAV_PINS": str(path)}
    for args in (("callers", "x", "-f", "mini"), ("fetch", "mini", "--path", str(FIXTURES / "mini")),
                 ("index", "mini"), ("fetch",), ("index",)):
        r = cli(*args, env=env)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert str(path) in error_line(r) or "pins" in error_line(r)


# ------------------------------------------------------------------ item 10: paths and downloads
@pytest.mark.parametrize("version", ["../../x", "..", "a/b", "/abs"])
def test_version_that_is_a_path_is_refused(tmp_path, version):
    base = tmp_path / "a" / "b"
    base.mkdir(parents=True)
    (tmp_path / "pins.toml").write_text(MINI_PINS)
    env = {"INFERNAV_HOME": str(base / "home"), "INFERNAV_PINS": str(tmp_path / "pins.toml")}
    before = sorted(p for p in tmp_path.rglob("*"))
    r = cli("fetch", f"mini@{version}", "--path", str(FIXTURES / "mini"), env=env)
    assert r.returncode == 2
    assert "version" in error_line(r)
    assert sorted(p for p in tmp_path.rglob("*")) == before


def test_sigkilled_download_leaves_a_part_file_the_next_fetch_removes(tiny):
    base, env, server, sdist = tiny
    server.stall_after = 100   # of a ~650-byte sdist
    sources = Path(env["INFERNAV_HOME"]) / "sources"
    proc = subprocess.Popen([INFERNAV, "fetch", "tiny"], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            if list(sources.glob("*.part")) if sources.exists() else []:
                break
            time.sleep(0.1)
        parts = list(sources.glob("*.part"))
        assert parts, "the download never started"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        server.release.set()
    server.stall_after = None
    os.utime(parts[0], (time.time() - 7200, time.time() - 7200))   # whatever its name says, old
    r = cli("fetch", "tiny", env=env)
    assert r.returncode == 0, r.stderr
    assert list(sources.glob("*.part")) == [] and list(sources.glob(".*.part")) == []
    assert [p.name for p in sources.iterdir() if p.name.startswith(".")] == []


def test_full_disk_while_extracting_is_one_line(tiny):
    need("read-only")   # a private mount namespace, here with a 64 KiB tmpfs as the cache
    base, env, _, _ = tiny
    home = Path(env["INFERNAV_HOME"])
    home.mkdir()
    script = 'mount -t tmpfs -o size=64k tmpfs "$0" && exec "$1" fetch tiny'
    r = subprocess.run(["unshare", "-m", "sh", "-c", script, str(home), INFERNAV], capture_output=True,
                       text=True, env={**os.environ, **env}, timeout=120)
    assert r.returncode == 1, r.stderr
    assert "disk full" in error_line(r)
