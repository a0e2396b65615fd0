"""Just-in-time build of the CUDA sources in csrc/ into one shared library, loaded with ctypes.

The binding is deliberately thin and torch-free at the C level: every kernel file exposes
`extern "C"` launchers that take raw device pointers, sizes and a cudaStream_t, and `ops.py`
passes `tensor.data_ptr()` and `torch.cuda.current_stream().cuda_stream`. So the library does not
depend on the torch C++ ABI, builds with plain `nvcc` in seconds on the GPU machine (one process
per source file), and the same sources compile on CPU-only machines (CI's compile check).

The library is cached under ``$INFERNAV_KERNELS_BUILD`` (default ``kernels/build/``), keyed by the
hash of the sources, the flags and the target architecture; a stale or missing one is rebuilt.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CSRC = Path(__file__).resolve().parent / "csrc"
SOURCES = sorted(p.name for p in CSRC.glob("*.cu"))
HEADERS = sorted(p.name for p in CSRC.glob("*.cuh"))
NVCC_FLAGS = ["-O3", "-std=c++17", "-Xcompiler", "-fPIC", "-lineinfo", "--expt-relaxed-constexpr"]
# Targets CI compiles every source for (tests/test_kernels_compile.py, kernels/compile_check.sh).
CHECK_ARCHS = ("sm_80", "sm_90a")


def gencode(arch: str) -> list[str]:
    """nvcc target flags; the -gencode form also works for the 'a' (arch-specific) targets."""
    num = arch.removeprefix("sm_")
    return [f"-gencode=arch=compute_{num},code=sm_{num}"]


def nvcc_path() -> str | None:
    env = os.environ.get("NVCC")
    if env:
        return env
    found = shutil.which("nvcc")
    if found:
        return found
    for cand in ("/usr/local/cuda/bin/nvcc",):
        if os.path.exists(cand):
            return cand
    return None


def device_arch() -> str:
    import torch

    major, minor = torch.cuda.get_device_capability()
    return "sm_90a" if (major, minor) == (9, 0) else f"sm_{major}{minor}"


def build_dir() -> Path:
    return Path(os.environ.get("INFERNAV_KERNELS_BUILD", Path(__file__).resolve().parent / "build"))


def _key(arch: str) -> str:
    h = hashlib.sha256()
    for name in SOURCES + HEADERS:
        h.update(name.encode())
        h.update((CSRC / name).read_bytes())
    h.update(" ".join(NVCC_FLAGS + gencode(arch)).encode())
    return h.hexdigest()[:16]


def compile_object(src: Path, out: Path, arch: str, nvcc: str | None = None, extra: list[str] | None = None) -> None:
    nvcc = nvcc or nvcc_path()
    if nvcc is None:
        raise RuntimeError("nvcc not found (set NVCC or put it on PATH)")
    cmd = [nvcc, *NVCC_FLAGS, *gencode(arch), *(extra or []), "-c", str(src), "-o", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"nvcc failed on {src.name} for {arch}:\n{' '.join(cmd)}\n{res.stdout}{res.stderr}")


def build(arch: str | None = None, jobs: int | None = None, verbose: bool = False) -> Path:
    """Build (if needed) and return the path of the shared library for `arch`."""
    arch = arch or device_arch()
    out_dir = build_dir() / f"{arch}-{_key(arch)}"
    lib = out_dir / "libinfernav_kernels.so"
    if lib.exists():
        return lib
    nvcc = nvcc_path()
    if nvcc is None:
        raise RuntimeError("nvcc not found (set NVCC or put it on PATH)")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out_dir.parent))
    try:
        objs = [tmp / (Path(s).stem + ".o") for s in SOURCES]
        with ThreadPoolExecutor(max_workers=jobs or min(len(SOURCES), os.cpu_count() or 1)) as ex:
            list(ex.map(lambda so: compile_object(CSRC / so[0], so[1], arch, nvcc), zip(SOURCES, objs)))
        cmd = [nvcc, "-shared", *gencode(arch), *map(str, objs), "-o", str(tmp / lib.name)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"link failed:\n{res.stdout}{res.stderr}")
        for obj in objs:
            obj.unlink()
        if verbose:
            print(f"built {lib}")
        try:
            os.replace(tmp, out_dir)  # atomic publish of the whole directory
        except OSError:
            if not lib.exists():  # lost a race with another builder: theirs is as good
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return lib


_LIB: ctypes.CDLL | None = None


def load() -> ctypes.CDLL:
    """Build if needed and load the library once per process, with argument types declared."""
    global _LIB
    if _LIB is None:
        path = build()
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:  # built elsewhere and carried, but this machine's libraries differ: rebuild here
            shutil.rmtree(path.parent, ignore_errors=True)
            lib = ctypes.CDLL(str(build()))
        _declare(lib)
        _LIB = lib
    return _LIB


def _declare(lib: ctypes.CDLL) -> None:
    P, I, F, L = ctypes.c_void_p, ctypes.c_int, ctypes.c_float, ctypes.c_int64
    lib.infernav_fa2_fwd.argtypes = [I, I, I, P, P, P, P, ctypes.POINTER(L), P, P, I, I, I, I, I, F, I, P]
    lib.infernav_fa3_fwd.argtypes = lib.infernav_fa2_fwd.argtypes
    lib.infernav_fa3ws_fwd.argtypes = [I, I, I, P, P, P, P, ctypes.POINTER(L), P, P, I, I, I, I, I, I, I, F, I, P]
    lib.infernav_paged_decode.argtypes = [I, I, P, P, P, P, P, P, P, P, P, I, I, I, I, I, I, F, P]
    lib.infernav_paged_partition_size.argtypes = []
    lib.infernav_paged_decode_tc.argtypes = [I, I, I, I, P, P, P, P, P, P, P, P, P, P, P, I, I, I, I, I, I, I, F,
                                             ctypes.POINTER(I), P]
    lib.infernav_fp32_progression.argtypes = [I, P, P, P, P, P, I, I, I, I, F, P]
    lib.infernav_fp32_wmma.argtypes = [P, P, P, P, I, I, I, I, F, P]
    lib.infernav_fp32_fast.argtypes = [P, P, P, P, I, I, I, I, F, P]
    for name in ("infernav_fa2_fwd", "infernav_fa3_fwd", "infernav_fa3ws_fwd", "infernav_paged_decode", "infernav_paged_partition_size",
                 "infernav_paged_decode_tc",
                 "infernav_fp32_progression", "infernav_fp32_wmma", "infernav_fp32_fast"):
        getattr(lib, name).restype = I


def check_compile(archs=CHECK_ARCHS, jobs: int = 2) -> list[str]:
    """Compile every .cu for every arch in `archs` (objects discarded); return failure messages."""
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        tasks = [(src, arch) for arch in archs for src in SOURCES]

        def one(t):
            src, arch = t
            try:
                compile_object(CSRC / src, Path(tmp) / f"{Path(src).stem}-{arch}.o", arch, extra=["-Werror", "all-warnings"])
            except RuntimeError as e:
                return str(e)
            return None

        with ThreadPoolExecutor(max_workers=jobs) as ex:
            failures = [r for r in ex.map(one, tasks) if r]
    return failures


def resources(arch: str = "sm_90a") -> list[dict]:
    """ptxas's report for every kernel: registers, spills, static shared memory, stack (no GPU needed)."""
    import re

    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for src in SOURCES:
            cmd = [nvcc_path(), *NVCC_FLAGS, *gencode(arch), "-Xptxas", "-v", "-c", str(CSRC / src),
                   "-o", str(Path(tmp) / "x.o")]
            text = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
            cur = None
            for line in text.splitlines():
                m = re.search(r"Compiling entry function '(\S+)'", line)
                if m:
                    cur = {"file": src, "mangled": m.group(1)}
                    rows.append(cur)
                    continue
                if cur is None:
                    continue
                m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
                if m:
                    cur["stack"], cur["spill_st"], cur["spill_ld"] = map(int, m.groups())
                m = re.search(r"Used (\d+) registers", line)
                if m:
                    cur["regs"] = int(m.group(1))
                    sm = re.search(r"(\d+) bytes smem", line)
                    cur["static_smem"] = int(sm.group(1)) if sm else 0
    for r in rows:
        r["name"] = _demangle(r["mangled"])
    return rows


