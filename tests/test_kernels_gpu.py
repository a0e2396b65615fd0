"""GPU tests of every CUDA attention kernel against the float64 definition (kernels/reference.py).

Skipped without torch or without a CUDA device. Each check draws fresh random inputs, poisons the
output with NaN before the run (an unwritten element fails), runs twice and demands bit-identical
results (a race would move them), uses shapes that are not multiples of the tiles, and bounds
||out - ref|| / ||ref|| per precision: 1e-5 for pure fp32 paths, 2e-3 with fp16 compute, 1e-2 with
bf16. NaN or inf never passes (rel_error returns inf)."""
from __future__ import annotations

import itertools

import pytest

from helpers import skip_unless  # noqa: E402

torch = pytest.importorskip("torch", reason="torch not installed: GPU kernel tests skipped")
CUDA = torch.cuda.is_available()


@pytest.fixture(autouse=True)
def _needs_gpu():
    """Each test skips on its own (so every one is counted), or fails under INFERNAV_REQUIRE=gpu."""
    if not CUDA:
        skip_unless("gpu", "no CUDA device: GPU kernel test skipped")


from infernav.kernels import ops  # noqa: E402
from infernav.kernels import reference as R  # noqa: E402

TOL = {torch.float16: 2e-3, torch.bfloat16: 1e-2}
_seed = itertools.count(1234)


def _rand(shape, dtype):
    g = torch.Generator(device="cuda")
    g.manual_seed(next(_seed))
    return torch.randn(shape, device="cuda", dtype=torch.float32, generator=g).to(dtype)


def _run_twice(fn, like):
    outs = []
    for _ in range(2):
        out = torch.full_like(like, float("nan"))
        fn(out)
        torch.cuda.synchronize()
        outs.append(out)
    assert torch.equal(outs[0], outs[1]), "two runs on the same inputs differ (race?)"
    return outs[0]


# ------------------------------------------------------------------ FlashAttention-2/3-style kernels
HOPPER = CUDA and torch.cuda.get_device_capability() == (9, 0)


def _backends(d):
    out = [("fa2", c) for c in ((0, 1, 2) if d != 256 else (0, 1))]
    if HOPPER and d in (64, 128):
        out += [("fa3", 1), ("fa3", 0)]
    if HOPPER:  # no ping-pong; rescale every tile; neither; 3 consumer warpgroups; 176-key tiles; 3 stages;
        # persistent (128- and 176-key tiles); default
        out += [("fa3ws", c) for c in (1, 2, 3)] + ([("fa3ws", 4)] if d == 64 else []) + \
            ([("fa3ws", 5), ("fa3ws", 6), ("fa3ws", 7), ("fa3ws", 8)] if d == 128 else []) + [("fa3ws", 0), ("fa3ws", None)]
    return out


FA_SHAPES = [  # B, Hq, Hkv, N, M
    (2, 4, 2, 203, 333),
    (1, 2, 2, 77, 77),
    (1, 3, 1, 130, 65),   # N > M: with causal, leading rows see nothing -> 0
    (3, 2, 1, 1, 300),    # decode-like single query
    (1, 1, 1, 256, 128),  # exact tile multiples
    (1, 4, 2, 300, 1100),  # enough key tiles for every ring to wrap more than once
]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("d", [64, 128, 256])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", FA_SHAPES)
def test_flash_attn(dtype, d, causal, shape):
    B, Hq, Hkv, N, M = shape
    q, k, v = _rand((B, Hq, N, d), dtype), _rand((B, Hkv, M, d), dtype), _rand((B, Hkv, M, d), dtype)
    ref = R.naive_attention(q, k, v, causal=causal)
    for backend, cfg in _backends(d):
        out = _run_twice(lambda o: ops.flash_attn(q, k, v, causal=causal, out=o, cfg=cfg, backend=backend), q)
        err = R.rel_error(out, ref)
        assert err <= TOL[dtype], f"{backend} cfg {cfg}: rel error {err:.2e}"


