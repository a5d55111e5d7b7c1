"""Pruebas de course_lib.vit frente a transformers (configuraciones
diminutas con pesos aleatorios) y de sus invariantes."""

import dataclasses

import pytest
import torch
from safetensors.torch import load_file
from torch.testing import assert_close

from course_lib.clip import clip_vision_key
from course_lib.patches import PatchEmbedding, patchify, unpatchify
from course_lib.vit import (
    HF_V5_RENAMES,
    ViT,
    ViTConfig,
    mean_attention_distance,
)

transformers = pytest.importorskip("transformers")

TINY = dict(image_size=8, patch_size=2, num_channels=3, hidden_size=32,
            num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)


def _hf_vit(num_channels=3, image_size=8, patch_size=2, seed=0):
    torch.manual_seed(seed)
    cfg = transformers.ViTConfig(
        **{**TINY, "num_channels": num_channels, "image_size": image_size,
           "patch_size": patch_size}, num_labels=5)
    model = transformers.ViTForImageClassification(cfg)
    # Pesos no triviales en todas partes (LayerNorm y sesgos incluidos).
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    model.config._attn_implementation = "eager"
    return model.eval()


@pytest.mark.parametrize("channels, size, P", [(3, 8, 2), (1, 16, 4)])
def test_logits_match_transformers(channels, size, P):
    hf = _hf_vit(channels, size, P)
    ours = ViT.from_hf(hf)
    assert ours.config.layer_norm_eps == 1e-12
    assert ours.config.hidden_act == "gelu"
    x = torch.randn(3, channels, size, size)
    with torch.no_grad():
        ref = hf(x, output_attentions=True)
        logits, attentions = ours(x, return_weights=True)
    assert (logits - ref.logits).abs().max() <= 1e-5
    assert len(attentions) == len(ref.attentions) == 2
    for a, b in zip(attentions, ref.attentions, strict=True):
        assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_loads_checkpoint_keys_from_safetensors(tmp_path):
    hf = _hf_vit()
    hf.save_pretrained(tmp_path)
    state = load_file(tmp_path / "model.safetensors")
    assert "vit.encoder.layer.0.attention.attention.query.weight" in state
    ours = ViT(ViTConfig.from_hf_config(hf.config))
    ours.load_hf_state_dict(state)   # claves del archivo, strict=True
    assert set(ours.state_dict()) == set(state)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert_close(ours.eval()(x), hf(x).logits, rtol=1e-5, atol=1e-5)


def test_strict_load_rejects_missing_or_extra_keys():
    ours = ViT(ViTConfig(**TINY))
    state = ours.state_dict()
    state.pop("vit.layernorm.weight")
    with pytest.raises(RuntimeError, match="layernorm"):
        ours.load_hf_state_dict(state)


def test_renames_cover_every_v5_attribute():
    hf = _hf_vit()
    ours = set(ViT(ViTConfig.from_hf_config(hf.config)).state_dict())
    theirs = set(hf.state_dict())
    renamed = set()
    for key in theirs:
        for new, old in HF_V5_RENAMES:
            key = key.replace(new, old)
        renamed.add(key)
    assert renamed == ours


def test_clip_vision_tower_with_flags():
    # Lo que necesitará el capítulo 7: CLIP es un ViT pre-norm con
    # QuickGELU, sin sesgo en los parches y con un LayerNorm previo.
    torch.manual_seed(0)
    cfg = transformers.CLIPVisionConfig(**TINY)
    hf = transformers.CLIPVisionModel(cfg).eval()
    config = ViTConfig(**TINY, num_labels=0, layer_norm_eps=1e-5,
                       hidden_act="quick_gelu", patch_bias=False,
                       pre_layernorm=True)
    ours = ViT(config).eval()
    state = {}
    for key, value in hf.state_dict().items():
        if key.endswith("position_ids"):
            continue
        key = "vit." + clip_vision_key(key)
        state[key] = value.reshape(ours.state_dict()[key].shape)
    ours.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        pooled = ours.pool(ours.forward_features(x))
        assert_close(pooled, hf(x).pooler_output, rtol=1e-5, atol=1e-5)


def test_patchify_layout_and_inverse():
    x = torch.randn(2, 3, 8, 12)
    p = patchify(x, 4)
    assert p.shape == (2, 6, 48)
    # El parche 1 es el segundo de la primera fila, en orden (fila, col, C).
    assert torch.equal(p[0, 1], x[0, :, :4, 4:8].permute(1, 2, 0).flatten())
    assert torch.equal(unpatchify(p, 4, grid=(2, 3)), x)
    sq = torch.randn(1, 1, 8, 8)
    assert torch.equal(unpatchify(patchify(sq, 2), 2), sq)


def test_patchify_matches_vitmae():
    cfg = transformers.ViTMAEConfig(**TINY)
    hf = transformers.ViTMAEForPreTraining(cfg)
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(patchify(x, 2), hf.patchify(x))


@pytest.mark.parametrize("bias", [True, False])
def test_conv_patch_embedding_equals_flatten_plus_linear(bias):
    torch.manual_seed(0)
    emb = PatchEmbedding(3, 16, 4, bias=bias)
    x = torch.randn(2, 3, 12, 8)
    linear = emb.as_linear()
    assert linear.weight.shape == (16, 4 * 4 * 3)
    assert_close(emb(x), linear(patchify(x, 4)), rtol=1e-5, atol=1e-6)


