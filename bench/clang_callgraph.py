"""A compiler-level reference for infernav's C++ call graph: libclang's call graph, and a score.

  python bench/clang_callgraph.py                        # KsanaLLM, the four default folders
  python bench/clang_callgraph.py --folders src/ksana_llm/cache_manager src/ksana_llm/batch_scheduler
  python bench/clang_callgraph.py --framework vllm       # vLLM csrc/ (optional, .cu parsed as CUDA)
  python bench/clang_callgraph.py --strict               # leave infernav's 'name' edges out

Why: infernav resolves C++ calls from tree-sitter syntax and heuristics (declared types, arity,
virtual dispatch, names). The only honest way to say how right it is, is to compare it with what a
compiler resolves. This script asks clang (libclang, through clang.cindex) for every call whose
callee it resolves, keeps the in-project ones, maps both ends onto infernav's symbols and scores
infernav's edges of the same callers: precision, recall, per folder, per resolution label, plus the
misses sorted by a probable cause.

How (each step is one function below; the choices are documented where they are made):

1. Compile database, synthesized (there is no CMake run): every .cpp/.cc/.cxx (and, for vLLM, .cu)
   under the folders is one translation unit, parsed with -std=gnu++17 (g++'s default, what the
   engines build with) and -fno-access-control (tests reach into privates), the tree's src/ (or csrc/),
   the tree's root and 3rdparty dirs, bench/clang_stubs/ (our own parse-only stand-ins for the
   CUDA/cuBLAS/NCCL/loguru/test.h headers), the torch wheel's headers, and clang's resource headers
   (Debian's libclang-common-NN-dev: the PyPI libclang wheel ships none). KsanaLLM is parsed in its
   ENABLE_CUDA (+ENABLE_FP8) configuration; device folders of other backends (ascend/, zixiao/) are
   left out and listed. .cu files are parsed as CUDA host code (-x cuda --cuda-host-only -nocudainc
   -nocudalib, the stub cuda_runtime.h force-included for the qualifiers). External headers (torch,
   gtest, json, the stubs) go into one precompiled prelude per language so a TU costs seconds, not
   the 15 s torch/torch.h takes (a TU whose PCH does not load is re-parsed without it). TUs are parsed with CXTranslationUnit_KeepGoing: a missing header or a non-fatal error
   costs the expressions it touches, and clang keeps what it still resolves (clang's own recovery).
   A TU that libclang cannot load at all is "failed" and listed; TUs with errors in project code
   are "degraded", their error lines kept so that infernav edges there count as unverifiable.
2. Calls: every CALL_EXPR (libclang's cursor for calls, member calls, operator calls and
   CXXConstructExpr) inside a function definition under the folders, whose callee clang resolved
   to a function, method or user-written constructor declared or defined in a file infernav indexed
   (std::, torch::, 3rdparty are thereby dropped). Implicit special members (an implicit copy) and
   the constructions C++ does without a written call (`Foo f;`, a copy-initialisation, a base
   sub-object) are dropped: only constructions written as `Foo(...)`, `Foo{...}`, `new Foo(...)`
   or `Foo f(...)` stay; `std::make_shared<T>(args)`/`make_unique` count as a construction of T
   when exactly one user-written constructor fits the argument count (clang resolves T; the
   constructor call sits in the std template's instantiation, which cindex does not walk). Calls
   of a lambda's operator() are dropped; calls inside lambdas belong to the enclosing function,
   as in infernav.
3. Mapping onto infernav: by location first (symbols(path, line, end_line) and their declaration
   decl_path/decl_line), trying the callee's definition, its canonical declaration and the
   referenced declaration; then by clang's qualified name (namespaces + classes). A caller or
   callee that maps to nothing is "not indexed by infernav" and keeps clang's qualified name. Both
   ends are then infernav canonical names (`ns::Class::Method`, `ns::func`; overloads share one).
   A free function whose name several files define (`static` helpers) is, as a caller, keyed with
   its file; as a callee by name, with a check that infernav's edge reaches clang's file-local one.
4. infernav's edges of the same callers come from its SQLite index, read-only: tables
   symbols(id, name, short, kind, path, line, end_line, decl_path, decl_line), edges(src, dst,
   line, resolution, via), overrides(sub, base) and files(path). The source root and the framework
   key come from `infernav stats --json`; the one import of the analyzer is `sources.home()` (the
   cache dir), with a fallback and --index. Only this file knows the schema, so the analyzer's
   restructuring does not break the bench.
5. Score: deduplicated caller->callee pairs of canonical names (the primary metric; call-site
   counts are reported too). A pair's label is its best one (exact > type > dispatch > name).
   'dispatch' edges (to overrides of the static callee) are set apart: one whose static edge is in
   clang's set (a base method it overrides: infernav's overrides table or clang's class hierarchy)
   is "dispatch-covered" and counted neither way; one without is a false positive. An infernav pair
   clang did not produce is "unverifiable" when all of its call lines are lines clang could not
   judge (a call clang left unresolved, e.g. a dependent call in a template; a clang error; code
   #if'd out in this configuration), when its caller's body holds a clang error, or when it points
   at a class symbol (infernav's construction of a class with no user-written constructor):
   reported, and kept out of precision (the table also shows precision counting them as false).
6. Misses (clang pairs infernav lacks) get a probable cause from the AST facts recorded at the call
   and the call's source text: caller or callee not indexed (a function returning a reference,
   a TEST body), infernav found another callee at that line, operator, constructor, Singleton
   receiver, range-for variable, `auto` from a call, chained call, template, macro, lambda.

Output: a table on stdout (all labels, or --strict); with --out, bench/results/clang_reference.json
holding both modes. --cache FILE keeps the raw clang results for re-scoring (keyed by the compile
flags, the stubs, libclang's version and CLANG_PHASE_VERSION).
Needs: pip install -e '.[bench]' (libclang, torch for its C++ headers); Debian's
libclang-common-16-dev (resource headers), libgtest-dev libgmock-dev nlohmann-json3-dev
libyaml-cpp-dev (what the engines' headers include; absent ones cost only their expressions).
"""
from __future__ import annotations

import argparse
import ctypes
import datetime as _dt
import glob
import hashlib
import importlib.util
import json
import multiprocessing
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STUBS = HERE / "clang_stubs"
RESULTS = HERE / "results" / "clang_reference.json"

FRAMEWORKS = {
    "ksanallm": {
        "folders": ["src/ksana_llm/cache_manager", "src/ksana_llm/batch_scheduler",
                    "src/ksana_llm/runtime", "src/ksana_llm/layers"],
        "include": ["src", ".", "3rdparty/LLM_kernels", "3rdparty/LLM_kernels/3rdparty"],
        "defines": ["ENABLE_CUDA", "ENABLE_FP8"],
        # Backends other than the one configured: their files need SDKs clang never sees.
        "skip_dirs": ["ascend", "zixiao"],
    },
    "vllm": {
        "folders": ["csrc/attention", "csrc/moe", "csrc/mamba"],
        "include": ["csrc", "."],
        "defines": [],
        "skip_dirs": ["rocm", "cpu", "sycl"],
    },
}
TU_SUFFIXES = (".cpp", ".cc", ".cxx", ".cu")
PRELUDE = ["<torch/torch.h>", "<gtest/gtest.h>", "<gmock/gmock.h>", "<nlohmann/json.hpp>",
           "<cuda_runtime.h>", "<cublasLt.h>", "<cublas_v2.h>", "<nccl.h>", "<loguru.hpp>"]
