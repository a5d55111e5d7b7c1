"""Piezas comunes a varios modelos: activaciones, MLP y bloque *pre-norm*.

Libro: capítulos 5 (ViT), 7 (CLIP) y 8 (fusión multimodal).
Artículos: Radford et al. (2021) (QuickGELU de CLIP); Xiong et al.
(2020) (bloque *pre-norm*).

Aquí solo viven las piezas sin claves de *checkpoint* propias: las
activaciones no tienen parámetros, y ``MLP`` y ``Block`` son los del
capítulo 8, que no cargan pesos de Hugging Face. Los bloques cuyos
nombres reproducen las claves de un *checkpoint* (``ViTLayer``,
``BertLayer``, ``CLIPTextLayer``…) se quedan en su modelo.
"""

# Notación: B lote · T tokens · C canales

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.attention import MultiHeadAttention

# Un nombre por activación en todo el paquete (campo ``hidden_act`` de las
# configuraciones). Equivalencias de Hugging Face: «gelu_tanh» es su
# «gelu_new» / «gelu_pytorch_tanh»; «quick_gelu», la de CLIP.
ACTIVATIONS = ("gelu", "gelu_tanh", "quick_gelu", "relu")
HF_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh",
                  "gelu_pytorch_tanh": "gelu_tanh", "quick_gelu": "quick_gelu",
                  "relu": "relu"}


# --- activaciones ------------------------------------------------------

class QuickGELU(nn.Module):
    """x·σ(1.702·x), la aproximación de GELU que usa CLIP."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


def make_activation(name: str) -> nn.Module:
    """«gelu» (exacta, ViT/BERT), «gelu_tanh» (GPT-2), «quick_gelu» (CLIP)
    o «relu» (el Transformer del artículo)."""
    if name == "quick_gelu":
        return QuickGELU()
    if name == "relu":
        return nn.ReLU()
    if name in ("gelu", "gelu_tanh"):
        return nn.GELU(approximate="tanh" if name == "gelu_tanh" else "none")
    raise ValueError(f"activación desconocida {name!r}; opciones: "
                     f"{ACTIVATIONS}")


# --- recuento -------------------------------------------------------------

def count_parameters(model: nn.Module, *, trainable_only: bool = False
                     ) -> int:
    """Número de parámetros distintos de ``model``: una matriz atada
    (la tabla de *embeddings* de GPT y su ``lm_head``) cuenta una vez. Con
    ``trainable_only``, solo los que tienen ``requires_grad``."""
    if not isinstance(model, nn.Module):
        raise TypeError("model debe ser un nn.Module; se recibió "
                        f"{type(model).__name__}")
    return sum(p.numel() for p in model.parameters()
               if p.requires_grad or not trainable_only)


# --- bloques -----------------------------------------------------------

class MLP(nn.Module):
    """Red *feed-forward* de dos capas con GELU: C -> 4C -> C."""

    def __init__(self, dim: int, *, ratio: int = 4, dropout: float = 0.0
                 ) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, ratio * dim)
        self.fc2 = nn.Linear(ratio * dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.fc2(F.gelu(self.fc1(x))))


class Block(nn.Module):
    """Bloque *pre-norm* de autoatención (ViT, GPT-2) con máscara opcional:
    x = x + MHA(LN(x)); x = x + MLP(LN(x)). Entrada y salida (B, T, C)."""

    def __init__(self, dim: int, n_head: int, *, dropout: float = 0.0
                 ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, n_head, dropout=dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, dropout=dropout)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        x = x + self.attn(self.norm1(x), mask=mask)
        return x + self.mlp(self.norm2(x))
