"""CPU tests of the pure-PyTorch attention references (kernels/reference.py) against the float64
definition. Need only torch (CPU build); skipped with one line where torch is not installed."""
from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch", reason="torch not installed: kernel reference tests skipped")

from infernav.kernels import reference as R  # noqa: E402


def _gen(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def _randn(shape, g, dtype=torch.float32):
    return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)


def test_naive_by_hand():
    # one key: output is that key's value whatever the score; equal scores: the mean of values
    q = torch.randn(1, 1, 3, 4, dtype=torch.float64)
    k = torch.randn(1, 1, 1, 4, dtype=torch.float64)
    v = torch.randn(1, 1, 1, 4, dtype=torch.float64)
    assert torch.allclose(R.naive_attention(q, k, v), v.expand(1, 1, 3, 4))
    k2 = torch.zeros(1, 1, 5, 4, dtype=torch.float64)
    v2 = torch.randn(1, 1, 5, 4, dtype=torch.float64)
    assert torch.allclose(R.naive_attention(q, k2, v2), v2.mean(dim=2, keepdim=True).expand(1, 1, 3, 4))
    # an explicit softmax for one row
    q3, k3, v3 = (torch.randn(1, 1, n, 3, dtype=torch.float64) for n in (1, 4, 4))
    s = (q3[0, 0, 0] @ k3[0, 0].T) / math.sqrt(3)
    w = torch.exp(s - s.max())
    w = w / w.sum()
    assert torch.allclose(R.naive_attention(q3, k3, v3)[0, 0, 0], w @ v3[0, 0])


def test_causal_mask_bottom_right():
    m = R.causal_mask(2, 4)
    assert m.tolist() == [[True, True, True, False], [True, True, True, True]]
    m = R.causal_mask(4, 2)  # first two query rows see nothing
    assert m.sum(dim=1).tolist() == [0, 0, 1, 2]


