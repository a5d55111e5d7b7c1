"""Pruebas de course_lib.bert_tasks: la tarea «¿pasaje alterado?»."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import torch

from course_lib.bert_tasks import swap_task, swap_words

PASSAGES = [f"en un lugar de la Mancha número {i} de cuyo nombre"
            for i in range(40)]


def test_swap_words_exchanges_two_different_words() -> None:
    text = "en un lugar de la Mancha de cuyo nombre no quiero acordarme"
    for seed in range(50):
        swapped = swap_words(text, random.Random(seed))
        before, after = text.split(), swapped.split()
        assert Counter(before) == Counter(after)          # mismas palabras
        changed = [i for i, (a, b) in enumerate(zip(before, after,
                                                    strict=True)) if a != b]
        assert len(changed) == 2                          # solo dos sitios
        i, j = changed
        assert (after[i], after[j]) == (before[j], before[i])


def test_swap_words_needs_two_different_words() -> None:
    with pytest.raises(ValueError, match="dos palabras distintas"):
        swap_words("sí sí sí", random.Random(0))


def test_swap_task_alters_exactly_half_and_is_reproducible() -> None:
    texts, labels = swap_task(PASSAGES, seed=3)
    assert labels.dtype == torch.long and labels.shape == (40,)
    assert int(labels.sum()) == 20
    for text, original, label in zip(texts, PASSAGES, labels.tolist(),
                                     strict=True):
        assert (text != original) == bool(label)
    again, again_labels = swap_task(PASSAGES, seed=3)
    assert again == texts and torch.equal(again_labels, labels)
    _, other = swap_task(PASSAGES, seed=4)
    assert not torch.equal(other, labels)


@pytest.mark.parametrize("passages, error, message", [
    ("un solo texto", TypeError, "no un único str"),
    (["uno dos"], ValueError, "al menos 2 pasajes"),
])
def test_swap_task_rejects_bad_input(passages, error, message) -> None:
    with pytest.raises(error, match=message):
        swap_task(passages)
