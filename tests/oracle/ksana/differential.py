"""Differential oracle: our KsanaLLM tree cache against the real PrefixCacheManager, op by op.

    .venv/bin/python tests/oracle/ksana/differential.py --seeds 0:1000 [--mutate NAME|all] [--so PATH]

Each seed is one random trace played on both sides in lockstep by a small scheduler that calls
the manager the way `ContinuousBatchingStrategy` does: requests arrive with shared prefixes (a
few templates over a tiny vocabulary, so unrelated prompts collide too); a waiting request is
matched (`GetRequestPrefixBlockNumber`, sometimes with a chunked `check_token_num`, sometimes
left matched while other calls run, so the re-validation path runs) and admitted
(`GetRequestUsableBlockNumber`, `GetRequestStepBlockNumber`, `AllocateRequestBlocks`); running
requests get prefill chunks or a decode token (`UpdateRequestTokens` with the sampled token
appended, as `UpdateRunningRequests` does), are preempted on refusal (swap-out or recompute),
finish, or are swapped out and in through the real asynchronous calls (`Swap*RequestAsync`, the
blocking `WaitSwap*Requests`, then `MergeSwap*Request` a few calls later, in random order);
swapped requests are dropped (`DestroySwappedRequest`); `FreeCachedBlocks` is called directly,
with and without a reserved request. Pools are small (3-40 device blocks, 0-30 host blocks, 1-4
devices), so most traces run under memory pressure.

After every call: its return values, then the whole state (sides.py: free list order, reusable
set, timeline, the tree in iteration order, every request's blocks with all references, the
counts). After every scheduler move: every running request's caller block table and, on the real
side, the fake memory: each filled block a running request holds must contain the KV of its
prefix (a tag of the prefix, written when the step filled it, carried by the swap copies).

The first difference ends the trace; so does an upstream state that cannot be driven on safely
(a running or swapped request pointing at a block upstream deleted: `UpstreamFault`, counted
apart). A waiting request whose match was deleted is dropped on both sides, since matching it
again would read freed memory. Prints one JSON object.

`--mutate` plants a known bug in our side, to show that the comparison catches it.
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

from sides import KEYS, OK, InvariantBroken, OurSide, RealSide  # noqa: E402
from mutations import MUTATIONS  # noqa: E402

from infernav.reimpl.prefix_cache.tree import PrefixCacheManager  # noqa: E402


class Disagreement(Exception):
    pass


class UpstreamFault(Exception):
    """Both sides agree, but upstream's state is unsound beyond repair: a running or swapped
    request points at a deleted block, or a block does not hold the KV its request wrote. Ends
    the trace; counted apart from disagreements (docs/dev/prefix_cache.md, upstream findings)."""


# How often each situation the traces exist for came up; the first three are upstream findings
# (docs/dev/prefix_cache.md): a waiting request's match deleted under it, a deleted block left in
# the reusable set, a block freed while a running or swapped request still holds it.
COVERAGE = ["upstream_dangling_matches", "states_with_deleted_reusable", "upstream_freed_while_held",
            "prefix_hits", "revalidated_matches", "allocation_refused", "merged_on_update", "evicted_by_allocation",
            "swap_outs", "swap_outs_refused", "swap_ins", "swap_ins_refused", "subtrees_freed_by_swap_out",
            "merged_on_swap_in", "swapped_destroyed", "free_cached_calls", "multi_device_traces"]


class Trace:
    def __init__(self, seed: int, module, manager_cls=PrefixCacheManager):
        self.rng = rng = random.Random(seed)
        self.B = B = rng.choice([1, 2, 3, 4, 4, 8, 16])
        self.N = rng.randint(3, 40)
        self.H = rng.choice([0, rng.randint(1, 30), rng.randint(1, 30)])
        self.D = rng.choice([1, 1, 1, 2, 4])
        self.vocab = rng.choice([2, 3, 8, 1000])
        self.templates = [[rng.randrange(self.vocab) for _ in range(rng.randint(0, 6 * B))]
                          for _ in range(rng.randint(1, 4))]
        self.num_ops = rng.randint(30, 150)
        self.swap_mode = self.H > 0 and rng.random() < 0.8
        self.real = RealSide(module, self.N, B, self.H, self.D)
        self.ours = OurSide(self.N, B, self.H, self.D, manager_cls)
        self.tokens: dict[int, list[int]] = {}
        self.computed: dict[int, int] = {}
        self.waiting: list[int] = []
        self.matched: set[int] = set()
        self.running: list[int] = []
        self.swapping_out: list[int] = []
        self.swapped: list[int] = []
        self.swapping_in: list[int] = []
        self.next_id = 1
        self.calls = 0
        self.log: list[str] = []
        self.prev = None
        self.coverage = dict.fromkeys(COVERAGE, 0)
        self.coverage["multi_device_traces"] = int(self.D > 1)
        self.freed_while_held: set = set()  # (request, block): on the free list yet still the request's

    # ------------------------------------------------------------------ lockstep
    def call(self, what: str, *args, state: bool = True):
        """Both sides, same call; then the whole state, unless a copy may still be running
        (right after a Swap*RequestAsync: the trace waits for it at once)."""
        self.log.append(f"{what}{args}")
        self.calls += 1
        real = getattr(self.real, what)(*args)
        ours = getattr(self.ours, what)(*args)
        if real != ours:
            raise Disagreement(f"{what}{args} returned upstream={real} ours={ours}")
        if not state:
            return real
        snap = self.real.snapshot()
        mine = self.ours.snapshot()
        for key in KEYS:
            if snap[key] != mine[key]:
                raise Disagreement(f"after {what}{args}: {key}: upstream={snap[key]} ours={mine[key]}")
        self.prev, self.last = self.last, snap
        self.note_freed_while_held(snap)
        return real

    def note_freed_while_held(self, snap: dict) -> None:
        """Finding 11: a running or swapped request's device block sitting on the free list."""
        free = set(snap["free"])
        held = {(r, b[0]) for r, (state, _, blocks) in snap["requests"].items() if state != 0
                for b in blocks if b != "deleted" and b[1] and b[0] in free}
        self.coverage["upstream_freed_while_held"] += len(held - self.freed_while_held)
        self.freed_while_held = held

    def check_tables(self) -> None:
        """Deleted blocks still pointed at (upstream use-after-free); then every running
        request's caller block table, and what its filled blocks hold."""
        self.coverage["states_with_deleted_reusable"] += -1 in self.last["reusable"]
        blocks = [b for _, _, bs in self.last["requests"].values() for b in bs if b != "deleted"]
        if any(ref[2] for node in self.last["tree"] for refs in node[4:6] for ref in refs) or \
                any(ref[2] for b in blocks for refs in b[4:6] for ref in refs):
            raise UpstreamFault(f"after {self.log[-1]}: a reference with a null request pointer "
                                f"(a later MergeSwapinCachedBlocks would dereference it)")
        for r, (_, _, blocks) in sorted(self.last["requests"].items()):
            if "deleted" not in blocks:
                continue
            if r not in self.matched:
                raise UpstreamFault(f"after {self.log[-1]}: req {r} (not waiting) points at a deleted block")
            # A waiting request's match: the scheduler would re-validate it next (reading freed
            # memory). Drop it instead: DestroyFinishedRequest does not touch a waiting request's blocks.
            self.coverage["upstream_dangling_matches"] += 1
            self.call("destroy_finished", r)
            self.matched.discard(r)
            self.waiting.remove(r)
            self.tokens.pop(r)
        for r in self.running:
            t = self.real.table(r)
            if t != self.ours.table(r):
                raise Disagreement(f"after {self.log[-1]}: table of req {r}: upstream={t} ours={self.ours.table(r)}")
            self.check_memory(r, t)

    def tag(self, r: int, i: int) -> int:
        """What a block's KV 'is': a function of the whole prefix it ends."""
        return hash(tuple(self.tokens[r][:(i + 1) * self.B])) & ((1 << 62) - 1)

    def check_memory(self, r: int, table: list[int]) -> None:
        for i in range(self.computed[r] // self.B):
            got = self.real.d.read(table[i])
            if any(v != self.tag(r, i) for v in got):
                raise UpstreamFault(f"upstream memory: req {r} block {i} (memory {table[i]}) holds {got}, "
                                   f"not its prefix's KV")

    def write_filled(self, r: int, before: int, after: int) -> None:
        """The model step wrote KV for tokens [before, after): full blocks get their tag (real side)."""
        table = self.real.table(r)
        for i in range(before // self.B, after // self.B):
            self.real.d.write(table[i], self.tag(r, i))

    # ------------------------------------------------------------------ scheduler moves
    def arrive(self) -> None:
        rng, B = self.rng, self.B
        template = rng.choice(self.templates)
        cut = rng.choice([len(template), len(template) // B * B, rng.randint(0, len(template))])
        tokens = template[:cut] + [rng.randrange(self.vocab) for _ in range(rng.choice([0, 1, B, rng.randint(0, 3 * B)]))]
        r = self.next_id
        self.next_id += 1
        self.tokens[r] = tokens or [rng.randrange(self.vocab)]
        self.computed[r] = 0
        self.waiting.append(r)

    def admit(self) -> None:
        rng = self.rng
        r = self.waiting[0] if rng.random() < 0.7 else rng.choice(self.waiting)
        tokens = self.tokens[r]
        check = len(tokens) if rng.random() < 0.8 else rng.randint(1, len(tokens))
        if r in self.matched:
            self.coverage["revalidated_matches"] += 1
        _, shared, _, shared_tokens = self.call("prefix", r, tokens, check)
        self.matched.add(r)
        self.coverage["prefix_hits"] += shared > 0
        if rng.random() < 0.2:
            return  # stays matched, not allocated: other calls run before it is admitted
        # ContinuousBatchingStrategy: a full match recomputes the last token.
        computed = shared_tokens if shared_tokens < len(tokens) else len(tokens) - 1
        n = self.chunk(len(tokens) - computed)
        self.call("request_usable", r)
        need = self.call("step_blocks", r, computed + n)
        if self.call("allocate", r, need) != OK:
            self.coverage["allocation_refused"] += 1
            return
        self.coverage["evicted_by_allocation"] += len(self.last["timeline"]) < len(self.prev["timeline"])
        self.waiting.remove(r)
        self.matched.discard(r)
        self.running.append(r)
        self.computed[r] = computed
        self.check_memory(r, self.real.table(r))  # the matched blocks hold the prefix's KV
        self.after_step(r, n)

    def chunk(self, remaining: int) -> int:
        return remaining if self.rng.random() < 0.6 else self.rng.randint(1, remaining)

    def after_step(self, r: int, n: int) -> None:
        before = self.computed[r]
        self.computed[r] += n
        self.write_filled(r, before, self.computed[r])
        if self.computed[r] == len(self.tokens[r]):
            self.tokens[r].append(self.rng.randrange(self.vocab))  # sampled
        _, merged = self.call("update", r, self.tokens[r], self.computed[r])
        self.coverage["merged_on_update"] += merged

    def step(self) -> None:
        r = self.rng.choice(self.running)
        remaining = len(self.tokens[r]) - self.computed[r]
        n = self.chunk(remaining)
        need = self.call("step_blocks", r, self.computed[r] + n)
        if self.call("allocate", r, need) != OK:
            self.coverage["allocation_refused"] += 1
            self.preempt(self.running[-1] if self.rng.random() < 0.7 else self.rng.choice(self.running))
            return
        self.after_step(r, n)

    def preempt(self, r: int) -> None:
        if self.swap_mode and not self.swapping_in and self.swap_out(r):
            return
        self.call("destroy_finished", r)  # recompute: dropped, queued again from scratch
        self.running.remove(r)
        self.computed[r] = 0
        self.waiting.insert(0, r)

    def swap_out(self, r: int) -> bool:
        self.call("freeable", r)
        got = self.call("swapout_async", r, state=False)
        self.call("wait_swapout")  # the copy is done; the merge comes later
        if got[0] != OK:
            self.coverage["swap_outs_refused"] += 1
            return False
        self.coverage["swap_outs"] += 1
        self.coverage["subtrees_freed_by_swap_out"] += got[2] > 0
        self.running.remove(r)
        self.swapping_out.append(r)
        return True

    def merge_swapouts(self) -> None:
        self.call("wait_swapout")
        for r in self.rng.sample(self.swapping_out, self.rng.randint(1, len(self.swapping_out))):
            self.call("merge_swapout", r)
            self.swapping_out.remove(r)
            self.swapped.append(r)

    def swap_in(self) -> None:
        r = self.rng.choice(self.swapped)
        self.call("needed", r)
        got = self.call("swapin_async", r, state=False)
        self.call("wait_swapin")
        if got[0] != OK:
            self.coverage["swap_ins_refused"] += 1
            return
        self.coverage["swap_ins"] += 1
        self.swapped.remove(r)
        self.swapping_in.append(r)

    def merge_swapins(self) -> None:
        self.call("wait_swapin")
        for r in self.rng.sample(self.swapping_in, self.rng.randint(1, len(self.swapping_in))):
            self.call("merge_swapin", r)
            # a block merged into its twin in the tree goes back to the free list
            self.coverage["merged_on_swap_in"] += len(self.last["free"]) > len(self.prev["free"])
            self.swapping_in.remove(r)
            self.running.append(r)

    def op(self) -> None:
        rng = self.rng
        moves = [(self.arrive, 3)]
        if self.waiting:
            moves.append((self.admit, 5))
        if self.matched:
            moves.append((self.abort_waiting, 0.3))
        if self.running:
            moves += [(self.step, 8), (self.finish, 2)]
            if self.H:
                moves.append((lambda: self.swap_out(rng.choice(self.running)), 1))
        if self.swapping_out:
            moves.append((self.merge_swapouts, 2))
        if self.swapped:
            moves += [(self.swap_in, 2), (self.drop_swapped, 0.4)]
        if self.swapping_in:
            moves.append((self.merge_swapins, 2))
        moves.append((self.free_cached, 0.7))
        fn = rng.choices([m for m, _ in moves], [w for _, w in moves])[0]
        fn()
        self.check_tables()

    def finish(self) -> None:
        r = self.rng.choice(self.running)
        self.call("destroy_finished", r)
        self.running.remove(r)

    def abort_waiting(self) -> None:
        """A matched waiting request is dropped: the manager knows it but it holds no references."""
        r = self.rng.choice(sorted(self.matched))
        self.call("destroy_finished", r)
        self.waiting.remove(r)
        self.matched.discard(r)

    def drop_swapped(self) -> None:
        r = self.rng.choice(self.swapped)
        self.call("destroy_swapped", r)
        self.swapped.remove(r)
        self.coverage["swapped_destroyed"] += 1

    def free_cached(self) -> None:
        holders = self.waiting + self.running
        reserved = self.rng.choice(holders) if holders and self.rng.random() < 0.3 else None
        if reserved is not None and reserved in self.waiting and reserved not in self.matched:
            reserved = None  # not known to the manager yet
        self.call("free_cached", self.rng.randint(1, max(1, self.N // 3)), reserved)
        self.coverage["free_cached_calls"] += 1

    def run(self) -> None:
        self.last = self.real.snapshot()
        for _ in range(self.num_ops):
            self.op()


def play(seeds, module, manager_cls=PrefixCacheManager, show: int = 3) -> dict:
    t0 = time.perf_counter()
    out = {"traces": 0, "disagreements": 0, "calls_compared": 0, "first": [], "upstream_faults": 0,
           "first_faults": [], "fault_seeds": [], "faults_unexplained": 0, "coverage": dict.fromkeys(COVERAGE, 0)}
    for seed in seeds:
        trace = Trace(seed, module, manager_cls)
        try:
            trace.run()
        except Disagreement as exc:
            out["disagreements"] += 1
            if len(out["first"]) < show:
                out["first"].append({"seed": seed, "what": str(exc)[:3000], "last_calls": trace.log[-12:],
                                     "config": dict(B=trace.B, N=trace.N, H=trace.H, D=trace.D)})
        except (UpstreamFault, InvariantBroken) as exc:
            out["upstream_faults"] += 1
            out["fault_seeds"].append(seed)
            # Every unsound state seen so far follows finding 11 (a block freed while a request
            # held it); one that does not is new, and the test fails on it.
            if not trace.coverage["upstream_freed_while_held"]:
                out["faults_unexplained"] += 1
            if len(out["first_faults"]) < show:
                out["first_faults"].append({"seed": seed, "what": str(exc)[:3000], "last_calls": trace.log[-12:]})
        out["traces"] += 1
        out["calls_compared"] += trace.calls
        for k, v in trace.coverage.items():
            out["coverage"][k] += v
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def parse_seeds(text: str) -> list[int]:
    if ":" in text:
        a, b = text.split(":")
        return list(range(int(a), int(b)))
    return [int(s) for s in text.split(",") if s]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0:100")
    parser.add_argument("--mutate", default=None, help="plant a bug in our side: " + ", ".join(MUTATIONS) + ", or all")
    parser.add_argument("--so", type=Path, default=None, help="the built oracle module (default: build or reuse it)")
    parser.add_argument("--show", type=int, default=3)
    args = parser.parse_args()
    import build

    module = build.load(args.so)
    seeds = parse_seeds(args.seeds)
    if args.mutate:
        names = list(MUTATIONS) if args.mutate == "all" else [args.mutate]
        result = {"mutations": {n: play(seeds, module, MUTATIONS[n], args.show) for n in names}}
    else:
        result = play(seeds, module, show=args.show)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
