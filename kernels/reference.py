"""Pure-PyTorch references for the attention kernels (CPU or GPU, any float dtype).

Two kinds of function live here:
  * ``naive_attention``: the definition, materialising S = scale * Q K^T in float64 (or the
    dtype asked for), masking, softmax, P V. The tests hold everything else to it.
  * ``flash_attention`` / ``flash_attention_varlen`` / ``paged_decode``: the same algorithms the
    CUDA kernels run, written with tensors: key tiles with an online softmax (running max m and
    sum l, rescale by exp(m_old - m_new)), the paged gather through block tables, the split-K
    partitions and their log-sum-exp combination. They are slow and exist to make the algorithms
    readable and testable on a CPU.

Conventions (shared with the kernels):
  * Layout "bhsd": q [B, Hq, N, D], k/v [B, Hkv, M, D]; "bshd": [B, N, H, D].
  * GQA: query head h uses key/value head h // (Hq // Hkv).
  * Causal masks are bottom-right aligned: query i (of N) sees key j (of M) iff j <= i + M - N;
    a query row that sees no key outputs zeros.
  * Paged KV cache: k_cache/v_cache [num_blocks, Hkv, block_size, D]; token t of sequence s is in
    physical block block_tables[s, t // block_size], slot t % block_size.
"""
from __future__ import annotations

import math

import torch


def _expand_kv(k: torch.Tensor, hq: int) -> torch.Tensor:
    """[B, Hkv, M, D] -> [B, Hq, M, D] by repeating each KV head for its query-head group."""
    hkv = k.shape[1]
    if hq % hkv:
        raise ValueError(f"query heads {hq} not a multiple of key/value heads {hkv}")
    return k.repeat_interleave(hq // hkv, dim=1) if hq != hkv else k


def causal_mask(n: int, m: int, device=None) -> torch.Tensor:
    """Boolean [n, m], True where query i may see key j (bottom-right aligned)."""
    i = torch.arange(n, device=device).unsqueeze(1)
    j = torch.arange(m, device=device).unsqueeze(0)
    return j <= i + (m - n)


def naive_attention(q, k, v, causal: bool = False, scale: float | None = None, layout: str = "bhsd",
                    dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The definition, computed in `dtype` (float64 by default); returns `dtype`."""
    if layout == "bshd":
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    q, k, v = (t.to(dtype) for t in (q, k, v))
    n, m, d = q.shape[2], k.shape[2], q.shape[3]
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    k, v = _expand_kv(k, q.shape[1]), _expand_kv(v, q.shape[1])
    s = torch.matmul(q, k.transpose(-1, -2)) * scale
    if causal:
        allowed = causal_mask(n, m, s.device)
        s = s.masked_fill(~allowed, float("-inf"))
        p = torch.softmax(s, dim=-1)
        p = torch.nan_to_num(p, nan=0.0)  # rows that see no key: all -inf -> NaN -> 0
    else:
        p = torch.softmax(s, dim=-1)
    o = torch.matmul(p, v)
    return o.transpose(1, 2) if layout == "bshd" else o


def flash_attention(q, k, v, causal: bool = False, scale: float | None = None, layout: str = "bhsd",
                    block_q: int = 64, block_k: int = 64, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Tiled attention with the online softmax, as the kernels compute it (in `dtype`, default
    float32 for 16-bit inputs, else the input dtype). Returns `dtype`."""
    if layout == "bshd":
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    dtype = dtype or (torch.float32 if q.dtype in (torch.float16, torch.bfloat16) else q.dtype)
    q, k, v = (t.to(dtype) for t in (q, k, v))
    B, H, N, D = q.shape
    M = k.shape[2]
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    k, v = _expand_kv(k, H), _expand_kv(v, H)
    out = torch.empty((B, H, N, D), dtype=dtype, device=q.device)
    for i0 in range(0, N, block_q):
        i1 = min(N, i0 + block_q)
        qi = q[:, :, i0:i1]
        m = torch.full((B, H, i1 - i0, 1), float("-inf"), dtype=dtype, device=q.device)
        l = torch.zeros((B, H, i1 - i0, 1), dtype=dtype, device=q.device)
        acc = torch.zeros((B, H, i1 - i0, D), dtype=dtype, device=q.device)
        # causal: the last row of this tile sees keys up to i1 - 1 + M - N
        k_end = min(M, i1 + M - N) if causal else M
        for j0 in range(0, max(k_end, 0), block_k):
            j1 = min(M, j0 + block_k)
            s = torch.matmul(qi, k[:, :, j0:j1].transpose(-1, -2)) * scale
            if causal:
                allowed = causal_mask(N, M, q.device)[i0:i1, j0:j1]
                s = s.masked_fill(~allowed, float("-inf"))
            m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))
            m_use = torch.where(torch.isinf(m_new), torch.zeros_like(m_new), m_new)  # all masked so far
            alpha = torch.exp(m - m_use)
            p = torch.exp(s - m_use)
            l = l * alpha + p.sum(dim=-1, keepdim=True)
            acc = acc * alpha + torch.matmul(p, v[:, :, j0:j1])
            m = m_new
        out[:, :, i0:i1] = torch.where(l > 0, acc / torch.where(l > 0, l, torch.ones_like(l)), torch.zeros_like(acc))
    return out.transpose(1, 2) if layout == "bshd" else out