PERSISTENT_SHAPES = [  # B, Hq, Hkv, N, M: more output tiles than SMs, so every CTA of cfg 7/8 loops
    (2, 36, 12, 333, 333),
    (1, 70, 14, 520, 300),  # N > M: with causal, tiles without keys between tiles with keys
    (3, 64, 8, 129, 1100),  # the K/V rings wrap inside a tile and across tiles
]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", PERSISTENT_SHAPES)
def test_flash_attn_persistent(dtype, causal, shape):
    if not HOPPER:
        pytest.skip("fa3ws needs sm_90")
    B, Hq, Hkv, N, M = shape
    d = 128
    q, k, v = _rand((B, Hq, N, d), dtype), _rand((B, Hkv, M, d), dtype), _rand((B, Hkv, M, d), dtype)
    ref = R.naive_attention(q, k, v, causal=causal)
    for cfg in (7, 8, None):
        out = _run_twice(lambda o: ops.flash_attn(q, k, v, causal=causal, out=o, cfg=cfg, backend="fa3ws"), q)
        err = R.rel_error(out, ref)
        assert err <= TOL[dtype], f"fa3ws cfg {cfg}: rel error {err:.2e}"


@pytest.mark.parametrize("causal", [False, True])
def test_flash_attn_default_long_keys(causal):
    # cfg None at D = 128 runs cfg 5 (176-key tiles) from ops.FA3WS_LONG_KEYS keys on, cfg 0 below
    if not HOPPER:
        pytest.skip("fa3ws needs sm_90")
    dtype = torch.bfloat16
    for m, want in ((ops.FA3WS_LONG_KEYS + 37, 5), (ops.FA3WS_LONG_KEYS - 1, 0)):
        assert ops.fa3ws_default_cfg(128, m) == want
        q, k, v = _rand((1, 4, 200, 128), dtype), _rand((1, 2, m, 128), dtype), _rand((1, 2, m, 128), dtype)
        ref = R.naive_attention(q, k, v, causal=causal)
        out = _run_twice(lambda o: ops.flash_attn(q, k, v, causal=causal, out=o, backend="fa3ws"), q)
        same = _run_twice(lambda o: ops.flash_attn(q, k, v, causal=causal, out=o, backend="fa3ws", cfg=want), q)
        assert torch.equal(out, same)
        assert R.rel_error(out, ref) <= TOL[dtype]


@pytest.mark.parametrize("causal", [False, True])
def test_flash_attn_varlen_persistent(causal):
    # 6 sequences x 32 heads x 3 query blocks = 576 tiles, many past their sequence's end (skipped)
    if not HOPPER:
        pytest.skip("fa3ws needs sm_90")
    dtype = torch.bfloat16
    lq, lk = [5, 130, 64, 257, 1, 9], [5, 200, 64, 300, 77, 0]
    cq = torch.tensor([0] + list(torch.tensor(lq).cumsum(0)), dtype=torch.int32, device="cuda")
    ck = torch.tensor([0] + list(torch.tensor(lk).cumsum(0)), dtype=torch.int32, device="cuda")
    q, k, v = _rand((sum(lq), 32, 128), dtype), _rand((sum(lk), 4, 128), dtype), _rand((sum(lk), 4, 128), dtype)
    ref = R.naive_attention_varlen(q, k, v, cq, ck, causal=causal)
    for cfg in (7, 8):
        out = _run_twice(lambda o: ops.flash_attn_varlen(q, k, v, cq, ck, max(lq), max(lk), causal=causal, out=o,
                                                         cfg=cfg, backend="fa3ws"), q)
        assert R.rel_error(out, ref) <= TOL[dtype], cfg
        assert out[-9:].abs().max().item() == 0, cfg


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_flash_attn_bshd_strided(dtype):
    # [B, N, H, D] views into a wider packed qkv buffer: strides are not the contiguous ones
    B, N, H, d = 2, 150, 4, 128
    qkv = _rand((B, N, 3, H, d), dtype)
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    ref = R.naive_attention(q, k, v, causal=True, layout="bshd", scale=0.07)
    for backend, cfg in _backends(d):
        out = _run_twice(lambda o: ops.flash_attn(q, k, v, causal=True, layout="bshd", scale=0.07, out=o,
                                                  backend=backend, cfg=cfg), q.contiguous())
        assert R.rel_error(out, ref) <= TOL[dtype], (backend, cfg)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("d", [64, 128, 256])
