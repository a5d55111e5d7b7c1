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


def _as_matrix(weights: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().float().cpu().numpy()
    weights = np.asarray(weights, dtype=float)
    if weights.ndim != 2:
        raise ValueError(
            "se esperaba una matriz de pesos (Tq, Tk); se recibió la forma "
            f"{weights.shape}"
        )
    return weights


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
    max_cols: int = 4,
) -> Figure:
    """Una matriz por cabeza: ``weights`` (H, Tq, Tk)."""
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().float().cpu().numpy()
    weights = np.asarray(weights)
    if weights.ndim != 3:
        raise ValueError(
            "se esperaban pesos por cabeza (H, Tq, Tk); se recibió la forma "
            f"{weights.shape}"
        )
    H, Tq, Tk = weights.shape
    cols = min(H, max_cols)
    rows = -(-H // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(cols * max(2.8, 0.35 * Tk + 1), rows *
                             max(2.6, 0.33 * Tq + 1)), squeeze=False,
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
