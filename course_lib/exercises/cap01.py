"""Ejercicios del capítulo 1, «Atención desde cero».

Libro: capítulo 1, sección «Ejercicios». Uso en el cuaderno::

    from course_lib.exercises import cap01 as ej
    ej.atencion.check(atencion)

Convención de máscaras del libro: booleanas, True = «puede atender»
(como ``F.scaled_dot_product_attention``), difundibles a (..., Tq, Tk).
Las soluciones de referencia son autocontenidas a propósito: no usan
``course_lib.attention``.
"""

# Notación: B lote · T tokens · C canales · H cabezas · D = C // H
#           Tq consultas · Tk claves · d_k, d_v dimensiones de q/k y de v

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from course_lib.exercises import Case, Exercise, KnownMistake

__all__ = ["atencion", "codificacion_posicional", "dividir_cabezas",
           "mascara_causal"]

_IMPORTS = ("import math", "import torch")


def _randn(g: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=g)


# --- 1. Atención escalada por producto punto ---------------------------

def _atencion(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mascara: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q·Kᵀ / √d_k)·V; devuelve (salida, pesos)."""
    d_k = q.size(-1)
    puntajes = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., Tq, Tk)
    if mascara is not None:
        # True = «puede atender»: bloqueamos el resto con -inf, que la
        # softmax convierte en peso 0.
        puntajes = puntajes.masked_fill(~mascara, float("-inf"))
    pesos = puntajes.softmax(dim=-1)  # cada fila (una consulta) suma 1
    salida = pesos @ v                # (..., Tq, d_v)
    return salida, pesos


def _attention_variant(*, scale: str = "sqrt", dim: int = -1,
                       mask: str = "ok") -> Callable[..., Any]:
    """Construye versiones equivocadas de ``_atencion`` para reconocerlas."""
    def wrong(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              mascara: torch.Tensor | None = None) -> Any:
        d_k = q.size(-1)
        divisor = {"sqrt": math.sqrt(d_k), "none": 1.0, "d_k": d_k}[scale]
        scores = q @ k.transpose(-2, -1) / divisor
        if mascara is not None and mask == "inverted":
            scores = scores.masked_fill(mascara, float("-inf"))
        elif mascara is not None and mask == "zero":
            scores = scores.masked_fill(~mascara, 0.0)
        elif mascara is not None and mask == "ok":
            scores = scores.masked_fill(~mascara, float("-inf"))
        weights = scores.softmax(dim=dim)
        if mascara is not None and mask == "after":
            weights = weights * mascara
        return weights @ v, weights
    return wrong


def _attention_cases() -> list[Case]:
    def causal(t: int) -> torch.Tensor:
        return torch.ones(t, t, dtype=torch.bool).tril()

    def padding(g: torch.Generator) -> tuple[torch.Tensor, ...]:
        q, k, v = (_randn(g, 2, 2, 5, 4), _randn(g, 2, 2, 7, 4),
                   _randn(g, 2, 2, 7, 3))
        mask = torch.ones(2, 1, 1, 7, dtype=torch.bool)  # (B, 1, 1, Tk)
        mask[0, ..., 5:] = False   # el primer ejemplo tiene 2 de relleno
        return q, k, v, mask

    return [
        Case("sin máscara; q, k de forma (2, 5, 4) y v (2, 5, 6)",
             lambda g: (_randn(g, 2, 5, 4), _randn(g, 2, 5, 4),
                        _randn(g, 2, 5, 6))),
        Case("sin máscara, con cabezas; q (2, 3, 4, 8), k (2, 3, 6, 8), "
             "v (2, 3, 6, 5)",
             lambda g: (_randn(g, 2, 3, 4, 8), _randn(g, 2, 3, 6, 8),
                        _randn(g, 2, 3, 6, 5))),
        Case("máscara causal (6, 6); q, k, v de forma (2, 6, 16)",
             lambda g: (_randn(g, 2, 6, 16), _randn(g, 2, 6, 16),
                        _randn(g, 2, 6, 16), causal(6))),
        Case("máscara de relleno (2, 1, 1, 7); q (2, 2, 5, 4), "
             "k (2, 2, 7, 4), v (2, 2, 7, 3)", padding),
        Case("máscara causal (5, 5) con cabezas; q, k, v (1, 2, 5, 8)",
             lambda g: (_randn(g, 1, 2, 5, 8), _randn(g, 1, 2, 5, 8),
                        _randn(g, 1, 2, 5, 8), causal(5))),
    ]


atencion = Exercise(
    name="atencion",
    title="Atención escalada por producto punto",
    reference=_atencion,
    cases=_attention_cases(),
    output_names=("salida", "pesos"),
    imports=_IMPORTS,
    hints=[
        "Los puntajes comparan cada consulta con cada clave: un producto "
        "matricial entre `q` y `k` con sus dos últimos ejes traspuestos "
        "(`transpose(-2, -1)`, que respeta los ejes de lote y cabezas). "
        "No olvides el factor de escala del artículo.",
        "La softmax normaliza sobre las claves (el último eje). La máscara "
        "va antes de la softmax: donde vale False, el puntaje debe ser "
        "`-inf` (mira `masked_fill`).",
    ],
    mistakes=[
        KnownMistake(
            "sin_escala",
            "Parece que olvidaste dividir los puntajes entre √d_k: sin "
            "escala, la softmax se satura cuando d_k crece.",
            _attention_variant(scale="none")),
        KnownMistake(
            "escala_d_k",
            "Parece que divides entre d_k en lugar de entre √d_k.",
            _attention_variant(scale="d_k")),
        KnownMistake(
            "softmax_eje",
            "Parece que aplicas la softmax sobre el eje equivocado: debe "
            "normalizar sobre las claves (`dim=-1`), de modo que cada fila "
            "de `pesos` sume 1.",
            _attention_variant(dim=-2)),
        KnownMistake(
            "mascara_ignorada",
            "Parece que no aplicas la máscara: los casos sin máscara pasan, "
            "pero con máscara los tokens bloqueados siguen recibiendo peso.",
            _attention_variant(mask="ignored")),
        KnownMistake(
            "mascara_invertida",
            "Parece que interpretas la máscara al revés: en este libro True "
            "significa «puede atender», así que hay que bloquear donde vale "
            "False (`~mascara`).",
            _attention_variant(mask="inverted")),
        KnownMistake(
            "relleno_cero",
            "Parece que rellenas los puntajes bloqueados con 0: tras la "
            "softmax, exp(0) = 1 sigue dando peso. Usa `float('-inf')`.",
            _attention_variant(mask="zero")),
        KnownMistake(
            "mascara_tras_softmax",
            "Parece que aplicas la máscara después de la softmax: las filas "
            "de `pesos` ya no suman 1. Enmascara los puntajes antes.",
            _attention_variant(mask="after")),
    ],
)


# --- 2. Máscara causal -------------------------------------------------

def _mascara_causal(T: int) -> torch.Tensor:
    """(T, T) booleana: True en la diagonal y por debajo."""
    # La fila i es la consulta i: puede ver las claves 0..i, no el futuro.
    return torch.tril(torch.ones(T, T, dtype=torch.bool))


def _ones(T: int, dtype: torch.dtype = torch.bool) -> torch.Tensor:
    return torch.ones(T, T, dtype=dtype)


mascara_causal = Exercise(
    name="mascara_causal",
    title="Máscara causal",
    reference=_mascara_causal,
    cases=[Case(f"T = {t}", lambda g, t=t: (t,)) for t in (1, 4, 7)],
    hints=[
        "La consulta de la posición i puede mirar las posiciones 0, 1, …, i "
        "(ella misma incluida), nunca las siguientes. Dibuja la matriz para "
        "T = 3: ¿qué forma tienen los True?",
        "Parte de una matriz de unos booleana, `torch.ones(T, T, "
        "dtype=torch.bool)`, y quédate con un triángulo (`torch.tril` o "
        "`torch.triu`: ¿cuál?).",
    ],
    mistakes=[
        KnownMistake(
            "transpuesta",
            "Tu máscara está traspuesta: las filas son consultas y las "
            "columnas claves, así que los True van en la diagonal y por "
            "debajo (triángulo inferior).",
            lambda T: torch.triu(_ones(T))),
        KnownMistake(
            "sin_diagonal",
            "Excluiste la diagonal: cada token también puede atenderse a sí "
            "mismo, así que la diagonal debe ser True.",
            lambda T: torch.tril(_ones(T), diagonal=-1)),
        KnownMistake(
            "invertida",
            "Tu máscara marca con True lo bloqueado: en este libro True "
            "significa «puede atender» (el pasado y el propio token).",
            lambda T: ~torch.tril(_ones(T))),
        KnownMistake(
            "dtype",
            "Los valores son correctos, pero el tipo no: usa dtype "
            "torch.bool (por ejemplo `torch.ones(T, T, dtype=torch.bool)`),"
            " porque `masked_fill` y `~` necesitan una máscara booleana.",
            lambda T: torch.tril(_ones(T, torch.float32))),
    ],
)


# --- 3. Codificación posicional sinusoidal ------------------------------

def _codificacion_posicional(T: int, d: int) -> torch.Tensor:
    """(T, d): PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos."""
    pos = torch.arange(T, dtype=torch.float32).unsqueeze(1)    # (T, 1)
    dos_i = torch.arange(0, d, 2, dtype=torch.float32)          # (d/2,)
    angulos = pos / 10000 ** (dos_i / d)                        # (T, d/2)
    pe = torch.zeros(T, d)
    pe[:, 0::2] = torch.sin(angulos)  # columnas pares: seno
    pe[:, 1::2] = torch.cos(angulos)  # columnas impares: coseno
    return pe


def _positional_variant(*, first: int = 0, exponent: str = "2i",
                        layout: str = "interleaved") -> Callable[..., Any]:
    """Construye versiones equivocadas de la codificación posicional."""
    def wrong(T: int, d: int) -> torch.Tensor:
        pos = torch.arange(first, first + T, dtype=torch.float32)[:, None]
        two_i = torch.arange(0, d, 2, dtype=torch.float32)
        expo = {"2i": two_i, "i": two_i / 2, "column": two_i}[exponent]
        angles = pos / 10000 ** (expo / d)                      # (T, d/2)
        sin, cos = torch.sin(angles), torch.cos(angles)
        if exponent == "column":   # el coseno usa la columna 2i + 1
            cos = torch.cos(pos / 10000 ** ((two_i + 1) / d))
        if layout == "halves":
            return torch.cat([sin, cos], dim=-1)
        if layout == "swapped":
            sin, cos = cos, sin
        return torch.stack([sin, cos], dim=-1).reshape(T, d)
    return wrong


codificacion_posicional = Exercise(
    name="codificacion_posicional",
    title="Codificación posicional sinusoidal",
    reference=_codificacion_posicional,
    cases=[Case(f"T = {t}, d = {d}", lambda g, t=t, d=d: (t, d))
           for t, d in ((5, 4), (8, 16), (20, 32))],
    hints=[
        "Cada par de columnas (2i, 2i+1) comparte una frecuencia "
        "1 / 10000^(2i/d). Calcula primero una matriz de ángulos "
        "posición × frecuencia de forma (T, d/2) con difusión "
        "(`unsqueeze`), sin bucles.",
        "Las posiciones empiezan en 0. El seno va a las columnas pares y el "
        "coseno a las impares: la indexación con paso, `pe[:, 0::2]` y "
        "`pe[:, 1::2]`, las intercala.",
    ],
    mistakes=[
        KnownMistake(
            "sin_cos_intercambiados",
            "Intercambiaste seno y coseno: el seno va en las columnas pares "
            "(2i) y el coseno en las impares (2i+1).",
            _positional_variant(layout="swapped")),
        KnownMistake(
            "exponente_i",
            "El exponente de 10000 usa i en lugar de 2i: la frecuencia del "
            "par (2i, 2i+1) es 1 / 10000^(2i/d).",
            _positional_variant(exponent="i")),
        KnownMistake(
            "exponente_por_columna",
            "Usaste el índice de cada columna en el exponente: las dos "
            "columnas de un par (2i, 2i+1) comparten la frecuencia "
            "1 / 10000^(2i/d).",
            _positional_variant(exponent="column")),
        KnownMistake(
            "mitades",
            "Pusiste todos los senos en la primera mitad y los cosenos en la "
            "segunda: en el artículo van intercalados (columnas pares seno, "
            "impares coseno).",
            _positional_variant(layout="halves")),
        KnownMistake(
            "posiciones_desde_1",
            "Tus posiciones empiezan en 1: empiezan en 0, así que la primera "
            "fila debe ser [0, 1, 0, 1, …].",
            _positional_variant(first=1)),
    ],
    imports=_IMPORTS,
    atol=1e-4,   # admite la variante exp(-log(10000)·2i/d) en float32
)


# --- 4. Dividir en cabezas ---------------------------------------------

def _dividir_cabezas(x: torch.Tensor, n_cabezas: int) -> torch.Tensor:
    """(B, T, C) -> (B, H, T, D), con D = C // H."""
    B, T, C = x.shape
    x = x.view(B, T, n_cabezas, C // n_cabezas)  # (B, T, H, D)
    return x.transpose(1, 2)                     # (B, H, T, D)


def _heads_view_directly(x: torch.Tensor, n_cabezas: int) -> torch.Tensor:
    B, T, C = x.shape
    return x.view(B, n_cabezas, T, C // n_cabezas)


def _heads_no_transpose(x: torch.Tensor, n_cabezas: int) -> torch.Tensor:
    B, T, C = x.shape
    return x.view(B, T, n_cabezas, C // n_cabezas)


def _heads_interleaved(x: torch.Tensor, n_cabezas: int) -> torch.Tensor:
    B, T, C = x.shape
    return x.view(B, T, C // n_cabezas, n_cabezas).permute(0, 3, 1, 2)


dividir_cabezas = Exercise(
    name="dividir_cabezas",
    title="Dividir los canales en cabezas",
    reference=_dividir_cabezas,
    cases=[
        Case(f"x de forma {shape}, n_cabezas = {h}",
             lambda g, shape=shape, h=h: (_randn(g, *shape), h))
        for shape, h in (((2, 5, 12), 3), ((1, 7, 8), 2), ((3, 4, 6), 2),
                         ((2, 3, 4), 1))
    ],
    hints=[
        "Los canales de cada token se parten en H bloques consecutivos de "
        "D = C // H: primero separa el último eje en (H, D) sin mover los "
        "tokens.",
        "Un `view` solo reinterpreta la memoria en orden: no puede llevar "
        "el eje de cabezas delante del de tokens. Para eso hace falta "
        "intercambiar dos ejes.",
    ],
    mistakes=[
        KnownMistake(
            "view_directo",
            "Parece que hiciste `x.view(B, H, T, D)` directamente: la forma "
            "es correcta, pero mezcla canales de tokens distintos. Separa "
            "primero (B, T, H, D) y luego intercambia los ejes T y H.",
            _heads_view_directly),
        KnownMistake(
            "sin_transponer",
            "Devuelves (B, T, H, D): falta intercambiar los ejes de tokens "
            "y cabezas (`transpose(1, 2)`) para obtener (B, H, T, D).",
            _heads_no_transpose),
        KnownMistake(
            "cabezas_intercaladas",
            "Separaste el último eje como (D, H) en lugar de (H, D): cada "
            "cabeza debe recibir un bloque de D canales consecutivos.",
            _heads_interleaved),
    ],
)