@pytest.mark.parametrize("causal", [False, True])
def test_flash_attn_varlen(dtype, d, causal):
    lq, lk = [5, 130, 64, 257, 1, 9], [5, 200, 64, 300, 77, 0]
    cq = torch.tensor([0] + list(torch.tensor(lq).cumsum(0)), dtype=torch.int32, device="cuda")
    ck = torch.tensor([0] + list(torch.tensor(lk).cumsum(0)), dtype=torch.int32, device="cuda")
    q, k, v = _rand((sum(lq), 8, d), dtype), _rand((sum(lk), 2, d), dtype), _rand((sum(lk), 2, d), dtype)
    ref = R.naive_attention_varlen(q, k, v, cq, ck, causal=causal)
    for backend, cfg in _backends(d):
        out = _run_twice(lambda o: ops.flash_attn_varlen(q, k, v, cq, ck, max(lq), max(lk), causal=causal, out=o,
                                                         cfg=cfg, backend=backend), q)
        assert R.rel_error(out, ref) <= TOL[dtype], backend
        assert out[-9:].abs().max().item() == 0, backend  # the sequence without keys


# ------------------------------------------------------------------ paged decode
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("d", [64, 128])
@pytest.mark.parametrize("hq,hkv", [(8, 8), (8, 4), (16, 4), (32, 4)])
@pytest.mark.parametrize("block_size", [16, 32])
@pytest.mark.parametrize("lens", ["short", "long"])
def test_paged_decode(dtype, d, hq, hkv, block_size, lens):
    seq_lens = [1, 17, 200, 511, 512] if lens == "short" else [1, 513, 1500, 3000, 0, 4097]
    g = torch.Generator()
    g.manual_seed(next(_seed))
    kc, vc, tables, sl = R.make_paged_cache(seq_lens, hkv, d, block_size, dtype=dtype, device="cuda", generator=g)
    q = _rand((len(seq_lens), hq, d), dtype)
    ref = R.paged_decode_naive(q, kc, vc, tables, sl)
    splits = (False, True) if lens == "short" else (True,)
    for split in splits:
        out = _run_twice(lambda o: ops.paged_decode(q, kc, vc, tables, sl, split=split, out=o, impl="v2"), q)
        err = R.rel_error(out, ref)
        assert err <= TOL[dtype], f"split={split}: rel error {err:.2e}"


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("d", [64, 128])
@pytest.mark.parametrize("hq,hkv", [(8, 8), (8, 4), (16, 4), (32, 4), (12, 4), (6, 6)])
@pytest.mark.parametrize("block_size", [8, 16, 32])
@pytest.mark.parametrize("lens", ["short", "long"])
def test_paged_decode_tc(dtype, d, hq, hkv, block_size, lens):
    """The tensor-core split-KV kernel: machine-sized splits, one split, and forced splits (the
    ticket combine, with empty splits for the short sequences); every ring depth on one shape."""
    seq_lens = [1, 17, 200, 511, 512, 33] if lens == "short" else [1, 513, 1500, 3000, 0, 4097]
    g = torch.Generator()
    g.manual_seed(next(_seed))
    kc, vc, tables, sl = R.make_paged_cache(seq_lens, hkv, d, block_size, dtype=dtype, device="cuda", generator=g)
    q = _rand((len(seq_lens), hq, d), dtype)
    ref = R.paged_decode_naive(q, kc, vc, tables, sl)
    # 10, 11 (12 at D = 64): the persistent kernel, on every shape
    tcp = (10, 11, 12) if d == 64 else (10, 11)
    cfgs = ((None, 0, 1, 2, 3, 4, 5) if (block_size, lens) == (16, "long") else (None,)) + tcp
    for cfg in cfgs:
        for splits in (0, 1, 3, 7):
            out = _run_twice(lambda o: ops.paged_decode(q, kc, vc, tables, sl, out=o, impl="tc", splits=splits,
                                                        cfg=cfg), q)
            err = R.rel_error(out, ref)
            assert err <= TOL[dtype], f"cfg={cfg} splits={splits}: rel error {err:.2e}"
    assert int(ops._COUNTERS[q.device][: len(seq_lens) * hkv].abs().sum()) == 0  # tickets left zero


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("fp8", [False, True])
def test_paged_decode_default_many_short(dtype, fp8):
    """The default (cfg 15) on a batch of many short sequences (2200 (seq, kv head) pairs, 1-700 tokens,
    two empty): on an H200 its 16-bit rule picks the persistent kernel (more pairs than its 1056 warps,
    <= 64 tiles each); also fp8, and a forced split count, on the same batch."""
    if fp8 and torch.cuda.get_device_capability() < (8, 9):
        pytest.skip("fp8 needs sm_89+")
    g = torch.Generator()
    g.manual_seed(next(_seed))
    seq_lens = torch.randint(1, 700, (1100,), generator=g).tolist()
    seq_lens[5] = seq_lens[600] = 0
    kc, vc, tables, sl = R.make_paged_cache(seq_lens, 2, 128, 16, dtype=torch.float32 if fp8 else dtype,
                                            device="cuda", generator=g)
    q = _rand((len(seq_lens), 8, 128), dtype)
    kw = {}
    if fp8:
        kc, ks = R.quantize_fp8_per_head(kc)
        vc, vs = R.quantize_fp8_per_head(vc)
        kw = dict(k_scale=ks, v_scale=vs)
        ref = R.paged_decode_naive(q, R.dequantize_fp8_per_head(kc, ks), R.dequantize_fp8_per_head(vc, vs), tables, sl)
    else:
        ref = R.paged_decode_naive(q, kc, vc, tables, sl)
    for splits in (0, 1, 3):
        out = _run_twice(lambda o: ops.paged_decode(q, kc, vc, tables, sl, out=o, splits=splits, **kw), q)
        err = R.rel_error(out, ref)
        assert err <= TOL[dtype], f"splits={splits}: rel error {err:.2e}"
    assert int(ops._COUNTERS[q.device][: len(seq_lens) * 2].abs().sum()) == 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("hq,hkv", [(8, 8), (32, 4), (16, 2)])