KEEP_GOING = 0x200          # CXTranslationUnit_KeepGoing (not named in the Python bindings)
RESOLUTION_ORDER = {"exact": 0, "type": 1, "dispatch": 2, "name": 3}
FUNC_KINDS = {"FUNCTION_DECL", "CXX_METHOD", "CONSTRUCTOR", "DESTRUCTOR", "CONVERSION_FUNCTION",
              "FUNCTION_TEMPLATE"}
SCOPE_KINDS = {"NAMESPACE", "CLASS_DECL", "STRUCT_DECL", "CLASS_TEMPLATE", "UNION_DECL",
               "CLASS_TEMPLATE_PARTIAL_SPECIALIZATION", "LINKAGE_SPEC", "UNEXPOSED_DECL"}
INFERNAV_FUNC_KINDS = ("function", "method", "kernel", "device")
FACTORIES = ("make_shared", "make_unique", "allocate_shared")
LOCAL_CLASS_KINDS = {"CLASS_DECL", "STRUCT_DECL", "UNION_DECL", "CLASS_TEMPLATE"}
CLANG_PHASE_VERSION = 6   # bump when the walk changes: it keys --cache


class Unavailable(Exception):
    """Something the bench needs is missing; the message is one line for the user."""


# ------------------------------------------------------------------------------------- set-up
def load_cindex():
    try:
        import clang.cindex as ci  # noqa: PLC0415
        ci.Index.create()
    except Exception as exc:  # ImportError, or a wheel whose libclang.so does not load
        raise Unavailable(f"libclang is not usable ({exc.__class__.__name__}: {exc}); "
                          "install it: pip install -e '.[bench]'") from None
    return ci


def resource_dir(explicit: str | None) -> str:
    """clang's own headers (stddef.h, intrinsics): the libclang wheel has none, Debian has them."""
    cands = [explicit] if explicit else sorted(glob.glob("/usr/lib/llvm-*/lib/clang/*"),
                                              key=lambda p: [int(x) for x in re.findall(r"\d+", p)])
    for cand in reversed(cands):
        if cand and Path(cand, "include", "stddef.h").exists():
            return cand
    raise Unavailable("no clang resource headers (stddef.h); install them: apt-get install libclang-common-16-dev")


def torch_includes() -> list[str]:
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable("torch's C++ headers are missing; install the CPU wheel: pip install -c constraints.txt torch")
    inc = Path(list(spec.submodule_search_locations)[0]) / "include"
    return [str(inc), str(inc / "torch" / "csrc" / "api" / "include")]


def infernav_cli() -> list[str]:
    exe = Path(sys.executable).with_name("infernav")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "infernav.analyzer.cli"]


def infernav_framework(framework: str) -> dict:
    """The indexed framework's key and source root, from the CLI's stable JSON (`stats --json`)."""
    try:
        out = subprocess.run(infernav_cli() + ["stats", "-f", framework, "--json"], capture_output=True,
                             text=True, timeout=600)
    except OSError as exc:
        raise Unavailable(f"infernav is not runnable ({exc})") from None
    if out.returncode != 0:
        reason = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise Unavailable(f"no infernav index for {framework} ({reason}); run: infernav fetch {framework} && infernav index {framework}")
    return json.loads(out.stdout)


def index_file(key: str, explicit: str | None) -> Path:
    """Where infernav keeps the index of `key` (the one thin import of the analyzer)."""
    if explicit:
        return Path(explicit)
    try:
        from infernav.analyzer.sources import home  # noqa: PLC0415
        base = home()
    except ImportError:
        base = Path(os.environ.get("INFERNAV_HOME") or Path.home() / ".cache" / "infernav")
    path = base / "index" / f"{key}.sqlite"
    if not path.exists():
        raise Unavailable(f"infernav index not found at {path}; pass --index")
    return path