def _demangle(name: str) -> str:
    try:
        out = subprocess.run(["c++filt", name], capture_output=True, text=True).stdout.strip()
    except OSError:
        return name
    return out.replace("infernav::(anonymous namespace)::", "").replace("__nv_bfloat16", "bf16").replace("__half", "fp16")


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default=None, help="target, e.g. sm_90a (default: the visible GPU)")
    ap.add_argument("--check", action="store_true", help=f"compile every source for {', '.join(CHECK_ARCHS)}")
    ap.add_argument("--resources", action="store_true", help="print ptxas's registers/spills/shared memory per kernel")
    ns = ap.parse_args()
    if ns.resources:
        print("| file | kernel | registers | spill st/ld (B) | static smem (B) |\n|---|---|---|---|---|")
        for r in resources(ns.arch or "sm_90a"):
            sig = r["name"].split("(")[0]
            print(f"| {r['file']} | `{sig}` | {r.get('regs')} | {r.get('spill_st')}/{r.get('spill_ld')} | "
                  f"{r.get('static_smem')} |")
        raise SystemExit(0)
    if ns.check:
        errs = check_compile()
        for e in errs:
            print(e)
        print(f"{len(SOURCES) * len(CHECK_ARCHS) - len(errs)} compiled, {len(errs)} failed")
        raise SystemExit(1 if errs else 0)
    print(build(ns.arch, verbose=True))
