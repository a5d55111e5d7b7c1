"""Pruebas de course_lib.bert_training (capítulo 3).

Modelos y datos diminutos y sintéticos (sin corpus ni red): la pérdida baja
en un entrenamiento corto, la misma semilla da el mismo resultado, la
pérdida MLM solo cuenta las posiciones elegidas y las entradas erróneas
producen errores claros en castellano.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from course_lib.bert import (
    BertConfig,
    BertForPreTraining,
    BertForSequenceClassification,
)
from course_lib.bert_data import IGNORE_INDEX, mask_tokens
from course_lib.bert_training import (
    BertRecipe,
    check_inputs,
    classification_accuracy,
    evaluate_pretraining,
    finetune,
    linear_schedule,
    mean_pooled_features,
    most_frequent_token,
    pretrain,
    pretraining_losses,
)

SPECIAL = [0, 1, 2, 3, 4]          # [PAD] [UNK] [CLS] [SEP] [MASK]
MASKING = dict(mask_token_id=4, special_token_ids=SPECIAL)
V, T = 40, 12


def tiny_config() -> BertConfig:
    return BertConfig(vocab_size=V, max_position_embeddings=T,
                      num_hidden_layers=1, num_attention_heads=2,
                      hidden_size=16, intermediate_size=32, dropout=0.0,
                      attention_dropout=0.0)


def toy_data(n: int = 64, seed: int = 0) -> dict[str, torch.Tensor]:
    """Secuencias [CLS] x x x … [SEP] [PAD]…: un patrón aprendible (cada
    token repite el anterior + 1) con longitudes distintas."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(n, T, dtype=torch.long)
    mask = torch.zeros(n, T, dtype=torch.long)
    for row in range(n):
        length = int(torch.randint(6, T - 1, (1,), generator=g))
        start = int(torch.randint(5, V - length, (1,), generator=g))
        body = torch.arange(start, start + length)
        ids[row, :length + 2] = torch.cat(
            [torch.tensor([2]), body, torch.tensor([3])])
        mask[row, :length + 2] = 1
    types = torch.zeros_like(ids)
    return {"input_ids": ids, "token_type_ids": types,
            "attention_mask": mask}


def test_pretraining_loss_decreases():
    torch.manual_seed(0)
    model = BertForPreTraining(tiny_config())
    data = toy_data(256)
    nsp = torch.randint(2, (256,), generator=torch.Generator().manual_seed(1))
    before = evaluate_pretraining(model, data, nsp, **MASKING)
    history = pretrain(model, data, nsp, steps=150, batch_size=32, lr=3e-3,
                       generator=torch.Generator().manual_seed(0),
                       progress=False, **MASKING)
    after = evaluate_pretraining(model, data, nsp, **MASKING)
    assert len(history.mlm) == len(history.nsp) == 150
    assert sum(history.mlm[-20:]) / 20 < sum(history.mlm[:20]) / 20 - 0.25
    assert after["mlm_loss"] < before["mlm_loss"] - 0.25
    assert not model.training


def test_pretraining_is_deterministic():
    def run() -> tuple[list[float], torch.Tensor]:
        torch.manual_seed(0)
        model = BertForPreTraining(tiny_config())
        data = toy_data(64)
        history = pretrain(model, data, torch.zeros(64, dtype=torch.long),
                           steps=10, batch_size=16, lr=1e-3,
                           generator=torch.Generator().manual_seed(5),
                           progress=False, **MASKING)
        return history.mlm, model.bert.pooler.dense.weight.detach().clone()

    (loss_a, w_a), (loss_b, w_b) = run(), run()
    assert loss_a == loss_b
    assert torch.equal(w_a, w_b)


def test_mlm_loss_only_on_chosen_positions():
    torch.manual_seed(0)
    model = BertForPreTraining(tiny_config()).eval()
    data = toy_data(8)
    nsp = torch.tensor([0, 1] * 4)
    losses = pretraining_losses(model, data, nsp,
                                generator=torch.Generator().manual_seed(3),
                                **MASKING)
    # Mismo sorteo, cabeza sobre todas las posiciones y -100 en el resto.
    inputs, labels = mask_tokens(
        data["input_ids"], vocab_size=V,
        generator=torch.Generator().manual_seed(3), **MASKING)
    out = model(inputs, data["token_type_ids"], data["attention_mask"])
    expected = F.cross_entropy(out.mlm_logits.reshape(-1, V),
                               labels.reshape(-1),
                               ignore_index=IGNORE_INDEX)
    assert_close(losses.mlm, expected)
    assert_close(losses.nsp, F.cross_entropy(out.nsp_logits, nsp))
    assert losses.n_masked == int((labels != IGNORE_INDEX).sum())
    assert 0 < losses.n_masked < int(data["attention_mask"].sum())


