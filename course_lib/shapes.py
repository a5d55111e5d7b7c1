"""Figuras de colores con descripciones en castellano: un conjunto de datos
multimodal sintético, sembrado y sin descargas.

Libro: capítulos 7 (CLIP) y 8 (fusión multimodal).

Cada imagen (3, S, S) tiene de 1 a 3 figuras (círculo, cuadrado,
triángulo, estrella, cruz) de 6 colores y 2 tamaños, en una rejilla de
3 × 3 posiciones. Las descripciones concuerdan en género y número («un
triángulo rojo pequeño», «una estrella roja pequeña», «un gran círculo»).
Algunas combinaciones forma-color (``HELD_OUT``) no aparecen nunca en el
entrenamiento de CLIP: sirven para medir si el modelo compone o memoriza.

Pasa de 400 líneas a propósito: es un solo mundo sintético, y sus
imágenes, sus frases, sus preguntas y su vocabulario (``WordTokenizer``)
tienen que cambiar juntos (una forma o un color nuevos tocan los cuatro).
"""

# Notación: B lote · T palabras · S lado de la imagen en píxeles

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor

from course_lib.utils import check_int, check_tensor
from course_lib.utils import describe as _received

# forma -> (género, plural)
SHAPES: dict[str, tuple[str, str]] = {
    "círculo": ("m", "círculos"), "cuadrado": ("m", "cuadrados"),
    "triángulo": ("m", "triángulos"), "estrella": ("f", "estrellas"),
    "cruz": ("f", "cruces"),
}
# color (forma masculina) -> (RGB, femenino)
COLOURS: dict[str, tuple[tuple[float, float, float], str]] = {
    "rojo": ((0.90, 0.12, 0.12), "roja"),
    "verde": ((0.15, 0.80, 0.20), "verde"),
    "azul": ((0.20, 0.40, 1.00), "azul"),
    "amarillo": ((0.95, 0.90, 0.10), "amarilla"),
    "morado": ((0.65, 0.25, 0.85), "morada"),
    "naranja": ((1.00, 0.55, 0.05), "naranja"),
}
SIZES = {"pequeño": (0.55, "pequeña"), "grande": (1.0, "grande")}
POSITIONS = (
    "arriba a la izquierda", "arriba", "arriba a la derecha",
    "a la izquierda", "en el centro", "a la derecha",
    "abajo a la izquierda", "abajo", "abajo a la derecha",
)
SHAPE_NAMES, COLOUR_NAMES = tuple(SHAPES), tuple(COLOURS)
# Una combinación por forma, con colores distintos: nunca en entrenamiento.
HELD_OUT = frozenset({("triángulo", "verde"), ("círculo", "amarillo"),
                      ("cuadrado", "morado"), ("estrella", "azul"),
                      ("cruz", "rojo")})
ANSWERS = ("no", "sí")
# Las relaciones que preguntan las preguntas de relación.
RELATIONS = ("a la izquierda", "a la derecha", "encima", "debajo")
_BACKGROUND = (0.05, 0.05, 0.07)
# Luminancia (ITU-R BT.601) para pasar una imagen a gris.
_LUMINANCE = torch.tensor([0.299, 0.587, 0.114])
# Media y desviación típica por canal de los píxeles que dibuja ``render``
# (fondo casi negro: valores pequeños). CLIP (cap. 7) y la fusión (cap. 8)
# normalizan con ellas, como CLIP con las de su corpus; sin normalizar, la
# proyección de los parches recibe entradas de escala ~0,1 y el ViT tarda
# mucho más en ver la forma.
SHAPES_MEAN = (0.069, 0.065, 0.080)
SHAPES_STD = (0.117, 0.092, 0.085)


