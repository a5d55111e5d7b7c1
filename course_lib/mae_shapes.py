"""Pesos del curso «mae-figuras»: un MAE preentrenado con un millón de
figuras sin etiqueta.

Libro: capítulos 5 (distancia de atención) y 6 (MAE).

Un MAE vive de datos sin etiquetar abundantes. Los dígitos de
scikit-learn son 1 797 imágenes de 8×8: el cuaderno del capítulo 6
preentrena con ellos en vivo y el codificador apenas sirve. Este módulo
es la misma receta (``MAE``, ``mae_loss`` con ``norm_pix``, AdamW con
betas (0,9, 0,95), calentamiento y coseno) con imágenes de
``big_shapes`` —tantas como se quiera— y el presupuesto de una hora de
CPU::

    python -m course_lib.checkpoints train mae-figuras

Decisiones (la ficha guarda la receta entera):

- **Datos**: imágenes nuevas en cada tramo de ``save_every`` pasos,
  sorteadas con la semilla y el número de tramo (retomar un entrenamiento
  cortado da las mismas). Las etiquetadas y las de prueba salen de otras
  semillas: el preentrenamiento no ve nunca ni unas ni otras.
- **Imágenes de 32×32 en parches de 4** (64 parches): con los 16 parches
  de los dígitos, tapar el 75 % deja 4 visibles y la tarea es adivinar.
- **Píxeles normalizados por parche** (``norm_pix_loss``, §3 del
  artículo): en los pilotos, sin ellos el codificador aprendía sobre todo
  el color del fondo.
- **Tamaño**: 6 capas, C = 192, 6 cabezas (un ViT «diminuto», como los de
  las reproducciones en CIFAR-10), decodificador de 2 capas y C = 128.
- **Métricas de la ficha**, siempre en las imágenes de prueba: la pérdida
  de los parches tapados frente a dos referencias sin aprendizaje (el
  parche medio y la interpolación desde los vecinos visibles) y una sonda
  lineal con 20 etiquetas por clase. El ajuste fino con varias semillas
  está en ``benchmarks/mae_shapes.py``.
"""

# Notación: B lote · N parches · n imágenes

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from course_lib.big_shapes import BigShapes, make_big_shapes, normalize
from course_lib.images import random_shift, subset_per_class
from course_lib.mae import (
    MAE,
    MAEConfig,
    inpaint_neighbours,
    normalize_patches,
)
from course_lib.patches import patchify
from course_lib.training import History, linear_probe, warmup_cosine
from course_lib.vit import ViTConfig

if TYPE_CHECKING:   # checkpoints importa este módulo para su registro
    from course_lib.checkpoints import Checkpoint, Run

__all__ = ["CONFIG", "TOLERANCE", "build", "evaluate", "labelled",
           "reconstruction_losses", "test_set", "tokenizer", "train"]

CONFIG: dict[str, Any] = {
    "seed": 0,
    "encoder": dict(image_size=32, patch_size=4, num_channels=3,
                    hidden_size=192, num_hidden_layers=6,
                    num_attention_heads=6, intermediate_size=384,
                    num_labels=0),
    "decoder": dict(decoder_hidden_size=128, decoder_num_hidden_layers=2,
                    decoder_num_attention_heads=4,
                    decoder_intermediate_size=256),
    "mask_ratio": 0.75,
    "norm_pix_loss": True,
    "steps": 8_000,
    "batch_size": 128,
    "lr": 1.5e-3,
    "warmup_steps": 400,
    "weight_decay": 0.05,
    "betas": [0.9, 0.95],
    "max_shift": 2,            # desplazamientos de ±2 píxeles (aumento)
    "save_every": 500,         # pasos por tramo (estado e imágenes nuevas)
    "images_per_chunk": 16_000,  # cada una se ve ~4 veces en su tramo
    "data_seeds": {"unlabelled": 1_000, "labelled": 1, "test": 2},
    "labelled_images": 5_000,  # el conjunto del que salen las etiquetas
    "test_images": 2_000,
    "quick_images": 256,       # la evaluación rápida de la prueba
    "dtype": "float16",        # así se guardan los pesos
}

