"""Pruebas propias de los ejercicios del capítulo 4 (GPT; el contrato
común está en ``test_exercise_contract.py``)."""

from __future__ import annotations

import math

import torch

from course_lib.exercises import cap04 as ej
from course_lib.gpt import next_token_probs

# --- variantes correctas ------------------------------------------------

def test_bigram_counts_with_index_put_pass() -> None:
    def with_index_put(ids, V):
        counts = torch.zeros(V, V, dtype=torch.long)
        ones = torch.ones(len(ids) - 1, dtype=torch.long)
        return counts.index_put((ids[:-1], ids[1:]), ones, accumulate=True)

    assert ej.conteos_bigramas.evaluate(with_index_put).ok


def test_causal_attention_with_torch_sdpa_passes() -> None:
    def with_torch(q, k, v):
        return torch.nn.functional.scaled_dot_product_attention(
            q, k, v, is_causal=True)

    assert ej.atencion_causal.evaluate(with_torch).ok


def test_causal_attention_big_negative_passes() -> None:
    def big_negative(q, k, v):
        T = q.size(-2)
        s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
        s = s.masked_fill(torch.triu(torch.ones(T, T), 1).bool(), -1e9)
        return s.softmax(-1) @ v

    assert ej.atencion_causal.evaluate(big_negative).ok


def test_sampling_probs_match_course_lib() -> None:
    def with_course_lib(logits, temperatura=1.0, top_k=None):
        return next_token_probs(logits, temperature=temperatura,
                                top_k=top_k)

    assert ej.probs_siguiente.evaluate(with_course_lib).ok


def test_power_of_probabilities_is_also_correct() -> None:
    # softmax(z/τ) = p^(1/τ) / Σ p^(1/τ): otra forma válida.
    def via_power(logits, temperatura=1.0, top_k=None):
        p = logits.softmax(-1) ** (1 / temperatura)
        if top_k is not None:
            kth = p.topk(top_k, dim=-1).values[:, -1:]
            p = torch.where(p < kth, torch.zeros_like(p), p)
        return p / p.sum(-1, keepdim=True)

    assert ej.probs_siguiente.evaluate(via_power).ok
