"""On the GPU machine: (1) swap bandwidth host<->device for a realistic KV layout, (2) the serving
simulator's step-cost model, calibrated on a Llama-shaped layer stack. One script, one run.

    python3 bench/gpu_swap_and_calibrate.py --out DIR            (on the H100; writes JSON there)
    python bench/gpu_swap_and_calibrate.py --out /tmp/x --smoke  (CPU, tiny sizes: checks the code)

(1) KV of Llama-3-8B (32 layers, 8 KV heads, head dim 128, fp16: 128 KiB per token). The same
    tokens (`--swap-tokens`, in scattered blocks, as a fragmented pool leaves them) are moved with
    block sizes 16..256 tokens, in two layouts:
      - block-major (KsanaLLM): one block holds all layers' K and V, contiguous;
      - layer-major (vLLM): per layer a [2, num_blocks, block, heads, dim] tensor, so one block is
        2 x 32 separate pieces;
    by three methods: `per-block` (one cudaMemcpyAsync per contiguous piece, into pinned memory, on
    a side stream, what KsanaLLM's swap task does), `batched` (gather the blocks on the device into
    one contiguous buffer with index_select, then one copy; the reverse for host->device), and the
    reference `one large pinned copy` of the same bytes, measured in the same run. Each is timed with
    CUDA events, median of `--reps`. Also checks TwoTierBlockStore (reimpl/swap) on the GPU:
    out-and-back bitwise identical, blocks freed only at merge.
(2) A 32-layer Llama-3-8B-shaped stack (random weights, fp16; RMSNorm, GQA attention with SDPA,
    SwiGLU MLP) timed for a grid of steps mixing one prefill of P tokens with D decode sequences of
    context C; least squares fit of
        step_s = base_s + prefill_token_s * P + decode_seq_s * D + kv_token_s * (D * C + P)
    (the simulator's model); fit residuals are reported.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # reimpl/ importable as a folder


def timed(fn, reps: int, dev) -> float:
    """Median seconds of fn() over reps (CUDA events on a GPU, perf_counter on a CPU)."""
    fn()
    out = []
    for _ in range(reps):
        if dev.type == "cuda":
            torch.cuda.synchronize()
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            fn()
            e.record()
            torch.cuda.synchronize()
            out.append(s.elapsed_time(e) / 1e3)
        else:
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return statistics.median(out)


# ----------------------------------------------------------------------------- (1) swap bandwidth
def swap_bandwidth(args, dev) -> dict:
    L, H, D = args.layers, 8, 128
    elt = 2
    tok_bytes = L * 2 * H * D * elt
    pin = dev.type == "cuda"
    g = torch.Generator().manual_seed(0)
    rows = []
    total_tokens = args.swap_tokens
    nbytes = total_tokens * tok_bytes
    # reference: one large pinned copy of the same bytes, each direction
    big_d = torch.empty(nbytes // elt, dtype=torch.float16, device=dev)
    big_h = torch.empty(nbytes // elt, dtype=torch.float16, pin_memory=pin)
    stream = torch.cuda.Stream() if pin else None

    def on_stream(fn):
        if stream is None:
            return fn
        def run():
            with torch.cuda.stream(stream):
                fn()
            torch.cuda.current_stream().wait_stream(stream)
        return run

    ref = {"d2h": nbytes / timed(on_stream(lambda: big_h.copy_(big_d, non_blocking=True)), args.reps, dev),
           "h2d": nbytes / timed(on_stream(lambda: big_d.copy_(big_h, non_blocking=True)), args.reps, dev)}
    del big_d, big_h
    for bs in args.block_sizes:
        nblk = total_tokens // bs
        pool = nblk * 2  # the request's blocks are scattered over a pool twice its size
        ids = torch.randperm(pool, generator=g)[:nblk].sort().values
        ids_l = ids.tolist()
        host_ids = list(range(nblk))
        ids_dev = ids.to(dev)
        # block-major: [pool, L, 2, bs, H, D]
        dkv = torch.empty((pool, L, 2, bs, H, D), dtype=torch.float16, device=dev)
        hkv = torch.empty((nblk, L, 2, bs, H, D), dtype=torch.float16, pin_memory=pin)
        staging = torch.empty((nblk, L, 2, bs, H, D), dtype=torch.float16, device=dev)

        def bm_per_block_out():
            for i, b in zip(host_ids, ids_l):
                hkv[i].copy_(dkv[b], non_blocking=True)

        def bm_per_block_in():
            for i, b in zip(host_ids, ids_l):
                dkv[b].copy_(hkv[i], non_blocking=True)

        def bm_batched_out():
            torch.index_select(dkv, 0, ids_dev, out=staging)
            hkv.copy_(staging, non_blocking=True)

        def bm_batched_in():
            staging.copy_(hkv, non_blocking=True)
            dkv.index_copy_(0, ids_dev, staging)

        for name, fn, direction in [("per-block", bm_per_block_out, "d2h"), ("per-block", bm_per_block_in, "h2d"),
                                    ("batched", bm_batched_out, "d2h"), ("batched", bm_batched_in, "h2d")]:
            bw = nbytes / timed(on_stream(fn), args.reps, dev)
            rows.append(dict(layout="block-major", block_tokens=bs, method=name, direction=direction,
                             copies=(nblk if name == "per-block" else 1), gbps=bw / 1e9,
                             fraction_of_large_copy=bw / ref[direction]))
        del dkv, hkv, staging
        # layer-major: L x [2, pool, bs, H, D]
        dl = [torch.empty((2, pool, bs, H, D), dtype=torch.float16, device=dev) for _ in range(L)]
        hl = torch.empty((L, 2, nblk, bs, H, D), dtype=torch.float16, pin_memory=pin)
        st = torch.empty((L, 2, nblk, bs, H, D), dtype=torch.float16, device=dev)

        def lm_per_block_out():
            for l in range(L):
                for kv in range(2):
                    src, dst = dl[l][kv], hl[l, kv]
                    for i, b in zip(host_ids, ids_l):
                        dst[i].copy_(src[b], non_blocking=True)

        def lm_per_block_in():
            for l in range(L):
                for kv in range(2):
                    src, dst = hl[l, kv], dl[l][kv]
                    for i, b in zip(host_ids, ids_l):
                        dst[b].copy_(src[i], non_blocking=True)

        def lm_batched_out():
            for l in range(L):
                torch.index_select(dl[l], 1, ids_dev, out=st[l])
            hl.copy_(st, non_blocking=True)

        def lm_batched_in():
            st.copy_(hl, non_blocking=True)
            for l in range(L):
                dl[l].index_copy_(1, ids_dev, st[l])

        for name, fn, direction in [("per-block", lm_per_block_out, "d2h"), ("per-block", lm_per_block_in, "h2d"),
                                    ("batched", lm_batched_out, "d2h"), ("batched", lm_batched_in, "h2d")]:
            bw = nbytes / timed(on_stream(fn), max(1, args.reps // 2) if name == "per-block" else args.reps, dev)
            rows.append(dict(layout="layer-major", block_tokens=bs, method=name, direction=direction,
                             copies=(nblk * 2 * L if name == "per-block" else 1), gbps=bw / 1e9,
                             fraction_of_large_copy=bw / ref[direction]))
        del dl, hl, st
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    return dict(tokens=total_tokens, bytes=nbytes, bytes_per_token=tok_bytes,
                large_copy_gbps={k: v / 1e9 for k, v in ref.items()}, rows=rows)


def store_check(dev) -> dict:
    """TwoTierBlockStore on this device: out-and-back bitwise, freed blocks only after merge."""
    from reimpl.swap.store import TwoTierBlockStore  # noqa: the package as a folder, not installed
    res = {}
    for batched in (True, False):
        s = TwoTierBlockStore(64, 64, (4, 2, 16, 8, 128), device=dev, batched=batched)
        ids = s.allocate("a", 24)
        s.allocate("b", 8)
        s.device_kv[ids] = torch.randn((24, 4, 2, 16, 8, 128), device=dev).half()
        before = s.device_kv[ids].clone()
        free0 = s.num_free_device_blocks
        s.swap_out_async("a")
        free_during = s.num_free_device_blocks
        s.merge(block=True)
        s.device_kv[ids] = 0  # the device blocks are reused: the data must come from host
        s.swap_in_async("a")
        s.merge(block=True)
        _, back = s.where("a")
        same = torch.equal(s.device_kv[back], before)
        res["batched" if batched else "per-block"] = dict(bitwise_identical=same, free_before=free0,
                                                        free_while_copying=free_during, copies=s.copies_issued)
        s.close()
    return res


# ----------------------------------------------------------------------------- (2) cost model
class Layer(torch.nn.Module):
    def __init__(self, hidden, heads, kv_heads, ffn, dtype, dev):
        super().__init__()
        self.h, self.nh, self.nkv, self.hd = hidden, heads, kv_heads, hidden // heads
        mk = lambda i, o: torch.nn.Linear(i, o, bias=False, dtype=dtype, device=dev)
        self.qkv = mk(hidden, (heads + 2 * kv_heads) * self.hd)
        self.o = mk(heads * self.hd, hidden)
        self.gate_up = mk(hidden, 2 * ffn)
        self.down = mk(ffn, hidden)
        self.n1 = torch.nn.RMSNorm(hidden, dtype=dtype, device=dev)
        self.n2 = torch.nn.RMSNorm(hidden, dtype=dtype, device=dev)

    def forward(self, x, P, dk, dv):
        """x: [P + D, hidden]; the first P rows are one prompt (causal), the rest decode rows that
        attend over dk/dv: [D, kv_heads, C, hd]."""
        h = self.n1(x)
        q, k, v = self.qkv(h).split([self.nh * self.hd, self.nkv * self.hd, self.nkv * self.hd], -1)
        outs = []
        if P:
            qp = q[:P].view(P, self.nh, self.hd).transpose(0, 1)[None]
            kp = k[:P].view(P, self.nkv, self.hd).transpose(0, 1)[None]
            vp = v[:P].view(P, self.nkv, self.hd).transpose(0, 1)[None]
            outs.append(F.scaled_dot_product_attention(qp, kp, vp, is_causal=True, enable_gqa=True)[0]
                        .transpose(0, 1).reshape(P, -1))
        Dn = x.shape[0] - P
        if Dn:
            qd = q[P:].view(Dn, self.nh, 1, self.hd)
            outs.append(F.scaled_dot_product_attention(qd, dk, dv, enable_gqa=True).reshape(Dn, -1))
        x = x + self.o(torch.cat(outs))
        g, u = self.gate_up(self.n2(x)).chunk(2, -1)
        return x + self.down(F.silu(g) * u)


def calibrate(args, dev) -> dict:
    torch.manual_seed(0)
    dtype = torch.float16 if dev.type == "cuda" else torch.float32
    hidden, heads, kvh, ffn = args.hidden, args.heads, min(8, args.heads), args.ffn
    hd = hidden // heads
    with torch.no_grad():
        layers = [Layer(hidden, heads, kvh, ffn, dtype, dev) for _ in range(args.layers)]
        for l in layers:
            for p in l.parameters():
                p.normal_(0, 0.02)
        maxD, maxC = max(args.decode_grid), max(args.context_grid)
        K = torch.randn((maxD, kvh, maxC, hd), dtype=dtype, device=dev)
        V = torch.randn((maxD, kvh, maxC, hd), dtype=dtype, device=dev)
        points = []
        for P in args.prefill_grid:
            for Dn in args.decode_grid:
                for C in (args.context_grid if Dn else args.context_grid[:1]):
                    if P == 0 and Dn == 0:
                        continue
                    x = torch.randn((P + Dn, hidden), dtype=dtype, device=dev)
                    dk, dv = K[:Dn, :, :C], V[:Dn, :, :C]

                    def step():
                        y = x
                        for l in layers:
                            y = l(y, P, dk, dv)
                        return y
                    t = timed(step, args.reps, dev)
                    points.append(dict(prefill_tokens=P, decode_seqs=Dn, context=C, seconds=t))
    X = torch.tensor([[1.0, p["prefill_tokens"], p["decode_seqs"], p["decode_seqs"] * p["context"] + p["prefill_tokens"]]
                      for p in points], dtype=torch.float64)
    y = torch.tensor([p["seconds"] for p in points], dtype=torch.float64)
    # relative least squares: every point counts alike, small steps as much as large ones
    w = 1.0 / y
    keep = list(range(X.shape[1]))
    while True:  # a negative coefficient means the term is below noise: drop it and refit
        sol = torch.linalg.lstsq((X[:, keep] * w[:, None]), y * w).solution
        neg = [k for k, c in zip(keep, sol.tolist()) if c < 0]
        if not neg:
            break
        keep.remove(neg[0])
    coef = torch.zeros(X.shape[1], dtype=torch.float64)
    coef[keep] = sol
    pred = X @ coef
    rel = ((pred - y) / y).abs()
    for p, q in zip(points, pred.tolist()):
        p["predicted"] = q
    return dict(base_s=coef[0].item(), prefill_token_s=coef[1].item(), decode_seq_s=coef[2].item(),
                kv_token_s=coef[3].item(), fit_median_rel_err=rel.median().item(), fit_max_rel_err=rel.max().item(),
                points=points)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, for checking the code on a CPU")
    args = ap.parse_args()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.smoke:
        args.layers, args.hidden, args.heads, args.ffn, args.reps = 2, 256, 4, 512, 2
        args.swap_tokens, args.block_sizes = 512, [16, 64]
        args.prefill_grid, args.decode_grid, args.context_grid = [0, 32, 64], [0, 4, 8], [64, 128]
    else:
        args.layers, args.hidden, args.heads, args.ffn, args.reps = 32, 4096, 32, 14336, 5
        args.swap_tokens, args.block_sizes = 8192, [16, 32, 64, 128, 256]
        args.prefill_grid, args.decode_grid = [0, 128, 512, 1024, 2048], [0, 8, 32, 64, 128]
        args.context_grid = [256, 1024, 4096]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(device=torch.cuda.get_device_name() if dev.type == "cuda" else "cpu", torch=torch.__version__,
               date=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    t0 = time.time()
    store = store_check(dev)
    print("store check:", json.dumps(store), flush=True)
    swap = swap_bandwidth(args, dev)
    swap.update(env=env, store_check=store)
    (out / "swap_bandwidth.json").write_text(json.dumps(swap, indent=1))
    print(f"large pinned copy: d2h {swap['large_copy_gbps']['d2h']:.1f} GB/s, h2d {swap['large_copy_gbps']['h2d']:.1f} GB/s")
    for r in swap["rows"]:
        print(f"{r['layout']:12} {r['block_tokens']:4} {r['method']:9} {r['direction']} {r['gbps']:7.2f} GB/s "
              f"{100 * r['fraction_of_large_copy']:5.1f}%  copies={r['copies']}", flush=True)
    print(f"swap part: {time.time() - t0:.0f} s", flush=True)
    cal = calibrate(args, dev)
    model = dict(source=f"calibrated by bench/gpu_swap_and_calibrate.py on {env['device']} ({env['date']}, torch "
                        f"{env['torch']}): {args.layers}-layer Llama-3-8B-shaped stack, fp16, random weights",
                 model=f"{args.layers} layers, hidden {args.hidden}, {args.heads} heads, {min(8, args.heads)} KV heads, ffn {args.ffn}",
                 kv_bytes_per_token=swap["bytes_per_token"],
                 # KsanaLLM's way (per-block copies, block-major) at 16-token blocks, both directions
                 swap_bytes_per_s=statistics.mean(r["gbps"] for r in swap["rows"] if r["method"] == "per-block"
                                                  and r["layout"] == "block-major"
                                                  and r["block_tokens"] == args.block_sizes[0]) * 1e9,
                 **{k: v for k, v in cal.items() if k != "points"})
    (out / "cost_model.json").write_text(json.dumps(model, indent=1))
    (out / "calibration_points.json").write_text(json.dumps(cal["points"], indent=1))
    print("cost model:", json.dumps(model), flush=True)
    print(f"total: {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