@pytest.mark.parametrize("block_size", [16, 32])
def test_paged_decode_fp8(dtype, hq, hkv, block_size):
    """fp8 e4m3 caches with per-KV-head scales, against the float64 definition on the dequantized
    cache (the quantization error itself is the bench's to report, not the kernel's)."""
    if torch.cuda.get_device_capability() < (8, 9):
        pytest.skip("fp8 needs sm_89+")
    seq_lens = [1, 300, 1500, 0, 4097, 64]
    g = torch.Generator()
    g.manual_seed(next(_seed))
    kc, vc, tables, sl = R.make_paged_cache(seq_lens, hkv, 128, block_size, dtype=torch.float32, device="cuda",
                                            generator=g)
    kc[:, 0] *= 4.0  # heads on different scales
    k8, ks = R.quantize_fp8_per_head(kc)
    v8, vs = R.quantize_fp8_per_head(vc)
    q = _rand((len(seq_lens), hq, 128), dtype)
    ref = R.paged_decode_naive(q, R.dequantize_fp8_per_head(k8, ks), R.dequantize_fp8_per_head(v8, vs), tables, sl)
    # 7-9: e4m3 converted on the integer pipe; 10-14: the persistent kernel
    for cfg in ((None, 0, 2, 4, 6, 7, 8, 9) if block_size == 16 else (None, 7)) + (10, 11, 12, 13, 14, 15):
        for splits in (0, 1, 5):
            out = _run_twice(lambda o: ops.paged_decode(q, k8, v8, tables, sl, out=o, k_scale=ks, v_scale=vs,
                                                        splits=splits, cfg=cfg), q)
            err = R.rel_error(out, ref)
            assert err <= TOL[dtype], f"cfg={cfg} splits={splits}: rel error {err:.2e}"


# ------------------------------------------------------------------ fp32 progression
FP32_SHAPES = [  # B, H, N, M, d
    (1, 2, 70, 45, 36),
    (2, 1, 129, 200, 100),
    (1, 1, 33, 1024, 1024),
    (1, 2, 300, 257, 256),
]
FP32_TOL = {"naive3": 1e-5, "minimal": 1e-5, "v1": 1e-5, "v2": 1e-5, "v3": 2e-3, "fast": 2e-3}


@pytest.mark.parametrize("variant", ops.FP32_VARIANTS)
@pytest.mark.parametrize("shape", FP32_SHAPES)
def test_attention_fp32(variant, shape):
    B, H, N, M, d = shape
    q, k, v = _rand((B, H, N, d), torch.float32), _rand((B, H, M, d), torch.float32), _rand((B, H, M, d), torch.float32)
    ref = R.naive_attention(q, k, v)
    out = _run_twice(lambda o: ops.attention_fp32(q, k, v, variant=variant, out=o), q)
    err = R.rel_error(out, ref)
    assert err <= FP32_TOL[variant], f"rel error {err:.2e}"


def test_attention_fp32_fast_rejects_long_keys():
    q = _rand((1, 1, 8, 64), torch.float32)
    k = _rand((1, 1, 1025, 64), torch.float32)
    with pytest.raises(ValueError):
        ops.attention_fp32(q, k, k, variant="fast")
