"""Our RadixPrefixCache (the tree behind PrefixCache) against SGLang's real request-level calls.

    python tests/oracle/sglang_requests.py --sglang-root DIR --seeds 0:1000

Where sglang_radix.py drives the tree's own operations, this drives what the scheduler calls per
request: SGLang's real `RadixCache.match_prefix` of all but the last token, `inc_lock_ref` at
admission, `cache_unfinished_req` after every prefill chunk and decode step and
`cache_finished_req` at the end, `evict` when the pool is short; and our adapter's `match`,
`allocate`, `commit`, `free`, `evict`. Page size 1. SGLang's side needs a `Req`, a
`ReqToTokenPool` and a token allocator: they are plain objects here (`FakeReq`, `RowPool`,
`SlotPool`) holding what those calls read and write (fill_ids, req_pool_idx,
cache_protected_len, prefix_indices, last_node, the committed length; a req_to_token tensor and
its `write`; `free` recording the freed slots in order; allocation takes the first free slots,
the rule our adapter uses, and evicts `need` tokens when fewer are free, like
`evict_from_tree_cache`, mem_cache/common.py:251). After every call both sides must agree on
refusals, the whole tree (keys, values, locks), the free slots in order, and every running
request's slot row. The last stdout line is a JSON report.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sglang_shim  # noqa: E402
from sglang_radix import _values, snapshot  # noqa: E402
from traces import count_disagreements, parse_seeds  # noqa: E402

MAX_LEN = 256


class SlotPool:
    device = "cpu"

    def __init__(self, n):
        self.free_slots = list(range(n))

    def free(self, indices):
        self.free_slots.extend(_values(indices))


class RowPool:
    def __init__(self, torch, n):
        self.req_to_token = torch.zeros((n, MAX_LEN), dtype=torch.int64)

    def write(self, where, values):
        self.req_to_token[where] = values


class FakeReq:
    def __init__(self, idx, tokens, root):
        self.req_pool_idx, self.origin_input_ids, self.output_ids = idx, list(tokens), []
        self.fill_ids, self.extra_key, self.priority = [], None, 0
        self.cache_protected_len, self.prefix_indices, self.last_node = 0, [], root
        self.length, self.committed, self.locked = 0, 0, False

    def pop_committed_kv_cache(self):
        return self.committed


class Theirs:
    def __init__(self, torch, rc, bpc, num_slots, num_reqs):
        self.torch, self.rc, self.bpc = torch, rc, bpc
        self.alloc, self.rows = SlotPool(num_slots), RowPool(torch, num_reqs)
        self.tree = rc.RadixCache(sglang_shim_params(rc, self.rows, self.alloc))
        self.reqs = {}

    def match(self, rid, idx, tokens):
        r = self.reqs[rid] = FakeReq(idx, tokens, self.tree.root_node)
        m = self.tree.match_prefix(self.bpc.MatchPrefixParams(key=self.rc.RadixKey(list(tokens[:-1]))))
        r.prefix_indices, r.last_node = m.device_indices, m.last_device_node
        r.length = r.committed = r.cache_protected_len = len(m.device_indices)
        self.rows.req_to_token[idx, :r.length] = m.device_indices
        return len(m.device_indices)

    def allocate(self, rid, n):
        r = self.reqs[rid]
        fresh = not r.locked
        if fresh:
            self.tree.inc_lock_ref(r.last_node)
            r.locked = True
        need = max(0, r.committed + n - r.length)
        pool = self.alloc.free_slots
        if need > len(pool):
            self.tree.evict(self.bpc.EvictParams(num_tokens=need))
        if need > len(pool):
            if fresh:
                self.tree.dec_lock_ref(r.last_node)
                r.locked = False
            return False
        self.rows.req_to_token[r.req_pool_idx, r.length:r.length + need] = self.torch.tensor(pool[:need])
        del pool[:need]
        r.length += need
        return True

    def commit(self, rid, tokens, done):
        r = self.reqs[rid]
        r.fill_ids, r.committed = list(tokens[:done]), done
        self.tree.cache_unfinished_req(r)

    def free(self, rid, tokens):
        r = self.reqs.pop(rid)
        if not r.locked:
            return
        r.origin_input_ids, r.output_ids = list(tokens), []
        self.tree.cache_finished_req(r)

    def row(self, rid):
        r = self.reqs[rid]
        return _values(self.rows.req_to_token[r.req_pool_idx, :r.committed])

    def state(self):
        return (snapshot(self.tree, self.tree.root_node, self.tree.evictable_leaves), list(self.alloc.free_slots))


def sglang_shim_params(rc, rows, alloc):
    from sglang.srt.mem_cache.cache_init_params import CacheInitParams
    return CacheInitParams(disable=False, req_to_token_pool=rows, token_to_kv_pool_allocator=alloc, page_size=1)


def make_trace(seed):
    rng = random.Random(seed)
    alphabet = rng.choice([2, 3, 5])
    bases = [[rng.randrange(alphabet) for _ in range(rng.randint(2, 24))] for _ in range(rng.randint(1, 3))]
    return rng, alphabet, bases, rng.randint(24, 96)


def play(seed, ours_cls):
    import torch
    rng, alphabet, bases, num_slots = make_trace(seed)
    theirs = Theirs(torch, RC, BPC, num_slots, 64)
    ours = ours_cls(num_slots, 1)
    waiting, running, tokens, done, next_idx, cov = [], {}, {}, {}, 0, {"refused": 0, "finished": 0, "hits": 0}
    for i in range(rng.randint(30, 120)):
        r = rng.random()
        if r < 0.3 and next_idx < 64:
            rid = f"r{next_idx}"
            b = rng.choice(bases)
            tokens[rid] = b[:rng.randint(0, len(b))] + [rng.randrange(alphabet) for _ in range(rng.randint(1, 8))]
            waiting.append((rid, next_idx))
            next_idx += 1
            continue
        if r < 0.55 and waiting:
            rid, idx = waiting.pop(0)
            hit_t = theirs.match(rid, idx, tokens[rid])
            hit_o = ours.match(rid, tokens[rid]).num_computed_tokens
            cov["hits"] += hit_t > 0
            chunk = rng.randint(1, len(tokens[rid]) - hit_t) if hit_t == hit_o else 1
            got = (hit_t, theirs.allocate(rid, chunk)), (hit_o, ours.allocate(rid, tokens[rid], chunk) is not None)
            if got[0][1] and got[1][1]:
                running[rid] = hit_t + chunk
            elif not got[0][1]:
                cov["refused"] += 1
                theirs.free(rid, tokens[rid])
                ours.free(rid)
            action = ("admit", rid, got)
        elif r < 0.85 and running:
            rid = rng.choice(sorted(running))
            theirs.commit(rid, tokens[rid], running[rid])
            ours.commit(rid, tokens[rid], running[rid])
            done[rid] = running[rid]
            if running[rid] >= len(tokens[rid]):
                tokens[rid].append(rng.randrange(alphabet))
            n = rng.randint(1, max(1, len(tokens[rid]) - running[rid]))
            got = theirs.allocate(rid, n), ours.allocate(rid, tokens[rid], n) is not None
            if got[0] and got[1]:
                running[rid] += n
            action = ("step", rid, got)
        elif running:
            rid = rng.choice(sorted(running))
            theirs.commit(rid, tokens[rid], running[rid])
            ours.commit(rid, tokens[rid], running[rid])
            theirs.reqs[rid].committed = running[rid]
            theirs.free(rid, tokens[rid][:running[rid]])
            ours.free(rid)
            del running[rid]
            cov["finished"] += 1
            action = ("finish", rid, None)
        else:
            n = rng.randint(0, 20)
            action = ("evict", n, (theirs.tree.evict(BPC.EvictParams(num_tokens=n)).num_tokens_evicted, ours.tree.evict(n)))
        ok_action = action[2] is None or action[2][0] == action[2][1]
        st_t = theirs.state()
        st_o = (snapshot(ours.tree, ours.tree.root, ours.tree.evictable_leaves), list(ours.free_slots))
        rows_t = {rid: theirs.row(rid) for rid in running}
        rows_o = {rid: ours._reqs[rid].slots[:ours._reqs[rid].computed] for rid in running}
        if not ok_action or st_t != st_o or rows_t != rows_o:
            return {"seed": seed, "call": i, "action": repr(action)[:300], "tree_equal": st_t[0] == st_o[0],
                    "free_t": st_t[1][:40], "free_o": st_o[1][:40], "rows_equal": rows_t == rows_o}, cov
    return None, cov


RC = BPC = None


def mutations(base):
    class CommitKeepsDuplicates(base):
        def commit(self, req_id, token_ids, n):
            saved = self.free_slots.extend
            self.free_slots = _NoExtend(self.free_slots)
            try:
                return super().commit(req_id, token_ids, n)
            finally:
                self.free_slots = list(self.free_slots)
                self.tree.on_free = self.free_slots.extend
                del saved

    class FinishKeepsLock(base):
        def free(self, req_id):
            req = self._reqs.get(req_id)
            node = req.last_node if req is not None and not req.prefix else None
            super().free(req_id)
            if node is not None:
                self.tree.inc_lock_ref(node)

    class EvictShortfallOnly(base):
        def allocate(self, req_id, token_ids, n):
            real = self.tree.evict
            self.tree.evict = lambda k: real(max(0, k - len(self.free_slots)))
            try:
                return super().allocate(req_id, token_ids, n)
            finally:
                self.tree.evict = real

    class MatchWholePrompt(base):
        def match(self, req_id, token_ids):
            return super().match(req_id, list(token_ids) + [-1])

    return {"commit-keeps-duplicates": CommitKeepsDuplicates, "finish-keeps-lock": FinishKeepsLock,
            "evict-shortfall-only": EvictShortfallOnly, "match-whole-prompt": MatchWholePrompt}


class _NoExtend(list):
    def extend(self, values):
        pass


def main(argv=None):
    global RC, BPC
    ap = argparse.ArgumentParser()
    ap.add_argument("--sglang-root", required=True)
    ap.add_argument("--seeds", default="0:1000")
    ap.add_argument("--mutate", action="store_true")
    args = ap.parse_args(argv)
    RC, BPC, stubbed = sglang_shim.load_radix_cache(args.sglang_root)
    import bootstrap
    bootstrap.setup(args.sglang_root)
    from infernav.reimpl.prefix_cache.radix import RadixPrefixCache
    seeds = parse_seeds(args.seeds)
    report = run(seeds, RadixPrefixCache)
    if args.mutate:
        report["mutations"] = {name: run(seeds, cls) for name, cls in mutations(RadixPrefixCache).items()}
    print(json.dumps(report))


def run(seeds, cls):
    total = {"refused": 0, "finished": 0, "hits": 0}

    def play_counted(seed):
        d, cov = play(seed, cls)
        for k in total:
            total[k] += cov[k]
        return d
    return {**count_disagreements(seeds, play_counted), "coverage": total}


if __name__ == "__main__":
    main()
