"""Pruebas de los módulos de fusión multimodal del capítulo 8."""

import dataclasses

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from course_lib import shapes as S
from course_lib.attention import padding_mask
from course_lib.captioner import TinyCaptioner
from course_lib.fusion import (
    CrossAttentionBlock,
    CrossAttentionSpec,
    FusionConfig,
    ImageEncoder,
    PatchMLPBlock,
    PerceiverBottleneck,
    attention_spread,
    attention_supervision_loss,
    is_collapsed,
    masked_mean,
)
from course_lib.fusion_qa import FUSION_MODELS, predict_qa, train_qa
from course_lib.shapes import SHAPES_MEAN, SHAPES_STD

TOK = S.WordTokenizer()
PLAIN = CrossAttentionSpec(norm_inputs=False, residual=False, ffn=False)


SIZE = FusionConfig().image_size       # 48: un parche por celda


def _qa(n: int = 5):
    data = S.make_qa_data(n, seed=0, image_size=SIZE)
    ids, lengths = TOK(data.questions)
    return data, ids, lengths


def test_plain_cross_attention_equals_torch_multihead():
    torch.manual_seed(0)
    ours = CrossAttentionBlock(32, PLAIN).eval()
    ref = ours.attn.to_torch().eval()
    x, ctx = torch.randn(2, 5, 32), torch.randn(2, 7, 32)
    lengths = torch.tensor([7, 4])
    mask = padding_mask(lengths, 7)                    # True = atiende
    out, w = ours(x, ctx, mask, return_weights=True)
    expected, ref_w = ref(x, ctx, ctx, key_padding_mask=~mask[:, 0, 0],
                          average_attn_weights=False)
    assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert_close(w, ref_w, rtol=1e-5, atol=1e-6)
    assert (w[1, ..., 4:] == 0).all()                  # el relleno no pesa


@pytest.mark.parametrize("spec", [
    CrossAttentionSpec(),
    CrossAttentionSpec(norm_inputs=False),
    CrossAttentionSpec(residual=False),
    CrossAttentionSpec(shared_proj=True),
    CrossAttentionSpec(n_head=1),
    CrossAttentionSpec(ffn=False),
    CrossAttentionSpec(gated=True),
    CrossAttentionSpec(dropout=0.1),
], ids=lambda s: ",".join(f"{k}={v}" for k, v in dataclasses.asdict(
    s).items() if v != getattr(CrossAttentionSpec(), k)) or "completa")
def test_cross_attention_variants_shapes_and_masks(spec):
    torch.manual_seed(0)
    block = CrossAttentionBlock(32, spec).eval()
    x, ctx = torch.randn(3, 4, 32), torch.randn(3, 6, 32)
    mask = padding_mask(torch.tensor([6, 2, 5]), 6)
    out, w = block(x, ctx, mask, return_weights=True)
    assert out.shape == (3, 4, 32)
    assert w.shape == (3, spec.n_head, 4, 6)
    assert_close(w.sum(-1), torch.ones(3, spec.n_head, 4))
    assert (w[1, ..., 2:] == 0).all()
    # cambiar el contexto enmascarado no cambia nada
    ctx2 = ctx.clone()
    ctx2[1, 2:] = 99.0
    assert_close(block(x, ctx2, mask), out)


def test_gated_block_starts_as_identity():
    torch.manual_seed(0)
    block = CrossAttentionBlock(16, CrossAttentionSpec(n_head=2, gated=True))
    x = torch.randn(2, 3, 16)
    assert_close(block(x, torch.randn(2, 5, 16)), x)


def test_cross_attention_errors():
    with pytest.raises(ValueError, match="n_head"):
        CrossAttentionBlock(30, CrossAttentionSpec(n_head=4))
    block = CrossAttentionBlock(16, CrossAttentionSpec(n_head=2))
    with pytest.raises(ValueError, match="compartir B y C"):
        block(torch.randn(2, 3, 16), torch.randn(2, 5, 8))


def test_masked_mean():
    x = torch.arange(12.0).view(2, 3, 2)
    out = masked_mean(x, torch.tensor([3, 1]))
    assert_close(out, torch.stack([x[0].mean(0), x[1, 0]]))


@pytest.mark.parametrize("name", list(FUSION_MODELS))
def test_fusion_models_shapes_and_padding_invariance(name):
    torch.manual_seed(0)
    model = FUSION_MODELS[name]().eval()
    data, ids, lengths = _qa()
    with torch.no_grad():
        logits = model(data.images, ids, lengths)
        extra = torch.cat([ids, torch.zeros(5, 3, dtype=ids.dtype)], 1)
        again = model(data.images, extra, lengths)
    assert logits.shape == (5, 2)
    assert_close(again, logits, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="mismo lote"):
        model(data.images[:2], ids, lengths)


