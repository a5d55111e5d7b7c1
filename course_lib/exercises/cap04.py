"""Ejercicios del capítulo 4, «GPT entrenado con Molière».

Libro: capítulo 4, sección «Ejercicios». Uso en el cuaderno::

    from course_lib.exercises import cap04 as ej
    ej.conteos_bigramas.check(conteos_bigramas)

Las soluciones de referencia son autocontenidas a propósito: no usan
``course_lib.gpt``.
"""

# Notación: B lote · T tokens · H cabezas · D dimensión de cabeza
#           V vocabulario

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from course_lib.exercises import Case, Exercise, KnownMistake

__all__ = ["atencion_causal", "conteos_bigramas", "probs_siguiente"]

_IMPORTS = ("import math", "import torch")


def _randn(g: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=g)


# --- 1. Conteos de bigramas ---------------------------------------------

def _conteos_bigramas(ids: torch.Tensor, V: int) -> torch.Tensor:
    """(V, V) int64: conteos[a, b] = veces que b sigue a a en ``ids``."""
    actual, siguiente = ids[:-1], ids[1:]  # pares (a, b) consecutivos
    pares = actual * V + siguiente         # un número por par: a·V + b
    return torch.bincount(pares, minlength=V * V).view(V, V)


def _bigram_overwrite(ids: torch.Tensor, V: int) -> torch.Tensor:
    conteos = torch.zeros(V, V, dtype=torch.long)
    conteos[ids[:-1], ids[1:]] += 1     # los pares repetidos cuentan 1
    return conteos


def _bigram_wraparound(ids: torch.Tensor, V: int) -> torch.Tensor:
    pares = ids * V + ids.roll(-1)
    return torch.bincount(pares, minlength=V * V).view(V, V)


def _ids_case(n: int, V: int) -> Callable[[torch.Generator], tuple]:
    return lambda g: (torch.randint(0, V, (n,), generator=g), V)


conteos_bigramas = Exercise(
    name="conteos_bigramas",
    title="Conteos de bigramas",
    reference=_conteos_bigramas,
    cases=[
        Case("ids = [0, 1, 1, 0, 1], V = 3",
             lambda g: (torch.tensor([0, 1, 1, 0, 1]), 3)),
        Case("200 ids aleatorios, V = 5", _ids_case(200, 5)),
        Case("1000 ids aleatorios, V = 12", _ids_case(1000, 12)),
    ],
    hints=[
        "Los pares consecutivos son (ids[0], ids[1]), (ids[1], ids[2]), …: "
        "`ids[:-1]` da el primer carácter de cada par y `ids[1:]` el "
        "siguiente. Hay len(ids) - 1 pares.",
        "Cuidado con `conteos[a, b] += 1` con tensores de índices: si un par "
        "se repite, PyTorch lo suma una sola vez. Convierte cada par en un "
        "número a·V + b y cuenta con `torch.bincount(..., minlength=V*V)`; "
        "luego `.view(V, V)`.",
    ],
    mistakes=[
        KnownMistake(
            "sin_acumular",
            "Cada par aparece contado como mucho una vez: `conteos[a, b] += "
            "1` con índices repetidos no acumula. Usa `torch.bincount` o "
            "`index_put_(..., accumulate=True)`.",
            _bigram_overwrite),
        KnownMistake(
            "traspuesta",
            "Tu matriz está traspuesta: la fila es el carácter actual y la "
            "columna el siguiente, conteos[a, b] = veces que b sigue a a.",
            lambda ids, V: _conteos_bigramas(ids, V).T),
        KnownMistake(
            "vuelta",
            "Cuentas un par de más: el último carácter no tiene siguiente "
            "(no des la vuelta al principio, como hace `roll`).",
            _bigram_wraparound),
        KnownMistake(
            "dtype",
            "Los valores son correctos, pero el tipo no: los conteos son "
            "enteros (torch.long, el que da `torch.bincount`).",
            lambda ids, V: _conteos_bigramas(ids, V).float()),
    ],
    imports=("import torch",),
)


# --- 2. Atención causal --------------------------------------------------

def _atencion_causal(q: torch.Tensor, k: torch.Tensor,
                     v: torch.Tensor) -> torch.Tensor:
    """q, k, v: (B, H, T, D) -> (B, H, T, D); el token t ve 0..t."""
    T, D = q.size(-2), q.size(-1)
    puntajes = q @ k.transpose(-2, -1) / math.sqrt(D)  # (B, H, T, T)
    # Triángulo inferior con la diagonal: True = «puede atender».
    mascara = torch.ones(T, T, dtype=torch.bool).tril()
    puntajes = puntajes.masked_fill(~mascara, float("-inf"))
    return puntajes.softmax(dim=-1) @ v                 # (B, H, T, D)


def _causal_variant(*, scale: str = "head", mask: str = "tril"
                    ) -> Callable[..., Any]:
    def wrong(q: torch.Tensor, k: torch.Tensor,
              v: torch.Tensor) -> torch.Tensor:
        H, T, D = q.size(1), q.size(-2), q.size(-1)
        divisor = {"head": math.sqrt(D), "model": math.sqrt(H * D),
                   "none": 1.0}[scale]
        scores = q @ k.transpose(-2, -1) / divisor
        ones = torch.ones(T, T, dtype=torch.bool)
        allowed = {"tril": ones.tril(), "triu": ones.triu(),
                   "strict": ones.tril(-1), "none": ones}[mask]
        scores = scores.masked_fill(~allowed, float("-inf"))
        return scores.softmax(dim=-1) @ v
    return wrong


