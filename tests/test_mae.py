"""Pruebas de course_lib.mae frente a ViTMAE de transformers y de sus
invariantes (ids_restore, pérdida solo en parches tapados)."""

import dataclasses

import pytest
import torch
from torch.testing import assert_close

from course_lib.mae import (
    MAE,
    MAEConfig,
    mae_loss,
    random_masking,
    sincos_2d_positions,
)
from course_lib.patches import patchify, unpatchify
from course_lib.vit import ViT, ViTConfig

transformers = pytest.importorskip("transformers")

TINY = dict(image_size=8, patch_size=2, num_channels=3, hidden_size=32,
            num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            decoder_hidden_size=16, decoder_num_hidden_layers=2,
            decoder_num_attention_heads=2, decoder_intermediate_size=20)


def _hf_mae(norm_pix_loss=False, mask_ratio=0.75):
    torch.manual_seed(0)
    cfg = transformers.ViTMAEConfig(**TINY, norm_pix_loss=norm_pix_loss,
                                    mask_ratio=mask_ratio)
    model = transformers.ViTMAEForPreTraining(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    model.config._attn_implementation = "eager"
    return model.eval()


@pytest.mark.parametrize("norm_pix, ratio", [(False, 0.75), (True, 0.5)])
def test_matches_transformers_vitmae(norm_pix, ratio):
    hf = _hf_mae(norm_pix, ratio)
    ours = MAE.from_hf(hf)
    assert ours.config.norm_pix_loss == norm_pix
    x = torch.randn(3, 3, 8, 8)
    noise = torch.rand(3, 16)
    with torch.no_grad():
        ref = hf(x, noise=noise)
        out = ours(x, noise=noise)
    assert torch.equal(out.is_masked, ref.mask.bool())
    assert torch.equal(out.ids_restore, ref.ids_restore)
    assert (out.pred - ref.logits).abs().max() <= 1e-5
    assert abs(out.loss - ref.loss) <= 1e-5


def test_random_masking_keeps_same_patches_as_transformers():
    hf = _hf_mae()
    x = torch.randn(4, 16, 8)
    noise = torch.rand(4, 16)
    ours = random_masking(x, 0.75, noise)
    ref = hf.vit.embeddings.random_masking(x, noise)
    assert torch.equal(ours[0], ref[0])
    assert torch.equal(ours[1], ref[1].bool())
    assert torch.equal(ours[2], ref[2])


def test_random_masking_shapes_and_counts():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 16, 3)
    for ratio, keep in [(0.25, 12), (0.5, 8), (0.75, 4), (0.9, 1)]:
        visible, is_masked, ids_restore = random_masking(x, ratio,
                                                         generator=g)
        assert visible.shape == (5, keep, 3)
        assert is_masked.dtype == torch.bool
        assert (is_masked.sum(1) == 16 - keep).all()
        # los visibles son exactamente los tokens no tapados
        for b in range(5):
            kept = x[b, ~is_masked[b]]
            assert torch.equal(visible[b].sort(0).values,
                               kept.sort(0).values)


def test_ids_restore_inverts_the_shuffle():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 16, 4)
    noise = torch.rand(3, 16, generator=g)
    visible, is_masked, ids_restore = random_masking(x, 0.75, noise)
    ids_shuffle = noise.argsort(1)
    shuffled = x.gather(1, ids_shuffle[..., None].expand(-1, -1, 4))
    restored = shuffled.gather(1, ids_restore[..., None].expand(-1, -1, 4))
    assert torch.equal(restored, x)
    assert torch.equal(shuffled[:, :4], visible)


def test_loss_ignores_visible_patches():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(2, 16, 12, generator=g)
    pred = torch.randn(2, 16, 12, generator=g)
    is_masked = torch.rand(2, 16, generator=g) > 0.5
    base = mae_loss(target, pred, is_masked)
    changed = torch.where(is_masked[..., None], pred, pred + 100.0)
    assert_close(mae_loss(target, changed, is_masked), base)
    perfect = torch.where(is_masked[..., None], target, pred)
    assert mae_loss(target, perfect, is_masked) == 0
    by_hand = ((pred - target) ** 2).mean(-1)[is_masked].mean()
    assert_close(base, by_hand)


def test_norm_pix_loss_normalises_each_patch():
    target = torch.randn(1, 4, 8) * 5 + 3
    is_masked = torch.ones(1, 4, dtype=torch.bool)
    mean = target.mean(-1, keepdim=True)
    std = (target.var(-1, keepdim=True) + 1e-6).sqrt()
    assert mae_loss(target, (target - mean) / std, is_masked,
                    norm_pix=True) < 1e-10


def test_encoder_sees_only_visible_patches():
    torch.manual_seed(0)
    mae = MAE(MAEConfig()).eval()
    x = torch.rand(2, 1, 8, 8)
    latent, is_masked, _ = mae.forward_encoder(x, 0.75)
    assert latent.shape == (2, 1 + 4, 64)
    # cambiar un parche tapado no cambia los latentes
    noise = torch.rand(2, 16)
    lat1, is_masked, _ = mae.forward_encoder(x, 0.75, noise)
    P = patchify(x, 2)
    hidden = is_masked[0].nonzero()[0, 0].item()
    P[0, hidden] += 1.0
    lat2, _, _ = mae.forward_encoder(unpatchify(P, 2), 0.75, noise)
    assert torch.equal(lat1, lat2)