def git_head(path: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


# ------------------------------------------------------------------------- compile database
def translation_units(root: Path, folders: list[str], skip_dirs: list[str]) -> tuple[list[str], list[str]]:
    """(TUs to parse, TUs left out as another backend's), as paths relative to root."""
    keep, skipped = [], []
    for folder in folders:
        base = root / folder
        if not base.is_dir():
            raise Unavailable(f"{base} is not a folder of the source tree")
        for p in sorted(base.rglob("*")):
            if p.suffix not in TU_SUFFIXES or not p.is_file():
                continue
            rel = p.relative_to(root).as_posix()
            (skipped if set(p.relative_to(base).parts[:-1]) & set(skip_dirs) else keep).append(rel)
    return sorted(set(keep)), sorted(set(skipped))


def compile_args(root: Path, fw: dict, res_dir: str, torch_inc: list[str]) -> list[str]:
    # gnu++17: what g++ (KsanaLLM's and vLLM's host compiler) defaults to; void* arithmetic is used.
    # -fno-access-control: the tests reach into private members, as their build allows.
    args = ["-std=gnu++17", "-resource-dir", res_dir, "-ferror-limit=0", "-w", "-Wno-everything",
            "-fno-spell-checking", "-Xclang", "-fno-access-control"]
    args += [f"-D{d}" for d in fw["defines"]]
    args += [f"-I{root / d}" for d in fw["include"] if (root / d).is_dir()]
    args += [f"-I{STUBS}"]
    args += [a for inc in torch_inc for a in ("-isystem", inc)]
    args += ["-isystem", f"/usr/include/python{sys.version_info.major}.{sys.version_info.minor}"]
    return args


def lang_args(path: str) -> list[str]:
    if path.endswith(".cu"):
        # What clang's CUDA runtime wrapper would force-include: malloc (cuda_wrappers/<new> needs
        # it) and the qualifiers (the stub cuda_runtime.h), before any other header.
        return ["-x", "cuda", "--cuda-host-only", "-nocudainc", "-nocudalib", "-include", "stdlib.h",
                "-include", "cuda_runtime.h"]
    return ["-x", "c++"]


def build_prelude(ci, args: list[str], lang: list[str], workdir: Path) -> tuple[list[str], dict]:
    """One precompiled header of the external headers every TU includes; [] when it cannot be made.

    One per language (C++, CUDA host): a PCH only loads under the language options it was made with.
    """
    tag = "cuda" if "cuda" in lang else "cxx"
    header = workdir / f"prelude_{tag}.h"
    header.write_text("".join(f"#include {h}\n" for h in PRELUDE))
    pch = workdir / f"prelude_{tag}.pch"
    hdr_lang = ["-x", "c++-header"] if tag == "cxx" else lang
    t0 = time.time()
    try:
        tu = ci.Index.create().parse(str(header), args=hdr_lang + args, options=KEEP_GOING)
        errors = [str(d) for d in tu.diagnostics if d.severity >= 3]
        tu.save(str(pch))
    except Exception as exc:  # TranslationUnitLoadError / TranslationUnitSaveError
        return [], {"pch": False, "reason": str(exc)}
    return ["-include-pch", str(pch)], {"pch": True, "seconds": round(time.time() - t0, 1),
                                        "errors": errors[:20]}


# ------------------------------------------------------------------------------- clang walk
class TUWalker:
    """Collects, for one parsed TU, the functions defined under the folders and their calls."""

    def __init__(self, ci, tu, root: str, folders: list[str], project_files: set[str]):
        self.ci, self.tu, self.root = ci, tu, root.rstrip("/") + "/"
        self.folders = tuple(f.rstrip("/") + "/" for f in folders)
        self.project_files = project_files
        self._rel: dict[str, str | None] = {}
        self.callers: dict[str, dict] = {}
        self.unresolved: dict[str, set[int]] = defaultdict(set)   # file -> lines clang could not judge
        self.macros: dict[str, list] = defaultdict(list)          # file -> macro expansion ranges
        self.bases: dict[str, list[str]] = {}
        self.external_calls = 0
        self.lambda_calls = 0        # calls of a lambda's operator(): no symbol on either side
        self.factory_unjudged = 0

    def rel(self, f) -> str | None:
        if f is None:
            return None
        name = f.name if hasattr(f, "name") else str(f)
        if name not in self._rel:
            p = os.path.normpath(name)
            self._rel[name] = p[len(self.root):] if p.startswith(self.root) else None
        return self._rel[name]

    def in_folders(self, rel: str | None) -> bool:
        return rel is not None and rel.startswith(self.folders)

    def run(self) -> None:
        self._scope(self.tu.cursor)

    def _scope(self, cursor) -> None:
        K = self.ci.CursorKind
        for c in cursor.get_children():
            kind = c.kind
            if kind == K.MACRO_INSTANTIATION:
                rel = self.rel(c.location.file)
                if self.in_folders(rel):
                    e = c.extent
                    self.macros[rel].append((e.start.line, e.start.column, e.end.line, e.end.column, c.spelling))
                continue
            if kind in (K.MACRO_DEFINITION, K.INCLUSION_DIRECTIVE):
                continue
            rel = self.rel(c.location.file)
            if rel is None or rel not in self.project_files:
                continue
            if kind.name in SCOPE_KINDS:
                if kind.name in LOCAL_CLASS_KINDS or kind.name == "CLASS_TEMPLATE_PARTIAL_SPECIALIZATION":
                    self._bases(c)
                self._scope(c)
            elif kind.name in FUNC_KINDS and self.in_folders(rel) and c.is_definition():
                self._function(c, rel)

    def _bases(self, cls) -> None:
        """The class hierarchy, as clang sees it (for telling dispatch edges to real overrides)."""
        name = qualified_name(cls)
        if name in self.bases:
            return
        out = []
        for k in cls.get_children():
            if k.kind.name == "CXX_BASE_SPECIFIER":
                d = k.referenced or k.type.get_declaration()
                if d is not None and d.spelling:
                    out.append(qualified_name(d))
        self.bases[name] = out

    def _function(self, fn, rel: str) -> None:
        ext = fn.extent
        key = f"{rel}:{ext.start.line}:{fn.location.line}:{fn.spelling}"
        if key in self.callers:
            return
        rec = {"file": rel, "line": ext.start.line, "name_line": fn.location.line,
               "end": ext.end.line, "spelling": fn.spelling, "kind": fn.kind.name,
               "qual": qualified_name(fn), "ret_ref": returns_reference(fn), "calls": []}
        self.callers[key] = rec
        self._body(fn, rec, rel, 0)

    def _body(self, node, rec: dict, rel: str, lam: int) -> None:
        K = self.ci.CursorKind
        for c in node.get_children():
            kind = c.kind
            if kind == K.CALL_EXPR:
                self._call(c, rec, rel, lam)
            elif kind.name in LOCAL_CLASS_KINDS:
                continue  # local classes: their methods are left out (rare)
            self._body(c, rec, rel, lam + (kind == K.LAMBDA_EXPR))

    def _mark_unresolved(self, c) -> None:
        e = c.extent
        rel = self.rel(e.start.file) or self.rel(c.location.file)
        if rel:
            self.unresolved[rel].update(range(e.start.line, e.end.line + 1))

    def _call(self, c, rec: dict, rel: str, lam: int) -> None:
        ref = c.referenced
        if ref is None or ref.kind.name not in FUNC_KINDS:
            if c.spelling or c.get_children():
                self._mark_unresolved(c)
            return
        if ref.spelling in FACTORIES and qualified_name(ref).startswith("std::"):
            ref = self._factory_ctor(c, ref)
            if ref is None:
                return
        locs = declaration_locations(ref, self.rel)
        if not any(loc[0] in self.project_files for loc in locs):
            self.external_calls += 1
            return
        if is_lambda_member(ref):
            self.lambda_calls += 1
            return
        e = c.extent
        site_rel = self.rel(c.location.file) or rel
        call = {"name": ref.spelling, "qual": qualified_name(ref), "kind": ref.kind.name, "locs": locs,
                "line": c.location.line, "col": c.location.column, "file": site_rel,
                "l0": e.start.line, "c0": e.start.column, "l1": e.end.line, "c1": e.end.column,
                "lambda": lam > 0, "template": is_template(ref), "ret_ref": returns_reference(ref),
                "virtual": ref.kind.name == "CXX_METHOD" and ref.is_virtual_method(),
                "recv": receiver(self.ci, c, ref, self.rel) if ref.kind.name == "CXX_METHOD" else None}
        call["implicit"] = is_implicit(ref)
        if ref.kind.name == "CONSTRUCTOR":
            call["written"] = c.referenced != ref or construction_written(c, ref)
            call["factory"] = c.referenced != ref
        rec["calls"].append(call)

    def _factory_ctor(self, c, ref):
        """std::make_shared<T>(args...) / make_unique<T>: T's user-written constructor of that arity.

        clang resolves T; the constructor it picks sits in the std template's instantiation, which
        the cursor tree does not show, so the arity decides. Several fitting constructors: the line
        is left unjudged (no edge either way).
        """
        try:
            cls = ref.get_template_argument_type(0).get_declaration()
        except Exception:
            return None
        if cls is None or cls.kind.name not in SCOPE_KINDS or self.rel(cls.location.file) not in self.project_files:
            return None
        nargs = len(list(c.get_arguments()))
        ctors = [k for k in cls.get_children() if k.kind.name == "CONSTRUCTOR" and not is_implicit(k)]
        fit = [k for k in ctors if arity(k)[0] <= nargs <= arity(k)[1]]
        if not ctors:
            return None  # implicit (or inherited) constructors only: outside the reference
        if len(fit) != 1:
            self.factory_unjudged += 1
            self._mark_unresolved(c)
            return None
        return fit[0]


def qualified_name(cursor) -> str:
    parts = [cursor.spelling]
    p = cursor.semantic_parent
    while p is not None and p.kind.name != "TRANSLATION_UNIT":
        if p.kind.name in SCOPE_KINDS and p.spelling:
            parts.append(p.spelling)
        p = p.semantic_parent
    return "::".join(reversed(parts))


def declaration_locations(ref, rel) -> list[tuple[str, int, int]]:
    """(file, first line, name line) of the definition, the canonical and the referenced declaration."""
    out = []
    for cur in (ref.get_definition(), ref.canonical, ref):
        if cur is None:
            continue
        r = rel(cur.location.file)
        if r is None:
            continue
        loc = (r, cur.extent.start.line, cur.location.line)
        if loc not in out:
            out.append(loc)
    return out


def is_lambda_member(ref) -> bool:
    p = ref.semantic_parent
    return p is not None and p.spelling.startswith("(lambda at")


def arity(fn) -> tuple[int, int]:
    """(required, total) parameters; a parameter with a default has an expression child."""
    params = list(fn.get_arguments())
    required = sum(1 for prm in params
                   if not any(k.kind.is_expression() for k in prm.get_children()))
    return required, len(params)


def is_template(ref) -> bool:
    if ref.kind.name == "FUNCTION_TEMPLATE":
        return True
    p = ref.semantic_parent
    return p is not None and p.kind.name in ("CLASS_TEMPLATE", "CLASS_TEMPLATE_PARTIAL_SPECIALIZATION")


def returns_reference(ref) -> bool:
    try:
        return ref.result_type.kind.name in ("LVALUEREFERENCE", "RVALUEREFERENCE")
    except Exception:
        return False


def is_implicit(ctor) -> bool:
    """An implicitly declared special member sits at its class's name, with no written extent."""
    e = ctor.extent
    if (e.start.line, e.start.column) == (e.end.line, e.end.column):
        return True
    parent = ctor.semantic_parent
    return parent is not None and ctor.location == parent.location


def construction_written(call, ctor) -> bool:
    """Whether the construction is spelled in the source: `Foo(..)`, `Foo{..}`, `new Foo`, `Foo f(..)`."""
    toks = [t.spelling for t in call.get_tokens()][:64]
    if not toks:
        return False
    cls = ctor.spelling
    return cls in toks or ("(" in toks or "{" in toks) and len(toks) > 1 and toks[1] in ("(", "{")


def _strip(c):
    while c is not None and c.kind.name in ("UNEXPOSED_EXPR", "PAREN_EXPR"):
        kids = list(c.get_children())
        if len(kids) != 1:
            break
        c = kids[0]
    return c


def receiver(ci, call, ref, rel) -> dict:
    """What a member call is made on: this, a variable (and where it is declared), a field, a call."""
    kids = list(call.get_children())
    head = _strip(kids[0]) if kids else None
    if head is None or head.kind.name != "MEMBER_REF_EXPR":
        return {"kind": "qualified"}  # a static or qualified call: `Cls::Method(...)`
    base_kids = list(head.get_children())
    if not base_kids:
        return {"kind": "this"}
    base = _strip(base_kids[0])
    out = {"kind": base.kind.name.lower()}
    if base.kind.name == "CALL_EXPR":
        bref = base.referenced
        bname = bref.spelling if bref is not None else ""
        out["call"] = bname
        if bname in ("operator->", "operator*", "get", "operator[]"):
            inner = list(base.get_children())
            inner = _strip(inner[0]) if inner else None
            if inner is not None and inner.kind.name == "MEMBER_REF_EXPR":
                ik = list(inner.get_children())
                inner = _strip(ik[0]) if ik else inner
            if inner is not None:
                base = inner
                out["through"] = bname
                out["kind"] = base.kind.name.lower()
    if base.kind.name == "DECL_REF_EXPR" and base.referenced is not None:
        d = base.referenced
        out["var"] = d.spelling
        out["var_kind"] = d.kind.name
        out["decl"] = [rel(d.location.file), d.location.line]
    elif base.kind.name == "MEMBER_REF_EXPR":
        out["field"] = base.spelling
    elif base.kind.name == "CALL_EXPR" and "call" not in out:
        bref = base.referenced
        out["call"] = bref.spelling if bref is not None else ""
    return out


def skipped_lines(ci, tu, rel, folders) -> dict[str, list[tuple[int, int]]]:
    """Lines the preprocessor skipped (#if'd out in this configuration), per file under the folders."""
    lib = ci.conf.lib

    class RangeList(ctypes.Structure):
        _fields_ = [("count", ctypes.c_uint), ("ranges", ctypes.POINTER(ci.SourceRange))]

    try:
        fn = lib.clang_getAllSkippedRanges
    except AttributeError:
        return {}
    fn.argtypes = [ctypes.c_void_p]
    fn.restype = ctypes.POINTER(RangeList)
    lst = fn(tu.obj)
    out: dict[str, list] = defaultdict(list)
    try:
        for i in range(lst.contents.count):
            r = lst.contents.ranges[i]
            f = rel(r.start.file)
            if f and f.startswith(folders):
                out[f].append((r.start.line, r.end.line))
    finally:
        lib.clang_disposeSourceRangeList.argtypes = [ctypes.POINTER(RangeList)]
        lib.clang_disposeSourceRangeList(lst)
    return dict(out)


def parse_tu(job: dict) -> dict:
    """Worker: parse one TU and return plain data (callers, calls, lines clang cannot judge)."""
    ci = load_cindex()
    path, root = job["path"], job["root"]
    t0 = time.time()
    opts = KEEP_GOING | ci.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD
    tu, fallback = None, False
    for args in (job["args"] + job["pch"], job["args"]) if job["pch"] else (job["args"],):
        try:
            tu = ci.Index.create().parse(os.path.join(root, path), args=lang_args(path) + args, options=opts)
            break
        except Exception as exc:  # a PCH that does not load is retried without it
            reason = f"{exc.__class__.__name__}: {exc}"
            fallback = True
    if tu is None:
        return {"path": path, "failed": reason}
    walker = TUWalker(ci, tu, root, job["folders"], set(job["project_files"]))
    diags = []
    for d in tu.diagnostics:
        if d.severity >= 3:
            diags.append([walker.rel(d.location.file) or (d.location.file.name if d.location.file else ""),
                          d.location.line, d.spelling[:160], d.severity])
    walker.run()
    folders = tuple(f.rstrip("/") + "/" for f in job["folders"])
    return {"path": path, "seconds": round(time.time() - t0, 2), "pch_fallback": fallback, "diagnostics": diags,
            "callers": walker.callers, "unresolved": {k: sorted(v) for k, v in walker.unresolved.items()},
            "macros": walker.macros, "skipped": skipped_lines(ci, tu, walker.rel, folders),
            "bases": walker.bases, "external_calls": walker.external_calls, "lambda_calls": walker.lambda_calls,
            "factory_unjudged": walker.factory_unjudged}


def run_clang(jobs: list[dict], workers: int, log) -> list[dict]:
    out = []
    if workers <= 1:
        it = map(parse_tu, jobs)
        for i, r in enumerate(it, 1):
            log(f"  [{i}/{len(jobs)}] {r['path']} {r.get('seconds', 'FAILED')}")
            out.append(r)
        return out
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, maxtasksperchild=16) as pool:
        for i, r in enumerate(pool.imap_unordered(parse_tu, jobs), 1):
            log(f"  [{i}/{len(jobs)}] {r['path']} {r.get('seconds', 'FAILED')}")
            out.append(r)
    return sorted(out, key=lambda r: r["path"])


