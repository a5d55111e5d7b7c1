"""Imágenes como secuencias de parches: cortar, recomponer y proyectar.

Libro: capítulos 5 (ViT), 6 (MAE), 7 (CLIP) y 8 (fusión multimodal).
Artículo: Dosovitskiy et al. (2021), §3.1, ec. (1); He et al. (2022) para
el orden de los píxeles dentro de cada parche.

Lo comparten todos los modelos de imágenes del libro: ``check_images``
valida un lote (B, C, H, W), ``patchify``/``unpatchify`` pasan de imagen a
parches aplanados y vuelta, y ``PatchEmbedding`` proyecta cada parche a la
dimensión oculta. Su parámetro se llama ``projection``, como en los
*checkpoints* de ViT de Hugging Face.
"""

# Notación: B lote · C canales de la imagen · H, W alto y ancho · P lado
#           del parche · N = (H/P)·(W/P) parches · D dimensión oculta

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from course_lib.utils import check_int, check_tensor

__all__ = ["PatchEmbedding", "check_images", "patchify", "unpatchify"]


def check_images(images: object, *, patch_size: int | None = None,
                 num_channels: int | None = None,
                 image_size: int | None = None) -> Tensor:
    """Valida un lote de imágenes (B, C, H, W) flotante; errores en español."""
    if not isinstance(images, Tensor):
        raise TypeError("las imágenes deben ser un torch.Tensor (B, C, H, W);"
                        f" se recibió {type(images).__name__}")
    if images.dim() != 4:
        raise ValueError("las imágenes deben tener forma (B, C, H, W); se "
                         f"recibió la forma {tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError("las imágenes deben ser de tipo flotante; se "
                        f"recibió dtype={images.dtype}")
    B, C, H, W = images.shape
    if patch_size is not None:
        check_int(patch_size, "patch_size")
    if num_channels is not None and C != num_channels:
        raise ValueError(f"se esperaban {num_channels} canales y la imagen "
                         f"tiene {C} (forma {tuple(images.shape)})")
    if image_size is not None and (H, W) != (image_size, image_size):
        raise ValueError(f"el modelo espera imágenes de {image_size}×"
                         f"{image_size} y se recibió {H}×{W}")
    if patch_size is not None and (H % patch_size or W % patch_size):
        raise ValueError(f"el alto y el ancho ({H}×{W}) deben ser múltiplos "
                         f"del lado del parche P={patch_size}")
    return images


def patchify(images: Tensor, patch_size: int) -> Tensor:
    """(B, C, H, W) -> (B, N, P·P·C): parches en orden de lectura.

    Los parches se recorren por filas (de izquierda a derecha, de arriba
    abajo); dentro de cada parche, el orden es (fila, columna, canal), el
    mismo que usa MAE (He et al., 2022) para su objetivo de píxeles.
    """
    check_images(images, patch_size=patch_size)
    B, C, H, W = images.shape
    P = patch_size
    x = images.reshape(B, C, H // P, P, W // P, P)  # (B, C, H/P, P, W/P, P)
    x = x.permute(0, 2, 4, 3, 5, 1)                 # (B, H/P, W/P, P, P, C)
    return x.reshape(B, (H // P) * (W // P), P * P * C)  # (B, N, P·P·C)


def unpatchify(patches: Tensor, patch_size: int, *,
               grid: tuple[int, int] | None = None) -> Tensor:
    """Inversa de ``patchify``: (B, N, P·P·C) -> (B, C, H, W).

    ``grid`` = (H/P, W/P); si se omite, la rejilla es cuadrada (N = g²).
    """
    check_tensor(patches, "patches", ndim=3, shape="(B, N, P·P·C)")
    check_int(patch_size, "patch_size")
    B, N, K = patches.shape
    P = patch_size
    if grid is None:
        g = math.isqrt(N)
        grid = (g, g)
    gh, gw = grid
    if gh * gw != N or K % (P * P):
        raise ValueError(f"{N} parches de tamaño {K} no encajan en una "
                         f"rejilla {gh}×{gw} de parches {P}×{P}")
    C = K // (P * P)
    x = patches.reshape(B, gh, gw, P, P, C)          # (B, H/P, W/P, P, P, C)
    x = x.permute(0, 5, 1, 3, 2, 4)                  # (B, C, H/P, P, W/P, P)
    return x.reshape(B, C, gh * P, gw * P)           # (B, C, H, W)


class PatchEmbedding(nn.Module):
    """Corta la imagen en parches P×P y proyecta cada uno a ``hidden_size``.

    Libro: capítulo 5, «De imágenes a secuencias».
    Artículo: Dosovitskiy et al. (2021), §3.1, ec. (1).
    Entrada: (B, C, H, W), H y W múltiplos de P. Salida: (B, N, D).

    Una ``Conv2d`` con kernel = paso = P es *exactamente* «aplanar cada
    parche y multiplicar por una matriz E»: cada salida de la convolución
    mira un parche distinto sin solaparse. ``as_linear()`` devuelve esa
    ``nn.Linear`` equivalente, que actúa sobre ``patchify(x, P)``:
    E = weight (D, C, P, P) permutado a (D, P, P, C) y aplanado (D, P·P·C).
    """

    def __init__(self, num_channels: int, hidden_size: int, patch_size: int,
                 *, bias: bool = True) -> None:
        super().__init__()
        for name, value in (("num_channels", num_channels),
                            ("hidden_size", hidden_size),
                            ("patch_size", patch_size)):
            check_int(value, name)
        self.num_channels, self.patch_size = num_channels, patch_size
        self.projection = nn.Conv2d(num_channels, hidden_size, bias=bias,
                                    kernel_size=patch_size, stride=patch_size)

    def forward(self, images: Tensor) -> Tensor:
        check_images(images, patch_size=self.patch_size,
                     num_channels=self.num_channels)
        x = self.projection(images)       # (B, D, H/P, W/P)
        return x.flatten(2).transpose(1, 2)  # (B, N, D)

    @torch.no_grad()
    def as_linear(self) -> nn.Linear:
        """La ``nn.Linear`` (P·P·C -> D) equivalente sobre ``patchify``."""
        w = self.projection.weight                  # (D, C, P, P)
        D = w.size(0)
        linear = nn.Linear(w[0].numel(), D,
                           bias=self.projection.bias is not None)
        linear.weight.copy_(w.permute(0, 2, 3, 1).reshape(D, -1))
        if self.projection.bias is not None:
            linear.bias.copy_(self.projection.bias)
        return linear.to(w.device)
