"""Build the KsanaLLM prefix-cache oracle: the real prefix_cache_manager.cpp + our driver -> a module.

    .venv/bin/python tests/oracle/ksana/build.py [--archive PATH]     (prints the module's path)

The pinned KsanaLLM sources come from the snapshot archive (INFERNAV_KSANALLM_ARCHIVE, else
<repo>/../shared/upstream/ksanallm-c451219c.tar.gz), checked against its sha256. Only the files
listed in UPSTREAM_FILES are extracted, into the cache ($INFERNAV_HOME/oracles/, outside the
repository), next to the build; nothing of it enters the repository. They compile unchanged,
with our stub headers (stubs/) standing in for the rest of KsanaLLM, and our driver
(driver.cpp, pybind11) linked in. The result is cached under a key of every input (archive
digest, stubs, driver, flags, compiler version, Python ABI, pybind11 version).

`OracleUnavailable`: no archive (callers skip, saying so). `OracleBuildError`: an archive is
there but is not the pinned one, or the build failed (callers fail, with the reason).
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
STUBS = HERE / "stubs"
DRIVER = HERE / "driver.cpp"
MODULE = "ksana_prefix_oracle"
ARCHIVE_NAME = "ksanallm-c451219c.tar.gz"
ARCHIVE_SHA256 = "e4622d47c96203f13f78a9cd3085027c28901775de1184fda306e9a92c675aa3"
# What the manager needs of KsanaLLM, used as it is; the rest is stubbed.
UPSTREAM_FILES = [
    "src/ksana_llm/cache_manager/prefix_cache_manager.cpp",
    "src/ksana_llm/cache_manager/prefix_cache_manager.h",
    "src/ksana_llm/cache_manager/base_cache_manager.h",
    "src/ksana_llm/cache_manager/cache_manager_interface.h",
    "src/ksana_llm/cache_manager/block_allocator/block_allocator_interface.h",
    "src/ksana_llm/runtime/request_state.h",
    "src/ksana_llm/runtime/threadpool.h",
    "src/ksana_llm/utils/calc_intvec_hash.h",
    "src/ksana_llm/utils/ret_code.h",
    "src/ksana_llm/utils/status.h",
    "src/ksana_llm/utils/status.cpp",
]
UPSTREAM_SOURCES = ["src/ksana_llm/cache_manager/prefix_cache_manager.cpp", "src/ksana_llm/utils/status.cpp"]
CXX = os.environ.get("CXX", "g++")
FLAGS = ["-std=c++17", "-O2", "-fPIC", "-pthread", "-fvisibility=hidden", "-w"]
RECIPE = 1  # bump when the steps below change


class OracleUnavailable(RuntimeError):
    """The KsanaLLM archive is not on this machine."""


class OracleBuildError(RuntimeError):
    """The archive is not the pinned one, or the oracle did not compile; the message says which."""


def locate_archive() -> Path:
    env = os.environ.get("INFERNAV_KSANALLM_ARCHIVE")
    path = Path(env) if env else REPO.parent / "shared" / "upstream" / ARCHIVE_NAME
    if not path.is_file():
        how = "INFERNAV_KSANALLM_ARCHIVE" if env else "INFERNAV_KSANALLM_ARCHIVE unset, looked in"
        raise OracleUnavailable(f"KsanaLLM archive not found ({how} {path})")
    return path


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise OracleBuildError(f"{' '.join(cmd[:2])} ... failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout


def build_key() -> str:
    import pybind11

    h = hashlib.sha256(f"{RECIPE} {ARCHIVE_SHA256} {FLAGS} {UPSTREAM_FILES}".encode())
    for path in sorted(STUBS.rglob("*.h")) + [DRIVER]:
        h.update(str(path.relative_to(HERE)).encode() + path.read_bytes())
    try:
        h.update(_run([CXX, "--version"]).encode())
    except FileNotFoundError:
        raise OracleBuildError(f"no C++ compiler ({CXX}) on this machine") from None
    h.update(f"{sysconfig.get_config_var('EXT_SUFFIX')} {sys.version} {pybind11.__version__}".encode())
    return h.hexdigest()[:16]


def cache_root() -> Path:
    from infernav.analyzer import sources

    return sources.home() / "oracles"


def _extract(archive: Path, dest: Path) -> None:
    with tarfile.open(archive) as tar:
        for name in UPSTREAM_FILES:
            try:
                member = tar.getmember(name)
            except KeyError:
                raise OracleBuildError(f"{name} is not in {archive}") from None
            tar.extract(member, dest, filter="data")


def build(archive: Path | None = None) -> Path:
    """The oracle module's path, built if its cached copy is missing."""
    archive = archive or locate_archive()
    out_dir = cache_root() / f"ksana-prefix-{build_key()}"
    so = out_dir / f"{MODULE}{sysconfig.get_config_var('EXT_SUFFIX')}"
    if so.is_file():
        return so
    digest = sha256_of(archive)
    if digest != ARCHIVE_SHA256:
        raise OracleBuildError(f"{archive} has sha256 {digest}, not the pinned {ARCHIVE_SHA256}")
    import pybind11

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".ksana-build-", dir=out_dir.parent))
    try:
        _extract(archive, tmp)
        includes = [f"-I{tmp / 'src'}", f"-I{STUBS}", f"-I{pybind11.get_include()}",
                    f"-I{sysconfig.get_paths()['include']}"]
        units = [tmp / s for s in UPSTREAM_SOURCES] + [DRIVER]
        objects = [tmp / f"{i}.o" for i in range(len(units))]
        # Two compilers at a time at most (the driver, with pybind11, is the slow one).
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda uo: _run([CXX, *FLAGS, *includes, "-c", str(uo[0]), "-o", str(uo[1])]),
                          sorted(zip(units, objects), key=lambda uo: uo[0] != DRIVER)))
        _run([CXX, "-shared", "-pthread", *map(str, objects), "-o", str(tmp / so.name)])
        for o in objects:
            o.unlink()
        try:
            tmp.rename(out_dir)
        except OSError:  # another process built it first
            if not so.is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return so


def load(so: Path | None = None):
    """Import the oracle module (building it if needed)."""
    so = so or build()
    spec = importlib.util.spec_from_file_location(MODULE, so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, help="the KsanaLLM snapshot archive")
    args = parser.parse_args()
    print(build(args.archive))
