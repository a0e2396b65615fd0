"""Score infernav's Python call graph against PyCG's micro-benchmark (a benchmark, not a test).

  python bench/pycg_microbench.py --path PYCG            # PyCG repo, bare mirror, or its micro-benchmark/
  python bench/pycg_microbench.py --path PYCG --backend cli

Why: PyCG (Salis et al., ICSE 2021) ships 119 tiny hand-written snippets, each with its ground-truth
call graph `callgraph.json` (`{caller: [callees]}`), one per Python feature (args, classes, decorators,
dicts, imports, lambdas, mro, ...). They are the closest thing to a public, per-feature answer key
for a Python call-graph builder, so this bench tells the next engineer which features infernav gets
wrong and how much each costs. CI cannot reach GitHub; run it where you have a copy of PyCG. Nothing
of PyCG is kept in this repository: only this script and the numbers it writes.

How a snippet is run. Each snippet folder becomes its own framework in a temporary pins file
(`INFERNAV_PINS`, `source = "git"` with a placeholder `url` (the snippet is linked, never cloned), `roots = ["."]`), is linked with `fetch NAME --path DIR`, indexed,
and every symbol's direct callees are read back, default (no name-only guesses) and `--guesses` (with
them), plus the unresolved call sites `callees` lists, whose known targets outside the index
(`builtin` and `external` sites) become edges to PyCG's names. Two backends give the same edges:
  - `api` (default, one process, ~1 s): `sources.fetch`, `indexer.build`, and the public methods of
    `query.Index` (`find('*')`, `walk(ids, 'callees', 1, resolutions)`), imported inside a function so
    a moved module fails with one clear line (then use `--backend cli`);
  - `cli` (~3 min on 2 cores): `infernav fetch/index`, `infernav find '*' --json -n 100000` (a glob
    starting with `*` matches every canonical name; see query.Index.find) and `infernav callees NAME
    --json [--guesses]` per symbol name. Both read what `infernav callees` prints (`walk`, depth 1;
    symbols sharing one name are one caller, as in PyCG); no SQLite is read directly.
The cache is a temporary INFERNAV_HOME (or `--home`), so the user's indexes are left alone.

Name mapping (infernav canonical name -> PyCG name). Both name Python code by dotted module path from
the snippet folder, so most names are identical: module `main` is `main`, `pkg/__init__.py` is `pkg`,
`pkg/mod.py` is `pkg.mod`, functions `mod.func`, methods `mod.Class.meth`, nested functions
`mod.func.inner`. infernav attributes module-level calls to the module symbol, PyCG to the module
name: the same caller. A call to a class is, in infernav, an edge to `Class.__init__` (looked up
through the MRO) when one is defined in the snippet, else an edge to the class symbol itself; PyCG
has an edge to `__init__` only, so edges to class symbols are dropped (counted in the details).
Builtins and callees outside the snippet are not symbols in infernav (it indexes only the snippet)
but unresolved call sites that name them: a `builtin` site's target `<builtin>.len` is PyCG's
`<builtin>.len`, `<builtin>.str.join` is `<**PyStr**>.join` (likewise dict, list), and an
`external` site's target is the dotted name it was reached through (`ext.Cls.fun`), as PyCG names
it. Lambdas are symbols `mod.<lambdaN>`, numbered per enclosing def as in PyCG. A folder without
`__init__.py` (a namespace package) is part of the module name in infernav as in Python and PyCG
(`nest/imported.py` is `nest.imported`). Calls that infernav attributes to a class body would keep
the class as caller; no snippet has one.

Scores, edge by edge over the union of all snippets (micro-averaged), in two views:
  - in-snippet: only edges whose callee is defined in the snippet, i.e. not `<builtin>.*` and under a
    module that has a .py file in the snippet folder (decided from the file tree, not from infernav);
  - all edges: PyCG's whole graph, builtins and externals included (the honest recall).
A snippet is exact when infernav's edge set equals the truth's edge set in that view (nodes without
edges are ignored). Misses are classified as builtin / external / in-snippet, the latter split into
callee-not-indexed (e.g. lambdas), caller-not-indexed, and edge-missing (both symbols exist); false
edges by infernav's resolution label (exact/type/dispatch/name).

Writes bench/results/pycg_microbench.json (the reference run, committed; not with --only or
--no-write) and, gitignored, bench/out/pycg_microbench_details.json and
bench/out/pycg_microbench_misses.txt (per snippet: each missed edge with its cause, each false edge
with its resolution label). The "all edges" view is the one the issue's numbers were quoted in.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "pycg_microbench.json"
OUT = REPO / "bench" / "out"
BUILTIN = "<builtin>."
MODES = ("default", "guesses")
VIEWS = ("in_snippet", "all")

Edge = tuple[str, str]


# ----------------------------------------------------------------------------- the benchmark
@dataclass
class Snippet:
    category: str
    name: str
    dir: Path
    truth: set[Edge]
    modules: set[str]

    @property
    def key(self) -> str:
        return f"{self.category}/{self.name}"

    @property
    def framework(self) -> str:
        return "pycg_" + re.sub(r"[^a-z0-9]+", "_", self.key.lower())


class NoBenchmark(Exception):
    """The --path holds no PyCG micro-benchmark; the message is one line."""


def _git(args: list[str]) -> str | None:
    r = subprocess.run(["git", *args], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def locate(path: Path, scratch: Path) -> tuple[Path, str | None]:
    """(snippets folder, PyCG commit or None) for a checkout, a bare repo, or a micro-benchmark copy."""
    if not path.exists():
        raise NoBenchmark(f"PyCG not found at {path}; pass --path to a PyCG checkout, mirror or micro-benchmark/")
    for cand in (path / "micro-benchmark" / "snippets", path / "snippets", path):
        if cand.is_dir() and any(cand.glob("*/*/callgraph.json")):
            # A commit only when these files are tracked by the enclosing repository (a PyCG checkout).
            tracked = _git(["-C", str(cand), "ls-files", "--", "*/callgraph.json"])
            return cand, _git(["-C", str(cand), "rev-parse", "HEAD"]) if tracked else None
    commit = _git(["--git-dir", str(path), "rev-parse", "HEAD"])
    if commit and _git(["--git-dir", str(path), "cat-file", "-t", "HEAD:micro-benchmark/snippets"]) == "tree":
        # A bare repository (e.g. a mirror): export HEAD's micro-benchmark/ into the scratch folder.
        archive = subprocess.run(["git", "--git-dir", str(path), "archive", "HEAD", "micro-benchmark"],
                                 capture_output=True)
        if archive.returncode == 0:
            import io
            import tarfile

            with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
                tar.extractall(scratch, filter="data")
            return scratch / "micro-benchmark" / "snippets", commit
    raise NoBenchmark(f"no PyCG micro-benchmark (snippets/*/*/callgraph.json) under {path}")


def snippet_modules(folder: Path) -> set[str]:
    """Dotted names of the snippet's modules and packages, from its file tree (`pkg/__init__.py` -> pkg)."""
    out = set()
    for p in folder.rglob("*.py"):
        parts = list(p.relative_to(folder).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            out.add(".".join(parts))
    return out


def load_snippets(snippets: Path) -> list[Snippet]:
    out = []
    for cg in sorted(snippets.glob("*/*/callgraph.json")):
        folder = cg.parent
        truth = {(a, b) for a, bs in json.loads(cg.read_text()).items() for b in bs}
        out.append(Snippet(folder.parent.name, folder.name, folder, truth, snippet_modules(folder)))
    return out


def digest(snippets: list[Snippet]) -> str:
    """Content hash of the benchmark (every .py and callgraph.json), to tell copies apart without git."""
    h = hashlib.sha256()
    for s in snippets:
        for p in sorted(s.dir.rglob("*")):
            if p.is_file() and p.suffix in (".py", ".json"):
                h.update(str(p.relative_to(s.dir.parent.parent)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def in_snippet(callee: str, modules: set[str]) -> bool:
    """Callee defined in the snippet: not a builtin, and some dotted prefix is one of its modules."""
    if callee.startswith(BUILTIN):
        return False
    parts = callee.split(".")
    return any(".".join(parts[:i]) in modules for i in range(1, len(parts) + 1))


def write_pins(snippets: list[Snippet], path: Path) -> None:
    lines = ["# Temporary pins: one framework per PyCG snippet (written by bench/pycg_microbench.py)."]
    for s in snippets:
        lines += [f"[{s.framework}]", 'source = "git"', f'url = "file:///nonexistent/{s.framework}.git"',
                  'default = "0"', 'roots = ["."]', ""]
    path.write_text("\n".join(lines))


_BUILTIN_TYPES = {"str": "<**PyStr**>", "dict": "<**PyDict**>", "list": "<**PyList**>"}


def pycg_targets(reason: str, targets: list[str]) -> list[str]:
    """PyCG's names for the known targets of a `builtin` or `external` unresolved site."""
    if reason not in ("builtin", "external"):
        return []
    out = []
    for t in targets:
        if t.startswith(BUILTIN):
            head, _, rest = t[len(BUILTIN):].partition(".")
            t = f"{_BUILTIN_TYPES[head]}.{rest}" if rest and head in _BUILTIN_TYPES else t
        out.append(t)
    return out


# ----------------------------------------------------------------------------- backends
@dataclass
class SnippetGraph:
    """What infernav found in one snippet: symbols by name and, per mode, edges with their labels."""

    kinds: dict[str, str]
    edges: dict[str, dict[Edge, str]] = field(default_factory=dict)   # mode -> (caller, callee) -> resolution


class Backend(Protocol):
    def graph(self, s: Snippet) -> SnippetGraph: ...


class ApiBackend:
    """In one process, through sources.fetch, indexer.build and query.Index's public methods."""

    def __init__(self) -> None:
        try:
            from infernav.analyzer import indexer, query, sources
        except ImportError as exc:
            raise SystemExit(f"error: cannot import infernav's analyzer ({exc}); run with --backend cli")
        self.sources, self.indexer, self.query = sources, indexer, query
        # The default answer leaves out name-only guesses; `--guesses` shows every resolution.
        self.with_guesses = query.ALL_RESOLUTIONS

    def graph(self, s: Snippet) -> SnippetGraph:
        ref = self.sources.parse_ref(s.framework)
        root = self.sources.fetch(ref, path=str(s.dir))
        self.indexer.build(ref, root, force=True, jobs=1)
        idx = self.query.Index(self.indexer.index_path(ref))
        try:
            rows = idx.find("*", limit=1 << 30)
            kinds = {r.name: r.kind for r in rows}
            by_name: dict[str, list[int]] = {}
            for r in rows:
                by_name.setdefault(r.name, []).append(r.id)
            g = SnippetGraph(kinds)
            for mode in MODES:
                res = self.with_guesses if mode == "guesses" else None
                g.edges[mode] = {(name, h.symbol.name): h.resolution
                                 for name, ids in by_name.items() for h in idx.walk(ids, "callees", 1, res)}
                for name, ids in by_name.items():
                    for u in idx.unresolved_sites(ids):
                        for t in pycg_targets(u.reason, u.target.split(",") if u.target else []):
                            g.edges[mode].setdefault((name, t), u.reason)
            return g
        finally:
            idx.close()


class CliBackend:
    """Whole `infernav` processes with --json, as a user would run them (slower, immune to refactors)."""

    def __init__(self) -> None:
        exe = Path(sys.executable).with_name("infernav")
        self.cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "infernav.analyzer.cli"]

    def _run(self, *args: str, ok: Iterable[int] = (0,)) -> Any:
        r = subprocess.run([*self.cmd, *args], capture_output=True, text=True)
        if r.returncode not in ok:
            raise SystemExit(f"error: infernav {' '.join(args)} exited {r.returncode}: {r.stderr.strip()[:300]}")
        return json.loads(r.stdout) if "--json" in args else None

    def graph(self, s: Snippet) -> SnippetGraph:
        fw = s.framework
        self._run("fetch", fw, "--path", str(s.dir), "--json")
        self._run("index", fw, "--force", "-j", "1", "--json")
        found = self._run("find", "*", "-f", fw, "--json", "-n", "100000", ok=(0, 1))
        kinds = {r["name"]: r["kind"] for r in found["results"]}
        g = SnippetGraph(kinds)
        for mode in MODES:
            flag = ["--guesses"] if mode == "guesses" else []
            g.edges[mode] = {}
            for name in kinds:
                out = self._run("callees", name, "-f", fw, "--json", *flag, ok=(0, 1))
                for h in out.get("results", []):
                    g.edges[mode][(name, h["name"])] = h["resolution"]
                for u in out.get("unresolved", []):
                    for t in pycg_targets(u["reason"], u.get("target", [])):
                        g.edges[mode].setdefault((name, t), u["reason"])
        return g


# ----------------------------------------------------------------------------- scoring
def to_pycg(g: SnippetGraph, mode: str) -> tuple[dict[Edge, str], int]:
    """infernav edges in PyCG names, and how many edges to class symbols (no __init__) were dropped."""
    out, dropped = {}, 0
    for (a, b), res in g.edges[mode].items():
        if g.kinds.get(b) == "class":
            dropped += 1
            continue
        out[(a, b)] = res
    return out, dropped


def view_edges(edges: Iterable[Edge], view: str, modules: set[str]) -> set[Edge]:
    return {e for e in edges if view == "all" or in_snippet(e[1], modules)}


def classify_miss(edge: Edge, s: Snippet, g: SnippetGraph) -> str:
    caller, callee = edge
    if callee.startswith(BUILTIN) or callee.startswith("<**Py"):   # `<**PyStr**>.join`: builtin types' methods
        return "builtin"
    if not in_snippet(callee, s.modules):
        return "external"
    if callee not in g.kinds:
        return "in_snippet:callee_not_indexed"
    if caller not in g.kinds:
        return "in_snippet:caller_not_indexed"
    return "in_snippet:edge_missing"


@dataclass
class Counts:
    snippets: int = 0
    truth: int = 0
    predicted: int = 0
    tp: int = 0
    exact: int = 0

    def add(self, truth: set[Edge], pred: set[Edge]) -> None:
        self.snippets += 1
        self.truth += len(truth)
        self.predicted += len(pred)
        self.tp += len(truth & pred)
        self.exact += truth == pred

    def row(self) -> dict[str, Any]:
        return {"snippets": self.snippets, "truth_edges": self.truth, "predicted_edges": self.predicted,
                "true_positives": self.tp,
                "precision": round(100 * self.tp / self.predicted, 1) if self.predicted else None,
                "recall": round(100 * self.tp / self.truth, 1) if self.truth else None,
                "exact": self.exact}


def score(snippets: list[Snippet], graphs: dict[str, SnippetGraph]) -> tuple[dict, dict, list]:
    """Per mode and view: overall and per-category Counts; miss/false classifications; per-snippet details."""
    counts: dict[tuple[str, str, str], Counts] = {}
    misses: dict[str, dict[str, dict[str, int]]] = {m: {} for m in MODES}     # mode -> category -> class -> n
    falses: dict[str, dict[str, dict[str, int]]] = {m: {} for m in MODES}     # mode -> category -> label -> n
    details = []
    for s in snippets:
        g = graphs[s.key]
        d: dict[str, Any] = {"snippet": s.key, "modes": {}}
        for mode in MODES:
            pred, dropped = to_pycg(g, mode)
            for view in VIEWS:
                t, p = view_edges(s.truth, view, s.modules), view_edges(pred, view, s.modules)
                for cat in ("__all__", s.category):
                    counts.setdefault((mode, view, cat), Counts()).add(t, p)
            missed = sorted(s.truth - set(pred))
            false = sorted(set(pred) - s.truth)
            cm = misses[mode].setdefault(s.category, {})
            for e in missed:
                k = classify_miss(e, s, g)
                cm[k] = cm.get(k, 0) + 1
            cf = falses[mode].setdefault(s.category, {})
            for e in false:
                cf[pred[e]] = cf.get(pred[e], 0) + 1
            d["modes"][mode] = {
                "missed": [{"edge": list(e), "why": classify_miss(e, s, g)} for e in missed],
                "false": [{"edge": list(e), "resolution": pred[e]} for e in false],
                "dropped_class_edges": dropped,
                "exact_all": not missed and not false,
                "exact_in_snippet": view_edges(s.truth, "in_snippet", s.modules) == view_edges(pred, "in_snippet", s.modules),
            }
        details.append(d)
    return counts, {"misses": misses, "false_edges": falses}, details


def _sum(per_cat: dict[str, dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in per_cat.values():
        for k, v in c.items():
            out[k] = out.get(k, 0) + v
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


# ----------------------------------------------------------------------------- output
def _pct(x: float | None) -> str:
    return "   -" if x is None else f"{x:5.1f}"


def table(counts: dict, categories: list[str]) -> str:
    cols = [(m, v) for v in VIEWS for m in MODES]
    head1 = f"{'':14}{'':>4}  " + "  ".join(f"{v.replace('_', '-') + ' ' + m:^19}" for m, v in cols)
    head2 = f"{'category':14}{'n':>4}  " + "  ".join(f"{'P':>6}{'R':>6}{'exact':>7}" for _ in cols)
    lines = [head1, head2, "-" * len(head2)]
    for cat in [*categories, "__all__"]:
        if cat == "__all__":
            lines.append("-" * len(head2))
        n = counts[(MODES[0], VIEWS[0], cat)].snippets
        cells = []
        for m, v in cols:
            r = counts[(m, v, cat)].row()
            cells.append(f"{_pct(r['precision']):>6}{_pct(r['recall']):>6}{r['exact']:>4}/{n:<2}")
        lines.append(f"{'ALL' if cat == '__all__' else cat:14}{n:>4}  " + "  ".join(cells))
    return "\n".join(lines)


MISS_KINDS = ("builtin", "external", "in_snippet:callee_not_indexed", "in_snippet:caller_not_indexed",
              "in_snippet:edge_missing")


def misses_table(classes: dict, categories: list[str], mode: str) -> str:
    """Per category: missed edges by cause and false edges by resolution label (all-edges view)."""
    short = ["builtin", "external", "callee-absent", "caller-absent", "edge-missing"]
    head = f"{'category':14}" + "".join(f"{h:>14}" for h in short) + f"{'false:guess':>12}{'false:other':>12}"
    lines = [f"misses and false edges ({mode}):", head, "-" * len(head)]
    rows = [*categories, "ALL"]
    tot_m, tot_f = _sum(classes["misses"][mode]), _sum(classes["false_edges"][mode])
    for cat in rows:
        m = tot_m if cat == "ALL" else classes["misses"][mode].get(cat, {})
        f = tot_f if cat == "ALL" else classes["false_edges"][mode].get(cat, {})
        name = f.get("guess", 0)
        lines.append(f"{cat:14}" + "".join(f"{m.get(k, 0):>14}" for k in MISS_KINDS)
                     + f"{name:>12}{sum(f.values()) - name:>12}")
    return "\n".join(lines)


def misses_text(details: list[dict]) -> str:
    lines = []
    for d in details:
        for mode in MODES:
            m = d["modes"][mode]
            if not m["missed"] and not m["false"]:
                continue
            lines.append(f"{d['snippet']} [{mode}]")
            lines += [f"  miss  {a} -> {b}  ({x['why']})" for x in m["missed"] for a, b in [x["edge"]]]
            lines += [f"  false {a} -> {b}  ({x['resolution']})" for x in m["false"] for a, b in [x["edge"]]]
    return "\n".join(lines) + "\n"


def infernav_commit() -> str:
    head = _git(["-C", str(REPO), "rev-parse", "HEAD"]) or "unknown"
    dirty = _git(["-C", str(REPO), "status", "--porcelain", "--", "analyzer"])
    return head + ("+dirty(analyzer)" if dirty else "")


@dataclass
class Run:
    snippets: list[Snippet]
    backend: str
    seconds: float
    pycg_commit: str | None
    counts: dict
    classes: dict
    details: list

    @property
    def categories(self) -> list[str]:
        return sorted({s.category for s in self.snippets})

    def dropped(self) -> dict[str, int]:
        return {m: sum(d["modes"][m]["dropped_class_edges"] for d in self.details) for m in MODES}


def run(snippets: list[Snippet], backend_name: str, scratch: Path, home: Path, pycg_commit: str | None) -> Run:
    """Index every snippet in its own framework (temporary pins file and INFERNAV_HOME) and score it."""
    home.mkdir(parents=True, exist_ok=True)
    write_pins(snippets, scratch / "pins.toml")
    os.environ["INFERNAV_HOME"] = str(home)
    os.environ["INFERNAV_PINS"] = str(scratch / "pins.toml")
    backend: Backend = ApiBackend() if backend_name == "api" else CliBackend()
    t0 = time.perf_counter()
    graphs = {s.key: backend.graph(s) for s in snippets}
    seconds = time.perf_counter() - t0
    counts, classes, details = score(snippets, graphs)
    return Run(snippets, backend_name, seconds, pycg_commit, counts, classes, details)


def report(r: Run) -> None:
    """Print the tables and write the per-snippet listing to bench/out/ (gitignored)."""
    print(f"PyCG micro-benchmark: {len(r.snippets)} snippets, {sum(len(s.truth) for s in r.snippets)} truth "
          f"edges; infernav {r.backend} backend, {r.seconds:.1f} s")
    print(table(r.counts, r.categories))
    print()
    print(misses_table(r.classes, r.categories, "default"))
    print(f"with guesses, misses: {_sum(r.classes['misses']['guesses'])}; "
          f"false edges: {_sum(r.classes['false_edges']['guesses'])}")
    dropped = r.dropped()
    print(f"edges to classes without __init__ dropped (default/guesses): {dropped['default']}/{dropped['guesses']}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "pycg_microbench_details.json").write_text(json.dumps(r.details, indent=1) + "\n")
    (OUT / "pycg_microbench_misses.txt").write_text(misses_text(r.details))
    print(f"per-snippet misses and false edges: {(OUT / 'pycg_microbench_misses.txt').relative_to(REPO)}")


def result_json(r: Run) -> dict[str, Any]:
    """The reference-run record: provenance and every number (no PyCG source, only snippet names)."""
    cats, counts, classes = r.categories, r.counts, r.classes
    exact_key = {"all": "exact_all", "in_snippet": "exact_in_snippet"}
    return {
        "benchmark": "PyCG micro-benchmark (github.com/vitsalis/PyCG, micro-benchmark/snippets)",
        "date": dt.date.today().isoformat(),
        "infernav_commit": infernav_commit(),
        "pycg_commit": r.pycg_commit,
        "benchmark_digest": digest(r.snippets),
        "backend": r.backend, "seconds": round(r.seconds, 1),
        "views": {"in_snippet": "only edges whose callee is defined in the snippet (no <builtin>.*, no externals)",
                  "all": "every edge of PyCG's callgraph.json; builtins and externals from infernav's unresolved sites"},
        "modes": {"default": "infernav callees (no name-only guesses)",
                  "guesses": "infernav callees --guesses (name-only guesses too)"},
        "dropped_class_edges": r.dropped(),
        "snippets": len(r.snippets),
        "scores": {mode: {view: {"overall": counts[(mode, view, "__all__")].row(),
                                 "by_category": {c: counts[(mode, view, c)].row() for c in cats}}
                          for view in VIEWS} for mode in MODES},
        "misses_all_edges": {mode: {"total": _sum(classes["misses"][mode]), "by_category": classes["misses"][mode]}
                             for mode in MODES},
        "false_edges_by_resolution": {mode: {"total": _sum(classes["false_edges"][mode]),
                                             "by_category": classes["false_edges"][mode]} for mode in MODES},
        "exact_snippets": {mode: {view: sorted(d["snippet"] for d in r.details if d["modes"][mode][exact_key[view]])
                                  for view in VIEWS} for mode in MODES},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--path", help="PyCG checkout, bare mirror, or a copy of its micro-benchmark/ folder")
    ap.add_argument("--backend", choices=("api", "cli"), default="api")
    ap.add_argument("--home", help="INFERNAV_HOME for the throwaway indexes (default: a temporary folder)")
    ap.add_argument("--only", default="", help="Only snippets whose 'category/name' contains this text")
    ap.add_argument("--no-write", action="store_true",
                    help="Leave bench/results/ alone (per-snippet details still go to bench/out/)")
    args = ap.parse_args(argv)
    if not args.path:
        print("PyCG micro-benchmark not given: pass --path to a PyCG checkout, mirror or micro-benchmark/")
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="pycg-bench-"))
    try:
        try:
            snippets_dir, pycg_commit = locate(Path(args.path).expanduser().resolve(), scratch / "src")
        except NoBenchmark as exc:
            print(exc)
            return 2
        snippets = [s for s in load_snippets(snippets_dir) if args.only in s.key]
        home = Path(args.home) if args.home else scratch / "home"
        r = run(snippets, args.backend, scratch, home, pycg_commit)
        report(r)
        if not (args.no_write or args.only):
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(result_json(r), indent=1) + "\n")
            print(f"results: {RESULTS.relative_to(REPO)}")
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
