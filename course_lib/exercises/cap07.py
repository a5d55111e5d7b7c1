"""Ejercicios del capítulo 7, «CLIP y la clasificación zero-shot».

Libro: capítulo 7, sección «Ejercicios». Uso en el cuaderno::

    from course_lib.exercises import cap07 as ej
    ej.perdida_contrastiva.check(perdida_contrastiva)

Las soluciones de referencia son autocontenidas: no usan
``course_lib.clip``.
"""

# Notación: B lote · E dimensión del espacio común · K clases
#           P plantillas por clase

from __future__ import annotations

import torch
import torch.nn.functional as F

from course_lib.exercises import Case, Exercise, KnownMistake

__all__ = ["ensamblar_plantillas", "logits_clip", "perdida_contrastiva"]

_IMPORTS = ("import torch", "import torch.nn.functional as F")


def _randn(g: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=g)


# --- 1. Pérdida contrastiva simétrica -----------------------------------

def _perdida_contrastiva(logits: torch.Tensor) -> torch.Tensor:
    """logits (B, B): fila = imagen, columna = texto; pareja en la diagonal."""
    etiquetas = torch.arange(logits.size(0))   # la pareja de i es i
    imagen_a_texto = F.cross_entropy(logits, etiquetas)    # por filas
    texto_a_imagen = F.cross_entropy(logits.T, etiquetas)  # por columnas
    return (imagen_a_texto + texto_a_imagen) / 2


def _one_direction(logits: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, torch.arange(logits.size(0)))


def _sum_directions(logits: torch.Tensor) -> torch.Tensor:
    labels = torch.arange(logits.size(0))
    return (F.cross_entropy(logits, labels)
            + F.cross_entropy(logits.T, labels))


def _binary(logits: torch.Tensor) -> torch.Tensor:
    target = torch.eye(logits.size(0))
    return F.binary_cross_entropy_with_logits(logits, target)


perdida_contrastiva = Exercise(
    name="perdida_contrastiva",
    title="Pérdida contrastiva simétrica de CLIP",
    reference=_perdida_contrastiva,
    cases=[Case(f"logits de forma ({b}, {b})",
                lambda g, b=b: (3 * _randn(g, b, b),)) for b in (2, 5, 8)],
    imports=_IMPORTS,
    hints=[
        "La pareja correcta de la imagen i es el texto i: las etiquetas son "
        "`torch.arange(B)`. Cada fila es un problema de clasificación entre "
        "B textos (`F.cross_entropy`).",
        "Es simétrica: calcula también la entropía cruzada por columnas "
        "(texto → imagen, con `logits.T`) y promedia las dos.",
    ],
    mistakes=[
        KnownMistake(
            "una_direccion",
            "Solo calculas la dirección imagen → texto (las filas). CLIP "
            "promedia también texto → imagen (las columnas, `logits.T`).",
            _one_direction),
        KnownMistake(
            "suma",
            "Sumas las dos direcciones: CLIP las promedia (divide entre 2).",
            _sum_directions),
        KnownMistake(
            "binaria",
            "Usas una pérdida binaria por pareja: CLIP trata cada fila (y "
            "cada columna) como una clasificación entre B opciones con "
            "softmax, no B² decisiones sí/no independientes.",
            _binary),
    ],
)


# --- 2. Logits de CLIP ---------------------------------------------------

def _logits_clip(imagenes: torch.Tensor, textos: torch.Tensor,
                 escala: float) -> torch.Tensor:
    """imagenes (B, E), textos (B, E) -> logits (B, B) imagen × texto."""
    imagenes = F.normalize(imagenes, dim=-1)   # norma L2 = 1 por fila
    textos = F.normalize(textos, dim=-1)
    return escala * imagenes @ textos.T        # similitud coseno escalada


def _logits_no_norm(imagenes, textos, escala):
    return escala * imagenes @ textos.T


def _logits_wrong_dim(imagenes, textos, escala):
    return escala * (F.normalize(imagenes, dim=0)
                     @ F.normalize(textos, dim=0).T)


def _logits_no_scale(imagenes, textos, escala):
    return F.normalize(imagenes, dim=-1) @ F.normalize(textos, dim=-1).T


