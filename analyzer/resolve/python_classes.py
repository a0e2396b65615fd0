"""Classes of containers in the Python value flow: their pools, and reading and writing them.

python_solver unites containers into a class where a variable would hold containers from more
than MERGE_AT allocations, and gives that variable the class's value ('S', root). This mixin of
Flow (through Values) keeps what the class value means: read pools, one per key (the pool of key
k holds every member's element k), so a class read by a constant key stays apart from the others;
and a write pool that flows into every member's '*', so a write through the class reaches every
member. A member held directly anywhere else reads its own elements only.
"""
from __future__ import annotations

ALL = ("all",)


class Classes:
    """Mixin of Values: needs `s`, `elems`, `elem()`, `kinds`."""

    def _init_classes(self) -> None:
        self._pools: dict[int, int] = {}                # class member -> its write pool
        self._kpools: dict[int, dict] = {}              # class root -> key -> read pool
        self._cm_reports: list[tuple] = []              # (site key, class root, method name)
        self.s.on_union = self._on_union

    def _on_union(self, keep: int, gone: int, kept: list[int], joined: list[int]) -> None:
        """Solver callback: classes keep (members `kept`) and gone (`joined`) are now one, rooted
        at keep. Read pools are per key: the pool of key k holds every member's element k, so a
        class read by a constant key stays apart from other keys. A container joining its first
        class gets a write pool (into its '*'); write pools are linked both ways. Class
        structure (python_provenance): whoever's values made the union, it stands until every
        class is dissolved at once."""
        before = self.s.class_structure()
        try:
            self._unite_pools(keep, gone, kept, joined)
        finally:
            self.s.restore(before)

    def _unite_pools(self, keep: int, gone: int, kept: list[int], joined: list[int]) -> None:
        s = self.s
        for side in (keep, gone):
            if side not in self._pools:
                self._pools[side] = w = s.var()
                s.copy(w, self.elem(side, "*"))
        a, b = self._pools[keep], self._pools[gone]
        s.copy(a, b)
        s.copy(b, a)
        mine, theirs = self._kpools.setdefault(keep, {}), self._kpools.pop(gone, {})
        for key in list(mine.keys() | theirs.keys()):
            pa, pb = mine.get(key), theirs.get(key)
            if pa is None:
                mine[key] = pb
                self._feed(kept, key, pb)
            elif pb is None:
                self._feed(joined, key, pa)
            else:                           # readers of the old class value hold pb
                s.copy(pa, pb)
                s.copy(pb, pa)

    def _feed(self, members: list[int], key: object, pool: int) -> None:
        for m in members:
            e = self.elems.get((m, key))
            if e is not None:
                self.s.copy(e, pool)

    def _key_pool(self, root: int, key: object) -> int:
        root = self.s.find(root)
        pools = self._kpools.setdefault(root, {})
        v = pools.get(key)
        if v is None:                       # made once for every reader: class structure
            before = self.s.class_structure()
            v = pools[key] = self.s.var()
            self._feed(self.s.members(root), key, v)
            self.s.restore(before)
        return v

    def read_class(self, root: int, key: object, t: int) -> None:
        """t ⊇ class[key]: every member's element key and unknown keys; every element for ALL
        or a negative index (members differ in length)."""
        if key == ALL or (isinstance(key, int) and key < 0):
            self.s.copy(self._key_pool(root, ALL), t)
            return
        self.s.copy(self._key_pool(root, key), t)
        if key != "*":
            self.s.copy(self._key_pool(root, "*"), t)

    def class_write(self, root: int) -> int:
        return self._pools[self.s.find(root)]

    def container_kinds(self, root: int) -> set[str]:
        """The kinds ('list', 'dict', ...) of the containers in a class."""
        return {k for m in self.s.members(self.s.find(root)) if (k := self.kinds.get(m))}
