"""Entrenar un modelo de lenguaje: lotes, evaluación, calendario y bucle.

Libro: capítulo 4, «Entrenamiento».
El presupuesto es siempre un número de pasos (nunca de segundos), así que
con la misma semilla el resultado es el mismo en cualquier máquina.
"""

# Notación: B lote · T contexto (block_size) · V vocabulario

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from course_lib.training import (
    History,
    constant,
    fit,
    warmup_cosine_to_min,
)
from course_lib.utils import check_int, check_tensor, describe, from_preset


@dataclass(frozen=True)
class LMTrainConfig:
    """Receta de entrenamiento: AdamW con calentamiento lineal y decaimiento
    coseno hasta ``min_lr``. Presets con ``LMTrainConfig.preset``."""

    steps: int = 2000
    batch_size: int = 64
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup_steps: int = 100
    schedule: str = "cosine"      # «cosine» o «constant»
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float | None = 1.0
    eval_every: int = 200
    eval_tokens: int = 32_768     # tokens por evaluación periódica

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_every", "eval_tokens"):
            check_int(getattr(self, name), name)
        check_int(self.warmup_steps, "warmup_steps", minimum=0)
        if self.schedule not in ("cosine", "constant"):
            raise ValueError("schedule debe ser 'cosine' o 'constant'; "
                             f"vale {self.schedule!r}")
        if not 0 < self.min_lr <= self.lr:
            raise ValueError(f"se necesita 0 < min_lr <= lr; se recibieron "
                             f"{self.min_lr} y {self.lr}")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> LMTrainConfig:
        """«cpu» (el del cuaderno) o «anchor» (la receta medida en GPU
        del modelo del curso público)."""
        return from_preset(cls, TRAIN_PRESETS, name, overrides)


TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    "cpu": dict(steps=1200, batch_size=32, lr=3e-3, min_lr=3e-4,
                warmup_steps=100, eval_every=150, eval_tokens=16_384),
    "anchor": dict(steps=5000, batch_size=64, lr=2e-3, min_lr=2e-4,
                   warmup_steps=200, eval_every=500),
}


def _check_text_ids(data: object, block_size: int, name: str = "data"
                    ) -> None:
    """Un texto codificado: ids (N,) con N > block_size (una ventana de
    block_size tokens y su siguiente)."""
    check_int(block_size, "block_size")
    check_tensor(data, name, ndim=1, shape="(N,)", dtype_kind="int")
    if len(data) <= block_size:
        raise ValueError(
            f"{name} debe ser 1-D y más largo que block_size={block_size}; "
            f"se recibió la forma {tuple(data.shape)}")


def _check_config(config: object) -> None:
    if not isinstance(config, LMTrainConfig):
        raise TypeError("config debe ser un LMTrainConfig; se recibió "
                        f"{describe(config)}")


def get_batch(
    data: Tensor,
    block_size: int,
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> tuple[Tensor, Tensor]:
    """Ventanas aleatorias del texto: x (B, T) y y (B, T) = x desplazado
    un carácter (el «siguiente token» de cada posición)."""
    _check_text_ids(data, block_size)
    check_int(batch_size, "batch_size")
    starts = torch.randint(len(data) - block_size, (batch_size,),
                           generator=generator)  # (B,)
    offsets = torch.arange(block_size)  # (T,)
    x = data[starts[:, None] + offsets]  # (B, T)
    y = data[starts[:, None] + offsets + 1]  # (B, T)
    return x.to(device), y.to(device)


@torch.no_grad()
def evaluate_loss(
    model: nn.Module,
    data: Tensor,
    block_size: int,
    *,
    max_tokens: int | None = None,
    batch_size: int = 64,
) -> float:
    """Entropía cruzada media (nats/carácter) en ventanas de ``block_size``
    que no se solapan. Sin ``max_tokens`` recorre ``data`` entero; con él,
    ventanas repartidas a lo largo del texto. Determinista."""
    _check_text_ids(data, block_size)
    check_int(batch_size, "batch_size")
    if max_tokens is not None:
        check_int(max_tokens, "max_tokens")
    device = next(model.parameters()).device
    n_windows = (len(data) - 1) // block_size
    if max_tokens is not None:
        n_windows = min(n_windows, max(1, max_tokens // block_size))
    starts = torch.linspace(0, len(data) - 1 - block_size,
                            n_windows).long()  # (N,)
    offsets = torch.arange(block_size)
    was_training = model.training
    model.eval()
    total = 0.0
    for i in range(0, n_windows, batch_size):
        s = starts[i:i + batch_size, None] + offsets  # (b, T)
        _, loss = model(data[s].to(device), data[s + 1].to(device))
        total += loss.item() * len(s)
    model.train(was_training)
    return total / n_windows


def learning_rate(step: int, config: LMTrainConfig) -> float:
    """Tasa del paso ``step`` con la receta ``config``: calentamiento
    lineal en ``warmup_steps`` y coseno hasta ``min_lr`` en el último paso
    (o constante con ``schedule='constant'``)."""
    _check_config(config)
    check_int(step, "step", minimum=0)
    return _schedule(config)(step)


def _schedule(config: LMTrainConfig) -> Callable[[int], float]:
    if config.schedule == "constant":
        return partial(constant, lr=config.lr)
    return partial(warmup_cosine_to_min, lr=config.lr, min_lr=config.min_lr,
                   steps=config.steps, warmup=config.warmup_steps)


def make_optimizer(model: nn.Module, config: LMTrainConfig
                   ) -> torch.optim.AdamW:
    """AdamW; sin decaimiento de pesos en sesgos y LayerNorm (1-D)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2],
         "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas)


class LMHistory(History):
    """El historial de ``fit`` más los *tokens* vistos; las evaluaciones
    son ``train_loss`` y ``val_loss``."""

    @property
    def tokens_seen(self) -> int:
        return int(sum(self.logs.get("tokens", [])))


def train_lm(
    model: nn.Module,
    train_data: Tensor,
    val_data: Tensor,
    config: LMTrainConfig,
    *,
    generator: torch.Generator | None = None,
    progress: bool = True,
    desc: str = "entrenando",
) -> LMHistory:
    """Entrena ``model`` (que devuelve ``(logits, pérdida)``) a predecir
    el siguiente carácter. Evalúa cada ``eval_every`` pasos y al final en
    ``eval_tokens`` de entrenamiento y de validación."""
    _check_config(config)
    block_size = model.config.max_position_embeddings
    _check_text_ids(train_data, block_size, "train_data")
    _check_text_ids(val_data, block_size, "val_data")

    def batch(step: int) -> tuple[Tensor, Tensor]:
        return get_batch(train_data, block_size, config.batch_size,
                         generator=generator)

    def loss_fn(model: nn.Module, batch: tuple[Tensor, Tensor]
                ) -> tuple[Tensor, dict[str, float]]:
        x, y = batch                                        # (B, T) cada uno
        _, loss = model(x, y)
        return loss, {"tokens": x.numel()}

    def evaluate() -> dict[str, float]:
        return {name: evaluate_loss(model, data, block_size,
                                    max_tokens=config.eval_tokens)
                for name, data in (("train_loss", train_data),
                                   ("val_loss", val_data))}
    return fit(model, make_optimizer(model, config), batch, loss_fn,
               steps=config.steps, schedule=_schedule(config),
               grad_clip=config.grad_clip, evaluate=evaluate,
               eval_every=config.eval_every, history=LMHistory(),
               progress=progress, desc=desc)