def _logits_transposed(imagenes, textos, escala):
    return escala * (F.normalize(textos, dim=-1)
                     @ F.normalize(imagenes, dim=-1).T)


logits_clip = Exercise(
    name="logits_clip",
    title="Similitud coseno escalada",
    reference=_logits_clip,
    cases=[Case(f"B = {b}, E = {e}, escala = {s}",
                lambda g, b=b, e=e, s=s: (3 * _randn(g, b, e),
                                          _randn(g, b, e) + 1, s))
           for b, e, s in ((3, 4, 14.3), (5, 8, 1.0), (4, 16, 100.0))],
    imports=_IMPORTS,
    hints=[
        "Primero lleva cada vector a norma 1 (`F.normalize(x, dim=-1)`): "
        "así el producto escalar es el coseno del ángulo.",
        "La fila i compara la imagen i con todos los textos: "
        "`imagenes @ textos.T`, multiplicado por la escala (1/τ).",
    ],
    mistakes=[
        KnownMistake("sin_normalizar",
                     "No normalizas los vectores: sin norma 1, el producto "
                     "escalar premia los vectores largos, no la dirección.",
                     _logits_no_norm),
        KnownMistake("eje_normalizacion",
                     "Normalizas sobre el eje del lote (`dim=0`): cada "
                     "vector (cada fila) debe tener norma 1, `dim=-1`.",
                     _logits_wrong_dim),
        KnownMistake("sin_escala",
                     "Olvidaste multiplicar por la escala (1/τ): los cosenos "
                     "están en [-1, 1] y el softmax saldría casi uniforme.",
                     _logits_no_scale),
        KnownMistake("traspuesta",
                     "Devuelves textos × imágenes: las filas deben ser las "
                     "imágenes (`imagenes @ textos.T`).",
                     _logits_transposed),
    ],
)


# --- 3. Ensamblado de plantillas (prompt ensembling) ---------------------

def _ensamblar_plantillas(textos: torch.Tensor) -> torch.Tensor:
    """textos (K, P, E): P plantillas por clase -> (K, E) de norma 1."""
    textos = F.normalize(textos, dim=-1)       # cada plantilla, norma 1
    media = textos.mean(dim=1)                 # (K, E) promedio por clase
    return F.normalize(media, dim=-1)          # y otra vez norma 1


def _ensemble_no_renorm(textos):
    return F.normalize(textos, dim=-1).mean(dim=1)


def _ensemble_no_prenorm(textos):
    return F.normalize(textos.mean(dim=1), dim=-1)


def _ensemble_wrong_axis(textos):
    return F.normalize(F.normalize(textos, dim=-1).mean(dim=0), dim=-1)


ensamblar_plantillas = Exercise(
    name="ensamblar_plantillas",
    title="Un vector por clase a partir de varias plantillas",
    reference=_ensamblar_plantillas,
    cases=[Case(f"K = {k} clases, P = {p} plantillas, E = {e}",
                lambda g, k=k, p=p, e=e: (
                    _randn(g, k, p, e) * torch.linspace(0.5, 4, p)[:, None],))
           for k, p, e in ((3, 2, 4), (5, 4, 8), (2, 3, 16))],
    imports=_IMPORTS,
    hints=[
        "Cada texto codificado debe contar lo mismo en la media: "
        "normalízalos antes de promediar sobre las plantillas (eje 1).",
        "La media de vectores unitarios no es unitaria: vuelve a "
        "normalizar el resultado.",
    ],
    mistakes=[
        KnownMistake("sin_renormalizar",
                     "La media de vectores de norma 1 tiene norma menor que "
                     "1: vuelve a normalizar el resultado.",
                     _ensemble_no_renorm),
        KnownMistake("sin_normalizar_antes",
                     "Promedias sin normalizar cada plantilla: las de norma "
                     "grande dominan la media.",
                     _ensemble_no_prenorm),
        KnownMistake("eje",
                     "Promedias sobre el eje de clases (0): hay que promediar"
                     " las plantillas de cada clase (eje 1).",
                     _ensemble_wrong_axis),
    ],
)
