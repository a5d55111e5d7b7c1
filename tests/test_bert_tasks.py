"""Pruebas de course_lib.bert_tasks: la tarea «¿pasaje alterado?»."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import torch

from course_lib.bert_tasks import balanced_subset, swap_task, swap_words

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


def test_balanced_subset_draws_half_of_each_class() -> None:
    labels = torch.tensor([0] * 30 + [1] * 70)
    idx = balanced_subset(labels, 20, seed=0)
    assert len(idx) == len(set(idx.tolist())) == 20
    assert int(labels[idx].sum()) == 10              # 10 y 10
    assert torch.equal(idx, balanced_subset(labels, 20, seed=0))
    assert not torch.equal(idx, balanced_subset(labels, 20, seed=1))
    assert torch.equal(balanced_subset(labels, None, seed=0),
                       torch.arange(100))
    with pytest.raises(ValueError, match="par"):
        balanced_subset(labels, 21, seed=0)
    with pytest.raises(ValueError, match="solo hay 30"):
        balanced_subset(labels, 80, seed=0)
    with pytest.raises(TypeError, match="labels"):
        balanced_subset([0, 1], 2, seed=0)
