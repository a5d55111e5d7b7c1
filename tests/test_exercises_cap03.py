"""Pruebas propias de los ejercicios del capítulo 3 (BERT; el contrato
común está en ``test_exercise_contract.py``)."""

from __future__ import annotations

import torch

from course_lib import bert, bert_data
from course_lib.exercises import cap03 as ej


def test_in_place_masking_is_reported() -> None:
    def in_place(ids, u_eleccion, u_tipo, aleatorios, es_especial, id_mask):
        entradas, etiquetas = ej.enmascarar.reference(
            ids, u_eleccion, u_tipo, aleatorios, es_especial, id_mask)
        ids.copy_(entradas)
        return entradas, etiquetas

    result = ej.enmascarar.evaluate(in_place)
    assert "modificó su argumento `ids`" in result.message


# --- las referencias coinciden con course_lib.bert y bert_data -----------

def test_masking_reference_matches_course_lib() -> None:
    for i, case in enumerate(ej.enmascarar.cases):
        args = case.make(torch.Generator().manual_seed(i))
        ids, u1, u2, rand, special, mask_id = args
        ours = bert_data.apply_mlm_masking(ids, u1, u2, rand,
                                           mask_token_id=mask_id,
                                           is_special=special)
        theirs = ej.enmascarar.reference(*args)
        for a, b in zip(ours, theirs, strict=True):
            assert torch.equal(a, b)


def test_padding_mask_reference_matches_the_model_mask() -> None:
    ids = torch.tensor([[2, 7, 8, 3, 0, 0], [2, 9, 3, 0, 0, 0]])
    model = bert.BertModel(bert.BertConfig(vocab_size=20, hidden_size=8,
                                           num_attention_heads=2,
                                           intermediate_size=16,
                                           num_hidden_layers=1))
    _, mask = model._check_inputs(ids, None, (ids != 0).long())
    assert torch.equal(mask, ej.mascara_relleno.reference(ids, 0))


def test_head_reference_matches_course_lib() -> None:
    torch.manual_seed(0)
    cfg = bert.BertConfig(vocab_size=20, hidden_size=8, num_attention_heads=2,
                          intermediate_size=16, num_hidden_layers=1,
                          dropout=0.0, attention_dropout=0.0)
    model = bert.BertForSequenceClassification(cfg, num_labels=3).eval()
    ids = torch.randint(5, 20, (2, 6))
    h = model.bert(ids).last_hidden_state
    expected = ej.cabeza_clasificacion.reference(
        h, model.bert.pooler.dense.weight, model.bert.pooler.dense.bias,
        model.classifier.weight, model.classifier.bias)
    torch.testing.assert_close(model(ids), expected)
