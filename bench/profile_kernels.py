"""A few launches of the newest kernels on the bench's shapes, for Nsight Compute (ncu) to profile:

    ncu --clock-control none -k regex:"fa3ws_kernel|paged_decode_tc_kernel" --section SpeedOfLight \\
        --section WarpStateStats python3 bench/profile_kernels.py

One launch per case."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import attention_bench as AB  # noqa: E402  (sets up the infernav.kernels import)
import torch  # noqa: E402

from infernav.kernels import ops  # noqa: E402


def main() -> None:
    q, k, v = (AB.rand((4, 16, 8192, 128), torch.bfloat16, s) for s in (1, 2, 3))
    out = torch.empty_like(q)
    for cfg in (1, 0):
        ops.flash_attn(q, k, v, out=out, backend="fa3ws", cfg=cfg)
    q, k, v = (AB.rand((4, 16, 8192, 64), torch.bfloat16, s) for s in (1, 2, 3))
    out = torch.empty_like(q)
    for cfg in (0, 4):
        ops.flash_attn(q, k, v, out=out, backend="fa3ws", cfg=cfg)
    del q, k, v, out
    S, ctx, hq, hkv, d, bs = 64, 8192, 32, 8, 64, 16
    nblk = S * ctx // bs
    kc = torch.randn((nblk, hkv, bs, d), device="cuda").to(torch.bfloat16)
    vc = torch.randn((nblk, hkv, bs, d), device="cuda").to(torch.bfloat16)
    tables = torch.randperm(nblk, device="cuda").to(torch.int32).view(S, ctx // bs)
    lens = torch.full((S,), ctx, dtype=torch.int32, device="cuda")
    qd = torch.randn((S, hq, d), device="cuda").to(torch.bfloat16)
    ops.paged_decode(qd, kc, vc, tables, lens, max_seq_len=ctx, impl="tc")
    del kc, vc
    S, ctx, d = 8, 32768, 128
    nblk = S * ctx // bs
    kc = torch.randn((nblk, hkv, bs, d), device="cuda")
    vc = torch.randn((nblk, hkv, bs, d), device="cuda")
    from infernav.kernels import reference as R  # noqa: PLC0415

    k8, ks = R.quantize_fp8_per_head(kc)
    v8, vs = R.quantize_fp8_per_head(vc)
    del kc, vc
    tables = torch.randperm(nblk, device="cuda").to(torch.int32).view(S, ctx // bs)
    lens = torch.full((S,), ctx, dtype=torch.int32, device="cuda")
    qd = torch.randn((S, hq, d), device="cuda").to(torch.bfloat16)
    ops.paged_decode(qd, k8, v8, tables, lens, max_seq_len=ctx, k_scale=ks, v_scale=vs)
    torch.cuda.synchronize()
    print("profile_kernels: done")


if __name__ == "__main__":
    main()
