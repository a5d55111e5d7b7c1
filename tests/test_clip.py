"""Pruebas de CLIP: pérdida frente a transformers, invariancias, normas,
codificador de texto frente a CLIPTextModel, el CLIPModel entero
(``CLIP.from_hf``) y errores en castellano."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close
from transformers import CLIPConfig as HFCLIPConfig
from transformers import CLIPModel as HFCLIPModel
from transformers import CLIPTextConfig as HFTextConfig
from transformers import CLIPTextModel
from transformers.models.clip import modeling_clip

from course_lib import shapes as S
from course_lib.clip import (
    CLIP,
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
    CLIPConfig,
    CLIPTextConfig,
    CLIPTextTransformer,
    class_embeddings,
    contrastive_loss,
    recall_at_k,
    train_clip,
    zero_shot_classify,
)

TOK = S.WordTokenizer()


def _tiny() -> CLIP:
    cfg = CLIPConfig()
    vision = dataclasses.replace(cfg.vision, image_size=16, patch_size=8,
                                 hidden_size=32, intermediate_size=37)
    text = dataclasses.replace(cfg.text, hidden_size=32,
                               intermediate_size=37)
    torch.manual_seed(0)
    return CLIP(dataclasses.replace(cfg, vision=vision, text=text,
                                    projection_dim=16)).eval()


def _batch(n: int = 6):
    data = S.make_caption_data(n, seed=0, image_size=16)
    return data.images, TOK(data.captions)[0]


def test_loss_equals_transformers_clip_loss():
    g = torch.Generator().manual_seed(0)
    for B in (1, 2, 7):
        logits = 5 * torch.randn(B, B, generator=g, dtype=torch.float64)
        # transformers llama a su pérdida con logits_per_text = Lᵀ
        ref = modeling_clip.image_text_contrastive_loss(logits.T)
        assert_close(contrastive_loss(logits), ref, rtol=1e-12, atol=1e-12)
        by_hand = (modeling_clip.contrastive_loss(logits)
                   + modeling_clip.contrastive_loss(logits.T)) / 2
        assert_close(contrastive_loss(logits), by_hand)


def test_loss_limits():
    B = 8
    assert_close(contrastive_loss(torch.zeros(B, B)),
                 torch.tensor(math.log(B)))
    assert contrastive_loss(100 * torch.eye(B)) < 1e-6


def test_permuting_the_batch_permutes_the_logits():
    model = _tiny()
    images, ids = _batch()
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.no_grad():
        logits, per_text = model(images, ids)
        permuted, _ = model(images[perm], ids[perm])
    assert_close(permuted, logits[perm][:, perm], rtol=1e-5, atol=1e-5)
    assert_close(per_text, logits.T)
    assert_close(contrastive_loss(permuted), contrastive_loss(logits),
                 rtol=1e-5, atol=1e-6)


def test_embeddings_have_unit_norm_and_scale_is_clamped():
    model = _tiny()
    images, ids = _batch()
    with torch.no_grad():
        for z in (model.encode_image(images), model.encode_text(ids)):
            assert z.shape == (6, 16)
            assert_close(z.norm(dim=-1), torch.ones(6))
        assert model.encode_text(ids, normalize=False).norm(dim=-1).std() > 0
    assert_close(model.logit_scale.detach(), torch.tensor(math.log(1 / .07)))
    assert_close(model.scale().detach(), torch.tensor(1 / 0.07))
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    assert model.scale().item() == 100.0


def test_padding_after_eos_does_not_change_text_embedding():
    model = _tiny()
    ids, _ = TOK(["un círculo rojo"])
    padded = torch.cat([ids, torch.zeros(1, 4, dtype=ids.dtype)], 1)
    with torch.no_grad():
        assert_close(model.encode_text(padded), model.encode_text(ids))


def test_text_encoder_matches_transformers():
    ours = CLIPTextTransformer(CLIPTextConfig(hidden_size=32,
                                              intermediate_size=37)).eval()
    hf_config = HFTextConfig(
        vocab_size=65, hidden_size=32, intermediate_size=37,
        num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=24, hidden_act="quick_gelu",
        layer_norm_eps=1e-5, eos_token_id=3, bos_token_id=2, pad_token_id=0)
    torch.manual_seed(1)
    ref = CLIPTextModel(hf_config).eval()
    state = {k.removeprefix("text_model."): v
             for k, v in ref.state_dict().items()}
    state = {k: v for k, v in state.items() if "position_ids" not in k}
    ours.load_state_dict(state, strict=True)
    ids, lengths = TOK(["hay un triángulo verde", "una estrella",
                        "arriba a la izquierda hay un cuadrado rojo"])
    mask = torch.arange(ids.size(1))[None] < lengths[:, None]
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=mask.long()
                       ).pooler_output
        assert_close(ours(ids), expected, rtol=1e-5, atol=1e-5)


def _hf_clip(seed: int = 1) -> HFCLIPModel:
    """Un CLIPModel de HF con una configuración aleatoria pequeña (el
    vocabulario de las figuras, imágenes de 16 px y parches de 8)."""
    config = HFCLIPConfig(
        text_config=dict(vocab_size=65, hidden_size=32, intermediate_size=37,
                         num_hidden_layers=2, num_attention_heads=4,
                         max_position_embeddings=24, eos_token_id=3,
                         bos_token_id=2, pad_token_id=0),
        vision_config=dict(image_size=16, patch_size=8, hidden_size=32,
                           intermediate_size=37, num_hidden_layers=2,
                           num_attention_heads=4),
        projection_dim=16)
    torch.manual_seed(seed)
    return HFCLIPModel(config).eval()


def test_from_hf_gives_the_similarities_of_a_whole_clipmodel():
    hf = _hf_clip()
    with torch.no_grad():   # que no coincida con el valor inicial nuestro
        hf.logit_scale.fill_(3.0)
    ours = CLIP.from_hf(hf)
    assert ours.scale().item() == pytest.approx(math.exp(3.0))
    assert not ours.training
    assert ours.config.image_mean == OPENAI_CLIP_MEAN
    ids, lengths = TOK(["hay un triángulo verde", "una estrella",
                        "arriba a la izquierda hay un cuadrado rojo"])
    mask = (torch.arange(ids.size(1))[None] < lengths[:, None]).long()
    images = torch.rand(3, 3, 16, 16, generator=torch.Generator()
                        .manual_seed(0))                     # en [0, 1]
    # HF recibe los píxeles ya normalizados (lo hace su procesador)
    mean = torch.tensor(OPENAI_CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_CLIP_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=mask,
                      pixel_values=(images - mean) / std)
        logits_per_image, logits_per_text = ours(images, ids)
    assert_close(logits_per_image, expected.logits_per_image,
                 rtol=1e-5, atol=1e-5)
    assert_close(logits_per_text, expected.logits_per_text,
                 rtol=1e-5, atol=1e-5)


def test_from_hf_rejects_other_models_in_spanish():
    with pytest.raises(TypeError, match="CLIP.from_hf espera un CLIPModel"):
        CLIP.from_hf(CLIPTextModel(HFTextConfig(
            vocab_size=65, hidden_size=32, intermediate_size=37,
            num_hidden_layers=1, num_attention_heads=4)))


def test_state_dict_round_trip():
    model = _tiny()
    other = _tiny()
    with torch.no_grad():
        other.text_projection.weight.add_(1.0)
    other.load_state_dict(model.state_dict(), strict=True)
    images, ids = _batch()
    with torch.no_grad():
        assert_close(other(images, ids)[0], model(images, ids)[0])


def test_images_are_normalised_per_channel_before_the_vit():
    """encode_image = ViT((x - media) / desv.) con las constantes de la
    configuración, que no viajan en el state_dict (como el procesador de
    imágenes de CLIP, no son pesos)."""
    model = _tiny()
    images, _ = _batch()
    mean = torch.tensor(model.config.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(model.config.image_std).view(1, 3, 1, 1)
    vit = model.vision_model
    with torch.no_grad():
        expected = model.visual_projection(
            vit.pool(vit.forward_features((images - mean) / std)))
        assert_close(model.encode_image(images, normalize=False), expected)
    assert not any("pixel" in k for k in model.state_dict())
    # Las constantes por defecto son las de los datos de course_lib.shapes.
    data = S.make_caption_data(2000, seed=5, image_size=48)
    assert_close(data.images.mean((0, 2, 3)),
                 torch.tensor(CLIPConfig().image_mean), atol=5e-3, rtol=0)
    assert_close(data.images.std((0, 2, 3)),
                 torch.tensor(CLIPConfig().image_std), atol=5e-3, rtol=0)


def test_zero_shot_probabilities_and_ensembling():
    model = _tiny()
    images, _ = _batch()
    names = [S.noun_phrase(s) for s in S.SHAPE_NAMES]
    probs = zero_shot_classify(model, images, names, ["{}", "hay {}"])
    assert probs.shape == (6, 5)
    assert_close(probs.sum(-1), torch.ones(6))
    one = class_embeddings(model, names, ["{}"])
    two = class_embeddings(model, names, ["{}", "{}"])
    assert_close(one, two)
    assert_close(one.norm(dim=-1), torch.ones(5))


def test_recall_at_k():
    sim = torch.eye(4)
    assert recall_at_k(sim, 1) == 1.0
    shifted = sim.roll(1, dims=1)
    assert recall_at_k(shifted, 1) == 0.0
    assert recall_at_k(shifted, 4) == 1.0
    with pytest.raises(ValueError, match="k debe"):
        recall_at_k(sim, 5)


def test_short_training_lowers_the_loss():
    model = _tiny()
    data = S.make_caption_data(64, seed=0, image_size=16)
    history = train_clip(model, data.images, data.captions, steps=40,
                         batch_size=32, lr=3e-3, progress=False,
                         generator=torch.Generator().manual_seed(0))
    assert len(history.loss) == 40 and len(history.scale) == 40
    assert sum(history.loss[-5:]) < sum(history.loss[:5])


def test_spanish_errors():
    model = _tiny()
    images, ids = _batch()
    with pytest.raises(ValueError, match="cuadrada"):
        contrastive_loss(torch.zeros(3, 4))
    with pytest.raises(TypeError, match="flotante"):
        contrastive_loss(torch.zeros(3, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.Tensor"):
        contrastive_loss([[1.0]])
    with pytest.raises(ValueError, match="una imagen por texto"):
        model(images[:2], ids)
    with pytest.raises(ValueError, match="<eos>"):
        model.encode_text(ids[:, :2])
    with pytest.raises(ValueError, match="«{}»"):
        zero_shot_classify(model, images, ["un círculo"], ["sin hueco"])
    with pytest.raises(TypeError, match="listas"):
        zero_shot_classify(model, images, "un círculo", ["{}"])
    with pytest.raises(ValueError, match="num_labels=0"):
        CLIPConfig(vision=dataclasses.replace(CLIPConfig().vision,
                                              num_labels=3))
    with pytest.raises(ValueError, match="pares"):
        train_clip(model, images, ["uno"], steps=1)
    with pytest.raises(ValueError, match="16×16"):
        model.encode_image(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="3 canales"):
        model.encode_image(torch.zeros(2, 1, 16, 16))
    with pytest.raises(ValueError, match="uno por canal"):
        CLIPConfig(image_mean=(0.5,))
    with pytest.raises(ValueError, match="positiva"):
        CLIPConfig(image_std=(0.1, 0.0, 0.1))


def test_book_clip_averages_the_patches_and_starts_with_large_positions():
    """La receta del libro (cap. 7, §8): resumen por la media de los
    parches (no el token de clase) y posiciones iniciales del tamaño de un
    parche proyectado. Los CLIP de OpenAI (``from_hf``) siguen con el token
    de clase."""
    torch.manual_seed(0)
    model = CLIP().eval()
    assert model.config.vision.pooling == "mean"
    pos = model.vision_model.vit.embeddings.position_embeddings  # (1, 10, D)
    assert 0.4 < pos.std().item() < 0.6
    x = torch.rand(3, 3, 48, 48)
    with torch.no_grad():
        features = model.vision_model.forward_features(
            (x - model.pixel_mean) / model.pixel_std)         # (3, 10, D)
        expected = F.normalize(
            model.visual_projection(features[:, 1:].mean(1)), dim=-1)
        torch.testing.assert_close(model.encode_image(x), expected)
    assert CLIPConfig.from_hf_config(_hf_clip().config).vision.pooling == \
        "cls"
