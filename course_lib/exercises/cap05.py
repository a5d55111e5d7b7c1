"""Ejercicios del capítulo 5, «Vision Transformer».

Libro: capítulo 5, sección «Ejercicios». Uso en el cuaderno::

    from course_lib.exercises import cap05 as ej
    ej.extraer_parches.check(extraer_parches)

Las soluciones de referencia son autocontenidas: no usan
``course_lib.vit``.
"""

# Notación: B lote · C canales · H, W alto y ancho · P lado del parche
#           N parches · g lado de la rejilla (N = g²) · h cabezas

from __future__ import annotations

import torch

from course_lib.exercises import Case, Exercise, KnownMistake

__all__ = ["distancia_media_atencion", "extraer_parches",
           "similitud_posiciones"]

_IMPORTS = ("import torch",)


def _randn(g: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=g)


# --- 1. Cortar la imagen en parches ------------------------------------

def _extraer_parches(imagenes: torch.Tensor, P: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, N, P·P·C), parches por filas y, dentro de cada
    parche, orden (fila, columna, canal)."""
    B, C, H, W = imagenes.shape
    x = imagenes.reshape(B, C, H // P, P, W // P, P)  # separa la rejilla
    x = x.permute(0, 2, 4, 3, 5, 1)       # (B, H/P, W/P, P, P, C)
    return x.reshape(B, (H // P) * (W // P), P * P * C)


def _patches_plain_reshape(imagenes: torch.Tensor, P: int) -> torch.Tensor:
    B, C, H, W = imagenes.shape
    return imagenes.reshape(B, (H // P) * (W // P), P * P * C)


def _patches_channels_first(imagenes: torch.Tensor, P: int) -> torch.Tensor:
    B, C, H, W = imagenes.shape
    x = imagenes.reshape(B, C, H // P, P, W // P, P)
    x = x.permute(0, 2, 4, 1, 3, 5)       # (B, H/P, W/P, C, P, P)
    return x.reshape(B, (H // P) * (W // P), P * P * C)


def _patches_by_columns(imagenes: torch.Tensor, P: int) -> torch.Tensor:
    B, C, H, W = imagenes.shape
    x = imagenes.reshape(B, C, H // P, P, W // P, P)
    x = x.permute(0, 4, 2, 3, 5, 1)       # rejilla por columnas
    return x.reshape(B, (H // P) * (W // P), P * P * C)


def _patches_swapped_inside(imagenes: torch.Tensor, P: int) -> torch.Tensor:
    B, C, H, W = imagenes.shape
    x = imagenes.reshape(B, C, H // P, P, W // P, P)
    x = x.permute(0, 2, 4, 5, 3, 1)       # dentro: (columna, fila, canal)
    return x.reshape(B, (H // P) * (W // P), P * P * C)


extraer_parches = Exercise(
    name="extraer_parches",
    title="Cortar la imagen en parches",
    reference=_extraer_parches,
    cases=[
        Case(f"imágenes {shape}, P = {p}",
             lambda g, shape=shape, p=p: (_randn(g, *shape), p))
        for shape, p in (((2, 1, 4, 4), 2), ((2, 3, 8, 8), 4),
                         ((1, 3, 6, 9), 3), ((3, 2, 4, 8), 2))
    ],
    imports=_IMPORTS,
    hints=[
        "Primero separa cada eje espacial en (número de parches, P) con "
        "un `reshape` a (B, C, H/P, P, W/P, P). Así todavía no has movido "
        "ningún número de sitio.",
        "Luego reordena los ejes con `permute` para que queden juntos los "
        "dos índices de la rejilla (H/P, W/P) y detrás el contenido del "
        "parche en orden (fila P, columna P, canal C). Un `reshape` final "
        "aplana ambos grupos.",
    ],
    mistakes=[
        KnownMistake(
            "reshape_directo",
            "Parece que hiciste un `reshape` directo a (B, N, P·P·C): la "
            "forma es correcta, pero cada «parche» son píxeles consecutivos "
            "de una fila, no un cuadrado P×P. Separa primero la rejilla y "
            "reordena los ejes con `permute`.",
            _patches_plain_reshape),
        KnownMistake(
            "canal_primero",
            "Los parches son correctos, pero dentro de cada uno el orden es "
            "(canal, fila, columna), el de `Conv2d`/`unfold`. Aquí se pide "
            "(fila, columna, canal), el orden de MAE: el canal va al final.",
            _patches_channels_first),
        KnownMistake(
            "por_columnas",
            "Recorres la rejilla por columnas: el parche 1 debe ser el "
            "segundo de la primera fila (a la derecha del 0), no el de "
            "debajo.",
            _patches_by_columns),
        KnownMistake(
            "fila_columna_intercambiadas",
            "Dentro de cada parche intercambiaste filas y columnas: el "
            "orden es (fila, columna, canal).",
            _patches_swapped_inside),
    ],
)


# --- 2. Similitud de las posiciones aprendidas --------------------------

def _similitud_posiciones(pos: torch.Tensor) -> torch.Tensor:
    """pos (N, D) -> (N, N): coseno entre cada par de posiciones."""
    unit = pos / pos.norm(dim=-1, keepdim=True)   # cada fila con norma 1
    return unit @ unit.T


def _sim_dot(pos: torch.Tensor) -> torch.Tensor:
    return pos @ pos.T


def _sim_wrong_axis(pos: torch.Tensor) -> torch.Tensor:
    unit = pos / pos.norm(dim=0, keepdim=True)
    return unit @ unit.T


def _sim_columns(pos: torch.Tensor) -> torch.Tensor:
    unit = pos / pos.norm(dim=0, keepdim=True)
    return unit.T @ unit


similitud_posiciones = Exercise(
    name="similitud_posiciones",
    title="Similitud coseno de las posiciones",
    reference=_similitud_posiciones,
    cases=[
        Case(f"pos de forma ({n}, {d})",
             lambda g, n=n, d=d: (_randn(g, n, d),))
        for n, d in ((4, 3), (16, 8), (9, 16))
    ],
    imports=_IMPORTS,
    hints=[
        "La similitud coseno de dos vectores es su producto escalar "
        "dividido entre el producto de sus normas. Si normalizas antes cada "
        "fila a norma 1, basta un producto matricial.",
        "`pos.norm(dim=-1, keepdim=True)` da la norma de cada fila (una "
        "por posición) con forma (N, 1), lista para dividir.",
    ],
    mistakes=[
        KnownMistake(
            "sin_normalizar",
            "Calculas el producto escalar sin normalizar: la similitud "
            "coseno divide entre las normas, así que la diagonal debe ser 1.",
            _sim_dot),
        KnownMistake(
            "eje_equivocado",
            "Normalizas sobre el eje de posiciones (`dim=0`): cada *fila* "
            "(una posición, D números) debe tener norma 1.",
            _sim_wrong_axis),
        KnownMistake(
            "columnas",
            "Devuelves una matriz (D, D) que compara canales: se pide "
            "comparar posiciones, (N, N).",
            _sim_columns),
    ],
)


# --- 3. Distancia media de atención ------------------------------------

def _distancia_media_atencion(pesos: torch.Tensor, g: int,
                              P: int) -> torch.Tensor:
    """pesos (h, N, N) entre los N = g² parches -> (h,) distancia media
    en píxeles: Σ_j A_ij · ‖pos_i − pos_j‖, promediada sobre i."""
    fila = torch.arange(g).repeat_interleave(g)   # (N,) fila de cada parche
    col = torch.arange(g).repeat(g)               # (N,) columna
    centros = torch.stack([fila, col], dim=-1).float() * P  # (N, 2) píxeles
    dist = torch.cdist(centros, centros)          # (N, N) euclídea
    return (pesos * dist).sum(dim=-1).mean(dim=-1)  # (h,)


def _positions(g: int) -> torch.Tensor:
    fila = torch.arange(g).repeat_interleave(g)
    col = torch.arange(g).repeat(g)
    return torch.stack([fila, col], dim=-1).float()


def _dist_in_patches(pesos: torch.Tensor, g: int, P: int) -> torch.Tensor:
    c = _positions(g)
    return (pesos * torch.cdist(c, c)).sum(-1).mean(-1)


def _dist_manhattan(pesos: torch.Tensor, g: int, P: int) -> torch.Tensor:
    c = _positions(g) * P
    return (pesos * torch.cdist(c, c, p=1)).sum(-1).mean(-1)


def _dist_unweighted(pesos: torch.Tensor, g: int, P: int) -> torch.Tensor:
    c = _positions(g) * P
    d = torch.cdist(c, c)
    return d.mean().expand(pesos.shape[0]).clone()


def _dist_summed(pesos: torch.Tensor, g: int, P: int) -> torch.Tensor:
    c = _positions(g) * P
    return (pesos * torch.cdist(c, c)).sum(-1).sum(-1)


def _attention_case(h: int, g: int, P: int):
    def make(gen: torch.Generator) -> tuple:
        scores = torch.randn(h, g * g, g * g, generator=gen) * 2
        return scores.softmax(dim=-1), g, P
    return make


distancia_media_atencion = Exercise(
    name="distancia_media_atencion",
    title="Distancia media de atención",
    reference=_distancia_media_atencion,
    cases=[Case(f"{h} cabezas, rejilla {g}×{g}, P = {p}",
                _attention_case(h, g, p))
           for h, g, p in ((2, 2, 4), (4, 4, 2), (3, 3, 16))],
    imports=_IMPORTS,
    hints=[
        "Construye primero las coordenadas (fila, columna) de los N "
        "parches en orden de lectura, multiplicadas por P para medir en "
        "píxeles, y la matriz (N, N) de distancias euclídeas entre ellas "
        "(`torch.cdist`).",
        "Cada fila i de `pesos` es una distribución sobre las claves j: la "
        "distancia esperada de la consulta i es Σ_j A_ij·d_ij (suma sobre "
        "el último eje). Luego promedia sobre las consultas.",
    ],
    mistakes=[
        KnownMistake(
            "en_parches",
            "Mides la distancia en parches, no en píxeles: multiplica las "
            "coordenadas de la rejilla por el lado del parche P.",
            _dist_in_patches),
        KnownMistake(
            "manhattan",
            "Usas la distancia de Manhattan (|Δfila| + |Δcolumna|): el "
            "artículo de ViT usa la euclídea.",
            _dist_manhattan),
        KnownMistake(
            "sin_pesos",
            "Devuelves la distancia media entre parches sin ponderar por la "
            "atención: todas las cabezas dan lo mismo.",
            _dist_unweighted),
        KnownMistake(
            "suma_de_consultas",
            "Sumas las distancias de las N consultas en lugar de "
            "promediarlas: el resultado crece con el número de parches.",
            _dist_summed),
    ],
)