def test_evaluation_does_not_depend_on_batch_size():
    torch.manual_seed(0)
    model = BertForPreTraining(tiny_config())
    data, nsp = toy_data(50), torch.zeros(50, dtype=torch.long)
    a = evaluate_pretraining(model, data, nsp, batch_size=7, **MASKING)
    b = evaluate_pretraining(model, data, nsp, batch_size=50, **MASKING)
    assert a["n_masked"] == b["n_masked"] > 0
    assert a["mlm_accuracy"] == pytest.approx(b["mlm_accuracy"])
    assert a["mlm_loss"] == pytest.approx(b["mlm_loss"], rel=1e-5)
    assert model.training      # se restaura el modo


def test_most_frequent_token():
    data = toy_data(4)
    data["input_ids"][:, 1] = 9
    assert most_frequent_token(data, SPECIAL) == 9


def test_finetune_learns_and_is_deterministic():
    def run() -> tuple[float, list[float]]:
        torch.manual_seed(0)
        model = BertForSequenceClassification(tiny_config(), num_labels=2)
        data = toy_data(128)
        # Etiqueta: ¿empieza la secuencia por un token par?
        labels = (data["input_ids"][:, 1] % 2).long()
        losses = finetune(model, data, labels, steps=120, batch_size=32,
                          lr=3e-3, generator=torch.Generator().manual_seed(0))
        return classification_accuracy(model, data, labels), losses

    (acc_a, loss_a), (acc_b, loss_b) = run(), run()
    assert loss_a == loss_b and acc_a == acc_b
    assert sum(loss_a[-20:]) / 20 < sum(loss_a[:20]) / 20
    assert acc_a > 0.7


def test_mean_pooled_features_ignore_padding_and_batching():
    torch.manual_seed(0)
    model = BertForPreTraining(tiny_config())
    model.train()
    data = toy_data(10)
    feats = mean_pooled_features(model, data, batch_size=3)
    assert feats.shape == (10, 16)
    assert model.training                      # se devuelve como estaba
    # a mano: la media de la última capa sobre los tokens reales
    with torch.no_grad():
        model.eval()
        hidden = model.bert(*[data[k] for k in (
            "input_ids", "token_type_ids", "attention_mask")])[0]
    for row in (0, 7):
        n = int(data["attention_mask"][row].sum())
        assert_close(feats[row], hidden[row, :n].mean(0))
    # lo que haya en las posiciones de relleno no cuenta; pasar el
    # BertModel directamente da lo mismo
    other = dict(data, input_ids=data["input_ids"].masked_fill(
        data["attention_mask"] == 0, 9))
    assert not torch.equal(other["input_ids"], data["input_ids"])
    assert_close(mean_pooled_features(model.bert, other), feats)
    with pytest.raises(TypeError, match="BertModel"):
        mean_pooled_features(torch.nn.Linear(2, 2), data)
    with pytest.raises(ValueError, match="faltan las claves"):
        mean_pooled_features(model, {"input_ids": data["input_ids"]})


def test_linear_schedule():
    factors = [linear_schedule(s, steps=10, warmup_steps=2)
               for s in range(10)]
    assert factors[:2] == [0.5, 1.0]
    assert factors[-1] == pytest.approx(1 / 8)
    assert all(a >= b for a, b in zip(factors[1:], factors[2:], strict=False))


def test_recipes():
    assert BertRecipe.preset("cpu").n_pairs == 800 * 32
    capped = BertRecipe.preset("cpu", pretrain_pairs=1000)
    assert capped.n_pairs == 1000
    with pytest.raises(ValueError, match="preset desconocido"):
        BertRecipe.preset("tpu")
    with pytest.raises(ValueError, match="pretrain_steps"):
        BertRecipe(pretrain_steps=0)


def test_bad_inputs_raise_spanish_errors():
    torch.manual_seed(0)
    model = BertForPreTraining(tiny_config())
    data = toy_data(8)
    nsp = torch.zeros(8, dtype=torch.long)
    kwargs = dict(progress=False, **MASKING)
    with pytest.raises(ValueError, match="faltan las claves"):
        pretrain(model, {"input_ids": data["input_ids"]}, nsp, steps=1,
                 batch_size=4, lr=1e-3, **kwargs)
    with pytest.raises(ValueError, match=r"forma \(N,\)"):
        pretrain(model, data, nsp[:5], steps=1, batch_size=4, lr=1e-3,
                 **kwargs)
    with pytest.raises(TypeError, match="tensor de enteros"):
        check_inputs({**data, "input_ids": data["input_ids"].float()})
    with pytest.raises(ValueError, match="forma"):
        check_inputs({**data, "attention_mask": data["attention_mask"][:4]})
    with pytest.raises(ValueError, match="steps debe ser"):
        pretrain(model, data, nsp, steps=0, batch_size=4, lr=1e-3, **kwargs)
    with pytest.raises(ValueError, match="batch_size=16 es mayor"):
        pretrain(model, data, nsp, steps=1, batch_size=16, lr=1e-3,
                 **kwargs)
    with pytest.raises(TypeError, match="diccionario"):
        check_inputs(data["input_ids"])
    with pytest.raises(TypeError, match="etiquetas"):
        check_inputs(data, nsp.float())
