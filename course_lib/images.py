"""Datos de imagen pequeños y una receta de entrenamiento para clasificarlos.

Libro: capítulos 5 (ViT) y 6 (MAE).

- ``load_digits_split``: los 1 797 dígitos 8×8 de scikit-learn con una
  partición entrenamiento/prueba fija (estratificada, semilla 0).
- ``random_shift``: aumento de datos por desplazamientos de ±k píxeles.
- ``load_photo``: una foto de ``skimage.data`` como tensor (C, H, W).
- ``train_image_classifier``: AdamW, calentamiento + coseno, suavizado de
  etiquetas y aumento opcional; presupuesto en pasos, no en segundos.
"""

# Notación: B lote · C canales · H, W alto y ancho

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.patches import check_images
from course_lib.training import (
    History,
    accuracy,
    check_dataset,
    classification_loss,
    fit,
    random_batches,
    warmup_cosine,
)
from course_lib.utils import check_int, check_tensor, describe


@dataclass(frozen=True)
class ImageSplit:
    """Imágenes (B, C, H, W) en [0, 1] y etiquetas enteras (B,)."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor


def load_digits_split(*, test_size: float = 0.25,
                      seed: int = 0) -> ImageSplit:
    """Dígitos de scikit-learn: 1 347 de entrenamiento y 450 de prueba.

    Los píxeles (enteros 0–16) se dividen entre 16. La partición está
    estratificada por clase y fijada por ``seed``: todo el libro usa la
    misma, así los números de los capítulos 5 y 6 son comparables.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size debe estar en (0, 1); vale {test_size}")
    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0
    y = torch.tensor(digits.target, dtype=torch.long)
    train, test = train_test_split(np.arange(len(y)), test_size=test_size,
                                   random_state=seed, stratify=digits.target)
    train, test = torch.from_numpy(train), torch.from_numpy(test)
    return ImageSplit(x[train], y[train], x[test], y[test])


def subset_per_class(y: Tensor, per_class: int, *,
                     generator: torch.Generator | None = None) -> Tensor:
    """Índices de ``per_class`` ejemplos al azar de cada clase."""
    check_tensor(y, "y", ndim=1, shape="(N,)", dtype_kind="int")
    check_int(per_class, "per_class")
    chosen = []
    for c in y.unique():
        idx = (y == c).nonzero().squeeze(1)
        if len(idx) < per_class:
            raise ValueError(f"la clase {int(c)} tiene {len(idx)} ejemplos; "
                             f"se pidieron {per_class}")
        perm = torch.randperm(len(idx), generator=generator)
        chosen.append(idx[perm[:per_class]])
    return torch.cat(chosen).sort().values


