"""Pruebas de course_lib.attention frente a las referencias de PyTorch."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from course_lib.attention import (
    MultiHeadAttention,
    causal_mask,
    merge_heads,
    padding_mask,
    scaled_dot_product_attention,
    sinusoidal_positions,
    split_heads,
)

TOL = dict(rtol=1e-4, atol=1e-5)


def _qkv(B=2, H=3, Tq=5, Tk=7, D=8, Dv=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, Tq, D, generator=g)
    k = torch.randn(B, H, Tk, D, generator=g)
    v = torch.randn(B, H, Tk, Dv, generator=g)
    return q, k, v


@pytest.mark.parametrize("mask_kind", ["none", "causal", "padding", "full"])
def test_sdpa_matches_torch(mask_kind):
    T = 6
    q, k, v = _qkv(Tq=T, Tk=T)
    mask = {
        "none": None,
        "causal": causal_mask(T),
        "padding": padding_mask(torch.tensor([6, 3]), T),
        "full": torch.rand(2, 3, T, T, generator=torch.Generator()
                           .manual_seed(1)) > 0.3,
    }[mask_kind]
    if mask is not None:
        mask = mask | torch.eye(T, dtype=torch.bool)  # ninguna fila vacía
    out, w = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert_close(out, ref, **TOL)
    assert (out - ref).abs().max() <= 1e-5
    assert_close(w.sum(-1), torch.ones(w.shape[:-1]))
    fused, none = scaled_dot_product_attention(q, k, v, mask, fused=True)
    assert none is None
    assert_close(fused, ref, **TOL)


def test_sdpa_cross_shapes_and_weights_by_hand():
    q, k, v = _qkv(Tq=4, Tk=9)
    out, w = scaled_dot_product_attention(q, k, v)
    assert out.shape == (2, 3, 4, 6) and w.shape == (2, 3, 4, 9)
    manual = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(8), dim=-1)
    assert_close(w, manual)
    assert_close(out, F.scaled_dot_product_attention(q, k, v), **TOL)


def test_masked_keys_get_zero_weight_and_do_not_change_output():
    q, k, v = _qkv(B=1, H=1, Tq=3, Tk=5)
    mask = padding_mask(torch.tensor([3]), 5)
    out, w = scaled_dot_product_attention(q, k, v, mask)
    assert (w[..., 3:] == 0).all()
    v2 = v.clone()
    v2[..., 3:, :] = 1e6  # valores del relleno: no deben influir
    out2, _ = scaled_dot_product_attention(q, k, v2, mask)
    assert_close(out, out2)


def test_causal_mask_values():
    m = causal_mask(4)
    assert m.dtype == torch.bool
    assert torch.equal(m, torch.tril(torch.ones(4, 4)).bool())
    assert m[0, 1].item() is False and m[3, 0].item() is True


def test_causal_attention_ignores_future():
    q, k, v = _qkv(B=1, H=2, Tq=5, Tk=5)
    out, _ = scaled_dot_product_attention(q, k, v, causal_mask(5))
    k2, v2 = k.clone(), v.clone()
    k2[..., 4, :] += 3.0
    v2[..., 4, :] -= 5.0
    out2, _ = scaled_dot_product_attention(q, k2, v2, causal_mask(5))
    assert_close(out[..., :4, :], out2[..., :4, :])
    assert not torch.allclose(out[..., 4, :], out2[..., 4, :])


def test_padding_mask_shape_and_values():
    m = padding_mask(torch.tensor([2, 4]), 4)
    assert m.shape == (2, 1, 1, 4)
    assert m[0, 0, 0].tolist() == [True, True, False, False]
    assert m[1, 0, 0].tolist() == [True] * 4


def test_split_merge_heads_roundtrip():
    x = torch.randn(2, 5, 12)
    h = split_heads(x, 3)
    assert h.shape == (2, 3, 5, 4)
    # la cabeza 1 del token 2 son los canales 4..7 de ese token
    assert_close(h[0, 1, 2], x[0, 2, 4:8])
    assert_close(merge_heads(h), x)


def _torch_bool_mask(mask):
    """Nuestra convención (True = puede) -> la de nn.MHA (True = bloqueado)."""
    return ~mask


@pytest.mark.parametrize("bias", [True, False])
def test_mha_self_attention_matches_torch(bias):
    torch.manual_seed(0)
    ours = MultiHeadAttention(dim=32, n_head=4, bias=bias).eval()
    ref = nn.MultiheadAttention(32, 4, bias=bias, batch_first=True).eval()
    ours.load_torch_weights(ref)
    x = torch.randn(2, 5, 32)
    out, w = ours(x, return_weights=True)
    ref_out, ref_w = ref(x, x, x, average_attn_weights=False)
    assert_close(out, ref_out, **TOL)
    assert_close(w, ref_w, **TOL)
    assert (out - ref_out).abs().max() <= 1e-5


def test_mha_masks_match_torch(tiny_mha):
    ours = tiny_mha
    ref = ours.to_torch().eval()
    x = torch.randn(2, 6, 32)
    causal = causal_mask(6)
    assert_close(
        ours(x, mask=causal),
        ref(x, x, x, attn_mask=_torch_bool_mask(causal))[0], **TOL,
    )
    lengths = torch.tensor([6, 4])
    pad = padding_mask(lengths, 6)
    key_padding = ~pad[:, 0, 0, :]  # (B, Tk), True = relleno en nn.MHA
    out = ours(x, mask=pad)
    ref_out = ref(x, x, x, key_padding_mask=key_padding)[0]
    assert_close(out, ref_out, **TOL)
    both = pad & causal
    ref_both = ref(
        x, x, x, attn_mask=_torch_bool_mask(causal),
        key_padding_mask=key_padding,
    )[0]
    assert_close(ours(x, mask=both), ref_both, **TOL)


def test_mha_cross_attention_matches_torch(tiny_mha):
    ours = tiny_mha
    ref = ours.to_torch().eval()
    x = torch.randn(3, 4, 32)
    ctx = torch.randn(3, 9, 32)
    out, w = ours(x, context=ctx, return_weights=True)
    assert out.shape == (3, 4, 32) and w.shape == (3, 4, 4, 9)
    assert_close(out, ref(x, ctx, ctx)[0], **TOL)


def test_mha_cross_attention_other_context_dim_roundtrip():
    torch.manual_seed(3)
    ours = MultiHeadAttention(dim=16, n_head=4, context_dim=10).eval()
    ref = nn.MultiheadAttention(16, 4, kdim=10, vdim=10, batch_first=True)
    ref.eval()
    ours.load_torch_weights(ref)
    x, ctx = torch.randn(2, 3, 16), torch.randn(2, 5, 10)
    assert_close(ours(x, context=ctx), ref(x, ctx, ctx)[0], **TOL)
    back = ours.to_torch().eval()
    assert_close(back(x, ctx, ctx)[0], ref(x, ctx, ctx)[0], **TOL)


def test_mha_state_dict_names_are_stable():
    names = set(MultiHeadAttention(dim=8, n_head=2).state_dict())
    assert names == {
        f"{p}.{t}" for p in ("q_proj", "k_proj", "v_proj", "out_proj")
        for t in ("weight", "bias")
    }


def test_mha_dropout_only_in_training():
    torch.manual_seed(0)
    mha = MultiHeadAttention(dim=8, n_head=2, dropout=0.5)
    x = torch.randn(1, 4, 8)
    mha.eval()
    assert_close(mha(x), mha(x))
    mha.train()
    assert not torch.allclose(mha(x), mha(x))


def test_sinusoidal_positions_formula():
    pe = sinusoidal_positions(50, 16)
    assert pe.shape == (50, 16)
    t, i = 7, 3
    angle = t / 10000 ** (2 * i / 16)
    assert math.isclose(pe[t, 2 * i].item(), math.sin(angle), abs_tol=1e-6)
    assert math.isclose(pe[t, 2 * i + 1].item(), math.cos(angle),
                        abs_tol=1e-6)
    assert_close(pe[0, 0::2], torch.zeros(8))
    assert_close(pe[0, 1::2], torch.ones(8))


def test_sinusoidal_relative_shift_is_linear():
    """PE[t + k] es una rotación fija de PE[t] (Vaswani et al., §3.5)."""
    pe = sinusoidal_positions(40, 8)
    k = 5
    for i in range(4):
        w = 1 / 10000 ** (2 * i / 8)
        c, s = math.cos(k * w), math.sin(k * w)
        rot = torch.tensor([[c, -s], [s, c]])
        pair = pe[:, 2 * i:2 * i + 2]  # (T, 2) = (sin, cos)
        assert_close(pair[:-k] @ rot, pair[k:], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "args, error, words",
    [
        ((torch.randn(2, 3, 4), torch.randn(2, 3, 5), torch.randn(2, 3, 4)),
         ValueError, ["q", "k", "(2, 3, 4)", "(2, 3, 5)"]),
        ((torch.randn(2, 3, 4), torch.randn(2, 6, 4), torch.randn(2, 5, 4)),
         ValueError, ["Tk", "(2, 6, 4)", "(2, 5, 4)"]),
        ((torch.ones(2, 3, 4, dtype=torch.long),) * 3,
         TypeError, ["flotante", "torch.int64"]),
        (([[1.0]], torch.randn(1, 1), torch.randn(1, 1)),
         TypeError, ["torch.Tensor", "list"]),
        ((torch.randn(4), torch.randn(4), torch.randn(4)),
         ValueError, ["al menos 2"]),
        ((torch.randn(2, 3, 4), torch.randn(2, 3, 4).double(),
          torch.randn(2, 3, 4)), ValueError, ["mismo dtype"]),
    ],
)
def test_sdpa_bad_inputs_raise_spanish_errors(args, error, words):
    with pytest.raises(error) as info:
        scaled_dot_product_attention(*args)
    for word in words:
        assert word in str(info.value)


def test_sdpa_bad_masks():
    q, k, v = _qkv(Tq=4, Tk=4)
    with pytest.raises(TypeError, match="booleano"):
        scaled_dot_product_attention(q, k, v, torch.ones(4, 4))
    with pytest.raises(ValueError, match=r"\(3, 4\).*difundir"):
        scaled_dot_product_attention(q, k, v, torch.ones(3, 4).bool())


def test_mha_bad_inputs():
    mha = MultiHeadAttention(dim=8, n_head=2)
    with pytest.raises(ValueError, match=r"\(B, T, 8\).*\(2, 3, 6\)"):
        mha(torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match=r"context.*\(2, 5, 7\)"):
        mha(torch.randn(2, 3, 8), context=torch.randn(2, 5, 7))
    with pytest.raises(ValueError, match="lote B"):
        mha(torch.randn(2, 3, 8), context=torch.randn(1, 5, 8))
    with pytest.raises(ValueError, match="múltiplo"):
        MultiHeadAttention(dim=10, n_head=3)
    with pytest.raises(ValueError, match="incompatible"):
        mha.load_torch_weights(nn.MultiheadAttention(8, 4))


def test_mask_helpers_bad_inputs():
    with pytest.raises(ValueError, match="T debe"):
        causal_mask(0)
    with pytest.raises(ValueError, match="entre 1 y T=4"):
        padding_mask(torch.tensor([0, 4]), 4)
    with pytest.raises(TypeError, match="entero"):
        padding_mask(torch.tensor([1.0, 2.0]), 4)
    with pytest.raises(ValueError, match="par"):
        sinusoidal_positions(4, 7)