# ---------------------------------------------------------------------------- infernav side
class Infernav:
    """infernav's index, read-only: symbols by location and name, edges, overrides."""

    def __init__(self, path: Path):
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        q = self.conn.execute
        self.files = {r[0] for r in q("SELECT path FROM files")}
        self.sym = {}
        self.by_path: dict[str, list] = defaultdict(list)
        self.by_decl: dict[tuple, list[int]] = defaultdict(list)
        self.by_name: dict[str, list[int]] = defaultdict(list)
        self.flags: dict[int, str] = {}
        for sid, name, short, kind, path, line, end, dpath, dline, flags in q(
                "SELECT id, name, short, kind, path, line, end_line, decl_path, decl_line, flags FROM symbols"):
            self.sym[sid] = (name, short, kind, path, line, end)
            self.flags[sid] = flags or ""
            self.by_name[name].append(sid)
            if kind in INFERNAV_FUNC_KINDS or kind in ("class", "struct"):
                self.by_path[path].append((line, end, sid))
                if dpath:
                    self.by_decl[(dpath, dline)].append(sid)
        for v in self.by_path.values():
            v.sort()
        # Free functions of one name defined in several files (`static` helpers, per-backend twins):
        # one canonical name, distinct functions. Their key carries the file.
        paths: dict[str, set[str]] = defaultdict(set)
        for sid, (name, _s, kind, path, _l, _e) in self.sym.items():
            if kind == "function" and "decl" not in self.flags.get(sid, ""):
                paths[name].add(path)
        self.twins = {n for n, ps in paths.items() if len(ps) > 1}
        self.overrides: dict[int, set[int]] = defaultdict(set)
        for sub, base in q("SELECT sub, base FROM overrides"):
            self.overrides[sub].add(base)

    def at(self, path: str, first: int, name_line: int, spelling: str, funcs_only: bool = True) -> int | None:
        """The symbol defined or declared at this location (innermost, same name preferred)."""
        rows = self.by_path.get(path, ())
        short = spelling.rsplit("::", 1)[-1]
        exact, inner = [], []
        for line, end, sid in rows:
            if line > name_line:
                break
            kind = self.sym[sid][2]
            if funcs_only and kind not in INFERNAV_FUNC_KINDS:
                continue
            if line in (first, name_line):
                exact.append(sid)
            elif line <= name_line <= end and self.sym[sid][1] == short:
                inner.append(sid)
        for group in (exact, inner):
            named = [s for s in group if self.sym[s][1] == short]
            if named or group:
                return (named or group)[-1]
        for line in (first, name_line):
            cands = [s for s in self.by_decl.get((path, line), ()) if self.sym[s][1] == short]
            if cands:
                return cands[0]
        return None

    def key(self, sid: int) -> str:
        """The name a caller is scored under: the canonical name (overloads share it), plus the file
        for free functions whose name several files define (callees keep the bare name; a call to a
        file-local twin that infernav sends to another file's twin is caught in score())."""
        name, _s, _k, path, _l, _e = self.sym[sid]
        return f"{name} @{path}" if name in self.twins else name

    def edges_from(self, sids: list[int]) -> list[tuple]:
        out = []
        for i in range(0, len(sids), 900):
            chunk = sids[i:i + 900]
            marks = ",".join("?" * len(chunk))
            out += self.conn.execute(f"SELECT src, dst, line, resolution, via FROM edges WHERE src IN ({marks})",
                                     chunk).fetchall()
        return out

    def bases_of(self, sid: int) -> set[int]:
        seen, stack = set(), [sid]
        while stack:
            for b in self.overrides.get(stack.pop(), ()):
                if b not in seen:
                    seen.add(b)
                    stack.append(b)
        return seen