def random_shift(images: Tensor, max_shift: int = 1, *,
                 generator: torch.Generator | None = None) -> Tensor:
    """Desplaza cada imagen (B, C, H, W) hasta ±``max_shift`` píxeles en
    cada eje, rellenando con ceros (el fondo de los dígitos)."""
    check_tensor(images, "images", ndim=4, shape="(B, C, H, W)")
    check_int(max_shift, "max_shift", minimum=0)
    if max_shift == 0:
        return images
    B, C, H, W = images.shape
    m = max_shift
    padded = F.pad(images, (m, m, m, m))          # (B, C, H+2m, W+2m)
    dy = torch.randint(0, 2 * m + 1, (B,), generator=generator)
    dx = torch.randint(0, 2 * m + 1, (B,), generator=generator)
    rows = (dy[:, None] + torch.arange(H))        # (B, H)
    cols = (dx[:, None] + torch.arange(W))        # (B, W)
    b = torch.arange(B)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[b, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()   # (B, C, H, W)


def load_photo(name: str = "chelsea", *, size: int | None = None) -> Tensor:
    """Una foto de ``skimage.data`` (``chelsea``, ``coffee``, ``astronaut``,
    ``rocket``…) como tensor (3, H, W) en [0, 1], recortada al cuadrado
    central y, si se da ``size``, redimensionada a size×size."""
    from skimage import data

    if not isinstance(name, str):
        raise TypeError("name debe ser el nombre (str) de una imagen de "
                        f"skimage.data; se recibió {describe(name)}")
    if size is not None:
        check_int(size, "size")
    loader = getattr(data, name, None)
    if loader is None:
        raise ValueError(f"skimage.data no tiene la imagen {name!r}")
    img = torch.tensor(np.asarray(loader()), dtype=torch.float32) / 255.0
    if img.dim() == 2:
        img = img[..., None].expand(-1, -1, 3)
    img = img[..., :3].permute(2, 0, 1)           # (3, H, W)
    H, W = img.shape[1:]
    s = min(H, W)
    top, left = (H - s) // 2, (W - s) // 2
    img = img[:, top:top + s, left:left + s]
    if size is not None:
        img = F.interpolate(img[None], size=(size, size), mode="bilinear",
                            antialias=True, align_corners=False)[0]
    return img.clamp(0, 1)


def train_image_classifier(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    steps: int,
    batch_size: int = 128,
    lr: float = 2e-3,
    weight_decay: float = 0.05,
    warmup: int | None = None,
    schedule: bool = True,
    max_shift: int = 1,
    label_smoothing: float = 0.1,
    generator: torch.Generator | None = None,
    eval_data: tuple[Tensor, Tensor] | None = None,
    eval_every: int = 100,
    parameters: list[nn.Parameter] | None = None,
    progress: bool = True,
    desc: str = "entrenando",
) -> History:
    """Entrena un clasificador de imágenes con la receta del capítulo 5.

    AdamW; si ``schedule``, calentamiento lineal (``warmup`` pasos, por
    defecto el 10 %) y decaimiento en coseno; desplazamientos aleatorios de
    ±``max_shift`` píxeles (0 = sin aumento) y suavizado de etiquetas.
    ``parameters`` restringe lo que se entrena (p. ej., solo la cabeza en
    una sonda lineal). Si se da ``eval_data``, mide la exactitud cada
    ``eval_every`` pasos y al final (``history.eval_accuracy``).
    """
    check_dataset(x, y)
    check_int(steps, "steps")
    check_int(batch_size, "batch_size")
    check_int(eval_every, "eval_every")
    if warmup is not None:
        check_int(warmup, "warmup", minimum=0)
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError("label_smoothing debe estar en [0, 1); vale "
                         f"{label_smoothing}")
    evaluate = None
    if eval_data is not None:
        check_dataset(*eval_data)

        def evaluate() -> dict[str, float]:
            return {"eval_accuracy": accuracy(model, *eval_data)}
    params = list(model.parameters()) if parameters is None else parameters
    warmup = max(1, steps // 10) if warmup is None else warmup
    sample = random_batches(x, y, batch_size=batch_size, generator=generator)

    def batch(step: int) -> tuple[Tensor, Tensor]:
        xb, yb = sample(step)
        return random_shift(xb, max_shift, generator=generator), yb
    return fit(
        model, torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay),
        batch, partial(classification_loss, label_smoothing=label_smoothing),
        steps=steps, evaluate=evaluate, eval_every=eval_every,
        schedule=partial(warmup_cosine, lr=lr, steps=steps, warmup=warmup)
        if schedule else None, progress=progress, desc=desc)


class SmallCNN(nn.Module):
    """CNN de referencia para 8×8: dos bloques conv 3×3 + una lineal.

    Sesgo inductivo de localidad y equivariancia a traslaciones que ViT
    no tiene. Entrada (B, C, 8, 8); salida (B, num_classes).
    """

    def __init__(self, num_channels: int = 1, num_classes: int = 10,
                 width: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(num_channels, width, 3, padding=1), nn.GELU(),
            nn.Conv2d(width, width, 3, padding=1), nn.GELU(),
            nn.MaxPool2d(2),                           # (B, w, 4, 4)
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.GELU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),     # (B, 2w)
        )
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, num_channels=self.features[0].in_channels)
        return self.head(self.features(x))
