"""Un bucle de entrenamiento pequeño y legible para clasificadores.

Libro: capítulo 1, «Un experimento»; lo reutilizan capítulos posteriores.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.utils import (
    check_examples,
    check_int,
    check_targets,
    check_tensor,
    progress_bar,
)


@dataclass
class History:
    """Curvas del entrenamiento: pérdida por paso y exactitud evaluada."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_accuracy: list[float] = field(default_factory=list)


def check_dataset(x: object, y: object) -> int:
    """Ejemplos ``x`` (N, ...) y etiquetas enteras ``y`` (N,), N > 0.
    Devuelve N. El rango de las etiquetas se comprueba con los logits."""
    check_tensor(x, "x")
    check_tensor(y, "y", ndim=1, shape="(N,)", dtype_kind="int")
    return check_examples(x=x, y=y)


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor,
             *, batch_size: int = 1024) -> float:
    """Fracción de aciertos de ``model(x).argmax(-1)`` frente a ``y``."""
    check_dataset(x, y)
    check_int(batch_size, "batch_size")
    was_training = model.training
    model.eval()
    hits = 0
    for i in range(0, len(x), batch_size):
        logits = model(x[i:i + batch_size])
        hits += (logits.argmax(-1) == y[i:i + batch_size]).sum().item()
    model.train(was_training)
    return hits / len(x)


def train_classifier(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    steps: int,
    batch_size: int = 128,
    lr: float = 3e-3,
    generator: torch.Generator | None = None,
    eval_data: tuple[Tensor, Tensor] | None = None,
    eval_every: int = 100,
    progress: bool = True,
    desc: str = "entrenando",
) -> History:
    """Entrena con Adam y entropía cruzada sobre lotes aleatorios.

    ``generator`` fija el orden de los lotes (reproducible). Si se da
    ``eval_data``, mide la exactitud cada ``eval_every`` pasos y al final.
    """
    check_dataset(x, y)
    check_int(steps, "steps")
    check_int(batch_size, "batch_size")
    check_int(eval_every, "eval_every")
    if eval_data is not None:
        check_dataset(*eval_data)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = History()
    model.train()
    bar = progress_bar(range(1, steps + 1), desc=desc, disable=not progress)
    for step in bar:
        idx = torch.randint(0, len(x), (batch_size,), generator=generator)
        logits = model(x[idx])                       # (B, K)
        loss = F.cross_entropy(logits, check_targets(logits, y[idx], "y"))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.steps.append(step)
        history.loss.append(loss.item())
        if eval_data is not None and (step % eval_every == 0
                                      or step == steps):
            history.eval_steps.append(step)
            history.eval_accuracy.append(accuracy(model, *eval_data))
            bar.set_postfix(exactitud=f"{history.eval_accuracy[-1]:.3f}")
    model.eval()
    return history
