"""The points-to engine under Python value flow: variables, values, copy edges, hooks, a worklist.

Sparse difference propagation: each variable forwards only what it newly received, along copy
edges and to its hooks; a variable's pending delta is queued once however often it grows. (Copy
cycles were collapsed into one variable per strongly connected component in an earlier version:
on vLLM that merged 0.35 % of the variables and cost more time than it saved, so it is gone.)

Order-independent by design: the fixpoint must not depend on the order files are built in (an
incremental re-solve builds them in another order; a release diff must not see edges move because
a file sorted elsewhere). So no set is cut by arrival order: a call through a variable that holds
many callables is cut where it is reported (python_calls.MAX_FLOW_TARGETS, on the final set). Only
two bounds remain. Containers are kept to CONTAINER_CAP per variable: the tuples of tensors that
forward methods return and pass on would otherwise make up most of the work. And a variable past
HARD_CAP values holds TOP ("too many targets", which flows on like any value) instead of more:
a guard against blow-up that nothing in the pinned engines reaches (`cut` counts the variables it
cut; a cut, like the container cap, is the one place where order could still matter).

Values are interned tuples (`value(t)` -> id); python_values.py says what they mean. Hooks are
callables run on every new value of a variable (and on the values it already holds);
`at_fixpoint(fn)` registers a decision that needs a whole fixpoint (the keys a subscript can take,
what a decorator returned): every decision runs again at each fixpoint, acting only on what is new
to it, until a round adds nothing, so what it decides never depends on when it was registered.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Iterable

TOP = 0          # value id of ('top',): the set was cut at HARD_CAP
HARD_CAP = 2000
_MINOR_KINDS = {"k": 2, "x": 1, "xi": 1, "xt": 1, "s": 3, "cm": 3}
CONTAINER_CAP = 4


class Solver:
    def __init__(self) -> None:
        self.vals: list[tuple] = [("top",)]
        self._val_id: dict[tuple, int] = {("top",): 0}
        self.minor = bytearray(1)          # value id -> 0, 1 outside names, 2 constants, 3 containers
        self._containers: set[int] = set()
        self.pts: list[set[int] | None] = []
        self.succ: dict[int, list[int]] = {}
        self.hooks: dict[int, list[Callable]] = {}
        self._delta: dict[int, set[int]] = {}
        self._queue: deque[int] = deque()
        self._decisions: list[Callable[[], None]] = []
        self._edges: set[int] = set()      # src << 32 | dst
        self._frozen: list | None = None   # adds held back while deferred work decides
        self.steps = 0
        self.cut = 0
        self.container_cut = 0

    # ------------------------------------------------------------------ values and variables
    def value(self, t: tuple) -> int:
        vid = self._val_id.get(t)
        if vid is None:
            vid = self._val_id[t] = len(self.vals)
            self.vals.append(t)
            m = _MINOR_KINDS.get(t[0], 0)
            self.minor.append(m)
            if m == 3:
                self._containers.add(vid)
        return vid

    def var(self) -> int:
        self.pts.append(None)
        return len(self.pts) - 1

    def values_of(self, v: int) -> set[int]:
        return self.pts[v] or set()

    # ------------------------------------------------------------------ constraints
    def add1(self, v: int, vid: int) -> None:
        """v ⊇ {vid}."""
        p = self.pts[v]
        if p is not None and vid in p:
            return
        self.add(v, (vid,))

    def add(self, v: int, vals: Iterable[int]) -> None:
        """v ⊇ vals."""
        if self._frozen is not None:
            p = self.pts[v]
            vals = tuple(vals)
            if p is None or not p.issuperset(vals):
                self._frozen.append((v, vals))
            return
        p = self.pts[v]
        if p is None:
            new = set(vals)
        elif type(vals) is set:
            new = vals - p
        else:
            new = set(vals)
            new -= p
        if not new:
            return
        if not self._containers.isdisjoint(new):
            new = self._cap_containers(p or (), new)
            if not new:
                return
        if p is None:
            p = self.pts[v] = set()
        if len(p) + len(new) > HARD_CAP:
            if TOP in p:
                return
            self.cut += 1
            new = set(sorted(new)[:max(HARD_CAP - len(p), 0)]) | {TOP}
        p |= new
        d = self._delta.get(v)
        if d is None:
            self._delta[v] = new
            self._queue.append(v)
        else:
            d |= new

    def _cap_containers(self, p, new: set[int]) -> set[int]:
        """The new values, less the containers past CONTAINER_CAP (`container_cut` counts the
        times some were dropped: where it is 0, the answer is the same for every build order)."""
        containers = self._containers
        have = sum(1 for x in p if x in containers)
        out = set()
        for x in sorted(new):
            if x in containers:
                if have >= CONTAINER_CAP:
                    self.container_cut += 1
                    continue
                have += 1
            out.add(x)
        return out

    def copy(self, src: int, dst: int) -> None:
        """dst ⊇ src, from now on."""
        key = (src << 32) | dst
        if src == dst or key in self._edges:
            return
        self._edges.add(key)
        s = self.succ.get(src)
        if s is None:
            self.succ[src] = [dst]
        else:
            s.append(dst)
        p = self.pts[src]
        if p:
            self.add(dst, p)

    def hook(self, v: int, fn: Callable[[set[int]], None]) -> None:
        """Run fn(new values) for every value v holds, now and later."""
        h = self.hooks.get(v)
        if h is None:
            self.hooks[v] = [fn]
        else:
            h.append(fn)
        p = self.pts[v]
        if p:
            fn(set(p))

    def at_fixpoint(self, fn: Callable[[], None]) -> None:
        self._decisions.append(fn)

    # ------------------------------------------------------------------ solving
    def run(self) -> None:
        """Solve; then run every decision on the fixpoint and solve again, until a round of
        decisions adds nothing. What the decisions add is held back until all of them have run, so
        each decides on the same fixpoint (their order is free) and the result is a function of the
        constraints alone."""
        while True:
            self._drain()
            known = len(self._decisions)
            if not known:
                return
            self._frozen = []
            for fn in self._decisions[:known]:
                fn()
            held, self._frozen = self._frozen, None
            if not held and len(self._decisions) == known:
                return
            for v, vals in held:
                self.add(v, vals)

    def _drain(self) -> None:
        queue, delta, succ, hooks, add = self._queue, self._delta, self.succ, self.hooks, self.add
        while queue:
            v = queue.popleft()
            d = delta.pop(v, None)
            if d is None:
                continue
            self.steps += 1
            for s in succ.get(v, ()):
                add(s, d)
            for fn in hooks.get(v, ()):
                fn(d)