CASES = [  # B, Hq, Hkv, N, M, D, causal
    (1, 1, 1, 1, 1, 8, False),
    (2, 4, 2, 37, 53, 16, False),
    (1, 3, 1, 64, 64, 32, True),
    (2, 2, 2, 70, 45, 24, True),   # N > M: leading rows see no key -> zeros
    (1, 2, 1, 45, 131, 64, True),  # N < M (chunked prefill)
    (1, 8, 8, 129, 129, 40, False),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_flash_reference_matches_definition(case, dtype, tol):
    B, Hq, Hkv, N, M, D, causal = case
    g = _gen(hash(case) % 2**31)
    q, k, v = _randn((B, Hq, N, D), g), _randn((B, Hkv, M, D), g), _randn((B, Hkv, M, D), g)
    ref = R.naive_attention(q, k, v, causal=causal)
    out = R.flash_attention(q, k, v, causal=causal, block_q=16, block_k=32, dtype=dtype)
    assert R.rel_error(out, ref) <= tol
    if causal and N > M:
        assert out[:, :, : N - M].abs().max() == 0


def test_layouts_and_scale_agree():
    g = _gen(7)
    q, k, v = _randn((2, 3, 20, 16), g), _randn((2, 3, 33, 16), g), _randn((2, 3, 33, 16), g)
    a = R.naive_attention(q, k, v, scale=0.3)
    b = R.naive_attention(*(t.transpose(1, 2) for t in (q, k, v)), scale=0.3, layout="bshd").transpose(1, 2)
    c = R.flash_attention(*(t.transpose(1, 2) for t in (q, k, v)), scale=0.3, layout="bshd",
                          dtype=torch.float64).transpose(1, 2)
    assert R.rel_error(b, a) < 1e-14 and R.rel_error(c, a) < 1e-12


def test_varlen_reference():
    g = _gen(11)
    lq, lk = [3, 0, 40, 17], [3, 5, 64, 0]
    cq = torch.tensor([0] + list(torch.tensor(lq).cumsum(0)), dtype=torch.int32)
    ck = torch.tensor([0] + list(torch.tensor(lk).cumsum(0)), dtype=torch.int32)
    q, k, v = _randn((sum(lq), 4, 16), g), _randn((sum(lk), 2, 16), g), _randn((sum(lk), 2, 16), g)
    for causal in (False, True):
        ref = R.naive_attention_varlen(q, k, v, cq, ck, causal=causal)
        out = R.flash_attention_varlen(q, k, v, cq, ck, causal=causal, block_q=8, block_k=16, dtype=torch.float64)
        assert out.shape == (sum(lq), 4, 16)
        assert R.rel_error(out, ref) < 1e-12
        assert out[sum(lq[:3]):].abs().max() == 0  # last sequence has no keys


@pytest.mark.parametrize("hq,hkv,bs,part", [(4, 4, 16, 64), (8, 2, 8, 32), (8, 1, 32, 512)])
def test_paged_reference(hq, hkv, bs, part):
    g = _gen(hq * 100 + hkv * 10 + bs)
    seq_lens = [1, 31, 32, 33, 200, 0, 97]
    kc, vc, tables, lens = R.make_paged_cache(seq_lens, hkv, 16, bs, dtype=torch.float64, generator=g)
    q = _randn((len(seq_lens), hq, 16), g, torch.float64)
    ref = R.paged_decode_naive(q, kc, vc, tables, lens)
    assert torch.isfinite(ref).all()  # the NaN-filled free slots were never read
    out = R.paged_decode(q, kc, vc, tables, lens, partition_size=part, dtype=torch.float64)
    assert R.rel_error(out, ref) < 1e-12
    # the gathered cache equals a contiguous attention
    s = 4
    kk = R.gather_kv(kc, tables[s], seq_lens[s]).unsqueeze(0)
    vv = R.gather_kv(vc, tables[s], seq_lens[s]).unsqueeze(0)
    direct = R.naive_attention(q[s][None, :, None], kk, vv)[0, :, 0]
    assert R.rel_error(out[s], direct) < 1e-12


def test_rel_error_rejects_nan():
    ref = torch.ones(4)
    assert R.rel_error(torch.tensor([1.0, float("nan"), 1.0, 1.0]), ref) == float("inf")
    assert R.rel_error(torch.tensor([1.0, float("inf"), 1.0, 1.0]), ref) == float("inf")
    assert R.rel_error(torch.ones(4), ref) == 0.0


def test_fp8_per_head_quantization_roundtrip():
    g = _gen(77)
    kc, _, tables, lens = R.make_paged_cache([5, 40], 3, 16, 8, dtype=torch.float32, generator=g)
    kc[:, 1] *= 30.0  # heads on very different scales: per-head scales keep both accurate
    q8, sc = R.quantize_fp8_per_head(kc)
    assert q8.dtype == torch.float8_e4m3fn and sc.shape == (3,)
    back = R.dequantize_fp8_per_head(q8, sc)
    finite = torch.isfinite(kc)
    assert torch.equal(finite, torch.isfinite(back))  # NaN-poisoned slots stay NaN
    err = (back[finite] - kc[finite].double()).abs() / kc[finite].double().abs().clamp_min(1e-3)
    assert err.median() < 0.04  # e4m3 keeps 3 mantissa bits: <= 6.25 % relative rounding
    for h in range(3):
        assert back[:, h][finite[:, h]].abs().max() <= 448.0 * sc[h] * (1 + 1e-6)


def test_e4m3_integer_conversion_is_exact():
    """The fp8 decode's integer-pipe conversion gives exactly value / 256 in f16 for all 254 finite
    e4m3 codes (normals and subnormals, both signs); only the two NaN codes differ."""
    codes = torch.arange(256, dtype=torch.int32).to(torch.uint8)
    want = codes.view(torch.float8_e4m3fn).to(torch.float64) / 256.0
    bits = R.e4m3_to_f16_bits_scaled(codes)
    bits = torch.where(bits >= 0x8000, bits - 0x10000, bits).to(torch.int16)  # the same 16 bits, signed
    got = bits.view(torch.float16).to(torch.float64)
    finite = torch.isfinite(want)
    assert int(finite.sum()) == 254
    assert torch.equal(got[finite], want[finite])
    assert (got[finite] == 0).sum() == 2  # +0 and -0 only
