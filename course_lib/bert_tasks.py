"""Una tarea de ajuste fino pensada para que el preentrenamiento se note:
¿está el pasaje como lo escribió Cervantes o con palabras intercambiadas?

Libro: capítulo 3, «Ajuste fino con pocas etiquetas».

Es una tarea de *aceptabilidad*, como CoLA en GLUE (¿es gramatical la
frase?): para acertar hay que saber cómo se ordenan las palabras en
castellano, justo lo que el MLM obliga a aprender. Una bolsa de palabras
lo tiene muy difícil por construcción: el pasaje alterado tiene las mismas
palabras que el original; solo cambian unos pocos pares de palabras
vecinas (los bigramas), y con pocas etiquetas esos pares no se repiten.

``swap_task`` construye los ejemplos a partir de pasajes del Quijote
(``bert_data.word_chunks``): la mitad, tal cual (etiqueta 0); la otra
mitad, con dos palabras distintas en posiciones al azar intercambiadas
(etiqueta 1).

``balanced_subset`` sortea los pocos ejemplos etiquetados de cada
experimento: la mitad de cada clase, reproducible con su semilla.
Lo medido con estas dos piezas está en ``benchmarks/bert_finetune.py``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
from torch import Tensor

from course_lib.utils import check_int, check_tensor, check_texts

__all__ = ["LABELS", "balanced_subset", "swap_task", "swap_words"]

LABELS = ("original", "alterado")


def swap_words(text: str, rng: random.Random) -> str:
    """``text`` con dos palabras distintas intercambiadas (posiciones al
    azar de ``rng``). Necesita al menos dos palabras distintas."""
    words = text.split()
    if len(set(words)) < 2:
        raise ValueError("para intercambiar hacen falta dos palabras "
                         f"distintas; el texto es {text!r}")
    while True:
        i, j = rng.sample(range(len(words)), 2)
        if words[i] != words[j]:
            break
    words[i], words[j] = words[j], words[i]
    return " ".join(words)


def swap_task(passages: Sequence[str], *, n_swaps: int = 1, seed: int = 0
              ) -> tuple[list[str], Tensor]:
    """Los ejemplos de la tarea: un texto por pasaje y su etiqueta (N,).

    Se sortea (con ``seed``) qué mitad de los pasajes se altera: el
    número de alterados es exactamente ``N // 2`` y su orden, al azar.
    Cada pasaje alterado recibe ``n_swaps`` intercambios seguidos.
    """
    passages = check_texts(passages, "passages")
    check_int(seed, "seed", minimum=0)
    check_int(n_swaps, "n_swaps")
    if len(passages) < 2:
        raise ValueError("hacen falta al menos 2 pasajes; se recibieron "
                         f"{len(passages)}")
    rng = random.Random(seed)
    labels = [1] * (len(passages) // 2) + [0] * (len(passages)
                                                 - len(passages) // 2)
    rng.shuffle(labels)
    texts = []
    for passage, label in zip(passages, labels, strict=True):
        text = passage
        while label and text == passage:     # nunca «alterado» sin cambio
            for _ in range(n_swaps):
                text = swap_words(text, rng)
        texts.append(text)
    return texts, torch.tensor(labels)


def balanced_subset(labels: Tensor, n: int | None, seed: int) -> Tensor:
    """Índices de ``n`` ejemplos de ``labels`` (N,) con 0 y 1, la mitad de
    cada clase, sorteados con ``seed`` y en orden aleatorio; todos
    (``arange(N)``) si ``n`` es ``None``."""
    check_tensor(labels, "labels", ndim=1, shape="(N,)", dtype_kind="int")
    check_int(seed, "seed", minimum=0)
    if n is None:
        return torch.arange(len(labels))
    check_int(n, "n", minimum=2)
    if n % 2:
        raise ValueError(f"n debe ser par (la mitad de cada clase); se "
                         f"recibió {n}")
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in (0, 1):
        idx = torch.where(labels == c)[0]
        if len(idx) < n // 2:
            raise ValueError(f"se piden {n // 2} ejemplos de la clase {c} "
                             f"y solo hay {len(idx)}")
        picks.append(idx[torch.randperm(len(idx), generator=g)[:n // 2]])
    return torch.cat(picks)[torch.randperm(n, generator=g)]
