"""Pruebas de los pesos del curso «gpt-moliere» y de su receta.

La comprobación de la ficha (la pérdida rápida dentro de su tolerancia)
es la común de ``test_checkpoints.py``; aquí va lo propio de este modelo:
la interfaz que usa el capítulo 4, que la ficha es la receta del código y
que la medida es la del libro (tokenizador y corte 90/10).
"""

from __future__ import annotations

import pytest
import torch

from course_lib import checkpoints, gpt_moliere
from course_lib.char_tokenizer import CharTokenizer
from course_lib.data import load_text
from course_lib.gpt import GPT

NAME = "gpt-moliere"


@pytest.fixture(scope="module")
def ck(course_checkpoint) -> checkpoints.Checkpoint:
    return course_checkpoint(NAME)


def test_the_card_measures_the_whole_book_validation_split(ck) -> None:
    metrics = ck.card["metrics"]
    _, val = gpt_moliere.splits()
    assert metrics["val_chars"] == len(val)
    text = load_text("moliere.txt")
    assert len(val) == len(text) - int(0.9 * len(text))   # el 10 % final
    # el objetivo del capítulo 4: ≤ 1,40 nats/carácter en el 10 % final
    assert metrics["val_loss"] <= 1.40, metrics["val_loss"]
    # y la curva guardada baja
    losses = [point["val_loss"] for point in metrics["curve"]]
    assert losses[-1] < losses[0]


def test_the_card_keeps_samples_of_how_the_language_emerges(ck) -> None:
    samples = ck.card["metrics"]["samples"]
    steps = [s["step"] for s in samples]
    assert steps == [*gpt_moliere.CONFIG["sample_steps"],
                     gpt_moliere.CONFIG["steps"]]
    assert all(s["text"].startswith(gpt_moliere.SAMPLE_PROMPT)
               for s in samples)
    # la pérdida de cada momento baja de la primera a la última
    assert samples[-1]["val_loss"] < samples[0]["val_loss"] - 1.5


def test_loaded_model_has_the_chapter_interface(ck) -> None:
    model, tok = ck.model, ck.tokenizer
    assert isinstance(model, GPT) and not model.training
    assert isinstance(tok, CharTokenizer)
    assert tok.vocab_size == model.config.vocab_size
    idx = tok.encode("TARTUFFE.\n")[None]                 # (1, T)
    with torch.no_grad():
        logits, loss = model(idx)
    assert logits.shape == (1, idx.size(1), tok.vocab_size) and loss is None
    # los pesos atados siguen atados tras cargar
    assert model.lm_head.weight is model.wte.weight


def test_samples_are_reproducible_and_look_like_a_play(ck) -> None:
    a = gpt_moliere.sample(ck.model, n_chars=200)
    assert a == gpt_moliere.sample(ck.model, n_chars=200)
    words = a.split()
    # francés de teatro: sobre todo palabras del propio Molière
    known = set(load_text("moliere.txt").split())
    assert sum(w in known for w in words) / len(words) > 0.6, a
