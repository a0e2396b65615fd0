"""What resolution produces: symbols, labelled call edges, override pairs and lookup aliases.

Edge labels (`resolution`), strongest first:
  exact     the callee follows from names alone: imports, qualified names, self/this, super()
  type      a receiver's type was inferred: annotations, declared types, constructor assignments
  flow      the value analysis followed the callee: a function passed, returned, stored in an
            attribute, variable or container, a decorator applied, an implicit call (Python)
  dispatch  an override reached through a call to a base/interface method (virtual dispatch)
  guess     a name-only candidate: the receiver is unknown and few methods carry that name; left
            out of default answers (`--guesses` shows them)
Edge `via`: call | launch (CUDA <<<>>>) | macro (a call inside a macro the caller expands) |
  torch-op (Python torch.ops.ns.op -> op) | registration (op -> C++ function) | pybind |
  implicit (a call Python makes without call syntax: `for`, `with`, `raise`, subscripts)
Unresolved call sites (`Graph.unresolved_sites`): (caller, line, callee text, reason, target,
  partial) with reason 'builtin' | 'external' (target: the dotted names called outside the index) |
  'too-many' (the callee set was cut at its bound) | 'unknown'; partial = 1 when the site has edges
  too (it calls indexed symbols and something else).
"""
from __future__ import annotations

from dataclasses import dataclass, field

RESOLUTIONS = ("exact", "type", "flow", "dispatch", "guess")
# What an answer shows unless guesses are asked for.
DEFAULT_RESOLUTIONS = frozenset(RESOLUTIONS) - {"guess"}


# A name-only candidate is only worth showing when the name is rare.
MAX_NAME_CANDIDATES = 3


# Method names that builtin, std:: and torch.Tensor receivers answer to: a call `x.append()` on an
# unknown `x` is almost always one of those, so name-only guessing would only add false edges.
COMMON_METHOD_NAMES = frozenset(
    n
    for t in (list, dict, set, str, bytes, tuple, int, float)
    for n in dir(t)
) | frozenset("""
    size view data_ptr item to numel dim shape dtype device contiguous copy_ fill_ zero_ clone
    detach cpu cuda float half bfloat16 long int bool sum mean max min reshape permute transpose
    unsqueeze squeeze flatten expand repeat narrow split chunk stride is_contiguous new_empty
    push_back emplace_back emplace pop_back pop_front push_front data begin end cbegin cend rbegin
    rend find insert erase count clear empty reserve resize at front back get reset lock release
    swap first second c_str length substr compare load store exchange fetch_add wait notify_one
    notify_all join detach run start stop close open read write flush send recv put
    submit result done cancel set_result add remove discard update setdefault info debug warning
    error exception critical log
""".split())


@dataclass
class Symbol:
    id: int
    name: str          # canonical: `vllm.v1.core.sched.scheduler.Scheduler.schedule`, `ns::Cls::M`
    short: str
    kind: str
    lang: str
    path: str
    line: int
    end: int
    sig: str = ""
    doc: str = ""
    flags: str = ""
    parent: int | None = None   # class symbol of a method
    decl_path: str = ""         # C++: where the in-class declaration is, if apart from the body
    decl_line: int = 0


@dataclass
class Graph:
    """What resolution produces; the store writes it as tables."""

    symbols: list[Symbol] = field(default_factory=list)
    edges: set[tuple[int, int, int, str, str]] = field(default_factory=set)  # src dst line res via
    overrides: set[tuple[int, int]] = field(default_factory=set)           # (override, overridden)
    aliases: set[tuple[str, int]] = field(default_factory=set)              # re-exported name -> symbol
    unresolved: int = 0
    resolved_calls: int = 0
    unresolved_sites: list[tuple[int, int, str, str, str, int]] = field(default_factory=list)
    cpp: "CppPart | None" = None   # the C++ half, as resolve() made or reused it

    def add(self, sym: Symbol) -> int:
        sym.id = len(self.symbols)
        self.symbols.append(sym)
        return sym.id


@dataclass
class CppPart:
    """The C++ half of a resolution: symbols 0..len(symbols)-1 (C++ symbols and the op and pybind
    symbols C++ registers, all made before any Python symbol), the edges leaving them, the override
    pairs among them, the call counts, and what Python calls reach through (cross_language.PythonLinks).

    Why it can be reused: the C++ resolver reads only C++ facts and the engine's settings, and every
    edge and override it makes leaves one of its own symbols, while Python's leave Python symbols;
    so for the same C++ facts and settings the part is the same whatever Python changed
    (tests/test_incremental_reuse.py; analyzer/reuse.py refuses a stored part its rows outnumber)."""

    symbols: list[Symbol]
    edges: set[tuple[int, int, int, str, str]]
    overrides: set[tuple[int, int]]
    resolved_calls: int
    unresolved: int
    torch_ops: dict[str, int]
    pybind: dict[str, int]
    pybind_classes: dict[str, str]

    def summary(self) -> dict:
        """What the index's meta keeps of it: the rows are found again by their counts."""
        return {"symbols": len(self.symbols), "edges": len(self.edges), "overrides": len(self.overrides),
                "resolved_calls": self.resolved_calls, "unresolved": self.unresolved,
                "torch_ops": self.torch_ops, "pybind": self.pybind, "pybind_classes": self.pybind_classes}
