"""Build the differential oracle's environment (.oracle-venv), idempotently.

    python tests/oracle/build_venv.py          (run by `make test` with the product venv's python)

The oracle runs the real vLLM 0.14.1 KV-cache manager, imported from the pinned sdist tree, so
its environment is kept apart from the product's: its own venv with torch (the local CPU wheel)
and the light packages vLLM imports (requirements.txt, pinned), plus a platform plugin of ours
(cpu_platform/). vLLM is never pip-installed, and pip never runs with the sdist on the path
(the sdist's metadata would make pip resolve vLLM's CUDA requirements).

A stamp in the venv records a fingerprint of everything the build used; a matching stamp means
there is nothing to do. Any failure raises `OracleSetupError` with one line saying what failed.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
VENV = REPO / ".oracle-venv"
STAMP_NAME = ".infernav-oracle.json"
CONSTRAINTS = REPO / "constraints.txt"
XGRAMMAR = "xgrammar==0.1.29"  # vLLM 0.14.1's pin; --no-deps, its deps pull triton
RECIPE = 1  # bump when the build steps in ensure() change
INPUTS = [HERE / "requirements.txt", HERE / "cpu_platform" / "pyproject.toml",
          HERE / "cpu_platform" / "infernav_oracle_cpu_platform.py", CONSTRAINTS]
PROBE = (
    "import sys; sys.path.insert(0, sys.argv[1]);"
    "import vllm.v1.core.kv_cache_manager, vllm.v1.request;"
    "from vllm.platforms import current_platform;"
    "assert current_platform.is_cpu(), current_platform"
)


class OracleSetupError(RuntimeError):
    """The oracle's environment could not be made; the message says which step failed."""


def vllm_source_root() -> Path:
    """The pinned vLLM sdist tree, downloaded (sha256-checked) if this machine lacks it."""
    try:
        from infernav.analyzer import sources
    except ImportError as exc:
        raise OracleSetupError(f"infernav is not importable here ({exc}); run with .venv/bin/python") from None
    try:
        ref = sources.parse_ref("vllm")
        return sources.locate(ref) or sources.fetch(ref)
    except Exception as exc:  # SourceError, network errors
        raise OracleSetupError(f"cannot get the pinned vLLM sdist: {exc}") from None


def fingerprint() -> str:
    h = hashlib.sha256(sys.version.encode())
    for path in INPUTS:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    h.update(f"{XGRAMMAR} {RECIPE}".encode())
    return h.hexdigest()[:16]


def python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def read_stamp(venv: Path = VENV) -> dict | None:
    try:
        return json.loads((venv / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None


def oracle_env(venv: Path = VENV) -> dict[str, str]:
    """Environment for processes of the oracle venv: bytecode cached inside the venv (never in
    the shared sdist tree), no Hugging Face network, quiet vLLM logs, no stray PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV")}
    env.update(PYTHONPYCACHEPREFIX=str(venv / "pycache"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               VLLM_LOGGING_LEVEL="ERROR", VLLM_PLUGINS="infernav_cpu", TOKENIZERS_PARALLELISM="false")
    return env


def _run(cmd: list[str], what: str, env: dict[str, str], log) -> None:
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    if proc.returncode != 0:
        raise OracleSetupError(f"{what} failed (exit {proc.returncode}); log: {log.name}")


def ensure(venv: Path = VENV, quiet: bool = True) -> dict:
    """Return the stamp ({python, vllm_root, ...}) of a ready oracle venv, building it if needed."""
    root = vllm_source_root()
    fp = fingerprint()
    stamp = read_stamp(venv)
    if stamp and stamp.get("fingerprint") == fp and python_of(venv).exists():
        stamp["vllm_root"] = str(root)
        (venv / STAMP_NAME).write_text(json.dumps(stamp, indent=1))  # also renews its mtime, for make
        return stamp

    start = time.monotonic()
    if not quiet:
        print(f"building the oracle venv {venv} (torch + vLLM's light dependencies; a few minutes)...", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    venv.mkdir(parents=True)
    log_path = venv / "build.log"
    pip_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")}
    with open(log_path, "w") as log:
        base = getattr(sys, "_base_executable", sys.executable)
        _run([base, "-m", "venv", str(venv)], "creating the venv", pip_env, log)
        pip = [str(python_of(venv)), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        _run(pip + ["-c", str(CONSTRAINTS), "-r", str(HERE / "requirements.txt")],
             "installing requirements.txt (torch must come from the local CPU wheel)", pip_env, log)
        _run(pip + ["--no-deps", XGRAMMAR], f"installing {XGRAMMAR}", pip_env, log)
        plugin = venv / "plugin-src"  # built from a copy: setuptools leaves build/ and egg-info/ behind
        shutil.copytree(HERE / "cpu_platform", plugin)
        _run(pip + ["--no-deps", str(plugin)], "installing the CPU platform plugin", pip_env, log)
        _run([str(python_of(venv)), "-c", PROBE, str(root)], "importing vLLM's KV-cache manager on the CPU platform",
             oracle_env(venv), log)
    stamp = {"fingerprint": fp, "python": str(python_of(venv)), "vllm_root": str(root),
             "build_seconds": round(time.monotonic() - start, 1), "log": str(log_path)}
    (venv / STAMP_NAME).write_text(json.dumps(stamp, indent=1))
    return stamp


def main() -> int:
    try:
        stamp = ensure(quiet=False)
    except OracleSetupError as exc:
        print(f"oracle venv: NOT built: {exc}", file=sys.stderr)
        return 1
    print(f"oracle venv ready: {stamp['python']} (vLLM from {stamp['vllm_root']}; "
          f"built in {stamp['build_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