def test_positions_match_vitmae_and_are_frozen():
    # transformers construye las posiciones con esta función y luego rota
    # las dos mitades para reproducir el orden de los pesos publicados.
    from transformers.models.vit_mae import modeling_vit_mae as m

    ref = m.build_2d_sinusoidal_position_embedding(4, 4, 32, cls_token=True)
    ref = torch.cat([ref[:, 16:], ref[:, :16]], dim=1)
    assert_close(sincos_2d_positions(4, 32), ref)
    mae = MAE(MAEConfig())
    assert not mae.vit.embeddings.position_embeddings.requires_grad
    assert not mae.decoder.decoder_pos_embed.requires_grad


def test_reconstruct_keeps_visible_pixels():
    torch.manual_seed(0)
    mae = MAE(MAEConfig(norm_pix_loss=True)).eval()
    x = torch.rand(2, 1, 8, 8)
    with torch.no_grad():
        out = mae(x)
        rec = mae.reconstruct(x, out)
    visible = ~out.is_masked
    assert_close(patchify(rec, 2)[visible], patchify(x, 2)[visible])


def test_encoder_transfers_to_vit_classifier():
    mae = MAE(MAEConfig())
    clf = ViT(dataclasses.replace(mae.config.encoder, num_labels=10))
    clf.vit.load_state_dict(mae.vit.state_dict(), strict=True)
    x = torch.rand(2, 1, 8, 8)
    with torch.no_grad():
        full, _, _ = mae.eval().forward_encoder(x, 0.0)
        # con mask_ratio 0 y el orden restaurado, son los mismos tokens
        feats = clf.eval().forward_features(x)
    assert_close(full[:, 0], feats[:, 0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(mask_ratio=1.0), r"\[0, 1\)"),
    (dict(decoder_hidden_size=30), "múltiplos de 4"),
    (dict(decoder_hidden_size=32, decoder_num_attention_heads=3),
     "no es múltiplo"),
])
def test_config_validates(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MAEConfig(**kwargs)


def test_bad_inputs_give_spanish_errors():
    mae = MAE(MAEConfig())
    with pytest.raises(ValueError, match="se esperaban 1 canales"):
        mae(torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="8×8"):
        mae(torch.rand(1, 1, 6, 6))
    with pytest.raises(ValueError, match="ningún parche visible"):
        random_masking(torch.rand(1, 4, 2), 0.9)
    with pytest.raises(ValueError, match="noise debe tener forma"):
        random_masking(torch.rand(1, 4, 2), 0.5, torch.rand(4))
    with pytest.raises(ValueError, match=r"\(B, N, D\)"):
        random_masking(torch.rand(4, 2), 0.5)
    with pytest.raises(ValueError, match="múltiplo de 4"):
        sincos_2d_positions(4, 30)


def test_vit_config_default_is_small():
    assert MAEConfig().encoder == ViTConfig(num_labels=0)


def test_features_pool_the_unmasked_encoder():
    torch.manual_seed(0)
    mae = MAE(MAEConfig()).eval()
    x = torch.rand(3, 1, 8, 8)
    with torch.no_grad():
        states, _ = mae.vit(x)
    assert_close(mae.features(x), states[:, 1:].mean(1))
    assert_close(mae.features(x, pooling="cls"), states[:, 0])
    with pytest.raises(ValueError, match="pooling"):
        mae.features(x, pooling="max")


def test_pretrain_mae_is_seeded_and_lowers_the_loss():
    from course_lib.mae import pretrain_mae

    x = torch.rand(32, 1, 8, 8)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        mae = MAE(MAEConfig())
        runs.append(pretrain_mae(mae, x, steps=30, batch_size=16,
                                 lr=3e-3, progress=False,
                                 generator=torch.Generator().manual_seed(0)))
    assert runs[0] == runs[1]
    assert sum(runs[0][-5:]) < sum(runs[0][:5])
    assert not mae.training
    with pytest.raises(ValueError, match="steps"):
        pretrain_mae(mae, x, steps=0)


def test_inpaint_neighbours_keeps_visible_and_fills_smoothly():
    from course_lib.mae import inpaint_neighbours

    # una rampa horizontal: la difusión la recupera casi entera
    ramp = torch.linspace(0, 1, 8).expand(1, 1, 8, 8).clone()
    is_masked = torch.zeros(1, 16, dtype=torch.bool)
    is_masked[0, [5, 6, 9, 10]] = True                # los 4 del centro
    out = inpaint_neighbours(ramp, is_masked, 2, iterations=500)
    visible = ~is_masked.view(1, 1, 4, 4).repeat_interleave(
        2, 2).repeat_interleave(2, 3)
    assert torch.equal(out[visible], ramp[visible])
    assert (out - ramp).abs().max() < 0.02
    # sin iteraciones, los tapados valen la media de los visibles
    flat = inpaint_neighbours(ramp, is_masked, 2, iterations=0)
    assert torch.allclose(flat[~visible], ramp[visible].mean().expand(16))
    with pytest.raises(ValueError, match="is_masked"):
        inpaint_neighbours(ramp, is_masked[:, :8], 2)


def test_normalize_patches_is_the_norm_pix_target():
    from course_lib.mae import normalize_patches

    x = torch.randn(2, 5, 12) * 3 + 1
    out = normalize_patches(x)
    assert_close(out.mean(-1), torch.zeros(2, 5), atol=1e-5, rtol=0)
    assert_close(out.var(-1), torch.ones(2, 5), atol=1e-4, rtol=0)
    pred = torch.zeros(2, 5, 12)
    is_masked = torch.ones(2, 5, dtype=torch.bool)
    assert_close(mae_loss(x, pred, is_masked, norm_pix=True),
                 (out ** 2).mean())