def test_fusion_config_errors():
    with pytest.raises(ValueError, match="múltiplo"):
        FusionConfig(hidden_size=30)
    with pytest.raises(ValueError, match="múltiplo"):
        FusionConfig(patch_size=5)
    with pytest.raises(ValueError, match="uno por canal"):
        FusionConfig(image_mean=(0.1, 0.1))
    with pytest.raises(ValueError, match="positiva"):
        FusionConfig(image_std=(0.1, 0.0, 0.1))


def test_image_encoder_normalizes_pixels_per_channel():
    torch.manual_seed(0)
    config = FusionConfig(num_hidden_layers=0)
    encoder = ImageEncoder(config).eval()
    images = S.make_qa_data(4, seed=1, image_size=SIZE).images
    mean = torch.tensor(SHAPES_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(SHAPES_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = encoder.patch((images - mean) / std) + encoder.positions()
        assert_close(encoder(images), expected)
        raw = encoder.patch(images) + encoder.positions()
    assert not torch.allclose(encoder(images), raw)
    # una imagen igual a la media por canal se vuelve cero: solo el sesgo
    flat = mean.expand(1, 3, SIZE, SIZE)
    bias = encoder.patch.projection.bias
    assert_close(encoder(flat), (bias + encoder.positions()).detach())
    # constantes, no parámetros: fuera del state_dict
    assert "pixel_mean" not in encoder.state_dict()
    assert "pixel_std" not in encoder.state_dict()
    assert config.n_patches == 9


def test_image_positions_2d_are_row_plus_column():
    """Con «2d», el parche (r, c) suma la fila r y la columna c: dos
    parches de la misma fila difieren solo en su columna."""
    torch.manual_seed(0)
    encoder = ImageEncoder(FusionConfig())
    pos = encoder.positions()[0]                            # (N, C)
    G = FusionConfig().grid_size
    for r in range(G):
        for c in range(G):
            assert_close(pos[r * G + c],
                         encoder.pos_row[r, 0] + encoder.pos_col[0, c])
    assert_close(pos[0] - pos[1], pos[3] - pos[4])      # misma columna
    assert {n for n, _ in encoder.named_parameters()} >= {
        "pos_row", "pos_col"}
    one_d = ImageEncoder(FusionConfig(image_positions="1d"))
    assert one_d.positions().shape == (1, 9, FusionConfig().hidden_size)
    assert not hasattr(one_d, "pos_row")


@pytest.mark.parametrize("bad, match", [
    (dict(image_positions="3d"), "«1d» o «2d»"),
    (dict(image_position_std=0.0), "image_position_std"),
])
def test_fusion_config_rejects_bad_positions(bad, match):
    with pytest.raises(ValueError, match=match):
        FusionConfig(**bad)


def test_patch_mlps_see_each_patch_alone():
    """Los bloques por parche no mezclan parches: cambiar los píxeles de
    una celda cambia su token y deja iguales los otros ocho (sin bloques
    de autoatención detrás)."""
    torch.manual_seed(0)
    encoder = ImageEncoder(FusionConfig(num_hidden_layers=0,
                                        patch_mlp_layers=2)).eval()
    assert len(encoder.patch_mlps) == 2
    assert all(isinstance(m, PatchMLPBlock) for m in encoder.patch_mlps)
    images = S.make_qa_data(2, seed=3, image_size=SIZE).images
    changed = images.clone()
    changed[:, :, :16, 16:32] = torch.rand(2, 3, 16, 16)    # celda (0, 1)
    with torch.no_grad():
        a, b = encoder(images), encoder(changed)            # (B, N, C)
    moved = (a - b).abs().amax(dim=(0, 2))                  # (N,)
    assert moved[1] > 1e-3
    assert_close(torch.cat([a[:, :1], a[:, 2:]], 1),
                 torch.cat([b[:, :1], b[:, 2:]], 1))


def test_patch_mlp_layers_zero_keeps_the_old_parameters():
    """Con 0 (el valor por defecto) el codificador es el de siempre: los
    pesos guardados antes de esta opción siguen cargando."""
    keys = set(ImageEncoder(FusionConfig()).state_dict())
    assert not any("patch_mlps" in k for k in keys)
    with_mlps = set(ImageEncoder(FusionConfig(
        patch_mlp_layers=1)).state_dict())
    assert keys < with_mlps
    with pytest.raises(ValueError, match="patch_mlp_layers"):
        FusionConfig(patch_mlp_layers=-1)


def test_attention_supervision_loss_is_minus_log_of_the_target_weight():
    # 1 pregunta, 2 cabezas, 3 palabras, 2 parches; solo la palabra 1
    # se supervisa y debe mirar el parche 1
    w = torch.tensor([[[[0.5, 0.5], [0.2, 0.8], [0.9, 0.1]],
                       [[0.5, 0.5], [0.4, 0.6], [0.1, 0.9]]]])
    targets = torch.tensor([[-1, 1, -1]])
    expected = -torch.log(torch.tensor(0.7))           # media de cabezas
    assert_close(attention_supervision_loss([w], targets), expected)
    # la media sobre las capas; una atención perfecta no cuesta nada
    perfect = torch.zeros_like(w)
    perfect[..., 1] = 1.0
    assert_close(attention_supervision_loss([w, perfect], targets),
                 expected / 2)
    # sin palabras supervisadas, 0 (y no NaN)
    assert attention_supervision_loss([w], torch.full((1, 3), -1)) == 0


def test_attention_supervision_pulls_attention_to_the_target():
    """Un paso de descenso sobre esta pérdida sube el peso del parche
    pedido en la atención cruzada del modelo."""
    torch.manual_seed(0)
    model = FUSION_MODELS["atención cruzada"]()
    data, ids, lengths = _qa()
    targets = torch.full_like(ids, -1)
    targets[:, 1] = 4                           # palabra 1 → parche central

    def target_weight() -> float:
        with torch.no_grad():
            _, ws = model(data.images, ids, lengths, return_weights=True)
        return sum(w.mean(1)[:, 1, 4].mean().item() for w in ws)

    before = target_weight()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    _, ws = model(data.images, ids, lengths, return_weights=True)
    attention_supervision_loss(ws, targets).backward()
    optimizer.step()
    assert target_weight() > before


def test_attention_supervision_loss_rejects_mismatched_shapes():
    w = torch.rand(2, 4, 5, 9)
    with pytest.raises(ValueError, match="compartir B y T"):
        attention_supervision_loss([w], torch.zeros(2, 6, dtype=torch.long))
    with pytest.raises(ValueError, match="vacío"):
        attention_supervision_loss([], torch.zeros(2, 5, dtype=torch.long))
    with pytest.raises(TypeError):
        attention_supervision_loss([w], torch.zeros(2, 5))


def test_image_encoder_rejects_wrong_images():
    encoder = ImageEncoder(FusionConfig())
    with pytest.raises(ValueError, match="48×48"):
        encoder(torch.rand(2, 3, 32, 32))
    with pytest.raises(ValueError, match="canales"):
        encoder(torch.rand(2, 1, 48, 48))
    with pytest.raises(TypeError, match="flotante"):
        encoder(torch.zeros(2, 3, 48, 48, dtype=torch.uint8))


def test_cross_attention_fusion_returns_text_to_image_weights():
    model = FUSION_MODELS["atención cruzada"]().eval()
    data, ids, lengths = _qa()
    logits, weights = model(data.images, ids, lengths, return_weights=True)
    assert len(weights) == model.config.num_fusion_layers
    assert weights[0].shape == (5, 4, ids.size(1), 9)   # N = 3 × 3


def test_perceiver_bottleneck_shapes_and_mask():
    torch.manual_seed(0)
    perceiver = PerceiverBottleneck(16, 4, n_head=2).eval()
    x = torch.randn(2, 50, 16)
    mask = padding_mask(torch.tensor([50, 10]), 50)
    z = perceiver(x, mask)
    assert z.shape == (2, 4, 16)
    x2 = x.clone()
    x2[1, 10:] = -7.0
    assert_close(perceiver(x2, mask), z)


def test_captioner_is_causal_and_generates():
    torch.manual_seed(0)
    model = TinyCaptioner().eval()
    data = S.make_caption_data(3, seed=0, image_size=SIZE)
    ids, _ = TOK([S.full_caption(f) for f in data.figures])
    with torch.no_grad():
        logits, weights = model(data.images, ids, return_weights=True)
        changed = ids.clone()
        changed[:, -1] = 7
        assert_close(model(data.images, changed)[:, :-1], logits[:, :-1])
    assert logits.shape == (3, ids.size(1), TOK.vocab_size)
    assert weights[0].shape == (3, 4, ids.size(1), 9)
    assert torch.isfinite(model.loss(data.images, ids))
    out = model.generate(data.images, max_len=6)
    assert out.shape[0] == 3 and out.shape[1] <= 6
    assert (out[:, 0] == TOK.bos_id).all()


def test_attention_spread_and_collapse():
    uniform = torch.full((2, 3, 4), 0.25)
    onehot = torch.eye(4)[None].expand(2, 4, 4)
    assert attention_spread(uniform) == 0.0
    assert attention_spread(onehot) == 1.0
    varied = torch.tensor([0, 1, 1, 0])
    assert is_collapsed(uniform, varied)
    assert not is_collapsed(onehot, varied)
    assert is_collapsed(onehot, torch.ones(4, dtype=torch.long))
    assert not is_collapsed(None, varied)


def test_train_and_predict_run():
    torch.manual_seed(0)
    model = FUSION_MODELS["tardía"]()
    data, ids, lengths = _qa(16)
    losses = train_qa(model, data.images, ids, lengths, data.answers,
                      steps=3, batch_size=8, progress=False,
                      generator=torch.Generator().manual_seed(0))
    assert len(losses) == 3
    pred = predict_qa(model, data.images, ids, lengths)
    assert pred.shape == (16,) and set(pred.tolist()) <= {0, 1}
    assert not model.training
    assert isinstance(model.head[-1], nn.Linear)
