"""Figuras grandes: imágenes de una sola figura que llenan el cuadro, para
aprender de muchas imágenes sin etiqueta y de pocas con ella.

Libro: capítulos 5 (distancia de atención) y 6 (MAE).

Cada imagen (3, S, S) es **una** figura grande (círculo, cuadrado,
triángulo, estrella o cruz; el vocabulario de ``shapes``) con todo lo que
no es la forma al azar: tamaño (radio del 20 al 36 % del lado), centro
(hasta un 15 % del lado fuera del centro), color (los 6 de ``shapes`` con
ruido), fondo (un color oscuro distinto en cada imagen) y ruido de píxel.
La etiqueta es la forma. Así, los píxeles crudos no bastan: la misma
forma cae en sitios, tamaños y colores distintos, y una regresión
logística sobre los píxeles tiene que aprender cada combinación por
separado. Un modelo que ha aprendido «qué es un borde recto, una punta o
una curva» con imágenes sin etiqueta necesita muchas menos.

Las imágenes se generan con una semilla: no hay descarga y hay tantas
como se quiera (el MAE del curso ve decenas de miles sin etiqueta).
"""

# Notación: n imágenes · S lado en píxeles

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from course_lib.shapes import COLOURS, SHAPE_NAMES, silhouette
from course_lib.utils import check_int

# Media y desviación típica de los píxeles (todas las imágenes y canales):
# los modelos reciben (x − media) / desviación.
BIG_SHAPES_MEAN = 0.24
BIG_SHAPES_STD = 0.22

RADIUS = (0.20, 0.36)      # radio, en fracción del lado
CENTRE_JITTER = 0.15       # desplazamiento máximo del centro (fracción)
BACKGROUND_MAX = 0.35      # cada canal del fondo, uniforme en [0, 0,35]
COLOUR_NOISE = 0.08
PIXEL_NOISE = 0.03
_SUPERSAMPLE = 4           # se dibuja a 4× y se reduce (bordes suaves)


@dataclass(frozen=True)
class BigShapes:
    """Imágenes (n, 3, S, S) en [0, 1] y etiquetas (n,): el índice de la
    forma en ``SHAPE_NAMES``."""

    images: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return len(self.labels)


def render_big_shape(shape: str, rng: np.random.Generator, *,
                     image_size: int = 32) -> np.ndarray:
    """Una imagen (3, S, S) float32 en [0, 1] con ``shape`` y todo lo
    demás (tamaño, sitio, color, fondo, ruido) sorteado con ``rng``."""
    if shape not in SHAPE_NAMES:
        raise ValueError(f"forma desconocida {shape!r}; se esperaba una de "
                         f"{SHAPE_NAMES}")
    check_int(image_size, "image_size", minimum=8)
    S = image_size
    r = rng.uniform(*RADIUS) * S
    cx, cy = S / 2 + rng.uniform(-CENTRE_JITTER, CENTRE_JITTER, 2) * S
    k = _SUPERSAMPLE
    mask = silhouette(shape, cx * k, cy * k, r * k, side=S * k,
                      image_size=S)[None]                      # (1, S, S)
    colour = list(COLOURS.values())[rng.integers(len(COLOURS))][0]
    rgb = np.clip(np.array(colour) + rng.normal(0, COLOUR_NOISE, 3), 0, 1)
    background = rng.uniform(0, BACKGROUND_MAX, 3)
    x = (background[:, None, None] * (1 - mask)
         + rgb[:, None, None] * mask)                          # (3, S, S)
    x = x + rng.normal(0, PIXEL_NOISE, x.shape)
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def make_big_shapes(n: int, *, seed: int, image_size: int = 32) -> BigShapes:
    """``n`` imágenes con formas equilibradas (la misma cantidad de cada
    una, en orden barajado), reproducibles con ``seed``.

    El libro usa semillas distintas para cada papel: las imágenes sin
    etiqueta del preentrenamiento, las etiquetadas y las de prueba nunca
    coinciden.
    """
    check_int(n, "n")
    check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(SHAPE_NAMES))
    images = np.stack([render_big_shape(SHAPE_NAMES[k], rng,
                                        image_size=image_size)
                       for k in labels])                       # (n, 3, S, S)
    return BigShapes(torch.from_numpy(images), torch.from_numpy(labels))


def normalize(images: Tensor) -> Tensor:
    """(x − media) / desviación, con las constantes del conjunto."""
    return (images - BIG_SHAPES_MEAN) / BIG_SHAPES_STD


def denormalize(images: Tensor) -> Tensor:
    """Deshace ``normalize`` (para dibujar)."""
    return images * BIG_SHAPES_STD + BIG_SHAPES_MEAN
