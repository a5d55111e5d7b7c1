"""Pruebas de course_lib.transformer frente a las capas de PyTorch."""

import dataclasses

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from course_lib.attention import causal_mask
from course_lib.transformer import (
    DecoderLayer,
    EncoderLayer,
    Transformer,
    TransformerConfig,
    decoder_mask,
    sequence_loss,
    shift_right,
    train_seq2seq,
)

TOL = dict(rtol=1e-4, atol=1e-5)


def _inputs(cfg, seed=0):
    g = torch.Generator().manual_seed(seed)
    src = torch.randn(3, 7, cfg.hidden_size, generator=g)  # (B, S, C)
    tgt = torch.randn(3, 5, cfg.hidden_size, generator=g)  # (B, T, C)
    src_valid = torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] * 6 + [0]],
                             dtype=torch.bool)  # (B, S)
    tgt_valid = torch.tensor([[1] * 5, [1] * 3 + [0] * 2, [1] * 5],
                             dtype=torch.bool)  # (B, T)
    return src, tgt, src_valid, tgt_valid


def _pair(cfg, kind, norm_first, activation="relu"):
    """Una capa nuestra y la de PyTorch, con las medidas de ``cfg``."""
    torch.manual_seed(1)
    cls, ref_cls = {
        "enc": (EncoderLayer, nn.TransformerEncoderLayer),
        "dec": (DecoderLayer, nn.TransformerDecoderLayer),
    }[kind]
    ref = ref_cls(cfg.hidden_size, cfg.num_attention_heads,
                  cfg.intermediate_size, dropout=0.0,
                  activation=activation, batch_first=True,
                  norm_first=norm_first).eval()
    ours = cls(cfg.hidden_size, cfg.num_attention_heads,
               ffn_dim=cfg.intermediate_size,
               activation=activation, norm_first=norm_first).eval()
    ours.load_torch_weights(ref)
    return ours, ref


