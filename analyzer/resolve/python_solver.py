"""The points-to engine under Python value flow: variables, values, copy edges, hooks, a worklist.

Sparse difference propagation (each variable forwards only what it newly received), with copy
cycles collapsed into one representative once they are found (a strongly connected component of
the assignment graph is one set: `a = b; b = a` never ping-pongs). Sets are bounded: a variable
that would hold more than CAP values holds CAP of them plus the value TOP ("too many targets"),
which then flows on like any value, so a call through it is reported as partly unknown instead
of being silently cut or blowing up.

Values are interned tuples (`value(t)` -> id); the meaning of the tuples is python_values.py's.
Hooks are callables run on every new value of a variable (and on the values it already holds);
`later(fn)` queues work that needs the first fixpoint (defaults for unknown keys, decorator
fallbacks), run when the worklist drains, after which propagation continues.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Iterable

TOP = 0          # value id of ('top',): the set was cut at CAP
CAP = 40


class Solver:
    def __init__(self) -> None:
        self.vals: list[tuple] = [("top",)]
        self._val_id: dict[tuple, int] = {("top",): 0}
        self.pts: list[set[int] | None] = []
        self.succ: list[list[int] | None] = []
        self.hooks: list[list[Callable] | None] = []
        self.rep: list[int] = []          # union-find parent: collapsed copy cycles
        self._delta: dict[int, set[int]] = {}
        self._queue: deque[int] = deque()
        self._later: list[Callable[[], None]] = []
        self._edges: set[tuple[int, int]] = set()
        self.steps = 0

    # ------------------------------------------------------------------ values and variables
    def value(self, t: tuple) -> int:
        vid = self._val_id.get(t)
        if vid is None:
            vid = self._val_id[t] = len(self.vals)
            self.vals.append(t)
        return vid

    def var(self) -> int:
        self.pts.append(None)
        self.succ.append(None)
        self.hooks.append(None)
        self.rep.append(len(self.rep))
        return len(self.rep) - 1

    def find(self, v: int) -> int:
        rep = self.rep
        root = v
        while rep[root] != root:
            root = rep[root]
        while rep[v] != root:
            rep[v], v = root, rep[v]
        return root

    def values_of(self, v: int) -> set[int]:
        return self.pts[self.find(v)] or set()

    # ------------------------------------------------------------------ constraints
    def add(self, v: int, vals: Iterable[int]) -> None:
        v = self.find(v)
        p = self.pts[v]
        if p is None:
            p = self.pts[v] = set()
        new = set(vals) - p
        if not new:
            return
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

    def copy(self, src: int, dst: int) -> None:
        """dst ⊇ src, from now on."""
        src, dst = self.find(src), self.find(dst)
        if src == dst or (src, dst) in self._edges:
            return
        self._edges.add((src, dst))
        s = self.succ[src]
        if s is None:
            self.succ[src] = [dst]
        else:
            s.append(dst)
        if self.pts[src]:
            self.add(dst, self.pts[src])

    def hook(self, v: int, fn: Callable[[set[int]], None]) -> None:
        """Run fn(new values) for every value v holds, now and later."""
        v = self.find(v)
        h = self.hooks[v]
        if h is None:
            self.hooks[v] = [fn]
        else:
            h.append(fn)
        if self.pts[v]:
            fn(set(self.pts[v]))

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
        queue, delta = self._queue, self._delta
        while queue:
            v = queue.popleft()
            d = delta.pop(v, None)
            if d is None:
                continue
            if self.rep[v] != v:            # merged meanwhile: the representative has it all
                self.add(self.find(v), d)
                continue
            self.steps += 1
            for s in self.succ[v] or ():
                self.add(s, d)
            for fn in self.hooks[v] or ():
                fn(d)

    def collapse_cycles(self) -> int:
        """Merge every strongly connected component of the copy graph into one variable
        (iterative Tarjan). Call before run(): afterwards each cycle propagates once."""
        n = len(self.rep)
        index = [0] * n
        low = [0] * n
        on = bytearray(n)
        seen = bytearray(n)
        stack: list[int] = []
        counter = 1
        merged = 0
        for root in range(n):
            if seen[root] or self.rep[root] != root or not self.succ[root]:
                continue
            work = [(root, 0)]
            while work:
                v, i = work[-1]
                if i == 0:
                    seen[v] = 1
                    index[v] = low[v] = counter
                    counter += 1
                    stack.append(v)
                    on[v] = 1
                succ = self.succ[v] or ()
                if i < len(succ):
                    work[-1] = (v, i + 1)
                    w = self.find(succ[i])
                    if not seen[w]:
                        work.append((w, 0))
                    elif on[w]:
                        low[v] = min(low[v], index[w])
                    continue
                work.pop()
                if work:
                    u = work[-1][0]
                    low[u] = min(low[u], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on[w] = 0
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        merged += len(comp) - 1
                        self._merge(comp)
        return merged

    def _merge(self, comp: list[int]) -> None:
        r = min(comp)
        members = set(comp)
        pts: set[int] = set()
        succ: list[int] = []
        hooks: list[Callable] = []
        for v in comp:
            pts |= self.pts[v] or set()
            succ += [s for s in self.succ[v] or () if s not in members]
            hooks += self.hooks[v] or []
            if v != r:
                self.rep[v] = r
                self.pts[v] = self.succ[v] = self.hooks[v] = None
        self.pts[r], self.succ[r], self.hooks[r] = pts or None, succ or None, hooks or None
        if pts:
            d = self._delta.get(r)
            self._delta[r] = (d or set()) | pts
            self._queue.append(r)
