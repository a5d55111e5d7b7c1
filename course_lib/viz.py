"""Mapas de atención estáticos con matplotlib (sin CDN ni JavaScript).

Libro: capítulo 1, «Visualizar la atención»; lo reutilizan los capítulos
siguientes (BERT, GPT, ViT, fusión).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_lib.utils import check_int, describe


def _as_array(weights: object, ndim: int, shape: str) -> np.ndarray:
    """Pesos (tensor, array o listas de números) como array de ``ndim``
    dimensiones, no vacío."""
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().float().cpu().numpy()
    try:
        array = np.asarray(weights, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(
            f"los pesos deben ser un tensor o array de números {shape}; se "
            f"recibió {describe(weights)}") from None
    if array.ndim != ndim:
        kind = "una matriz de pesos" if ndim == 2 else "pesos por cabeza"
        raise ValueError(f"se esperaba {kind} {shape}; se recibió la forma "
                         f"{array.shape}")
    if array.size == 0:
        raise ValueError(f"los pesos {shape} están vacíos: forma "
                         f"{array.shape}")
    return array


def _as_matrix(weights: torch.Tensor | np.ndarray) -> np.ndarray:
    return _as_array(weights, 2, "(Tq, Tk)")


def plot_attention(
    weights: torch.Tensor | np.ndarray,
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
    *,
    ax: Axes | None = None,
    title: str = "Pesos de atención",
    annotate: bool = False,
    cmap: str = "viridis",
    colorbar: bool = True,
) -> Axes:
    """Dibuja una matriz de atención (Tq, Tk): filas = consultas (quién
    mira), columnas = claves (a quién mira)."""
    w = _as_matrix(weights)
    Tq, Tk = w.shape
    for name, labels, n in (
        ("query_labels", query_labels, Tq),
        ("key_labels", key_labels, Tk),
    ):
        if labels is not None and not hasattr(labels, "__len__"):
            raise TypeError(f"{name} debe ser una lista de etiquetas; "
                            f"se recibió {describe(labels)}")
        if labels is not None and len(labels) != n:
            raise ValueError(
                f"{name} tiene {len(labels)} etiquetas y la matriz {w.shape} "
                f"necesita {n}"
            )
    if ax is None:
        size = (max(3.0, 0.45 * Tk + 1.5), max(2.5, 0.4 * Tq + 1.2))
        _, ax = plt.subplots(figsize=size)
    image = ax.imshow(w, cmap=cmap, vmin=0.0, vmax=max(w.max(), 1e-9))
    ax.set_xticks(range(Tk), key_labels if key_labels is not None else None)
    ax.set_yticks(range(Tq), query_labels if query_labels is not None
                  else None)
    if key_labels is not None:
        ax.tick_params(axis="x", labelrotation=90)
    ax.set_xlabel("clave (a quién se atiende)")
    ax.set_ylabel("consulta (quién atiende)")
    ax.set_title(title)
    if annotate:
        for i in range(Tq):
            for j in range(Tk):
                color = "white" if w[i, j] < 0.6 * w.max() else "black"
                ax.text(j, i, f"{w[i, j]:.2f}", ha="center", va="center",
                        fontsize=8, color=color)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax


def plot_attention_heads(
    weights: torch.Tensor | np.ndarray,
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
    *,
    title: str = "Atención por cabeza",
    max_cols: int = 2,
) -> Figure:
    """Una matriz por cabeza: ``weights`` (H, Tq, Tk).

    Dos columnas por defecto: con cuatro en fila, la figura medía más de
    20 pulgadas de ancho y, encogida a la columna del sitio, sus letras
    quedaban en 3-5 píxeles."""
    weights = _as_array(weights, 3, "(H, Tq, Tk)")
    check_int(max_cols, "max_cols")
    H, Tq, Tk = weights.shape
    cols = min(H, max_cols)
    rows = -(-H // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(cols * max(2.8, 0.28 * Tk + 1.2), rows *
                             max(2.6, 0.28 * Tq + 1.0)), squeeze=False,
    )
    for h, ax in enumerate(axes.flat):
        if h >= H:
            ax.axis("off")
            continue
        plot_attention(weights[h], query_labels, key_labels, ax=ax,
                       title=f"cabeza {h}", colorbar=False)
        if h % cols:
            ax.set_ylabel("")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