# ---------------------------------------------------------------------------------- mapping
def map_caller(inav: Infernav, rec: dict) -> int | None:
    return inav.at(rec["file"], rec["line"], rec["name_line"], rec["spelling"])


def map_callee(inav: Infernav, call: dict) -> tuple[str, int | None, str]:
    """(canonical name, symbol id or None, how: 'location' | 'name' | 'unindexed')."""
    for path, first, name_line in call["locs"]:
        sid = inav.at(path, first, name_line, call["name"])
        if sid is not None:
            return inav.sym[sid][0], sid, "location"
    if call["kind"] == "CONSTRUCTOR":
        # A constructor infernav does not list: its edges go to the class symbol.
        for path, first, name_line in call["locs"]:
            for line, end, sid in inav.by_path.get(path, ()):
                if inav.sym[sid][2] in ("class", "struct") and line <= name_line <= end \
                        and inav.sym[sid][1] == call["name"]:
                    return inav.sym[sid][0], sid, "location"
    if call["qual"] in inav.by_name:
        sid = inav.by_name[call["qual"]][0]
        return call["qual"], sid, "name"
    return call["qual"], None, "unindexed"


def keep_call(call: dict) -> bool:
    """Implicit special members never count; constructors only when the construction is spelled."""
    if call.get("implicit"):
        return False  # an implicitly declared special member: nothing written to point at
    return call["kind"] != "CONSTRUCTOR" or call.get("written", False)


def merge_tus(results: list[dict]) -> dict:
    """Callers (deduplicated over TUs: headers are seen once per including TU) and per-file facts."""
    callers: dict[str, dict] = {}
    unresolved: dict[str, set[int]] = defaultdict(set)
    skipped: dict[str, list] = defaultdict(list)
    macros: dict[str, set] = defaultdict(set)
    errors: dict[str, set[int]] = defaultdict(set)
    bases: dict[str, set[str]] = defaultdict(set)
    for r in results:
        if "failed" in r:
            continue
        for cls, bs in r["bases"].items():
            bases[cls].update(bs)
        for key, rec in r["callers"].items():
            if key not in callers:
                callers[key] = rec
            else:  # union of calls (different includers can differ in macros)
                have = {(c["line"], c["col"], c["qual"]) for c in callers[key]["calls"]}
                callers[key]["calls"] += [c for c in rec["calls"] if (c["line"], c["col"], c["qual"]) not in have]
        for f, lines in r["unresolved"].items():
            unresolved[f].update(lines)
        for f, ranges in r["skipped"].items():
            skipped[f].extend(tuple(x) for x in ranges)
        for f, ms in r["macros"].items():
            macros[f].update(tuple(m) for m in ms)
        for f, line, _msg, _sev in r["diagnostics"]:
            if f:
                errors[f].add(line)
    return {"callers": callers, "unresolved": unresolved, "skipped": skipped, "macros": macros,
            "errors": errors, "bases": bases}


def folder_of(path: str, folders: list[str]) -> str:
    for f in sorted(folders, key=len, reverse=True):
        if path.startswith(f.rstrip("/") + "/"):
            return f
    return "?"


# ---------------------------------------------------------------------------------- scoring
def clang_pairs(inav: Infernav, merged: dict, folders: list[str]) -> tuple[dict, dict, dict, dict]:
    """clang's (caller, callee) pairs of canonical names -> call facts; mapped callers; stats;
    caller key -> clang's records of it."""
    pairs: dict[tuple[str, str], dict] = {}
    caller_ids: dict[str, set[int]] = defaultdict(set)
    caller_recs: dict[str, list] = defaultdict(list)
    stats = Counter()
    for rec in merged["callers"].values():
        sid = map_caller(inav, rec)
        cname = inav.key(sid) if sid is not None else rec["qual"]
        stats["callers"] += 1
        stats["callers_mapped" if sid is not None else "callers_unindexed"] += 1
        if sid is not None:
            caller_ids[cname].add(sid)
        caller_recs[cname].append(rec)
        for call in rec["calls"]:
            if not keep_call(call):
                stats["implicit_or_unwritten_calls_dropped"] += 1
                continue
            callee, did, how = map_callee(inav, call)
            stats[f"callee_{how}"] += 1
            p = pairs.setdefault((cname, callee), {
                "caller_sid": sid, "callee_sid": did, "callee_how": how, "caller": rec,
                "folder": folder_of(rec["file"], folders), "sites": []})
            p["sites"].append(call)
    return pairs, caller_ids, stats, caller_recs