# Cuánto puede separarse la evaluación rápida de la ficha en otra CPU.
TOLERANCE = {"loss_quick": 0.01}


def mae_config(config: dict[str, Any]) -> MAEConfig:
    return MAEConfig(encoder=ViTConfig(**config["encoder"]),
                     **config["decoder"], mask_ratio=config["mask_ratio"],
                     norm_pix_loss=config["norm_pix_loss"])


def build(config: dict[str, Any]) -> MAE:
    """El MAE sin entrenar que describe ``config``."""
    return MAE(mae_config(config))


def tokenizer(config: dict[str, Any]) -> None:
    """Las imágenes no tienen tokenizador (se normalizan con
    ``big_shapes.normalize``)."""
    return None


@lru_cache(maxsize=1)
def labelled() -> BigShapes:
    """Las imágenes etiquetadas (normalizadas) de las que salen los
    subconjuntos de pocas etiquetas del capítulo y del banco."""
    data = make_big_shapes(CONFIG["labelled_images"],
                           seed=CONFIG["data_seeds"]["labelled"])
    return BigShapes(normalize(data.images), data.labels)


@lru_cache(maxsize=1)
def test_set() -> BigShapes:
    """Las imágenes de prueba (normalizadas): todas las medidas salen de
    aquí."""
    data = make_big_shapes(CONFIG["test_images"],
                           seed=CONFIG["data_seeds"]["test"])
    return BigShapes(normalize(data.images), data.labels)


def _unlabelled(config: dict[str, Any], chunk: int) -> Tensor:
    data = make_big_shapes(config["images_per_chunk"],
                           seed=config["data_seeds"]["unlabelled"] + chunk)
    return normalize(data.images)                      # (n, 3, S, S)


def _fixed_noise(n: int, num_patches: int) -> Tensor:
    """El mismo tapado en cada evaluación (semilla fija)."""
    return torch.rand(n, num_patches, generator=torch.Generator()
                      .manual_seed(0))


@torch.no_grad()
def reconstruction_losses(model: MAE, images: Tensor, *,
                          mask_ratio: float | None = None
                          ) -> dict[str, float]:
    """Error en los parches tapados (espacio de ``norm_pix``) del MAE y de
    dos referencias sin aprendizaje, con el mismo tapado (``mask_ratio``,
    por defecto el del entrenamiento):

    - ``parche_medio``: el parche medio normalizado de cada posición
      (medido en las imágenes etiquetadas, nunca en las de prueba);
    - ``vecinos``: ``inpaint_neighbours`` normalizado por parche y
      escalado por el factor que mejor le va (ajustado en las etiquetadas).
    """
    enc = model.config.encoder
    P = enc.patch_size

    def masked_mse(pred: Tensor, target: Tensor, is_masked: Tensor) -> float:
        per_patch = ((pred - target) ** 2).mean(-1)           # (n, N)
        return (per_patch[is_masked]).mean().item()

    def neighbours(x: Tensor, is_masked: Tensor) -> Tensor:
        return normalize_patches(patchify(
            inpaint_neighbours(x, is_masked, P), P))          # (n, N, PPC)

    # las referencias se ajustan con imágenes que no son las de prueba
    fit_x = labelled().images[:500]
    fit_out = model.eval()(fit_x, mask_ratio=mask_ratio,
                           noise=_fixed_noise(len(fit_x), enc.num_patches))
    fit_target = normalize_patches(patchify(fit_x, P))
    mean_patch = fit_target.mean(0)                           # (N, PPC)
    guess = neighbours(fit_x, fit_out.is_masked)
    m = fit_out.is_masked
    scale = ((guess[m] * fit_target[m]).sum()
             / (guess[m] ** 2).sum()).clamp(0, 1)
    out = model(images, mask_ratio=mask_ratio,
                noise=_fixed_noise(len(images), enc.num_patches))
    target = normalize_patches(patchify(images, P))
    m = out.is_masked
    return {
        "mae": round(masked_mse(out.pred, target, m), 4),
        "parche_medio": round(masked_mse(mean_patch.expand_as(target),
                                         target, m), 4),
        "vecinos": round(masked_mse(scale * neighbours(images, m),
                                    target, m), 4),
        "escala_vecinos": round(scale.item(), 3),
    }