@pytest.mark.parametrize("norm_first", [False, True],
                         ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("grad", [True, False], ids=["grad", "no_grad"])
def test_encoder_layer_matches_torch(tiny_transformer_config, norm_first,
                                     grad):
    ours, ref = _pair(tiny_transformer_config, "enc", norm_first)
    x, _, valid, _ = _inputs(tiny_transformer_config)
    with torch.set_grad_enabled(grad):   # sin grad, PyTorch usa su vía
        expected = ref(x, src_key_padding_mask=~valid)   # rápida
        got = ours(x, valid[:, None, None, :])   # True = puede atender
    assert_close(got[valid], expected[valid], **TOL)
    assert (got[valid] - expected[valid]).abs().max() <= 1e-5
    no_mask = ref(x)
    assert_close(ours(x), no_mask, **TOL)


@pytest.mark.parametrize("norm_first", [False, True],
                         ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("mask_type", ["bool", "float"])
def test_decoder_layer_matches_torch(tiny_transformer_config, norm_first,
                                     mask_type):
    cfg = tiny_transformer_config
    ours, ref = _pair(cfg, "dec", norm_first)
    memory, y, src_valid, tgt_valid = _inputs(cfg, 2)
    T = y.size(1)
    if mask_type == "bool":   # PyTorch: True = bloqueado
        kwargs = dict(tgt_mask=~causal_mask(T),
                      tgt_key_padding_mask=~tgt_valid,
                      memory_key_padding_mask=~src_valid)
    else:                     # máscaras aditivas: -inf = bloqueado
        def additive(blocked):
            return torch.zeros(blocked.shape).masked_fill(
                blocked, float("-inf"))
        kwargs = dict(
            tgt_mask=nn.Transformer.generate_square_subsequent_mask(T),
            tgt_key_padding_mask=additive(~tgt_valid),
            memory_key_padding_mask=additive(~src_valid))
    expected = ref(y, memory, **kwargs)
    self_mask = causal_mask(T) & tgt_valid[:, None, None, :]
    got, weights = ours(y, memory, self_mask, src_valid[:, None, None, :],
                        return_weights=True)
    assert_close(got, expected, **TOL)
    assert (got - expected).abs().max() <= 1e-5
    assert weights.shape == (3, cfg.num_attention_heads, T, 7)
    assert (weights[1, ..., 4:] == 0).all()   # relleno de la fuente
    assert_close(weights.sum(-1), torch.ones(3, cfg.num_attention_heads, T))


@pytest.mark.parametrize("kind", ["enc", "dec"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_to_torch_roundtrip(tiny_transformer_config, kind, norm_first):
    cfg = tiny_transformer_config
    ours, _ = _pair(cfg, kind, norm_first, activation="gelu")
    ref = ours.to_torch().eval()
    assert ref.norm_first == norm_first
    memory, y, *_ = _inputs(cfg, 3)
    if kind == "enc":
        assert_close(ours(memory), ref(memory), **TOL)
    else:
        mask = causal_mask(5)
        assert_close(ours(y, memory, mask),
                     ref(y, memory, tgt_mask=~mask), **TOL)
    again = type(ours)(cfg.hidden_size, cfg.num_attention_heads,
                       ffn_dim=cfg.intermediate_size,
                       activation="gelu", norm_first=norm_first)
    again.load_torch_weights(ref)
    for a, b in zip(ours.state_dict().values(),
                    again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_parameter_names_map_onto_torch_layers(tiny_transformer_config):
    ours, ref = _pair(tiny_transformer_config, "dec", False)
    ours_top = {k.split(".")[0] for k in ours.state_dict()}
    ref_top = {k.split(".")[0] for k in ref.state_dict()}
    assert ours_top == ref_top == {"self_attn", "multihead_attn", "linear1",
                                   "linear2", "norm1", "norm2", "norm3"}


def test_incompatible_torch_layer_is_rejected(tiny_transformer_config):
    C, H, F = (tiny_transformer_config.hidden_size,
               tiny_transformer_config.num_attention_heads,
               tiny_transformer_config.intermediate_size)
    ours = EncoderLayer(C, H, ffn_dim=F, norm_first=True)
    ref = nn.TransformerEncoderLayer(C, H, F, batch_first=True)
    with pytest.raises(ValueError, match="incompatible"):
        ours.load_torch_weights(ref)
    with pytest.raises(ValueError, match="desconocid"):
        EncoderLayer(C, H, ffn_dim=F, activation="tanh")


# --- el modelo completo ------------------------------------------------

def test_config_validates_and_presets():
    cpu = TransformerConfig.preset("cpu")
    assert not cpu.norm_first and cpu.hidden_size == 64
    pre_norm = TransformerConfig.preset("cpu", norm_first=True)
    assert pre_norm.norm_first and pre_norm.hidden_size == cpu.hidden_size
    with pytest.raises(dataclasses.FrozenInstanceError):
        cpu.hidden_size = 8  # type: ignore[misc]
    with pytest.raises(ValueError, match="preset desconocido"):
        TransformerConfig.preset("tpu")
    with pytest.raises(ValueError, match="múltiplo de num_attention_heads"):
        TransformerConfig(hidden_size=30, num_attention_heads=4)
    with pytest.raises(ValueError, match="entero >= 1"):
        TransformerConfig(num_encoder_layers=0)
    with pytest.raises(ValueError, match="desconocido para hidden_act"):
        TransformerConfig(hidden_act="tanh")
    with pytest.raises(ValueError, match="debe ser par"):
        TransformerConfig(hidden_size=9, num_attention_heads=3)
    with pytest.raises(ValueError, match="dropout"):
        TransformerConfig(dropout=1.0)


def test_shift_right_and_decoder_mask():
    labels = torch.tensor([[5, 6, 2, 0], [7, 8, 9, 2]])
    assert shift_right(labels, 1).tolist() == [[1, 5, 6, 2], [1, 7, 8, 9]]
    mask = decoder_mask(shift_right(labels, 1), pad_id=0)
    assert mask.shape == (2, 1, 4, 4) and mask.dtype == torch.bool
    assert torch.equal(mask[1, 0], causal_mask(4))
    padded = torch.tensor([[1, 5, 2, 0]])
    assert decoder_mask(padded, 0)[0, 0, 3].tolist() == [True, True, True,
                                                         False]


@pytest.mark.parametrize("norm_first", [False, True])
def test_model_shapes_and_causality(make_tiny_transformer, norm_first):
    model = make_tiny_transformer(norm_first=norm_first)
    src = torch.randint(3, 13, (2, 6))
    tgt = torch.randint(3, 20, (2, 8))
    logits = model(src, tgt)
    assert logits.shape == (2, 8, 20)
    changed = tgt.clone()
    changed[:, 5:] = 4        # cambiar el futuro no cambia el pasado
    assert_close(model(src, changed)[:, :5], logits[:, :5])
    other = src.clone()
    other[:, -1] = 3          # cambiar la fuente sí lo cambia todo
    assert not torch.allclose(model(other, tgt)[:, 0], logits[:, 0])


def test_source_padding_is_ignored(make_tiny_transformer):
    model = make_tiny_transformer()
    tgt = torch.randint(3, 20, (1, 4))
    src = torch.tensor([[0, 0, 5, 6]])    # relleno a la izquierda
    logits = model(src, tgt)
    with torch.no_grad():                 # otro embedding del relleno
        model.src_embed.weight[0] += 10.0
    assert_close(model(src, tgt), logits, **TOL)


def test_greedy_decode_matches_step_by_step_argmax(make_tiny_transformer):
    model = make_tiny_transformer()
    src = torch.randint(3, 13, (3, 6))
    out, maps = model.greedy_decode(src, 6, return_weights=True)
    assert out[:, 0].eq(1).all() and out.size(1) <= 7
    L = out.size(1) - 1
    assert len(maps) == 2 and maps[0].shape == (3, 4, L, 6)
    logits = model(src, out[:, :-1])           # teacher forcing
    greedy = logits.argmax(-1)
    done = torch.zeros(3, dtype=torch.bool)
    for t in range(L):   # hasta <eos> coincide con el argmax
        keep = ~done
        assert torch.equal(out[keep, t + 1], greedy[keep, t])
        assert out[done, t + 1].eq(2).all()
        done |= out[:, t + 1] == 2


def test_save_load_strict_roundtrip(make_tiny_transformer, tmp_path):
    model = make_tiny_transformer(norm_first=True)
    path = tmp_path / "modelo.pt"
    torch.save(model.state_dict(), path)
    assert not any("positions" in k for k in model.state_dict())
    again = Transformer(model.config).eval()
    again.load_state_dict(torch.load(path, weights_only=True), strict=True)
    src, tgt = torch.randint(3, 13, (2, 6)), torch.randint(3, 20, (2, 5))
    assert torch.equal(again(src, tgt), model(src, tgt))


def test_bad_inputs_raise_spanish_errors(make_tiny_transformer):
    model = make_tiny_transformer()
    src, tgt = torch.randint(3, 13, (2, 6)), torch.randint(3, 20, (2, 5))
    with pytest.raises(TypeError, match="tensor de enteros"):
        model(src.float(), tgt)
    with pytest.raises(ValueError, match="fuera del vocabulario"):
        model(src, tgt + 100)
    with pytest.raises(ValueError, match="max_position_embeddings=12"):
        model(torch.randint(3, 13, (2, 13)), tgt)
    with pytest.raises(ValueError, match="mismo lote"):
        model(src[:1], tgt)
    with pytest.raises(ValueError, match="max_len debe estar"):
        model.greedy_decode(src, 12)


def test_training_reduces_loss_on_a_copy_task(make_tiny_transformer):
    model = make_tiny_transformer()
    g = torch.Generator().manual_seed(0)
    src = torch.randint(3, 13, (256, 5), generator=g)
    labels = torch.cat([src, torch.full((256, 1), 2)], dim=1)  # copiar
    losses = train_seq2seq(model, src, labels, steps=150, batch_size=32,
                           lr=3e-3, warmup=10, generator=g, progress=False)
    assert len(losses) == 150
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10
    assert not model.training
    with pytest.raises(ValueError, match="mismo número"):
        train_seq2seq(model, src, labels[:3], steps=1)


def test_sequence_loss_ignores_padding():
    logits = torch.randn(2, 3, 5)
    labels = torch.tensor([[1, 2, 0], [3, 0, 0]])
    manual = torch.nn.functional.cross_entropy(
        logits[labels != 0], labels[labels != 0])
    assert_close(sequence_loss(logits, labels, pad_id=0), manual)