def infernav_pairs(inav: Infernav, caller_ids: dict[str, set[int]], strict: bool) -> dict:
    """infernav's (caller, callee) pairs of the callers clang saw -> best label, lines, labels."""
    sid_to_name = {s: name for name, ids in caller_ids.items() for s in ids}
    out: dict[tuple[str, str], dict] = {}
    for src, dst, line, res, via in inav.edges_from(sorted(sid_to_name)):
        if strict and res == "name":
            continue
        key = (sid_to_name[src], inav.sym[dst][0])
        e = out.setdefault(key, {"labels": set(), "lines": set(), "dsts": set(), "src_file": inav.sym[src][3],
                                 "vias": set()})
        e["labels"].add(res)
        e["lines"].add(line)
        e["dsts"].add(dst)
        e["vias"].add(via)
    for e in out.values():
        e["label"] = min(e["labels"], key=RESOLUTION_ORDER.get)
    return out


def line_judgeable(merged: dict, path: str, line: int) -> str:
    """'' when clang judged this line, else why it could not."""
    for lo, hi in merged["skipped"].get(path, ()):
        if lo <= line <= hi:
            return "preprocessor-skipped"
    if line in merged["errors"].get(path, ()):
        return "clang-error"
    if line in merged["unresolved"].get(path, ()):
        return "clang-unresolved-call"
    return ""


def derives(bases: dict[str, set[str]], cls: str, base: str) -> bool:
    seen, stack = set(), [cls]
    while stack:
        c = stack.pop()
        for b in bases.get(c, ()):
            if b == base:
                return True
            if b not in seen:
                seen.add(b)
                stack.append(b)
    return False


def dispatch_covered(inav: Infernav, key: tuple, e: dict, merged: dict, callee_ids_by_caller: dict) -> bool:
    """A dispatch pair whose target overrides a method clang has as this caller's static callee.

    Override: infernav's overrides table, or (it misses some) a method of the same name in a class
    that clang's class hierarchy derives from the static callee's class.
    """
    static = callee_ids_by_caller.get(key[0], set())
    for d in e["dsts"]:
        if inav.bases_of(d) & static:
            return True
        dname = inav.sym[d][0]
        dcls, _, dm = dname.rpartition("::")
        for b in static:
            bcls, _, bm = inav.sym[b][0].rpartition("::")
            if bm == dm and bcls and derives(merged["bases"], dcls, bcls):
                return True
    return False


def wrong_twin(inav: Infernav, p: dict, e: dict) -> str:
    """'wrong' when clang's callee is a function defined in the TU (file-local, or inline) whose name
    other files also define and infernav's edge goes only to another file's; 'extra' when it goes
    to clang's and to others too (pairs are by name, so that still scores as found); else ''."""
    sid = p["callee_sid"]
    if sid is None or inav.sym[sid][0] not in inav.twins:
        return ""
    path, line = inav.sym[sid][3], inav.sym[sid][4]
    if not any(loc[0] == path and line in (loc[1], loc[2]) for s in p["sites"] for loc in s["locs"]):
        return ""
    if sid not in e["dsts"]:
        return "wrong"
    return "extra" if any(inav.sym[d][3] != path for d in e["dsts"]) else ""


def callers_with_errors(merged: dict, clang_caller_keys: dict) -> set[str]:
    """Callers whose body holds a clang error: what clang resolved there stands, but calls may be lost."""
    out = set()
    for key, recs in clang_caller_keys.items():
        for rec in recs:
            lines = merged["errors"].get(rec["file"], ())
            if any(rec["line"] <= ln <= rec["end"] for ln in lines):
                out.add(key)
    return out


def score(inav: Infernav, clang: dict, inf: dict, merged: dict, caller_recs: dict) -> dict:
    broken = callers_with_errors(merged, caller_recs)
    twins = Counter()
    callee_ids_by_caller: dict[str, set[int]] = defaultdict(set)
    for (caller, _), p in clang.items():
        if p["callee_sid"] is not None:
            callee_ids_by_caller[caller].add(p["callee_sid"])
    verdicts = {}
    for key, e in inf.items():
        twin = wrong_twin(inav, clang[key], e) if key in clang else ""
        if twin:
            twins[twin] += 1
        if twin == "wrong":
            verdicts[key] = "fp"
        elif key in clang:
            verdicts[key] = "tp"
        elif all(inav.sym[d][2] in ("class", "struct") for d in e["dsts"]):
            # infernav points a construction at the class when it knows no constructor; clang's
            # reference holds user-written constructors only.
            verdicts[key] = "unverifiable:construction-without-user-ctor"
        elif e["label"] == "dispatch" and dispatch_covered(inav, key, e, merged, callee_ids_by_caller):
            verdicts[key] = "dispatch-covered"
        else:
            why = {line_judgeable(merged, e["src_file"], ln) for ln in e["lines"]}
            if "" not in why:
                verdicts[key] = f"unverifiable:{sorted(why)[0]}"
            elif key[0] in broken:
                verdicts[key] = "unverifiable:clang-error-in-caller"
            else:
                verdicts[key] = "fp"
    return {"verdicts": verdicts, "twins": dict(twins)}


def pr(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(p, 3), "recall": round(r, 3)}


def summarize(clang: dict, inf: dict, verdicts: dict, folders: list[str]) -> dict:
    def block(sel_clang, sel_inf):
        v = Counter(verdicts[k] for k in sel_inf)
        tp = v["tp"]
        fp = v["fp"]
        unver = sum(n for k, n in v.items() if k.startswith("unverifiable"))
        fn = sum(1 for k in sel_clang if verdicts.get(k) != "tp")
        out = pr(tp, fp, fn)
        out["clang_pairs"] = len(sel_clang)
        out["infernav_pairs"] = len(sel_inf)
        out["dispatch_covered"] = v["dispatch-covered"]
        out["unverifiable"] = unver
        out["precision_unverifiable_as_false"] = round(tp / (tp + fp + unver), 3) if tp + fp + unver else 0.0
        return out

    overall = block(list(clang), list(inf))
    overall["unverifiable_by_reason"] = dict(Counter(v.split(":", 1)[1] for v in verdicts.values()
                                                      if v.startswith("unverifiable")))
    caller_folder = {k[0]: p["folder"] for k, p in clang.items()}
    per_folder = {}
    for f in folders:
        sc = [k for k, p in clang.items() if p["folder"] == f]
        si = [k for k in inf if caller_folder.get(k[0]) == f or folder_of(inf[k]["src_file"], folders) == f]
        per_folder[f] = block(sc, si)
    per_label = {}
    for label in RESOLUTION_ORDER:
        sel = [k for k, e in inf.items() if e["label"] == label]
        v = Counter(verdicts[k] for k in sel)
        judged = v["tp"] + v["fp"]
        per_label[label] = {"pairs": len(sel), "correct": v["tp"], "false": v["fp"],
                            "dispatch_covered": v["dispatch-covered"],
                            "unverifiable": sum(n for k, n in v.items() if k.startswith("unverifiable")),
                            "precision": round(v["tp"] / judged, 3) if judged else None,
                            "recall_share": round(v["tp"] / len(clang), 3) if clang else 0.0}
    sites = sum(len(p["sites"]) for p in clang.values())
    found_sites = sum(len(p["sites"]) for k, p in clang.items() if verdicts.get(k) == "tp")
    overall["clang_call_sites"] = sites
    overall["call_site_recall"] = round(found_sites / sites, 3) if sites else 0.0
    return {"overall": overall, "per_folder": per_folder, "per_label": per_label}


# ------------------------------------------------------------------------------ miss causes
class Sources:
    """Source lines of the tree, for the call-site text heuristics."""

    def __init__(self, root: Path):
        self.root = root
        self._cache: dict[str, list[str]] = {}

    def lines(self, path: str) -> list[str]:
        if path not in self._cache:
            try:
                self._cache[path] = (self.root / path).read_text(errors="replace").splitlines()
            except OSError:
                self._cache[path] = []
        return self._cache[path]

    def line(self, path: str, n: int) -> str:
        ls = self.lines(path)
        return ls[n - 1] if 0 < n <= len(ls) else ""


