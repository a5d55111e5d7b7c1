"""Pruebas de los pesos del curso «bert-quijote» y de su receta.

La comprobación de la ficha (métricas rápidas dentro de su tolerancia) es
la común de ``test_checkpoints.py``; aquí va lo propio de este modelo: la
interfaz que usa el capítulo 3, los objetivos del libro en la ficha y que
los datos de prueba nunca se vean al entrenar.
"""

from __future__ import annotations

import pytest
import torch

from course_lib import bert_data, bert_quijote, checkpoints
from course_lib.bert import BertForPreTraining

NAME = "bert-quijote"


@pytest.fixture(scope="module")
def ck(course_checkpoint) -> checkpoints.Checkpoint:
    return course_checkpoint(NAME)


def test_the_card_reaches_the_book_targets(ck) -> None:
    """Objetivos del capítulo 3 en pares de prueba nunca vistos."""
    metrics = ck.card["metrics"]
    assert metrics["mlm_accuracy"] >= 0.30, metrics
    assert metrics["nsp_accuracy"] >= 0.70, metrics
    assert metrics["test_pairs"] == bert_quijote.CONFIG["test_pairs"]


def test_loaded_model_has_the_chapter_interface(ck) -> None:
    model, tokenizer = ck.model, ck.tokenizer
    assert isinstance(model, BertForPreTraining) and not model.training
    assert tokenizer.get_vocab_size() == model.config.vocab_size
    batch = bert_data.encode(tokenizer, ["En un lugar de la Mancha"],
                             ["de cuyo nombre no quiero acordarme"],
                             max_len=32)
    with torch.no_grad():
        out = model(batch["input_ids"], batch["token_type_ids"],
                    batch["attention_mask"])
    assert out.mlm_logits.shape == (1, 32, model.config.vocab_size)
    assert out.nsp_logits.shape == (1, 2)


def test_fill_mask_knows_the_first_line_of_the_book(ck) -> None:
    """Una comprobación de sentido común, con margen: el hueco más famoso
    del Quijote se rellena con «mancha» entre las 3 primeras."""
    text = "En un lugar de la [MASK], de cuyo nombre no quiero acordarme"
    batch = bert_data.encode(ck.tokenizer, [text], max_len=32)
    pos = (batch["input_ids"][0] == ck.tokenizer.token_to_id("[MASK]"))
    with torch.no_grad():
        logits = ck.model(batch["input_ids"], batch["token_type_ids"],
                          batch["attention_mask"]).mlm_logits[0, pos][0]
    top = [ck.tokenizer.id_to_token(i) for i in logits.topk(3).indices]
    assert "mancha" in top, top


def test_test_spans_are_never_training_spans() -> None:
    n = bert_quijote.CONFIG["span_words"]
    train = {tuple(s) for s in bert_quijote.spans("train", n_words=n)}
    test = bert_quijote.spans("test", n_words=n)
    assert len(test) > 1000
    seen = sum(tuple(s) in train for s in test)
    assert seen / len(test) < 0.01     # coincidencias casuales, no fugas


def test_nsp_data_is_reproducible_and_balanced() -> None:
    segments = bert_quijote.spans("test", n_words=20)
    data, labels = bert_quijote.nsp_data(segments, n_pairs=400, max_len=64,
                                         seed=5)
    again, again_labels = bert_quijote.nsp_data(segments, n_pairs=400,
                                                max_len=64, seed=5)
    assert torch.equal(data["input_ids"], again["input_ids"])
    assert torch.equal(labels, again_labels)
    assert data["input_ids"].shape == (400, 64)
    assert 0.4 < labels.float().mean() < 0.6


def test_stored_few_label_curve_is_of_these_weights_and_reaches_target(
        ck) -> None:
    """La curva del capítulo (``benchmarks/bert_finetune.py --task
    alterado``) se midió con estos pesos, y con ≤ 256 etiquetas el BERT
    del curso supera al de cero por ≥ 10 puntos y a TF-IDF."""
    import json
    from pathlib import Path

    path = (Path(__file__).resolve().parent.parent / "benchmarks" /
            "results" / "bert_finetune_alterado.json")
    result = json.loads(path.read_text(encoding="utf-8"))
    assert result["metadata"]["checkpoint_sha256"] == ck.card["sha256"]
    few = [r for r in result["rows"] if r["labels"] <= 256]
    assert {r["labels"] for r in few} >= {32, 256}
    for row in few:
        best_scratch = max(row["scratch_mean"], row["scratch_probe_mean"])
        assert row["pretrained_probe_mean"] >= best_scratch + 0.10, row
        assert row["pretrained_probe_mean"] > row["tfidf_mean"], row
        assert len(row["curve"]["pretrained_probe"]) == 3     # 3 semillas
