"""Ejercicios del capítulo 8, «Fusión multimodal».

Libro: capítulo 8, sección «Ejercicios». Uso en el cuaderno::

    from course_lib.exercises import cap08 as ej
    ej.media_enmascarada.check(media_enmascarada)

Convención de máscaras del libro: True = «puede atender». Las soluciones
de referencia son autocontenidas: no usan ``course_lib.fusion``.
"""

# Notación: B lote · T palabras · N parches · C canales

from __future__ import annotations

import math

import torch

from course_lib.exercises import Case, Exercise, KnownMistake

__all__ = ["atencion_cruzada", "compuerta_tanh", "media_enmascarada"]

_IMPORTS = ("import math", "import torch")


def _randn(g: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=g)


# --- 1. Media enmascarada ------------------------------------------------

def _media_enmascarada(x: torch.Tensor,
                       longitudes: torch.Tensor) -> torch.Tensor:
    """x (B, T, C), longitudes (B,) -> (B, C): media de los tokens reales."""
    T = x.size(1)
    reales = torch.arange(T)[None, :] < longitudes[:, None]   # (B, T)
    suma = (x * reales[..., None]).sum(dim=1)                 # (B, C)
    return suma / longitudes[:, None].to(x.dtype)


def _mean_all(x, longitudes):
    return x.mean(dim=1)


def _divide_by_T(x, longitudes):
    keep = torch.arange(x.size(1))[None, :] < longitudes[:, None]
    return (x * keep[..., None]).sum(1) / x.size(1)


def _off_by_one(x, longitudes):
    keep = torch.arange(x.size(1))[None, :] <= longitudes[:, None]
    return (x * keep[..., None]).sum(1) / longitudes[:, None].to(x.dtype)


def _lengths_case(g: torch.Generator, B: int, T: int, C: int):
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    lengths[0] = max(1, T - 2)
    return _randn(g, B, T, C), lengths


media_enmascarada = Exercise(
    name="media_enmascarada",
    title="Media de los tokens reales (sin relleno)",
    reference=_media_enmascarada,
    cases=[Case(f"x de forma ({b}, {t}, {c})",
                lambda g, b=b, t=t, c=c: _lengths_case(g, b, t, c))
           for b, t, c in ((2, 5, 3), (4, 7, 8), (3, 4, 2))],
    imports=_IMPORTS,
    hints=[
        "Construye una máscara (B, T) que valga True en las `longitudes[b]`"
        " primeras posiciones: compara `torch.arange(T)` con las longitudes"
        " (difusión).",
        "Multiplica x por la máscara (con un eje extra para C), suma sobre "
        "T y divide entre la longitud real, no entre T.",
    ],
    mistakes=[
        KnownMistake("incluye_relleno",
                     "Promedias también el relleno: solo cuentan las "
                     "`longitudes[b]` primeras posiciones.", _mean_all),
        KnownMistake("divide_entre_T",
                     "Sumas solo los tokens reales pero divides entre T: "
                     "divide entre la longitud real.", _divide_by_T),
        KnownMistake("uno_de_mas",
                     "Tu máscara incluye una posición de más (`<=` en vez de "
                     "`<`): las posiciones reales son 0 … longitud − 1.",
                     _off_by_one),
    ],
)


# --- 2. Atención cruzada de una cabeza ------------------------------------

def _atencion_cruzada(texto: torch.Tensor, imagen: torch.Tensor,
                      W_q: torch.Tensor, W_k: torch.Tensor,
                      W_v: torch.Tensor) -> torch.Tensor:
    """texto (B, T, C) consulta a imagen (B, N, C); W_*: (C, D).
    Devuelve (B, T, D)."""
    q = texto @ W_q                    # (B, T, D): las palabras preguntan
    k = imagen @ W_k                   # (B, N, D): los parches responden
    v = imagen @ W_v                   # (B, N, D)
    puntajes = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, T, N)
    return puntajes.softmax(dim=-1) @ v


def _cross_swapped(texto, imagen, W_q, W_k, W_v):
    return _atencion_cruzada(imagen, texto, W_q, W_k, W_v)