def in_macro(merged: dict, call: dict) -> str:
    for l0, c0, l1, c1, name in merged["macros"].get(call["file"], ()):
        if (l0, c0) <= (call["line"], call["col"]) <= (l1, c1):
            return name
    return ""


def miss_cause(inav: Infernav, p: dict, key: tuple, inf_lines: dict, merged: dict, src: Sources) -> str:
    """A probable cause for a clang pair infernav lacks (first matching rule wins)."""
    caller = p["caller"]
    call = p["sites"][0]
    if p["caller_sid"] is None:
        return "caller not indexed (returns a reference)" if caller.get("ret_ref") else "caller not indexed by infernav"
    caller_short = inav.sym[p["caller_sid"]][1]
    if p["callee_sid"] is None:
        return "callee not indexed (returns a reference)" if call["ret_ref"] else "callee not indexed by infernav"
    other = inf_lines.get(key[0], {})
    for s in p["sites"]:
        names = other.get(s["line"], set())
        if any(n.rsplit("::", 1)[-1] == s["name"] for n in names):
            return "other target at that line (overload / other class)"
    text = src.line(call["file"], call["line"])
    if call["name"].startswith("operator"):
        return "operator"
    if call["kind"] == "CONSTRUCTOR":
        return f"constructor: {construction_form(call, text)}"
    if caller_short.startswith(("TEST(", "TEST_F(", "TEST_P(", "TYPED_TEST")):
        return "call in a TEST body"
    macro = in_macro(merged, call)
    if macro:
        return "inside a macro"
    if call["name"] not in text and call["l0"] == call["l1"]:
        return "inside a macro"
    recv = call.get("recv") or {}
    if call["kind"] == "CXX_METHOD" and re.search(r"\w::\s*" + re.escape(call["name"]) + r"\s*\(", text) \
            and recv.get("kind") in ("this", "qualified", "type_ref"):
        return "qualified call `Cls::Method(...)`"
    if "GetInstance" in text or recv.get("call") == "GetInstance":
        return "Singleton<T>::GetInstance() receiver"
    decl = recv.get("decl")
    if decl and decl[0]:
        dtext = src.line(decl[0], decl[1])
        var = re.escape(recv.get("var", ""))
        if re.search(r"\bfor\s*\(.*\b" + var + r"\s*:", dtext):
            return "range-for variable receiver"
        if re.search(r"\bauto\b[\s&*]*" + var + r"\b", dtext):
            return "`auto` variable receiver"
        if recv.get("var_kind") == "PARM_DECL":
            return "parameter receiver"
        return "declared variable receiver"
    if recv.get("kind") == "call_expr":
        return "chained call receiver"
    if recv.get("kind") == "member_ref_expr":
        return "field receiver"
    if call["template"]:
        return "template"
    if call["lambda"]:
        return "call in a lambda"
    return "other"


def construction_form(call: dict, text: str) -> str:
    if call.get("factory"):
        return "std::make_shared / make_unique"
    cls = re.escape(call["name"])
    if re.search(r"\bnew\s+(?:[\w:]+::)?" + cls + r"\b", text):
        return "new T(...)"
    if re.search(r"\b" + cls + r"\s*(?:<[^;]*>)?\s+\w+\s*[({]", text):
        return "declaration T v(...)"
    return "temporary T(...) / T{...}"


def classify_misses(inav: Infernav, clang: dict, inf: dict, verdicts: dict, merged: dict, src: Sources) -> dict:
    inf_lines: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for (caller, callee), e in inf.items():
        for ln in e["lines"]:
            inf_lines[caller][ln].add(callee)
    causes: dict[str, list] = defaultdict(list)
    for key, p in sorted(clang.items()):
        if verdicts.get(key) == "tp":
            continue
        cause = "same-named function of another file" if key in inf else \
            miss_cause(inav, p, key, inf_lines, merged, src)
        causes[cause].append(key)
    out = {}
    for cause, keys in sorted(causes.items(), key=lambda kv: -len(kv[1])):
        examples = []
        for k in keys[:3]:
            s = clang[k]["sites"][0]
            # file:line only: no upstream source text goes into the results (they are committed).
            examples.append({"caller": k[0], "callee": k[1], "at": f"{s['file']}:{s['line']}"})
        out[cause] = {"count": len(keys), "examples": examples}
    return out


def false_positive_examples(inf: dict, verdicts: dict, n: int = 8) -> list[dict]:
    out = []
    for key, v in sorted(verdicts.items()):
        if v != "fp":
            continue
        e = inf[key]
        line = min(e["lines"])
        out.append({"caller": key[0], "callee": key[1], "label": e["label"], "at": f"{e['src_file']}:{line}"})
    by_label = defaultdict(list)
    for x in out:
        by_label[x["label"]].append(x)
    return [x for label in RESOLUTION_ORDER for x in by_label[label][:n]]


# ---------------------------------------------------------------------------------- output
def evaluate(inav: Infernav, merged: dict, clang: dict, caller_ids: dict, caller_recs: dict, strict: bool,
             folders: list[str], src: Sources) -> dict:
    """Scores, miss causes and false-positive examples for one mode (all labels, or strict)."""
    inf = infernav_pairs(inav, caller_ids, strict)
    scored = score(inav, clang, inf, merged, caller_recs)
    verdicts = scored["verdicts"]
    return {"scores": summarize(clang, inf, verdicts, folders),
            "same_named_twin_edges": scored["twins"],
            "misses": classify_misses(inav, clang, inf, verdicts, merged, src),
            "false_positive_examples": false_positive_examples(inf, verdicts)}


def print_table(result: dict, strict: bool) -> None:
    mode = result["strict" if strict else "all_labels"]
    s = mode["scores"]
    o = s["overall"]
    head = "strict (no 'name' edges)" if strict else "all labels"
    print(f"\nclang reference vs infernav, {result['framework']} ({head}); caller->callee pairs")
    print(f"  TUs parsed {result['tus']['parsed']}, failed {len(result['tus']['failed'])}, "
          f"degraded {len(result['tus']['degraded'])}, left out {len(result['tus']['left_out'])}")
    print(f"  {'scope':<40} {'clang':>6} {'inav':>6} {'tp':>5} {'fp':>5} {'fn':>5} {'prec':>6} {'recall':>6} "
          f"{'disp':>5} {'unver':>5}")

    def row(name, b):
        print(f"  {name:<40} {b['clang_pairs']:>6} {b['infernav_pairs']:>6} {b['tp']:>5} {b['fp']:>5} {b['fn']:>5} "
              f"{b['precision']:>6.3f} {b['recall']:>6.3f} {b['dispatch_covered']:>5} {b['unverifiable']:>5}")

    row("overall", o)
    for f, b in s["per_folder"].items():
        row(f, b)
    print(f"  call-site recall {o['call_site_recall']:.3f} of {o['clang_call_sites']} clang call sites; "
          f"precision counting unverifiable as false {o['precision_unverifiable_as_false']:.3f}")
    print(f"\n  {'label':<10} {'pairs':>6} {'correct':>8} {'false':>6} {'disp-cov':>8} {'unver':>6} {'prec':>6}"
          f" {'of clang':>8}")
    for label, b in s["per_label"].items():
        prec = f"{b['precision']:.3f}" if b["precision"] is not None else "-"
        print(f"  {label:<10} {b['pairs']:>6} {b['correct']:>8} {b['false']:>6} {b['dispatch_covered']:>8} "
              f"{b['unverifiable']:>6} {prec:>6} {b['recall_share']:>8.3f}")
    print(f"  {'missing':<10} {o['fn']:>6} {'':>8} {'':>6} {'':>8} {'':>6} {'':>6} {o['fn'] / max(1, o['clang_pairs']):>8.3f}")
    other = result["all_labels" if strict else "strict"]["scores"]["overall"]
    print(f"  ({'all labels' if strict else 'strict'}: precision {other['precision']:.3f} recall {other['recall']:.3f})")
    print("\n  misses by probable cause:")
    for cause, c in mode["misses"].items():
        ex = c["examples"][0]
        print(f"  {c['count']:>5}  {cause:<50} e.g. {ex['at']}  {ex['caller']} -> {ex['callee']}")