def probe(model: MAE, per_class: int, *, seed: int = 0) -> dict[str, float]:
    """Sonda lineal con ``per_class`` etiquetas por clase: sobre los
    píxeles y sobre las representaciones del codificador."""
    train, test = labelled(), test_set()
    idx = subset_per_class(train.labels, per_class,
                           generator=torch.Generator().manual_seed(seed))
    return {
        "pixeles": round(linear_probe(
            train.images[idx].flatten(1), train.labels[idx],
            test.images.flatten(1), test.labels), 4),
        "mae": round(linear_probe(
            model.features(train.images[idx]), train.labels[idx],
            model.features(test.images), test.labels), 4),
    }


def train(model: MAE, config: dict[str, Any], run: Run) -> dict[str, Any]:
    """Preentrena ``model`` con la receta; retoma si hay estado guardado.

    Devuelve las pérdidas de reconstrucción en las imágenes de prueba
    (MAE y referencias), la sonda con 20 etiquetas por clase y la curva."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config["lr"],
                                  betas=tuple(config["betas"]),
                                  weight_decay=config["weight_decay"])
    schedule = partial(warmup_cosine, lr=config["lr"], steps=config["steps"],
                       warmup=config["warmup_steps"])
    quick = test_set().images[:config["quick_images"]]

    def loss_fn(model: MAE, batch: tuple[Tensor, torch.Generator]) -> Tensor:
        xb, generator = batch                          # (B, C, S, S)
        return model(xb, generator=generator).loss

    def batches(first: int, n: int
                ) -> Callable[[int], tuple[Tensor, torch.Generator]]:
        chunk = first // config["save_every"]
        images = _unlabelled(config, chunk)            # (n, C, S, S)
        generator = torch.Generator().manual_seed(
            config["seed"] * 100_003 + chunk)

        def batch(step: int) -> tuple[Tensor, torch.Generator]:
            idx = torch.randint(0, len(images), (config["batch_size"],),
                                generator=generator)
            return random_shift(images[idx], config["max_shift"],
                                generator=generator), generator
        return batch

    def after_chunk(done: int, part: History) -> dict[str, float]:
        recent = part.loss[-100:]
        point = {"step": done, "train_loss": round(sum(recent) / len(recent),
                                                    4),
                 "loss_quick": _quick_loss(model, quick)}
        model.train()
        return point

    progress = run.fit_in_chunks(
        model, optimizer, loss_fn, steps=config["steps"],
        every=config["save_every"], batches=batches, schedule=schedule,
        after_chunk=after_chunk)
    model.eval()
    return {"reconstruccion": reconstruction_losses(model, test_set().images),
            "sonda_20": probe(model, 20),
            "train_minutes": round(progress.seconds / 60, 1),
            "curve": progress.curve}


@torch.no_grad()
def _quick_loss(model: MAE, images: Tensor) -> float:
    noise = _fixed_noise(len(images), model.config.encoder.num_patches)
    return round(model(images, noise=noise).loss.item(), 4)


def evaluate(checkpoint: Checkpoint) -> dict[str, float]:
    """La evaluación rápida de la prueba: la pérdida de los parches
    tapados (tapado fijo) en ``quick_images`` imágenes de prueba."""
    config = checkpoint.card["config"]
    images = test_set().images[:config["quick_images"]]
    return {"loss_quick": _quick_loss(checkpoint.model, images)}
