"""Our RadixTree (reimpl/prefix_cache/radix.py) against SGLang's real RadixCache, step by step.

    python tests/oracle/sglang_radix.py --sglang-root DIR --seeds 0:1000 [--mutate all] [--show N]

Run in the oracle venv (torch CPU); SGLang is imported from the pinned sdist tree through
sglang_shim.py (which says what is stubbed and why). Each seed is one trace: a page size (1, 2
or 4), a small token alphabet (so runs share prefixes and nodes split), and 40-160 operations on
both trees: insert (with fresh KV slot values), match (its slots and the node it ends at, then a
lock on that node half the time), unlock of a held node, evict of a random number of tokens,
reset. After every operation the two must agree on its result (insert's prefix length, match's
slots and end node, lock deltas, tokens evicted and the slots freed, in order) and on the whole
tree: every node's key, value and lock_ref, evictable/protected sizes, the evictable leaves and
the number of node splits. The last stdout line is a JSON report.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sglang_shim import load_radix_cache  # noqa: E402
from traces import count_disagreements, parse_seeds  # noqa: E402


# ---------------------------------------------------------------------------- planted bugs
def _bug_split_drops_lock(tree_cls):
    orig = tree_cls._split_node

    def split(self, key, child, n):
        node = orig(self, key, child, n)
        node.lock_ref = 0
        return node
    tree_cls._split_node = split


def _bug_match_no_touch(tree_cls):
    orig = tree_cls._match_prefix_helper

    def helper(self, node, key):
        saved = {id(c): c.last_access_time for c in _all_nodes(self.root)}
        values, end = orig(self, node, key)
        for c in _all_nodes(self.root):
            if id(c) in saved:
                c.last_access_time = saved[id(c)]
        return values, end
    tree_cls._match_prefix_helper = helper


def _bug_evict_no_cascade(tree_cls):
    import heapq

    def evict(self, num_tokens):
        heap = [(n.last_access_time, n) for n in list(self.evictable_leaves)]
        heapq.heapify(heap)
        done = 0
        while done < num_tokens and heap:
            _, x = heapq.heappop(heap)
            self.on_free(x.value)
            done += len(x.value)
            self._delete_leaf(x)
        return done
    tree_cls.evict = evict


def _bug_evict_mru(tree_cls):
    import heapq

    def evict(self, num_tokens):
        heap = [(-n.last_access_time, id(n), n) for n in list(self.evictable_leaves)]
        heapq.heapify(heap)
        done = 0
        while done < num_tokens and heap:
            x = heapq.heappop(heap)[2]
            self.on_free(x.value)
            done += len(x.value)
            self._delete_leaf(x)
            if not x.parent.children and x.parent.lock_ref == 0:
                heapq.heappush(heap, (-x.parent.last_access_time, id(x.parent), x.parent))
        return done
    tree_cls.evict = evict


def _bug_lock_stops_early(tree_cls):
    def inc(self, node):
        delta = 0
        while node is not self.root:
            if node.lock_ref == 0:
                self.evictable_size_ -= len(node.key)
                self.protected_size_ += len(node.key)
                delta -= len(node.key)
            node.lock_ref += 1
            self._update_leaf_status(node)
            if node.lock_ref > 1:
                break  # "the rest of the path is already locked": not so for lock counts
            node = node.parent
        return delta
    tree_cls.inc_lock_ref = inc


def _bug_unlock_keeps_leaf_status(tree_cls):
    def dec(self, node):
        delta = 0
        while node is not self.root:
            if node.lock_ref == 1:
                self.evictable_size_ += len(node.key)
                self.protected_size_ -= len(node.key)
                delta += len(node.key)
            node.lock_ref -= 1
            node = node.parent
        return delta
    tree_cls.dec_lock_ref = dec


def _bug_paged_partial_match(tree_cls):
    orig = tree_cls.key_match

    def key_match(self, a, b):
        if self.page_size == 1:
            return orig(self, a, b)
        i = 0
        for x, y in zip(a, b):
            if x != y:
                break
            i += 1
        return i  # token-granular: a match may end inside a page
    tree_cls.key_match = key_match


def _bug_insert_prefix_len_skips_split(tree_cls):
    orig = tree_cls._insert_helper

    def helper(self, node, key, value):
        before = self.splits
        total = orig(self, node, key, value)
        return total - (1 if self.splits > before else 0)
    tree_cls._insert_helper = helper


def _bug_evictable_size_on_insert(tree_cls):
    orig = tree_cls._insert_helper

    def helper(self, node, key, value):
        size = self.evictable_size_
        total = orig(self, node, key, value)
        if self.evictable_size_ != size:
            self.evictable_size_ = size + len(key) - total  # counts the matched tail twice when split
            self.evictable_size_ += 1 if total else 0
        return total
    tree_cls._insert_helper = helper


MUTATIONS = {
    "split-drops-lock": _bug_split_drops_lock,
    "match-does-not-refresh-lru": _bug_match_no_touch,
    "evict-no-parent-cascade": _bug_evict_no_cascade,
    "evict-mru-order": _bug_evict_mru,
    "inc-lock-stops-at-locked": _bug_lock_stops_early,
    "dec-lock-keeps-leaf-status": _bug_unlock_keeps_leaf_status,
    "paged-match-inside-page": _bug_paged_partial_match,
    "insert-prefix-len-off-by-split": _bug_insert_prefix_len_skips_split,
    "evictable-size-on-insert": _bug_evictable_size_on_insert,
}


# ---------------------------------------------------------------------------- the two sides
def _all_nodes(root):
    stack = [root]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.children.values())


def _tokens(key):
    return list(key.token_ids) if hasattr(key, "token_ids") else list(key)


def _values(v):
    return [int(x) for x in (v.tolist() if hasattr(v, "tolist") else v)]


def _path(node, root):
    parts = []
    while node is not root and node is not None:
        parts.append(_tokens(node.key))
        node = node.parent
    return tuple(t for part in reversed(parts) for t in part)


def snapshot(tree, root, leaves):
    nodes = sorted((_path(n, root), _values(n.value), n.lock_ref) for n in _all_nodes(root) if n is not root)
    return {"nodes": nodes, "leaves": sorted(_path(n, root) for n in leaves)}


class Theirs:
    def __init__(self, rc, bpc, page_size):
        self.freed = []
        outer = self

        class Alloc:
            device = "cpu"

            def free(self, values):
                outer.freed.append(_values(values))
        self.rc, self.bpc = rc, bpc
        self.tree = rc.RadixCache.create_simulated(mock_allocator=Alloc(), page_size=page_size)
        self.splits = 0
        split = self.tree._split_node

        def counted(*a, **k):
            self.splits += 1
            return split(*a, **k)
        self.tree._split_node = counted

    def insert(self, key, values):
        import torch
        key_obj = self.rc.RadixKey(list(key))
        return self.tree.insert(self.bpc.InsertParams(key=key_obj, value=torch.tensor(values, dtype=torch.int64))).prefix_len

    def match(self, key):
        r = self.tree.match_prefix(self.bpc.MatchPrefixParams(key=self.rc.RadixKey(list(key))))
        return _values(r.device_indices), r.last_device_node

    def evict(self, n):
        return self.tree.evict(self.bpc.EvictParams(num_tokens=n)).num_tokens_evicted

    def lock(self, node):
        return self.tree.inc_lock_ref(node).delta

    def unlock(self, node):
        return self.tree.dec_lock_ref(node).delta

    def reset(self):
        self.tree.reset()

    def state(self):
        s = snapshot(self.tree, self.tree.root_node, self.tree.evictable_leaves)
        s.update(evictable=self.tree.evictable_size(), protected=self.tree.protected_size(), splits=self.splits,
                 total=self.tree.total_size())
        return s

    @property
    def root(self):
        return self.tree.root_node


class Ours:
    def __init__(self, tree_cls, page_size):
        self.freed = []
        self.tree = tree_cls(page_size, on_free=lambda v: self.freed.append(list(v)))

    def insert(self, key, values):
        return self.tree.insert(key, values)

    def match(self, key):
        return self.tree.match_prefix(key)

    def evict(self, n):
        return self.tree.evict(n)

    def lock(self, node):
        return self.tree.inc_lock_ref(node)

    def unlock(self, node):
        return self.tree.dec_lock_ref(node)

    def reset(self):
        self.tree.reset()

    def state(self):
        s = snapshot(self.tree, self.tree.root, self.tree.evictable_leaves)
        s.update(evictable=self.tree.evictable_size(), protected=self.tree.protected_size(), splits=self.tree.splits,
                 total=self.tree.total_size())
        return s

    @property
    def root(self):
        return self.tree.root


# ---------------------------------------------------------------------------- traces
def make_trace(seed: int) -> tuple[int, list[tuple]]:
    rng = random.Random(seed)
    page = rng.choice([1, 1, 2, 4])
    alphabet = rng.choice([2, 3, 5, 8])
    bases = [[rng.randrange(alphabet) for _ in range(rng.randint(1, 10) * page)] for _ in range(rng.randint(1, 4))]
    seen: list[list[int]] = []

    def sequence():
        if seen and rng.random() < 0.4:
            s = list(rng.choice(seen))
        else:
            s = list(rng.choice(bases))
        s = s[:rng.randint(0, len(s))] + [rng.randrange(alphabet) for _ in range(rng.randint(0, 3 * page + 1))]
        seen.append(s)
        return s

    ops = []
    for _ in range(rng.randint(40, 160)):
        r = rng.random()
        if r < 0.35:
            ops.append(("insert", sequence()))
        elif r < 0.65:
            ops.append(("match", sequence(), rng.random() < 0.5))
        elif r < 0.8:
            ops.append(("unlock", rng.random()))
        elif r < 0.99:
            ops.append(("evict", rng.randint(0, 12 * page)))
        else:
            ops.append(("reset",))
    return page, ops


def play(seed, rc, bpc, tree_cls, coverage, timing):
    page, ops = make_trace(seed)
    sides = [Theirs(rc, bpc, page), Ours(tree_cls, page)]
    held: list[tuple] = []
    counter = 0
    for i, op in enumerate(ops):
        kind = op[0]
        if kind == "insert":
            values = list(range(counter, counter + len(op[1])))
            counter += len(op[1])
            results = _timed(timing, lambda s: s.insert(op[1], values), sides)
        elif kind == "match":
            got = _timed(timing, lambda s: s.match(op[1]), sides)
            results = [(v, _path(n, s.root)) for (v, n), s in zip(got, sides)]
            coverage["matches_with_hits"] += bool(got[0][0])
            if op[2] and results[0] == results[1]:
                deltas = [s.lock(n) for (v, n), s in zip(got, sides)]
                held.append(tuple(n for v, n in got))
                results = [(r, d) for r, d in zip(results, deltas)]
                coverage["locks"] += 1
        elif kind == "unlock":
            if not held:
                continue
            pair = held.pop(int(op[1] * len(held)))
            results = [s.unlock(n) for s, n in zip(sides, pair)]
            coverage["unlocks"] += 1
        elif kind == "evict":
            for s in sides:
                s.freed = []
            nums = _timed(timing, lambda s: s.evict(op[1]), sides)
            results = [(n, s.freed) for n, s in zip(nums, sides)]
            coverage["evictions"] += len(sides[0].freed)
            coverage["evict_refused_by_locks"] += nums[0] < op[1] and sides[0].state()["protected"] > 0
        else:
            for s in sides:
                s.reset()
            held.clear()
            results = [None, None]
            coverage["resets"] += 1
        states = [s.state() for s in sides]
        if results[0] != results[1] or states[0] != states[1]:
            return {"seed": seed, "call": i, "op": kind, "page_size": page,
                    "theirs": repr((results[0], _diff(states[0], states[1])))[:600],
                    "ours": repr((results[1], _diff(states[1], states[0])))[:600]}
    coverage["splits"] += sides[0].splits
    coverage["paged_traces"] += page > 1
    return None


def _timed(timing, fn, sides):
    out = []
    for name, s in zip(("theirs", "ours"), sides):
        t = time.perf_counter()
        out.append(fn(s))
        timing[name] += time.perf_counter() - t
    return out


def _diff(a, b):
    return {k: a[k] for k in a if a[k] != b.get(k)}


def run(seeds, rc, bpc, tree_cls, show):
    coverage = dict.fromkeys(["matches_with_hits", "locks", "unlocks", "evictions", "evict_refused_by_locks",
                              "resets", "splits", "paged_traces"], 0)
    timing = {"theirs": 0.0, "ours": 0.0}
    out = count_disagreements(seeds, lambda seed: play(seed, rc, bpc, tree_cls, coverage, timing), show)
    return {**out, "coverage": coverage, "seconds": {k: round(v, 3) for k, v in timing.items()}}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--sglang-root", required=True)
    ap.add_argument("--seeds", default="0:1000")
    ap.add_argument("--mutate", default="")
    ap.add_argument("--show", type=int, default=1)
    args = ap.parse_args(argv)
    rc, bpc, stubbed = load_radix_cache(args.sglang_root)
    import bootstrap
    bootstrap.setup(args.sglang_root)
    from infernav.reimpl.prefix_cache.radix import RadixTree
    seeds = parse_seeds(args.seeds)
    report = {"stubbed": stubbed, "radix_cache": rc.__file__}
    t = time.perf_counter()
    report.update(run(seeds, rc, bpc, RadixTree, args.show))
    report["wall_seconds"] = round(time.perf_counter() - t, 2)
    if args.mutate:
        names = list(MUTATIONS) if args.mutate == "all" else args.mutate.split(",")
        report["mutations"] = {}
        for name in names:
            cls = type(f"Mutant_{name}", (RadixTree,), {})
            MUTATIONS[name](cls)
            r = run(seeds, rc, bpc, cls, args.show)
            report["mutations"][name] = {"disagreements": r["disagreements"], "first": r["first"][:1]}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