# ------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--framework", default="ksanallm", choices=sorted(FRAMEWORKS))
    ap.add_argument("--folders", nargs="+", help="folders of the tree to score (default: per framework)")
    ap.add_argument("--strict", action="store_true", help="leave infernav's 'name' edges out")
    ap.add_argument("--jobs", type=int, default=2, help="parallel clang parses (default 2)")
    ap.add_argument("--source", help="source root (default: the one infernav indexed)")
    ap.add_argument("--index", help="infernav's SQLite index (default: the one for the framework)")
    ap.add_argument("--resource-dir", help="clang resource dir (default: newest /usr/lib/llvm-*/lib/clang/*)")
    ap.add_argument("--cache", help="JSON file to keep/reuse the raw clang results (keyed by its inputs)")
    ap.add_argument("--out", nargs="?", const=str(RESULTS), help=f"write the results JSON (default path {RESULTS.relative_to(REPO)})")
    ap.add_argument("--max-tus", type=int, help="parse only the first N TUs (a smoke test)")
    ap.add_argument("-q", "--quiet", action="store_true")
    return ap.parse_args(argv)


def clang_phase(ci, args, fw: dict, root: Path, tus: list[str], project_files: set[str], log) -> tuple[list[dict], dict]:
    res_dir = resource_dir(args.resource_dir)
    cargs = compile_args(root, fw, res_dir, torch_includes())
    stubs = sorted((p.relative_to(STUBS).as_posix(), p.read_text()) for p in STUBS.rglob("*.h*"))
    fingerprint = hashlib.sha256(json.dumps([CLANG_PHASE_VERSION, str(root), tus, cargs, args.folders,
                                             libclang_version(ci), stubs]).encode()).hexdigest()[:16]
    if args.cache and Path(args.cache).exists():
        cached = json.loads(Path(args.cache).read_text())
        if cached.get("fingerprint") == fingerprint:
            log(f"clang: reusing {args.cache}")
            return cached["results"], cached["setup"]
    with tempfile.TemporaryDirectory(prefix="clangref-") as tmp:
        pchs, pch_info = {}, {}
        for lang in sorted({tuple(lang_args(t)) for t in tus}):
            log(f"clang: building the {lang[1]} prelude PCH (torch, gtest, json, stubs) ...")
            pchs[lang], pch_info[lang[1]] = build_prelude(ci, cargs, list(lang), Path(tmp))
            log(f"clang: prelude {pch_info[lang[1]]}")
        jobs = [{"path": t, "root": str(root), "args": cargs, "pch": pchs[tuple(lang_args(t))],
                 "folders": args.folders, "project_files": sorted(project_files)} for t in tus]
        t0 = time.time()
        results = run_clang(jobs, args.jobs, log)
        setup = {"args": cargs, "pch": pch_info, "resource_dir": res_dir, "seconds": round(time.time() - t0, 1),
                 "libclang": libclang_version(ci),
                 "pch_fallbacks": [r["path"] for r in results if r.get("pch_fallback")]}
    if args.cache:
        Path(args.cache).parent.mkdir(parents=True, exist_ok=True)
        Path(args.cache).write_text(json.dumps({"fingerprint": fingerprint, "results": results, "setup": setup}))
    return results, setup


def libclang_version(ci) -> str:
    try:
        lib = ci.conf.lib
        lib.clang_getClangVersion.restype = ci._CXString
        return ci._CXString.from_result(lib.clang_getClangVersion())
    except Exception:
        return ""


def tu_report(results: list[dict], left_out: list[str], folders: list[str]) -> dict:
    failed = [{"path": r["path"], "reason": r["failed"]} for r in results if "failed" in r]
    degraded = []
    for r in results:
        if "failed" in r:
            continue
        own = [d for d in r["diagnostics"] if d[0] and folder_of(d[0], folders) != "?" or d[0] == r["path"]]
        if own:
            degraded.append({"path": r["path"], "errors_in_folders": len(own), "errors_total": len(r["diagnostics"]),
                             "first": [f"{d[0]}:{d[1]}: {d[2]}" for d in own[:3]]})
    errs = Counter()
    for r in results:
        for d in r.get("diagnostics", ()):
            errs[re.sub(r"'[^']*'", "'X'", d[2])] += 1
    return {"parsed": sum("failed" not in r for r in results), "failed": failed, "degraded": degraded,
            "left_out": left_out, "error_kinds": dict(errs.most_common(15)),
            "errors_total": sum(len(r.get("diagnostics", ())) for r in results),
            "seconds_per_tu": round(sum(r.get("seconds", 0) for r in results) / max(1, len(results)), 2)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log = (lambda *_: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    try:
        ci = load_cindex()
        fw = FRAMEWORKS[args.framework]
        args.folders = [f.rstrip("/") for f in (args.folders or fw["folders"])]
        info = infernav_framework(args.framework)
        root = Path(args.source or info["root"]).resolve()
        if not root.is_dir():
            raise Unavailable(f"source tree {root} is missing; run: infernav fetch {args.framework}")
        inav = Infernav(index_file(info["framework"], args.index))
        tus, left_out = translation_units(root, args.folders, fw["skip_dirs"])
        if args.max_tus:
            tus = tus[:args.max_tus]
        if not tus:
            raise Unavailable(f"no translation units under {args.folders}")
        log(f"{info['framework']}: {len(tus)} TUs under {', '.join(args.folders)} ({len(left_out)} left out)")
        results, setup = clang_phase(ci, args, fw, root, tus, inav.files, log)
    except Unavailable as exc:
        print(f"clang_callgraph: {exc}", file=sys.stderr)
        return 2
    merged = merge_tus(results)
    clang, caller_ids, map_stats, caller_recs = clang_pairs(inav, merged, args.folders)
    src = Sources(root)
    modes = {mode: evaluate(inav, merged, clang, caller_ids, caller_recs, mode == "strict", args.folders, src)
             for mode in ("all_labels", "strict")}
    result = {
        "date": _dt.date.today().isoformat(),
        "framework": info["framework"],
        "infernav_commit": git_head(REPO),
        "source_commit": git_head(root) or info["framework"].split("@", 1)[-1],
        "folders": args.folders,
        "metric": "deduplicated caller->callee pairs of infernav canonical names",
        "tus": tu_report(results, left_out, args.folders),
        "clang_setup": setup,
        "mapping": dict(map_stats),
        **modes,
    }
    print_table(result, args.strict)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
        log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