def _per_sequence(attend, q, k, v, cu_seqlens_q, cu_seqlens_k, empty_dtype) -> torch.Tensor:
    """Split a packed varlen batch by cu_seqlens, attend each sequence, and re-pack the outputs.

    A sequence with queries but no keys gets zeros; one with no queries contributes nothing.
    """
    outs = []
    cq, ck = cu_seqlens_q.tolist(), cu_seqlens_k.tolist()
    for b in range(len(cq) - 1):
        qb = q[cq[b]:cq[b + 1]].unsqueeze(0)
        kb, vb = k[ck[b]:ck[b + 1]].unsqueeze(0), v[ck[b]:ck[b + 1]].unsqueeze(0)
        if qb.shape[1] == 0:
            continue
        if kb.shape[1] == 0:
            outs.append(torch.zeros(qb.shape[1:], dtype=empty_dtype, device=q.device))
            continue
        outs.append(attend(qb, kb, vb)[0])
    return torch.cat(outs, dim=0)


def flash_attention_varlen(q, k, v, cu_seqlens_q, cu_seqlens_k, causal: bool = False, scale: float | None = None,
                           **kw) -> torch.Tensor:
    """Packed variable-length batch: q [total_q, Hq, D], k/v [total_k, Hkv, D]."""
    return _per_sequence(
        lambda qb, kb, vb: flash_attention(qb, kb, vb, causal=causal, scale=scale, layout="bshd", **kw),
        q, k, v, cu_seqlens_q, cu_seqlens_k, kw.get("dtype") or torch.float32)