@dataclass(frozen=True)
class Figure:
    """Una figura: forma, color, tamaño y celda (fila, columna) 0..2."""

    shape: str
    colour: str
    size: str
    row: int
    col: int

    def __post_init__(self) -> None:
        _feminine(self.shape)
        colour_word(self.colour, feminine=False)
        if self.size not in SIZES:
            raise ValueError(f"tamaño desconocido {self.size!r}; se esperaba "
                             f"uno de {tuple(SIZES)}")
        for name in ("row", "col"):
            if not 0 <= check_int(getattr(self, name), name, minimum=0) < 3:
                raise ValueError(f"{name} debe estar entre 0 y 2 (rejilla "
                                 f"3 × 3); se recibió {getattr(self, name)}")

    @property
    def position(self) -> str:
        return POSITIONS[3 * self.row + self.col]


# --- concordancia ------------------------------------------------------

def _feminine(shape: str) -> bool:
    if shape not in SHAPES:
        raise ValueError(f"forma desconocida {shape!r}; se esperaba una de "
                         f"{SHAPE_NAMES}")
    return SHAPES[shape][0] == "f"


def colour_word(colour: str, *, feminine: bool) -> str:
    """«rojo» → «roja» si el sustantivo es femenino."""
    if colour not in COLOURS:
        raise ValueError(f"color desconocido {colour!r}; se esperaba uno de "
                         f"{COLOUR_NAMES}")
    return COLOURS[colour][1] if feminine else colour


def plural(word: str) -> str:
    """Plural de un sustantivo o adjetivo de este vocabulario: «rojo» →
    «rojos», «azul» → «azules», «cruz» → «cruces»."""
    if word.endswith("z"):
        return word[:-1] + "ces"
    return word + ("s" if word[-1] in "aeiouáéó" else "es")


_NUMBERS = {2: "dos", 3: "tres"}


def noun_phrase(shape: str | None, colour: str | None = None,
                size: str | None = None, *, definite: bool = False,
                size_first: bool = False, count: int = 1) -> str:
    """Sintagma nominal concordado: «un triángulo verde», «la estrella
    roja», «una gran cruz azul», «dos estrellas rojas» (``count=2``). Sin
    forma, el sustantivo es «figura»."""
    fem = True if shape is None else _feminine(shape)
    if count != 1:
        if count not in _NUMBERS or definite or size_first:
            raise ValueError("count admite 1, 2 o 3, sin artículo definido"
                             f" ni tamaño antepuesto; se recibió {count!r}")
        words = [_NUMBERS[count], SHAPES[shape][1] if shape else "figuras"]
        if colour is not None:
            words.append(plural(colour_word(colour, feminine=fem)))
        if size is not None:
            words.append(plural(noun_phrase("cruz" if fem else "cuadrado",
                                            size=size).split()[-1]))
        return " ".join(words)
    article = ("la" if fem else "el") if definite else (
        "una" if fem else "un")
    words = [article]
    size_word = None
    if size is not None:
        if size not in SIZES:
            raise ValueError(f"tamaño desconocido {size!r}; se esperaba "
                             f"uno de {tuple(SIZES)}")
        size_word = SIZES[size][1] if fem else size
    if size_word and size_first:   # antepuesto: «gran», «pequeña»
        words.append("gran" if size == "grande" else size_word)
    words.append(shape or "figura")
    if colour is not None:
        words.append(colour_word(colour, feminine=fem))
    if size_word and not size_first:
        words.append(size_word)
    return " ".join(words)


def caption(fig: Figure, rng: np.random.Generator) -> str:
    """Una descripción de ``fig`` elegida entre varias plantillas; a veces
    parcial (sin forma, sin color o sin tamaño), como el texto alternativo
    de la web."""
    pos = fig.position
    full = noun_phrase(fig.shape, fig.colour, fig.size)
    options = [
        f"{full} {pos}", f"hay {full} {pos}", f"{pos} hay {full}",
        f"{noun_phrase(fig.shape, fig.colour, fig.size, size_first=True)}"
        f" {pos}",
        noun_phrase(fig.shape, fig.colour),
        f"{noun_phrase(None, fig.colour, fig.size)} {pos}",
        f"{noun_phrase(fig.shape, None, fig.size)} {pos}",
        f"hay {noun_phrase(fig.shape, fig.colour)}",
    ]
    weights = np.array([3, 2, 2, 1, 1, 1, 1, 1], dtype=float)
    return options[rng.choice(len(options), p=weights / weights.sum())]