def _qkv_case(B: int, H: int, T: int, D: int
              ) -> Callable[[torch.Generator], tuple]:
    return lambda g: tuple(_randn(g, B, H, T, D) for _ in range(3))


atencion_causal = Exercise(
    name="atencion_causal",
    title="Autoatención causal",
    reference=_atencion_causal,
    cases=[Case(f"q, k, v de forma {s}", _qkv_case(*s))
           for s in ((1, 1, 4, 8), (2, 4, 6, 8), (2, 3, 9, 16))],
    hints=[
        "Es la atención del capítulo 1 con una máscara causal: la posición "
        "t solo puede mirar las posiciones 0..t. Escala entre la raíz de la "
        "dimensión de **cada cabeza**, `q.size(-1)`.",
        "`torch.ones(T, T, dtype=torch.bool).tril()` marca con True lo "
        "permitido; antes de la softmax pon `-inf` donde vale False "
        "(`masked_fill(~mascara, float('-inf'))`).",
    ],
    mistakes=[
        KnownMistake(
            "sin_mascara",
            "Falta la máscara causal: cada token está viendo el futuro, "
            "justo lo que tiene que predecir.",
            _causal_variant(mask="none")),
        KnownMistake(
            "mascara_futuro",
            "Tu máscara deja ver el futuro y tapa el pasado (triángulo "
            "superior): el token t debe ver 0..t, es decir, `tril`.",
            _causal_variant(mask="triu")),
        KnownMistake(
            "sin_diagonal",
            "Tapaste también la diagonal: cada token puede atenderse a sí "
            "mismo (y el primero no tendría a quién atender: NaN).",
            _causal_variant(mask="strict")),
        KnownMistake(
            "escala_modelo",
            "Divides entre √(H·D), la dimensión del modelo: la escala es "
            "1/√D con D la dimensión de cada cabeza, `q.size(-1)`.",
            _causal_variant(scale="model")),
        KnownMistake(
            "sin_escala",
            "Olvidaste dividir los puntajes entre √D.",
            _causal_variant(scale="none")),
    ],
    imports=_IMPORTS,
)


# --- 3. Distribución del siguiente token ---------------------------------

def _probs_siguiente(logits: torch.Tensor, temperatura: float = 1.0,
                     top_k: int | None = None) -> torch.Tensor:
    """logits (B, V) -> probabilidades (B, V) con temperatura y top-k."""
    logits = logits / temperatura          # τ < 1 afila, τ > 1 aplana
    if top_k is not None:
        # El k-ésimo mayor de cada fila marca el umbral.
        umbral = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < umbral, float("-inf"))
    return torch.softmax(logits, dim=-1)


def _probs_variant(*, temp: str = "divide", top: str = "ok"
                   ) -> Callable[..., Any]:
    def wrong(logits: torch.Tensor, temperatura: float = 1.0,
              top_k: int | None = None) -> torch.Tensor:
        logits = (logits * temperatura if temp == "multiply"
                  else logits / temperatura)
        if top_k is not None and top != "ignored":
            values = torch.topk(logits, top_k, dim=-1,
                                largest=top != "smallest").values
            if top == "smallest":
                logits = logits.masked_fill(
                    logits > values[:, -1:], float("-inf"))
            else:
                fill = 0.0 if top == "zero" else float("-inf")
                logits = logits.masked_fill(logits < values[:, -1:], fill)
        return torch.softmax(logits, dim=-1)
    return wrong


def _logits_case(B: int, V: int, temperature: float, top_k: int | None
                 ) -> Callable[[torch.Generator], tuple]:
    return lambda g: (3 * _randn(g, B, V), temperature, top_k)


probs_siguiente = Exercise(
    name="probs_siguiente",
    title="Temperatura y top-k",
    reference=_probs_siguiente,
    cases=[
        Case("τ = 1, sin top-k", _logits_case(2, 10, 1.0, None)),
        Case("τ = 0.5, sin top-k", _logits_case(2, 10, 0.5, None)),
        Case("τ = 1, top_k = 3", _logits_case(3, 12, 1.0, 3)),
        Case("τ = 2, top_k = 5", _logits_case(2, 20, 2.0, 5)),
    ],
    hints=[
        "La temperatura divide los logits antes de la softmax: con τ → 0 "
        "la distribución se concentra en el máximo; con τ grande, se "
        "acerca a la uniforme.",
        "Para top-k, `torch.topk(logits, k, dim=-1).values[:, -1:]` es el "
        "k-ésimo mayor de cada fila; pon `-inf` en los logits menores que "
        "él y luego aplica la softmax (así lo que queda suma 1).",
    ],
    mistakes=[
        KnownMistake(
            "temperatura_multiplica",
            "Multiplicas los logits por la temperatura: hay que dividir, "
            "softmax(logits / τ).",
            _probs_variant(temp="multiply")),
        KnownMistake(
            "top_k_ignorado",
            "No aplicas el top-k: fuera de los k más probables la "
            "probabilidad debe ser exactamente 0.",
            _probs_variant(top="ignored")),
        KnownMistake(
            "top_k_menores",
            "Te quedas con los k logits más pequeños: top-k conserva los k "
            "más probables (los mayores).",
            _probs_variant(top="smallest")),
        KnownMistake(
            "relleno_cero",
            "Rellenas con 0 los logits descartados: tras la softmax, "
            "exp(0) = 1 sigue dándoles probabilidad. Usa `float('-inf')`.",
            _probs_variant(top="zero")),
    ],
    imports=("import torch",),
)