def _cross_no_scale(texto, imagen, W_q, W_k, W_v):
    q, k, v = texto @ W_q, imagen @ W_k, imagen @ W_v
    return (q @ k.transpose(-2, -1)).softmax(-1) @ v


def _cross_axis(texto, imagen, W_q, W_k, W_v):
    q, k, v = texto @ W_q, imagen @ W_k, imagen @ W_v
    w = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-2)
    return w @ v


def _cross_case(g: torch.Generator, B: int, T: int, N: int, C: int, D: int):
    return (_randn(g, B, T, C), _randn(g, B, N, C),
            _randn(g, C, D) / math.sqrt(C), _randn(g, C, D) / math.sqrt(C),
            _randn(g, C, D) / math.sqrt(C))


atencion_cruzada = Exercise(
    name="atencion_cruzada",
    title="Atención cruzada: las palabras consultan los parches",
    reference=_atencion_cruzada,
    cases=[Case(f"B={b}, T={t} palabras, N={n} parches, C={c}, D={d}",
                lambda g, b=b, t=t, n=n, c=c, d=d: _cross_case(
                    g, b, t, n, c, d))
           for b, t, n, c, d in ((2, 3, 5, 8, 4), (1, 6, 4, 8, 8),
                                 (3, 4, 9, 6, 6))],
    imports=_IMPORTS,
    hints=[
        "Las consultas salen del texto (`texto @ W_q`); las claves y los "
        "valores, de la imagen. La salida tiene una fila por palabra.",
        "Puntajes (B, T, N) divididos entre √D; softmax sobre los parches "
        "(el último eje); multiplica por los valores.",
    ],
    mistakes=[
        KnownMistake("papeles_cambiados",
                     "Cambiaste los papeles: aquí el texto pregunta "
                     "(consultas) y la imagen responde (claves y valores).",
                     _cross_swapped),
        KnownMistake("sin_escala",
                     "Falta dividir los puntajes entre √D.",
                     _cross_no_scale),
        KnownMistake("softmax_eje",
                     "La softmax va sobre los parches (último eje): cada "
                     "palabra reparte su atención entre los N parches.",
                     _cross_axis),
    ],
)


# --- 3. Compuerta tanh (Flamingo) -------------------------------------------

def _compuerta_tanh(x: torch.Tensor, atendido: torch.Tensor,
                    alfa: torch.Tensor) -> torch.Tensor:
    """x + tanh(α)·atendido: con α = 0 la capa nueva no cambia nada."""
    return x + torch.tanh(alfa) * atendido


compuerta_tanh = Exercise(
    name="compuerta_tanh",
    title="Conexión residual con compuerta tanh",
    reference=_compuerta_tanh,
    cases=[Case(f"α = {a}", lambda g, a=a: (_randn(g, 2, 3, 4),
                                            _randn(g, 2, 3, 4),
                                            torch.tensor([a])))
           for a in (0.0, 0.5, -2.0)],
    imports=_IMPORTS,
    hints=[
        "La salida es la entrada más una corrección: la residual se "
        "conserva siempre.",
        "La corrección se multiplica por tanh(α), que vale 0 cuando α = 0.",
    ],
    mistakes=[
        KnownMistake("sin_residual",
                     "Falta la conexión residual: sin `x + …`, con α = 0 la "
                     "capa borraría la entrada en lugar de dejarla intacta.",
                     lambda x, a, alfa: torch.tanh(alfa) * a),
        KnownMistake("sin_tanh",
                     "Multiplicas por α directamente: la compuerta es "
                     "tanh(α), acotada en (−1, 1).",
                     lambda x, a, alfa: x + alfa * a),
        KnownMistake("sigmoide",
                     "Usas una sigmoide: σ(0) = 0,5, así que al inicio la "
                     "capa ya cambia la entrada. Con tanh(0) = 0 empieza "
                     "como la identidad.",
                     lambda x, a, alfa: x + torch.sigmoid(alfa) * a),
    ],
)