def full_caption(fig: Figure) -> str:
    """La descripción completa y canónica: «un triángulo rojo pequeño
    arriba a la izquierda» (la que aprende el subtitulador del cap. 8)."""
    return f"{noun_phrase(fig.shape, fig.colour, fig.size)} {fig.position}"


def describe(figures: list[Figure]) -> str:
    """Describe una imagen de varias figuras; las iguales (forma y color)
    se agrupan en plural: «dos círculos rojos y una cruz azul arriba»."""
    _check_figures(figures)
    groups: dict[tuple[str, str], list[Figure]] = {}
    for f in figures:
        groups.setdefault((f.shape, f.colour), []).append(f)
    parts = []
    for (shape, colour), figs in groups.items():
        if len(figs) == 1:
            parts.append(f"{noun_phrase(shape, colour)} {figs[0].position}")
        else:
            parts.append(noun_phrase(shape, colour, count=len(figs)))
    if not parts:
        raise ValueError("se necesita al menos una figura")
    return parts[0] if len(parts) == 1 else (
        ", ".join(parts[:-1]) + " y " + parts[-1])


# --- dibujo ------------------------------------------------------------

def _polygon(shape: str, cx: float, cy: float, r: float) -> list:
    if shape == "triángulo":
        angles = np.pi / 2 + 2 * np.pi * np.arange(3) / 3
        radii = np.full(3, 1.15 * r)
    elif shape == "estrella":
        angles = np.pi / 2 + np.pi * np.arange(10) / 5
        radii = np.where(np.arange(10) % 2 == 0, 1.2 * r, 0.5 * r)
    else:  # cruz: 12 vértices de un signo «+»
        a, b = r, 0.38 * r
        pts = [(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b),
               (b, a), (-b, a), (-b, b), (-a, b), (-a, -b), (-b, -b)]
        return [(cx + x, cy + y) for x, y in pts]
    # el eje y de la imagen apunta hacia abajo: restamos el seno
    return [(cx + q * np.cos(t), cy - q * np.sin(t))
            for q, t in zip(radii, angles, strict=True)]


@lru_cache(maxsize=1024)
def _mask(shape: str, size: str, row: int, col: int,
          image_size: int) -> np.ndarray:
    """Silueta (S, S) en [0, 1] de una figura, dibujada a 4× y reducida
    (antialiasing). Se guarda en caché: hay solo 5 · 2 · 9 por tamaño."""
    side = image_size * 4
    cell = side / 3
    mask = silhouette(shape, (col + 0.5) * cell, (row + 0.5) * cell,
                      SIZES[size][0] * 0.42 * cell, side=side,
                      image_size=image_size)
    mask.setflags(write=False)
    return mask