def naive_attention_varlen(q, k, v, cu_seqlens_q, cu_seqlens_k, causal: bool = False, scale: float | None = None,
                           dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return _per_sequence(
        lambda qb, kb, vb: naive_attention(qb, kb, vb, causal=causal, scale=scale, layout="bshd", dtype=dtype),
        q, k, v, cu_seqlens_q, cu_seqlens_k, dtype)


def gather_kv(cache: torch.Tensor, block_table: torch.Tensor, seq_len: int) -> torch.Tensor:
    """Contiguous [Hkv, seq_len, D] of one sequence out of a paged cache [num_blocks, Hkv, bs, D]."""
    bs = cache.shape[2]
    nblk = -(-seq_len // bs)
    pages = cache[block_table[:nblk].long()]  # [nblk, Hkv, bs, D]
    return pages.permute(1, 0, 2, 3).reshape(cache.shape[1], nblk * bs, cache.shape[3])[:, :seq_len]


def paged_decode_naive(q, k_cache, v_cache, block_tables, seq_lens, scale: float | None = None,
                       dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Definition of one decode step: gather each sequence's K/V, then naive attention."""
    S, Hq, D = q.shape
    out = torch.zeros((S, Hq, D), dtype=dtype, device=q.device)
    for s, L in enumerate(seq_lens.tolist()):
        if L == 0:
            continue
        kk = gather_kv(k_cache, block_tables[s], L).unsqueeze(0)
        vv = gather_kv(v_cache, block_tables[s], L).unsqueeze(0)
        out[s] = naive_attention(q[s].unsqueeze(0).unsqueeze(2), kk, vv, scale=scale, dtype=dtype)[0, :, 0]
    return out


def paged_decode(q, k_cache, v_cache, block_tables, seq_lens, scale: float | None = None, partition_size: int = 512,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The split-K algorithm of the kernel: per partition p of `partition_size` tokens, the max
    logit m_p, the sum l_p of exp(s - m_p) and the normalised partial output o_p; then
    out = sum_p l_p e^(m_p - M) o_p / sum_p l_p e^(m_p - M), with M = max_p m_p."""
    S, Hq, D = q.shape
    Hkv = k_cache.shape[1]
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    out = torch.zeros((S, Hq, D), dtype=dtype, device=q.device)
    for s, L in enumerate(seq_lens.tolist()):
        if L == 0:
            continue
        kk = _expand_kv(gather_kv(k_cache, block_tables[s], L).unsqueeze(0), Hq)[0].to(dtype)  # [Hq, L, D]
        vv = _expand_kv(gather_kv(v_cache, block_tables[s], L).unsqueeze(0), Hq)[0].to(dtype)
        qs = q[s].to(dtype)  # [Hq, D]
        ms, ls, os_ = [], [], []
        for t0 in range(0, L, partition_size):
            t1 = min(L, t0 + partition_size)
            logits = torch.einsum("hd,htd->ht", qs, kk[:, t0:t1]) * scale
            m = logits.amax(dim=-1)
            p = torch.exp(logits - m[:, None])
            l = p.sum(dim=-1)
            ms.append(m)
            ls.append(l)
            os_.append(torch.einsum("ht,htd->hd", p, vv[:, t0:t1]) / l[:, None])
        m_all, l_all, o_all = torch.stack(ms), torch.stack(ls), torch.stack(os_)  # [P, Hq], [P, Hq], [P, Hq, D]
        w = l_all * torch.exp(m_all - m_all.amax(dim=0, keepdim=True))
        out[s] = (w[:, :, None] * o_all).sum(dim=0) / w.sum(dim=0)[:, None]
    return out


def make_paged_cache(seq_lens: list[int], hkv: int, d: int, block_size: int, dtype=torch.float16, device="cpu",
                     extra_blocks: int = 3, generator: torch.Generator | None = None):
    """Random K/V pages for `seq_lens`, with shuffled physical blocks (tables point all over the
    cache, as after real allocation and freeing) and unused slots filled with NaN: a kernel that
    reads a slot past a sequence's end, or an unreferenced block, turns the result NaN."""
    nblk = [-(-L // block_size) for L in seq_lens]
    total = sum(nblk) + extra_blocks
    perm = torch.randperm(total, generator=generator).to(torch.int32)
    max_blocks = max(max(nblk, default=1), 1)
    tables = torch.zeros((len(seq_lens), max_blocks), dtype=torch.int32)
    used = torch.zeros(total, dtype=torch.bool)
    pos = 0
    for s, n in enumerate(nblk):
        tables[s, :n] = perm[pos:pos + n]
        used[perm[pos:pos + n].long()] = True
        pos += n
    # unused table entries point at a NaN block too (a kernel must never follow them)
    if extra_blocks:
        for s, n in enumerate(nblk):
            tables[s, n:] = perm[pos]
    shape = (total, hkv, block_size, d)
    k = torch.randn(shape, generator=generator).to(dtype)
    v = torch.randn(shape, generator=generator).to(dtype)
    for cache in (k, v):
        cache[~used] = float("nan")
        for s, (L, n) in enumerate(zip(seq_lens, nblk)):
            if n and L % block_size:
                cache[tables[s, n - 1].long(), :, L % block_size:] = float("nan")
    return k.to(device), v.to(device), tables.to(device), torch.tensor(seq_lens, dtype=torch.int32, device=device)


FP8_E4M3_MAX = 448.0


def quantize_fp8_per_head(cache: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Paged cache [num_blocks, Hkv, bs, D] -> (float8_e4m3fn cache, float32 scale [Hkv]) with
    cache ~= q8 * scale[h]: one scale per KV head, amax / 448 over the finite values (NaN-poisoned
    slots stay NaN in the fp8 cache, as they must: a kernel that reads one fails)."""
    finite = torch.nan_to_num(cache.float(), nan=0.0, posinf=0.0, neginf=0.0)
    amax = finite.abs().amax(dim=(0, 2, 3)).clamp_min(1e-12)
    scale = (amax / FP8_E4M3_MAX).float()
    q8 = (cache.float() / scale.view(1, -1, 1, 1)).to(torch.float8_e4m3fn)
    return q8, scale


def dequantize_fp8_per_head(q8: torch.Tensor, scale: torch.Tensor, dtype=torch.float64) -> torch.Tensor:
    return q8.to(dtype) * scale.to(dtype).view(1, -1, 1, 1)


def rel_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """||out - ref|| / ||ref|| in float64; inf if `out` has any NaN or inf (NaN never passes)."""
    out64, ref64 = out.double(), ref.double()
    if not torch.isfinite(out64).all():
        return float("inf")
    den = torch.linalg.vector_norm(ref64).item()
    num = torch.linalg.vector_norm(out64 - ref64).item()
    return num / den if den > 0 else num


def e4m3_to_f16_bits_scaled(codes: torch.Tensor) -> torch.Tensor:
    """The integer-pipe e4m3 -> f16 conversion of paged_decode_tc.cu (e4m3x2_to_f16x2_scaled), on one
    code per element: uint8 codes -> int32 f16 bit patterns of value * 2^-8 (the 7 magnitude bits to
    f16 bits 7..13, the sign to bit 15). Exact for every finite e4m3 code."""
    h = codes.to(torch.int32) << 8
    return ((h >> 1) & 0x3FFF) | (h & 0x8000)
