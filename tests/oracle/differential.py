"""Differential oracle: our vLLM-style cache against the real vLLM 0.14.1, decision by decision.

    .oracle-venv/bin/python tests/oracle/differential.py --vllm-root DIR --seeds 0:1000 [--family F] [--mutate NAME]

Each seed is one random trace, played on both sides in lockstep by a small scheduler that does
what vLLM's does to the KV-cache manager: requests arrive with shared prefixes (from a few
prompt templates, over a tiny vocabulary so that unrelated prompts collide too); waiting ones are
matched (`get_computed_blocks`) and admitted (`allocate_slots` with the hits), in chunks,
sometimes with lookahead slots; running ones get prefill chunks or one decode token a step;
allocation failures preempt a running request (freed, recomputed later); requests finish or are
aborted; blocks are evicted by id; the prefix cache is reset. The pool is small, so most traces
run under memory pressure.

After every call, the return values (block ids, computed-token counts, success) and the whole
state are compared: free-queue order, every reference count, each request's blocks and cached
count, hit counters, and the hash -> blocks map (the two sides' hashes differ in value, so they
must correspond one to one over the whole trace, with the same blocks under each, in order).
Both sides emit KV cache events (`BlockStored`, `BlockRemoved`, `AllBlocksCleared`), taken and
compared after every call (kind, token ids, block size, medium, lora fields; hashes and parent
hashes through a second one-to-one pairing), and a `make_stats` move takes each side's
per-interval `PrefixCacheStats` (reset flag included) and compares them.
The first difference ends the trace and is reported. Prints one JSON object.

Families (`--family`): `base` (templates of up to 6 blocks plus up to 3 blocks: prompts of at
most ~9 blocks) and `long-prompts` (templates of 10 to 24 blocks, pools of 12 to 80 blocks).
`--mutate` plants a known bug in our side (prefix_mutations.py), to show that the comparison
catches it.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from traces import parse_seeds  # noqa: E402


class Disagreement(Exception):
    pass


class Pairing:
    """The one-to-one correspondence between vLLM's block hashes and ours, over a trace."""

    def __init__(self):
        self.fwd: dict = {}
        self.back: dict = {}

    def check(self, real_hashes, our_hashes) -> None:
        for i, (r, o) in enumerate(zip(real_hashes, our_hashes)):
            if (r is None) != (o is None):
                raise Disagreement(f"block {i} cached: vllm={r is not None} ours={o is not None}")
            if r is None:
                continue
            if self.fwd.setdefault(r, o) != o or self.back.setdefault(o, r) != r:
                raise Disagreement(f"block {i}: hashes do not correspond one to one")

    def compare_maps(self, real_map, our_map) -> None:
        if len(real_map) != len(our_map):
            raise Disagreement(f"hash map sizes: vllm={len(real_map)} ours={len(our_map)}")
        for r, ids in real_map.items():
            o = self.fwd.get(r)
            if o is None or our_map.get(o) != ids:
                raise Disagreement(f"hash map entry: vllm={ids} ours={our_map.get(o)}")


def compare_events(real: list, ours: list, pairing: "Pairing") -> None:
    """Event tuples (sides.event_tuple): equal but for the hashes, which must pair one to one."""
    if len(real) != len(ours):
        raise Disagreement(f"KV events: vllm={[e[0] for e in real]} ours={[e[0] for e in ours]}")
    for r, o in zip(real, ours):
        if r[0] != o[0] or r[3:] != o[3:] or len(r[1]) != len(o[1]) or (r[2] is None) != (o[2] is None):
            raise Disagreement(f"KV event: vllm={r} ours={o}")
        for a, b in zip(r[1] + ([r[2]] if r[2] is not None else []), o[1] + ([o[2]] if o[2] is not None else [])):
            if pairing.fwd.setdefault(a, b) != b or pairing.back.setdefault(b, a) != a:
                raise Disagreement(f"KV event hashes do not correspond one to one: vllm={r} ours={o}")


def compare(real: dict, ours: dict, pairing: Pairing) -> None:
    for key in ("free_queue", "ref_cnt", "req_to_blocks", "num_cached_block", "stats"):
        if real[key] != ours[key]:
            raise Disagreement(f"{key}: vllm={real[key]} ours={ours[key]}")
    pairing.check(real["block_hash"], ours["block_hash"])
    pairing.compare_maps(real["hash_map"], ours["hash_map"])


COVERAGE = ["lookups_with_hits", "hits_on_free_blocks", "allocation_refused", "cached_blocks_evicted_by_allocation",
            "preemptions", "resets", "states_with_duplicate_hashes", "events_stored", "events_removed",
            "events_cleared", "stats_taken"]
FAMILIES = ["base", "long-prompts"]


