"""The points-to engine under Python value flow: variables, values, copy edges, hooks, a worklist.

Sparse difference propagation: each variable forwards only what it newly received, along copy
edges and to its hooks; a variable's pending delta is queued once however often it grows. (Copy
cycles were collapsed into one variable per strongly connected component in an earlier version:
on vLLM that merged 0.35 % of the variables and cost more time than it saved, so it is gone.)

Sets are bounded: a variable that would hold more than CAP values holds CAP of them plus the value
TOP ("too many targets"), which flows on through copies like any value, so a call through it is
reported as partly unknown instead of being silently cut or blowing up. Values that only inform
(constants, for subscript keys; names outside the index, for reports) are kept to MINOR_CAP per
variable (constants past it become ANY_CONST: "some constant"), and containers to CONTAINER_CAP:
on vLLM, the tuples of tensors that forward methods return and pass on otherwise made up most of
the work, and a variable that sees more than a few containers seldom holds callables in them.

Values are interned tuples (`value(t)` -> id); python_values.py says what they mean. Hooks are
callables run on every new value of a variable (and on the values it already holds); `later(fn)`
queues work that needs the first fixpoint (keys known only then, decorator outcomes), run when the
worklist drains, after which propagation continues.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Iterable

TOP = 0          # value id of ('top',): the set was cut at CAP
ANY_CONST = 1    # value id of ('k*',): some constant (constants beyond MINOR_CAP were dropped)
CAP = 40
MINOR_CAP = 6
_MINOR_KINDS = {"k": 2, "x": 1, "xi": 1, "xt": 1, "s": 3, "cm": 3}
CONTAINER_CAP = 4


class Solver:
    def __init__(self) -> None:
        self.vals: list[tuple] = [("top",), ("k*",)]
        self._val_id: dict[tuple, int] = {("top",): 0, ("k*",): 1}
        self.minor = bytearray(2)          # value id -> 0, 1 outside names, 2 constants, 3 containers
        self._minor_ids: set[int] = set()
        self.pts: list[set[int] | None] = []
        self.succ: dict[int, list[int]] = {}
        self.hooks: dict[int, list[Callable]] = {}
        self._delta: dict[int, set[int]] = {}
        self._queue: deque[int] = deque()
        self._later: list[Callable[[], None]] = []
        self._edges: set[int] = set()      # src << 32 | dst
        self.steps = 0

    # ------------------------------------------------------------------ values and variables
    def value(self, t: tuple) -> int:
        vid = self._val_id.get(t)
        if vid is None:
            vid = self._val_id[t] = len(self.vals)
            self.vals.append(t)
            m = _MINOR_KINDS.get(t[0], 0)
            self.minor.append(m)
            if m:
                self._minor_ids.add(vid)
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
        if not self._minor_ids.isdisjoint(new):
            new = self._cap_minor(p or (), new)
            if not new:
                return
        if p is None:
            p = self.pts[v] = set()
        if len(p) + len(new) > CAP:
            if TOP in p:
                return
            room = max(CAP - len(p), 0)
            new = set(sorted(new)[:room]) | {TOP}
        p |= new
        d = self._delta.get(v)
        if d is None:
            self._delta[v] = new
            self._queue.append(v)
        else:
            d |= new

    def _cap_minor(self, p, new: set[int]) -> set[int]:
        minor = self.minor
        have = [0, 0, 0, 0]
        for x in p:
            have[minor[x]] += 1
        out = set()
        for x in sorted(new):
            m = minor[x]
            if m and have[m] >= (CONTAINER_CAP if m == 3 else MINOR_CAP):
                if m == 2 and ANY_CONST not in p:
                    out.add(ANY_CONST)
                continue
            have[m] += 1
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

    def later(self, fn: Callable[[], None]) -> None:
        self._later.append(fn)

    # ------------------------------------------------------------------ solving
    def run(self) -> None:
        while True:
            self._drain()
            if not self._later:
                return
            batch, self._later = self._later, []
            for fn in batch:
                fn()

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