def silhouette(shape: str, cx: float, cy: float, r: float, *, side: int,
               image_size: int) -> np.ndarray:
    """Silueta (S, S) float32 en [0, 1] de ``shape`` con centro (cx, cy) y
    radio r, dibujada en un lienzo de ``side`` píxeles (cx, cy y r en
    píxeles de ese lienzo) y reducida a ``image_size`` promediando
    (antialiasing). El círculo tiene radio r; el cuadrado, medio lado
    0,85·r; los polígonos, los vértices de ``_polygon``."""
    canvas = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(canvas)
    if shape == "círculo":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    elif shape == "cuadrado":
        s = 0.85 * r
        draw.rectangle([cx - s, cy - s, cx + s, cy + s], fill=255)
    else:
        draw.polygon(_polygon(shape, cx, cy, r), fill=255)
    small = canvas.resize((image_size, image_size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def _shift(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Desplaza la silueta ``dy``, ``dx`` píxeles rellenando con ceros."""
    out = np.zeros_like(mask)
    S = mask.shape[0]
    out[max(dy, 0):S + min(dy, 0), max(dx, 0):S + min(dx, 0)] = mask[
        max(-dy, 0):S + min(-dy, 0), max(-dx, 0):S + min(-dx, 0)]
    return out


def render(figures: list[Figure], *, image_size: int = 32,
           rng: np.random.Generator | None = None,
           pixel_noise: float = 0.02) -> np.ndarray:
    """Dibuja las figuras sobre fondo oscuro: (3, S, S) float32 en [0, 1].

    ``rng`` añade un leve ruido de color, un desplazamiento de ±1 píxel
    por figura y ruido de píxel. Las figuras posteriores tapan a las
    anteriores.
    """
    _check_figures(figures)
    _check_n(1, image_size)
    if pixel_noise < 0:
        raise ValueError(f"pixel_noise debe ser >= 0; vale {pixel_noise}")
    rng = rng or np.random.default_rng(0)
    x = np.empty((3, image_size, image_size), dtype=np.float32)
    x[:] = np.array(_BACKGROUND, dtype=np.float32)[:, None, None]
    for f in figures:
        rgb = np.clip(np.array(COLOURS[f.colour][0])
                      + rng.normal(0, 0.04, 3), 0, 1).astype(np.float32)
        dy, dx = (int(d) for d in rng.integers(-1, 2, 2))
        m = _shift(_mask(f.shape, f.size, f.row, f.col, image_size), dy, dx)
        x = x * (1 - m) + m * rgb[:, None, None]  # (3, S, S)
    if pixel_noise:
        x = x + rng.normal(0, pixel_noise, x.shape).astype(np.float32)
    return np.clip(x, 0.0, 1.0)


def _stack_with_noise(images: list[np.ndarray], rng: np.random.Generator,
                      pixel_noise: float = 0.02) -> Tensor:
    """Apila (n, 3, S, S) y añade el ruido de píxel de una vez."""
    x = np.stack(images)
    x += rng.normal(0, pixel_noise, x.shape).astype(np.float32)
    return torch.from_numpy(np.clip(x, 0.0, 1.0))


def _random_figure(rng: np.random.Generator, cell: int,
                   combos: list[tuple[str, str]]) -> Figure:
    shape, colour = combos[rng.integers(len(combos))]
    size = ("pequeño", "grande")[rng.integers(2)]
    return Figure(shape, colour, size, cell // 3, cell % 3)


def _check_figures(figures: object) -> None:
    if not isinstance(figures, (list, tuple)) or not all(
            isinstance(f, Figure) for f in figures):
        raise TypeError("figures debe ser una lista de Figure; se "
                        f"recibió {_received(figures)}")


def _check_n(n: int, image_size: int) -> None:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n debe ser un entero >= 1; se recibió {n!r}")
    if not isinstance(image_size, int) or image_size < 12:
        raise ValueError("image_size debe ser un entero >= 12; se recibió "
                         f"{image_size!r}")


@dataclass(frozen=True)
class CaptionData:
    """Imágenes con una figura y su descripción. ``images`` (n, 3, S, S);
    ``shape``, ``colour``, ``size``, ``position``: (n,) índices en
    ``SHAPE_NAMES``, ``COLOUR_NAMES``, ``SIZES`` y ``POSITIONS``;
    ``grey``: (n,) booleano, las imágenes en gris (``colour`` es el color
    con el que se dibujó la figura; la descripción no lo dice)."""

    images: Tensor
    captions: list[str]
    shape: Tensor
    colour: Tensor
    size: Tensor
    position: Tensor
    figures: list[Figure]
    grey: Tensor


def make_caption_data(n: int, *, seed: int = 0, image_size: int = 32,
                      held_out: str = "exclude",
                      greyscale: float = 0.0) -> CaptionData:
    """``n`` imágenes de una figura. ``held_out``: «exclude» (nunca las
    combinaciones de ``HELD_OUT``, para entrenar), «only» (solo ellas, para
    evaluar la composición) o «include» (todas).

    ``greyscale``: la fracción de imágenes (al azar) que se pasan a gris
    (la luminancia en los tres canales), como las fotos en blanco y negro
    de la web, con una descripción que no nombra el color («un triángulo
    pequeño arriba»). Se sortean con su propio generador: las imágenes y
    las demás descripciones son las mismas que con ``greyscale=0``.
    """
    _check_n(n, image_size)
    if (isinstance(greyscale, bool) or not isinstance(greyscale, (int, float))
            or not 0.0 <= greyscale <= 1.0):
        raise ValueError("greyscale es la fracción de imágenes en gris: un "
                         f"número entre 0 y 1; se recibió {greyscale!r}")
    all_combos = [(s, c) for s in SHAPE_NAMES for c in COLOUR_NAMES]
    if held_out == "exclude":
        combos = [sc for sc in all_combos if sc not in HELD_OUT]
    elif held_out == "only":
        combos = sorted(HELD_OUT)
    elif held_out == "include":
        combos = all_combos
    else:
        raise ValueError("held_out debe ser 'exclude', 'only' o 'include';"
                         f" se recibió {held_out!r}")
    rng = np.random.default_rng(seed)
    images, captions, labels, figures = [], [], [], []
    for _ in range(n):
        f = _random_figure(rng, int(rng.integers(9)), combos)
        figures.append(f)
        images.append(render([f], image_size=image_size, rng=rng,
                             pixel_noise=0.0))
        captions.append(caption(f, rng))
        labels.append((SHAPE_NAMES.index(f.shape),
                       COLOUR_NAMES.index(f.colour), tuple(SIZES).index(
                           f.size), 3 * f.row + f.col))
    lab = torch.tensor(labels)  # (n, 4)
    x = _stack_with_noise(images, rng)                        # (n, 3, S, S)
    grey = torch.from_numpy(
        np.random.default_rng([seed, 1]).random(n) < greyscale)   # (n,)
    for i in grey.nonzero().flatten().tolist():
        x[i] = (_LUMINANCE @ x[i].flatten(1)).view(1, *x.shape[2:])
        f = figures[i]
        captions[i] = f"{noun_phrase(f.shape, None, f.size)} {f.position}"
    return CaptionData(x, captions, lab[:, 0], lab[:, 1], lab[:, 2],
                       lab[:, 3], figures, grey)


@dataclass(frozen=True)
class BindingData:
    """Escenas de dos figuras y tres descripciones de cada una (capítulo 7,
    ¿liga CLIP los atributos?). ``images`` (n, 3, S, S); ``captions``, la
    correcta («un círculo rojo y una cruz azul»); ``swapped``, los mismos
    colores cambiados de figura («un círculo azul y una cruz roja»);
    ``absent``, un color cambiado por otro que no está en la imagen."""

    images: Tensor
    captions: list[str]
    swapped: list[str]
    absent: list[str]
    figures: list[tuple[Figure, Figure]]


def make_binding_data(n: int, *, seed: int = 0,
                      image_size: int = 32) -> BindingData:
    """``n`` escenas con dos figuras de forma y color distintos, en celdas
    distintas. Ni las dos combinaciones de la imagen ni las de la frase
    con los colores cambiados están en ``HELD_OUT``: las tres frases usan
    combinaciones que un CLIP entrenado con ``make_caption_data`` ha
    visto. Solo difieren en qué color va con qué forma."""
    _check_n(n, image_size)
    rng = np.random.default_rng(seed)
    images, captions, swapped, absent, figures = [], [], [], [], []
    while len(images) < n:
        (s1, s2), (c1, c2) = (rng.choice(SHAPE_NAMES, 2, replace=False),
                              rng.choice(COLOUR_NAMES, 2, replace=False))
        combos = {(s1, c1), (s2, c2), (s1, c2), (s2, c1)}
        if combos & HELD_OUT:
            continue
        other = str(rng.choice([c for c in COLOUR_NAMES
                                if c not in (c1, c2)
                                and (s1, c) not in HELD_OUT]))
        cells = _cells(rng, 2)
        pair = tuple(Figure(str(s), str(c), _size(rng), cell // 3, cell % 3)
                     for s, c, cell in ((s1, c1, cells[0]),
                                        (s2, c2, cells[1])))
        figures.append(pair)
        images.append(render(list(pair), image_size=image_size, rng=rng,
                             pixel_noise=0.0))
        captions.append(f"{noun_phrase(s1, c1)} y {noun_phrase(s2, c2)}")
        swapped.append(f"{noun_phrase(s1, c2)} y {noun_phrase(s2, c1)}")
        absent.append(f"{noun_phrase(s1, other)} y {noun_phrase(s2, c2)}")
    return BindingData(_stack_with_noise(images, rng), captions, swapped,
                       absent, figures)


# --- preguntas que necesitan las dos modalidades (capítulo 8) -----------

QUESTION_KINDS = ("existencia", "color", "posición", "relación")
# Posición absoluta de una figura: palabra -> (eje, índice) en la rejilla
# 3 × 3 (eje 0 = fila, 1 = columna). «¿el cuadrado está arriba?» es «sí»
# si el cuadrado está en la fila 0.
_PLACES = {"arriba": (0, 0), "abajo": (0, 2), "a la izquierda": (1, 0),
           "a la derecha": (1, 2)}


def _cells(rng: np.random.Generator, n: int) -> list[int]:
    return [int(c) for c in rng.permutation(9)[:n]]


def _size(rng: np.random.Generator) -> str:
    return ("pequeño", "grande")[rng.integers(2)]


def _pick(rng: np.random.Generator, options: list) -> object:
    return options[rng.integers(len(options))]


def _existence(rng: np.random.Generator, yes: bool) -> tuple[list, str]:
    shape, colour = _pick(rng, SHAPE_NAMES), _pick(rng, COLOUR_NAMES)
    cells = _cells(rng, int(rng.integers(1, 4)))
    if yes:
        first = (shape, colour)
    elif rng.random() < 0.5:   # casi: la misma forma de otro color
        first = (shape, _pick(rng, [c for c in COLOUR_NAMES if c != colour]))
    else:                      # casi: el mismo color en otra forma
        first = (_pick(rng, [s for s in SHAPE_NAMES if s != shape]), colour)
    others = [(s, c) for s in SHAPE_NAMES for c in COLOUR_NAMES
              if (s, c) != (shape, colour)]
    figs = [Figure(*first, _size(rng), cells[0] // 3, cells[0] % 3)]
    figs += [_random_figure(rng, c, others) for c in cells[1:]]
    return figs, f"¿hay {noun_phrase(shape, colour)}?"


def _colour(rng: np.random.Generator, yes: bool) -> tuple[list, str]:
    shape, colour = _pick(rng, SHAPE_NAMES), _pick(rng, COLOUR_NAMES)
    cells = _cells(rng, int(rng.integers(1, 4)))
    actual = colour if yes else _pick(
        rng, [c for c in COLOUR_NAMES if c != colour])
    figs = [Figure(shape, actual, _size(rng), cells[0] // 3, cells[0] % 3)]
    others = [(s, c) for s in SHAPE_NAMES if s != shape for c in COLOUR_NAMES]
    figs += [_random_figure(rng, c, others) for c in cells[1:]]
    word = colour_word(colour, feminine=_feminine(shape))
    return figs, f"¿{noun_phrase(shape, definite=True)} es {word}?"


def _position(rng: np.random.Generator, yes: bool) -> tuple[list, str]:
    shape, place = _pick(rng, SHAPE_NAMES), _pick(rng, list(_PLACES))
    axis, index = _PLACES[place]
    n = int(rng.integers(1, 4))
    while True:         # la figura nombrada, donde la respuesta lo pida
        cells = _cells(rng, n)
        if (divmod(cells[0], 3)[axis] == index) == yes:
            break
    figs = [Figure(shape, _pick(rng, COLOUR_NAMES), _size(rng),
                   *divmod(cells[0], 3))]
    others = [(s, c) for s in SHAPE_NAMES if s != shape for c in COLOUR_NAMES]
    figs += [_random_figure(rng, c, others) for c in cells[1:]]
    return figs, f"¿{noun_phrase(shape, definite=True)} está {place}?"


def relation_question(subject: str, relation: str, reference: str) -> str:
    """La pregunta de relación entre dos formas, concordada: «¿el cuadrado
    está a la izquierda de la cruz?», «¿la estrella está encima del
    círculo?» (``relation``, una de ``RELATIONS``)."""
    for name, shape in (("subject", subject), ("reference", reference)):
        if shape not in SHAPE_NAMES:
            raise ValueError(f"{name} debe ser una forma de {SHAPE_NAMES};"
                             f" se recibió {shape!r}")
    if relation not in RELATIONS:
        raise ValueError(f"relación desconocida {relation!r}; se esperaba "
                         f"una de {RELATIONS}")
    of = ("de " + noun_phrase(reference, definite=True)).replace("de el ",
                                                                  "del ")
    return f"¿{noun_phrase(subject, definite=True)} está {relation} {of}?"


def _relation(rng: np.random.Generator, yes: bool) -> tuple[list, str]:
    a, b, c = (str(s) for s in rng.permutation(SHAPE_NAMES)[:3])
    rel = _pick(rng, RELATIONS)
    axis = 1 if rel in RELATIONS[:2] else 0   # columna o fila
    while True:
        cells = _cells(rng, 3)
        ca, cb = divmod(cells[0], 3), divmod(cells[1], 3)
        if ca[axis] != cb[axis]:
            break
    before = ca[axis] < cb[axis]     # a está a la izquierda / encima de b
    truth = before if rel in ("a la izquierda", "encima") else not before
    if truth != yes:
        ca, cb = cb, ca
    colours = rng.choice(COLOUR_NAMES, 3)
    figs = [Figure(a, str(colours[0]), _size(rng), *ca),
            Figure(b, str(colours[1]), _size(rng), *cb)]
    if rng.random() < 0.5:           # una tercera figura que distrae
        figs.append(Figure(c, str(colours[2]), _size(rng),
                           cells[2] // 3, cells[2] % 3))
    return figs, relation_question(a, rel, b)


@dataclass(frozen=True)
class QAData:
    """Pares imagen-pregunta con respuesta sí/no. ``images`` (n, 3, S, S);
    ``answers`` (n,) con 1 = «sí»; ``kinds`` el tipo de cada pregunta."""

    images: Tensor
    questions: list[str]
    answers: Tensor
    kinds: list[str]
    figures: list[tuple[Figure, ...]]


def make_qa_data(n: int, *, seed: int = 0, image_size: int = 32,
                 kinds: tuple[str, ...] = QUESTION_KINDS) -> QAData:
    """``n`` preguntas de sí o no sobre imágenes de 1 a 3 figuras.

    La respuesta se sortea primero (50 % «sí») y la imagen se construye
    después para que la cumpla: así la pregunta sola no dice nada de la
    respuesta, y la imagen sola tampoco (no se sabe qué se pregunta).
    """
    _check_n(n, image_size)
    if isinstance(kinds, str):
        raise TypeError("kinds debe ser una tupla de tipos de pregunta,"
                        f" no un único str; escribe ({kinds!r},)")
    bad = [k for k in kinds if k not in QUESTION_KINDS]
    if not kinds or bad:
        raise ValueError(f"tipos de pregunta desconocidos {bad}; se "
                         f"esperaban algunos de {QUESTION_KINDS}")
    builders = {"existencia": _existence, "color": _colour,
                "posición": _position, "relación": _relation}
    rng = np.random.default_rng(seed)
    images, questions, answers, chosen, figures = [], [], [], [], []
    for _ in range(n):
        kind = kinds[rng.integers(len(kinds))]
        yes = bool(rng.integers(2))
        figs, question = builders[kind](rng, yes)
        images.append(render(figs, image_size=image_size, rng=rng,
                             pixel_noise=0.0))
        questions.append(question)
        answers.append(int(yes))
        chosen.append(kind)
        figures.append(tuple(figs))
    return QAData(_stack_with_noise(images, rng), questions,
                  torch.tensor(answers), chosen, figures)


# --- tokenizador por palabras ------------------------------------------

SPECIAL_TOKENS = ("<pad>", "<unk>", "<bos>", "<eos>")
_WORD = re.compile(r"¿|\?|[^\s¿?:,.]+")


def _all_words() -> list[str]:
    words = {"hay", "figura", "figuras", "es", "está", "de", "del", "un",
             "una", "el", "la", "gran", "encima", "debajo", *ANSWERS}
    words |= {w for s, (_, pl) in SHAPES.items() for w in (s, pl)}
    for c, (_, fem) in COLOURS.items():
        words |= {c, fem, plural(c), plural(fem)}
    words |= {w for s, (_, fem) in SIZES.items()
              for w in (s, fem, plural(s), plural(fem))}
    words |= set(_NUMBERS.values())
    words |= {w for p in POSITIONS for w in p.split()}
    return [*SPECIAL_TOKENS, "¿", "?", *sorted(words - {"¿", "?"})]


class WordTokenizer:
    """Tokenizador por palabras con vocabulario fijo (el de las plantillas).

    Minúsculas; «¿» y «?» son tokens. Las palabras fuera del vocabulario
    se convierten en ``<unk>``. ``encode`` añade ``<bos>`` y ``<eos>``.
    """

    def __init__(self) -> None:
        self.vocab = _all_words()
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.pad_id, self.unk_id, self.bos_id, self.eos_id = range(4)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def tokenize(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise TypeError("se esperaba un texto (str); se recibió "
                            f"{type(text).__name__}")
        return _WORD.findall(text.lower())

    def unknown_words(self, text: str) -> list[str]:
        """Las palabras de ``text`` que el modelo nunca vio."""
        return [w for w in self.tokenize(text) if w not in self.index]

    def encode(self, text: str) -> list[int]:
        ids = [self.index.get(w, self.unk_id) for w in self.tokenize(text)]
        return [self.bos_id, *ids, self.eos_id]

    def decode(self, ids: list[int] | Tensor) -> str:
        if isinstance(ids, Tensor):
            ids = check_tensor(ids, "ids", ndim=1, shape="(T,)",
                               dtype_kind="int").tolist()
        elif isinstance(ids, str) or not all(
                isinstance(i, (int, np.integer)) for i in ids):
            raise TypeError("ids debe ser una lista de enteros o un "
                            f"tensor (T,); se recibió {_received(ids)}")
        words = []
        for i in ids:
            if i == self.eos_id:
                break
            if i >= len(SPECIAL_TOKENS):
                words.append(self.vocab[i])
        return " ".join(words).replace("¿ ", "¿").replace(" ?", "?")

    def __call__(self, texts: list[str] | str) -> tuple[Tensor, Tensor]:
        """Codifica un lote: ``ids`` (B, T) rellenos con ``<pad>`` y
        ``lengths`` (B,) con la longitud real (``<bos>`` y ``<eos>``
        incluidos)."""
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, (list, tuple)):
            raise TypeError("texts debe ser un texto o una lista de "
                            f"textos; se recibió {_received(texts)}")
        if not texts:
            raise ValueError("se recibió una lista de textos vacía")
        encoded = [self.encode(t) for t in texts]
        lengths = torch.tensor([len(e) for e in encoded])
        ids = torch.full((len(texts), int(lengths.max())), self.pad_id)
        for i, e in enumerate(encoded):
            ids[i, : len(e)] = torch.tensor(e)
        return ids, lengths  # (B, T), (B,)