class Trace:
    """One seeded random trace, driving both sides in lockstep."""

    def __init__(self, seed: int, sides, family: str = "base"):
        self.rng = rng = random.Random(seed)
        self.block_size = B = rng.choice([1, 2, 3, 4, 4, 8, 16])
        self.num_blocks = rng.randint(3, 40)
        self.vocab = rng.choice([2, 3, 8, 1000])
        self.templates = [[rng.randrange(self.vocab) for _ in range(rng.randint(0, 6 * B))]
                          for _ in range(rng.randint(1, 4))]
        self.num_ops = rng.randint(30, 150)
        if family == "long-prompts":  # > 9 blocks: templates of 10-24 blocks, pools large enough to hold some
            self.block_size = B = rng.choice([1, 2, 4, 4, 8, 16])
            self.num_blocks = rng.randint(12, 80)
            self.templates = [[rng.randrange(self.vocab) for _ in range(rng.randint(10 * B, 24 * B))]
                              for _ in range(rng.randint(1, 3))]
        elif family != "base":
            raise ValueError(f"unknown family {family!r}")
        self.long_tail = family == "long-prompts"
        # A third of the traces have a short max_model_len: requests stop there, and slots for
        # lookahead tokens are capped by it.
        self.max_model_len = rng.randint(4 * B, 10 * B) if rng.random() < 0.33 else 1 << 20
        self.sides = [cls(self.num_blocks, B, self.max_model_len) for cls in sides]
        self.pairing = Pairing()
        self.event_pairing = Pairing()
        self.waiting: list[str] = []
        self.running: list[str] = []
        self.tokens: dict[str, list[int]] = {}
        self.computed: dict[str, int] = {}
        self.next_id = 0
        self.log: list[str] = []
        self.prev = None
        self.coverage = dict.fromkeys(COVERAGE, 0)

    # ---------------------------------------------------------------- lockstep calls
    def call(self, what: str, *args):
        self.log.append(f"{what}{args}")
        results = [getattr(side, what)(*args) for side in self.sides]
        if len(results) == 2 and results[0] != results[1]:
            raise Disagreement(f"{what}{args} returned vllm={results[0]} ours={results[1]}")
        snap = self.sides[0].snapshot()
        events = [side.take_events() for side in self.sides]
        if len(self.sides) == 2:
            compare(snap, self.sides[1].snapshot(), self.pairing)
            compare_events(events[0], events[1], self.event_pairing)
        for e in events[0]:
            key = {"BlockStored": "events_stored", "BlockRemoved": "events_removed"}.get(e[0], "events_cleared")
            self.coverage[key] += 1
        self.count(what, results[0], snap)
        self.prev = snap
        return results[0]

    def count(self, what: str, result, snap) -> None:
        """Coverage: how often the situations the oracle is meant to exercise actually occurred."""
        c, prev = self.coverage, self.prev
        if what == "allocate_slots":
            if result is None:
                c["allocation_refused"] += 1
            elif prev is not None:
                c["cached_blocks_evicted_by_allocation"] += sum(
                    1 for b in result if prev["block_hash"][b] is not None)
        elif what == "get_computed_blocks" and result[1]:
            c["lookups_with_hits"] += 1
            c["hits_on_free_blocks"] += sum(1 for b in result[0] if prev["ref_cnt"][b] == 0)
        elif what == "preempt":
            c["preemptions"] += 1
        elif what == "reset" and result:
            c["resets"] += 1
        elif what == "make_stats":
            c["stats_taken"] += 1
        c["states_with_duplicate_hashes"] += any(len(ids) > 1 for ids in snap["hash_map"].values())

    # ---------------------------------------------------------------- scheduler moves
    def arrive(self) -> None:
        rng, B = self.rng, self.block_size
        template = rng.choice(self.templates)
        cut = rng.choice([len(template), len(template) // B * B, rng.randint(0, len(template))])
        extra = rng.choice([0, 1, B, rng.randint(0, 3 * B)] + ([rng.randint(0, 12 * B)] if self.long_tail else []))
        tokens = template[:cut] + [rng.randrange(self.vocab) for _ in range(extra)]
        tokens = tokens[:self.max_model_len - 1] or [rng.randrange(self.vocab)]
        rid = f"r{self.next_id}"
        self.next_id += 1
        self.tokens[rid] = tokens
        self.computed[rid] = 0
        self.call("new_request", rid, tokens)
        self.waiting.append(rid)

    def chunk(self, remaining: int) -> int:
        return remaining if self.rng.random() < 0.6 else self.rng.randint(1, remaining)

    def lookahead(self) -> int:
        return self.rng.choice([0, 0, 0, 0, 1, 2])

    def after_step(self, rid: str, scheduled: int) -> None:
        """_update_after_schedule, then update_from_output: a finished prefill samples a token."""
        self.computed[rid] += scheduled
        self.call("set_computed", rid, self.computed[rid])
        if self.computed[rid] == len(self.tokens[rid]) == self.max_model_len:
            self.call("free", rid)  # length-capped: finished
            self.running.remove(rid)
        elif self.computed[rid] == len(self.tokens[rid]):
            token = self.rng.randrange(self.vocab)
            self.tokens[rid].append(token)
            self.call("append_tokens", rid, [token])

    def admit(self) -> None:
        rid = self.waiting[0] if self.rng.random() < 0.7 else self.rng.choice(self.waiting)
        _, hit_tokens = self.call("get_computed_blocks", rid)
        num_new = self.chunk(len(self.tokens[rid]) - hit_tokens)
        if self.call("allocate_slots", rid, num_new, self.lookahead()) is None:
            return  # stays waiting (vLLM does not preempt for waiting requests)
        self.waiting.remove(rid)
        self.running.append(rid)
        self.computed[rid] = hit_tokens
        self.after_step(rid, num_new)

    def step(self) -> None:
        rid = self.rng.choice(self.running)
        num_new = self.chunk(len(self.tokens[rid]) - self.computed[rid])
        if self.call("allocate_slots", rid, num_new, self.lookahead()) is None:
            victim = self.running[-1] if self.rng.random() < 0.7 else self.rng.choice(self.running)
            self.call("preempt", victim)
            self.running.remove(victim)
            self.computed[victim] = 0
            self.waiting.insert(0, victim)
            return
        self.after_step(rid, num_new)

    def finish(self) -> None:
        rid = self.rng.choice(self.running)
        self.call("free", rid)
        self.running.remove(rid)

    def abort_waiting(self) -> None:
        rid = self.rng.choice(self.waiting)
        self.call("free", rid)
        self.waiting.remove(rid)

    def evict(self) -> None:
        k = self.rng.randint(1, max(1, self.num_blocks // 3))
        self.call("evict", set(self.rng.sample(range(self.num_blocks), k)))

    def reset(self) -> None:
        self.call("reset")

    def make_stats(self) -> None:
        self.call("make_stats")

    def run(self) -> int:
        moves = [(self.arrive, 20, None), (self.admit, 25, "waiting"), (self.step, 40, "running"),
                 (self.finish, 8, "running"), (self.abort_waiting, 2, "waiting"), (self.evict, 4, None),
                 (self.reset, 1, None), (self.make_stats, 3, None)]
        for _ in range(self.num_ops):
            ready = [(m, w) for m, w, need in moves if need is None or getattr(self, need)]
            move = self.rng.choices([m for m, _ in ready], [w for _, w in ready])[0]
            move()
        return len(self.log)


# ------------------------------------------------------------------------- running
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vllm-root", required=True)
    ap.add_argument("--seeds", default="0:1000", help="START:STOP, or a comma-separated list")
    ap.add_argument("--family", choices=FAMILIES + ["all"], default="base", help="'all': every family, same seeds")
    ap.add_argument("--mutate", help="a planted bug of prefix_mutations.MUTATIONS, or 'all'")
    ap.add_argument("--show", type=int, default=3, help="disagreements to report in full")
    args = ap.parse_args(argv)

    import bootstrap

    bootstrap.setup(args.vllm_root)
    t0 = time.perf_counter()
    import prefix_mutations
    from sides import OurSide, RealSide

    RealSide(2, 1, 8)  # imports vLLM's modules, so that the timings below are of the traces alone
    import_seconds = round(time.perf_counter() - t0, 2)
    seeds = parse_seeds(args.seeds)
    if args.mutate == "all":
        report = {}
        for name, (family, _) in prefix_mutations.MUTATIONS.items():
            undo = prefix_mutations.plant(name)
            report[name] = run(seeds, [RealSide, OurSide], args.show, family, stop_at_first=True)
            undo()
        print(json.dumps({"mutations": report, "vllm_import_seconds": import_seconds}))
        return 0
    if args.family == "all":
        print(json.dumps({"families": {f: run(seeds, [RealSide, OurSide], args.show, f) for f in FAMILIES},
                          "vllm_import_seconds": import_seconds}))
        return 0
    if args.mutate:
        prefix_mutations.plant(args.mutate)
    result = run(seeds, [RealSide, OurSide], args.show, args.family)
    result.update(mutation=args.mutate, family=args.family, vllm_import_seconds=import_seconds)
    print(json.dumps(result))
    return 0


def run(seeds: list[int], sides, show: int, family: str = "base", stop_at_first: bool = False) -> dict:
    """Play the seeds; with `stop_at_first` (planted bugs), stop at the first disagreement."""
    t0 = time.perf_counter()
    disagreements, calls, failures, played = 0, 0, [], 0
    coverage = dict.fromkeys(COVERAGE, 0)
    for seed in seeds:
        trace = Trace(seed, sides, family)
        played += 1
        try:
            calls += trace.run()
        except Disagreement as exc:
            disagreements += 1
            calls += len(trace.log)
            if len(failures) < max(show, 1 if stop_at_first else 0):
                failures.append({"seed": seed, "call": len(trace.log), "what": str(exc)[:600],
                                 "last_calls": trace.log[-5:]})
            if stop_at_first:
                break
        for k, v in trace.coverage.items():
            coverage[k] += v
    return {"traces": played, "disagreements": disagreements, "calls_compared": calls, "family": family,
            "seconds": round(time.perf_counter() - t0, 2), "seed_list": seeds[:played],
            "seeds": f"{seeds[0]}..{seeds[played - 1]}" if seeds else "", "coverage": coverage, "first": failures}


if __name__ == "__main__":
    sys.exit(main())