def test_shapes_attentions_and_pooling():
    torch.manual_seed(0)
    model = ViT(ViTConfig.preset("digits")).eval()
    x = torch.rand(4, 1, 8, 8)
    logits, attentions = model(x, return_weights=True)
    assert logits.shape == (4, 10)
    assert len(attentions) == 4
    assert attentions[0].shape == (4, 4, 17, 17)
    assert_close(attentions[-1].sum(-1), torch.ones(4, 4, 17))
    feats = model.forward_features(x)
    assert feats.shape == (4, 17, 64)
    assert_close(model.pool(feats), feats[:, 0])
    mean = ViT(dataclasses.replace(model.config, pooling="mean"))
    f2 = mean.forward_features(x)
    assert_close(mean.pool(f2), f2[:, 1:].mean(1))


def test_dropout_only_in_training():
    torch.manual_seed(0)
    model = ViT(ViTConfig(**TINY, dropout=0.5, attention_dropout=0.5))
    x = torch.rand(2, 3, 8, 8)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


@pytest.mark.parametrize("bad, message", [
    (torch.rand(2, 3, 8, 8), "se esperaban 1 canales y la imagen tiene 3"),
    (torch.rand(2, 1, 10, 10), r"espera imágenes de 8×8 y se recibió 10×10"),
    (torch.rand(2, 1, 8), r"forma \(B, C, H, W\)"),
    (torch.randint(0, 16, (2, 1, 8, 8)), "tipo flotante"),
    ([[0.0]], "torch.Tensor"),
])
def test_bad_images_give_spanish_errors(bad, message):
    model = ViT(ViTConfig())
    with pytest.raises((ValueError, TypeError), match=message):
        model(bad)


def test_patch_size_must_divide_image():
    with pytest.raises(ValueError, match="múltiplos del lado del parche P=3"):
        patchify(torch.rand(1, 1, 8, 8), 3)
    with pytest.raises(ValueError, match="múltiplos"):
        PatchEmbedding(1, 8, 3)(torch.rand(1, 1, 8, 9))
    with pytest.raises(ValueError, match="no encajan"):
        unpatchify(torch.rand(1, 5, 4), 2)


@pytest.mark.parametrize("changes, message", [
    (dict(image_size=10, patch_size=4), "no es múltiplo de patch_size"),
    (dict(hidden_size=30), "no es múltiplo de num_attention_heads"),
    (dict(hidden_act="swish"), "desconocido para hidden_act"),
    (dict(pooling="max"), "desconocido para pooling"),
    (dict(dropout=1.0), r"\[0, 1\)"),
    (dict(num_hidden_layers=0), "entero >= 1"),
])
def test_config_validates(changes, message):
    with pytest.raises(ValueError, match=message):
        ViTConfig(**changes)


def test_config_is_frozen_and_has_presets():
    cfg = ViTConfig.preset("vit-base-patch16-224")
    assert cfg.num_patches == 196 and cfg.layer_norm_eps == 1e-12
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.hidden_size = 3
    assert ViTConfig.preset("tiny", num_labels=3).num_labels == 3
    with pytest.raises(ValueError, match="preset desconocido"):
        ViTConfig.preset("enorme")


# --- ayudas de datos de imagen (course_lib.images) ----------------------

def test_digits_split_is_fixed_and_stratified():
    from course_lib.images import load_digits_split

    a, b = load_digits_split(), load_digits_split()
    assert a.x_train.shape == (1347, 1, 8, 8) and a.x_test.shape[0] == 450
    assert torch.equal(a.y_test, b.y_test)
    assert 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0
    counts = torch.bincount(a.y_test)
    assert counts.min() >= 43 and counts.max() <= 46


def test_random_shift_moves_by_at_most_k_pixels():
    from course_lib.images import random_shift

    x = torch.zeros(64, 1, 8, 8)
    x[:, :, 3, 4] = 1.0
    out = random_shift(x, 1, generator=torch.Generator().manual_seed(0))
    rows, cols = out[:, 0].flatten(1).argmax(1).div(8, rounding_mode="floor"),\
        out[:, 0].flatten(1).argmax(1) % 8
    assert (rows - 3).abs().max() <= 1 and (cols - 4).abs().max() <= 1
    assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) == 9
    assert torch.equal(random_shift(x, 0), x)


def test_mean_attention_distance_on_known_patterns():
    g, P, N = 3, 4, 9
    # Cabeza 0: cada parche se mira a sí mismo (0 px). Cabeza 1: todo al
    # parche de la esquina (0, 0). Cabeza 2: reparto uniforme. El token de
    # clase recibe peso, pero no cuenta.
    w = torch.zeros(2, 3, N + 1, N + 1)
    w[:, :, :, 0] = 0.5
    w[:, 0, 1:, 1:] = 0.5 * torch.eye(N)
    w[:, 1, 1:, 1] = 0.5
    w[:, 2, 1:, 1:] = 0.5 / N
    got = mean_attention_distance(w, grid_size=g, patch_size=P)
    rows, cols = torch.meshgrid(torch.arange(g), torch.arange(g),
                                indexing="ij")
    c = torch.stack([rows.flatten(), cols.flatten()], 1).float()
    to_corner = (c.norm(dim=1) * P).mean()
    uniform = (torch.cdist(c, c) * P).mean()
    assert_close(got, torch.stack([torch.tensor(0.0), to_corner, uniform]))


def test_mean_attention_distance_checks_the_grid():
    with pytest.raises(ValueError, match="token de clase"):
        mean_attention_distance(torch.rand(1, 2, 9, 9), grid_size=3,
                                patch_size=4)
