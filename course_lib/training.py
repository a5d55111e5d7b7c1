"""Un solo bucle de entrenamiento para todo el libro, y sus calendarios.

Libro: capítulo 1, §12 «Experimento: ¿hace falta la atención?»
(``train_classifier``); los capítulos 2 a 8 lo reutilizan con su receta.

``fit`` hace lo mismo en cada paso: fija la tasa de aprendizaje del
calendario, pide un lote, lo lleva al dispositivo del modelo, calcula la
pérdida, retropropaga, recorta el gradiente y actualiza. Cada capítulo
le pasa lo que cambia: el optimizador, cómo sortear un lote y cómo
calcular su pérdida. Los calendarios son funciones puras del paso (0, 1,
…) que devuelven la tasa de ese paso; cada capítulo conserva la fórmula
con la que se midieron sus resultados.

Aquí vive también la evaluación que comparten varios capítulos: la
exactitud de un clasificador (``accuracy``) y la sonda lineal
(``linear_probe``), que mide las representaciones del MAE (cap. 6), de
CLIP (cap. 7) y de los *benchmarks* sin tocar el modelo; por eso no está
en el módulo de ningún modelo.
"""

# Notación: B lote · K clases · n ejemplos · D rasgos

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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

# Una pérdida sola, o la pérdida y otras cifras del paso que anotar.
LossOutput = Tensor | tuple[Tensor, dict[str, Tensor | float]]


# --- calendarios: paso (0, 1, …) -> tasa de aprendizaje ----------------

def constant(step: int, *, lr: float) -> float:
    """La misma tasa ``lr`` en todos los pasos."""
    return lr


def warmup_cosine(step: int, *, lr: float, steps: int,
                  warmup: int) -> float:
    """Sube lineal ``warmup`` pasos y baja en coseno hasta 0 (caps. 5-6)."""
    if step < warmup:
        factor = (step + 1) / warmup
    else:
        progress = (step - warmup) / max(1, steps - warmup)
        factor = 0.5 * (1.0 + math.cos(math.pi * progress))
    return lr * factor


def warmup_cosine_to_min(step: int, *, lr: float, min_lr: float,
                         steps: int, warmup: int) -> float:
    """Sube lineal y baja en coseno hasta ``min_lr`` en el último paso
    (cap. 4)."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - 1 - warmup)
    cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return min_lr + (lr - min_lr) * cosine


def warmup_linear(step: int, *, lr: float, steps: int,
                  warmup: int) -> float:
    """Sube lineal ``warmup`` pasos y baja lineal hasta 0, como BERT
    (cap. 3)."""
    if step < warmup:
        factor = (step + 1) / warmup
    else:
        factor = (steps - step) / max(1, steps - warmup)
    return lr * factor


def warmup_times_cosine(step: int, *, lr: float, steps: int,
                        warmup: int) -> float:
    """Rampa de ``warmup + 1`` pasos multiplicada por un coseno sobre todo
    el entrenamiento (cap. 2)."""
    factor = (min(1.0, (step + 1) / (warmup + 1))
              * 0.5 * (1 + math.cos(math.pi * step / steps)))
    return lr * factor


def warmup_min_cosine(step: int, *, lr: float, steps: int,
                      warmup: int) -> float:
    """El mínimo de una rampa de ``warmup`` pasos y un coseno sobre todo
    el entrenamiento (caps. 7-8)."""
    factor = min((step + 1) / warmup,
                 0.5 * (1 + math.cos(math.pi * step / steps)))
    return lr * factor


# --- historial -----------------------------------------------------------

@dataclass
class History:
    """Lo que anota ``fit``.

    Por paso: ``steps`` (1, 2, …), ``loss``, ``lr`` y, en ``logs``, otras
    cifras con nombre. Por evaluación: ``evals``, pares (paso, cifras).
    Una curva con nombre se lee como atributo: ``h.val_loss`` son los
    valores «val_loss» de ``evals`` y ``h.scale`` la lista ``logs["scale"]``.
    """

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    logs: dict[str, list[float]] = field(default_factory=dict)
    evals: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    seconds: float = 0.0     # solo los pasos de entrenamiento

    @property
    def eval_steps(self) -> list[int]:
        """Los pasos en los que se evaluó."""
        return [step for step, _ in self.evals]

    def __getattr__(self, name: str) -> list[float]:
        logs = self.__dict__.get("logs", {})
        if name in logs:
            return logs[name]
        evals = self.__dict__.get("evals", [])
        if evals and all(name in metrics for _, metrics in evals):
            return [metrics[name] for _, metrics in evals]
        raise AttributeError(f"el historial no tiene la curva {name!r}")


# --- el bucle -----------------------------------------------------------

def to_device(batch: Any, device: torch.device) -> Any:
    """Lleva al dispositivo cada tensor de un lote (tensor, tupla, lista o
    diccionario); lo demás lo deja igual."""
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Callable[[int], Any],
    loss_fn: Callable[[nn.Module, Any], LossOutput],
    *,
    steps: int,
    schedule: Callable[[int], float] | None = None,
    grad_clip: float | None = None,
    evaluate: Callable[[], dict[str, float]] | None = None,
    eval_every: int = 100,
    monitor: Callable[[nn.Module], dict[str, float]] | None = None,
    history: History | None = None,
    progress: bool = True,
    desc: str = "entrenando",
) -> History:
    """Entrena ``model`` ``steps`` pasos y devuelve su ``History``.

    En el paso s (0, 1, …): ``schedule(s)`` fija la tasa de todos los
    grupos del optimizador (sin calendario se deja la suya);
    ``batches(s)`` da un lote, que se lleva al dispositivo del modelo;
    ``loss_fn(model, lote)`` da la pérdida (o la pérdida y un diccionario
    de cifras que se anotan en ``history.logs``); después vienen
    ``zero_grad``, ``backward``, el recorte de la norma del gradiente a
    ``grad_clip`` y ``optimizer.step()``. ``monitor(model)``, tras la
    actualización, anota más cifras. ``evaluate()`` se llama cada
    ``eval_every`` pasos y en el último. Deja el modelo en modo ``eval``.
    """
    check_int(steps, "steps")
    if evaluate is not None:
        check_int(eval_every, "eval_every")
    device = next(model.parameters()).device
    history = History() if history is None else history
    model.train()
    bar = progress_bar(range(steps), desc=desc, disable=not progress)
    for step in bar:
        start = time.perf_counter()
        if schedule is not None:
            for group in optimizer.param_groups:
                group["lr"] = schedule(step)
        lr = optimizer.param_groups[0]["lr"]
        output = loss_fn(model, to_device(batches(step), device))
        loss, logs = output if isinstance(output, tuple) else (output, {})
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        if monitor is not None:
            logs = {**logs, **monitor(model)}
        history.steps.append(step + 1)
        history.loss.append(loss.item())
        history.lr.append(lr)
        for name, value in logs.items():
            value = value.item() if isinstance(value, Tensor) else value
            history.logs.setdefault(name, []).append(value)
        history.seconds += time.perf_counter() - start
        if step % 50 == 0 or step + 1 == steps:
            bar.set_postfix(pérdida=f"{history.loss[-1]:.3f}")
        if evaluate is not None and ((step + 1) % eval_every == 0
                                     or step + 1 == steps):
            metrics = evaluate()
            history.evals.append((step + 1, metrics))
            model.train()
            bar.set_postfix({k: f"{v:.3f}" for k, v in metrics.items()})
    model.eval()
    return history


# --- el clasificador del capítulo 1 --------------------------------------

def check_dataset(x: object, y: object) -> int:
    """Ejemplos ``x`` (N, ...) y etiquetas enteras ``y`` (N,), N > 0.
    Devuelve N. El rango de las etiquetas se comprueba con los logits."""
    check_tensor(x, "x")
    check_tensor(y, "y", ndim=1, shape="(N,)", dtype_kind="int")
    return check_examples(x=x, y=y)


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor,
             *, batch_size: int = 1024) -> float:
    """Fracción de aciertos de ``model(x).argmax(-1)`` frente a ``y``.

    Los lotes viajan al dispositivo del modelo; ``x`` e ``y`` pueden
    quedarse en la CPU.
    """
    check_dataset(x, y)
    check_int(batch_size, "batch_size")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    hits = 0
    for i in range(0, len(x), batch_size):
        logits = model(x[i:i + batch_size].to(device))        # (b, K)
        target = y[i:i + batch_size].to(device)
        hits += (logits.argmax(-1) == target).sum().item()
    model.train(was_training)
    return hits / len(x)


def random_batches(*tensors: Tensor, batch_size: int,
                   generator: torch.Generator | None = None
                   ) -> Callable[[int], tuple[Tensor, ...]]:
    """Lotes de ``batch_size`` ejemplos sorteados con reemplazo
    (``torch.randint`` con ``generator``), los mismos en cada tensor."""
    n = len(tensors[0])

    def batch(step: int) -> tuple[Tensor, ...]:
        idx = torch.randint(0, n, (batch_size,), generator=generator)
        return tuple(t[idx] for t in tensors)
    return batch


def classification_loss(model: nn.Module, batch: tuple[Tensor, Tensor],
                        *, label_smoothing: float = 0.0) -> Tensor:
    """Entropía cruzada de ``model(x)`` (B, K) frente a ``y`` (B,)."""
    x, y = batch
    logits = model(x)                                          # (B, K)
    return F.cross_entropy(logits, check_targets(logits, y, "y"),
                           label_smoothing=label_smoothing)


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
    """Entrena con Adam (tasa constante) y entropía cruzada sobre lotes
    aleatorios.

    ``generator`` fija el orden de los lotes (reproducible). Si se da
    ``eval_data``, mide la exactitud cada ``eval_every`` pasos y al final
    (``history.eval_accuracy``).
    """
    check_dataset(x, y)
    check_int(steps, "steps")
    check_int(batch_size, "batch_size")
    check_int(eval_every, "eval_every")
    evaluate = None
    if eval_data is not None:
        check_dataset(*eval_data)

        def evaluate() -> dict[str, float]:
            return {"eval_accuracy": accuracy(model, *eval_data)}
    return fit(model, torch.optim.Adam(model.parameters(), lr=lr),
               random_batches(x, y, batch_size=batch_size,
                              generator=generator),
               classification_loss, steps=steps, evaluate=evaluate,
               eval_every=eval_every, progress=progress, desc=desc)


# --- evaluar representaciones: la sonda lineal (caps. 6 y 7) -----------

def linear_probe(train: Tensor, y_train: Tensor, test: Tensor,
                 y_test: Tensor) -> float:
    """Sonda lineal: regresión logística (L2, C = 1) sobre rasgos
    estandarizados ``(n, D)``; devuelve la exactitud en ``test``.

    Mide cuánta información de la clase es *linealmente* accesible en las
    representaciones, sin tocar el codificador.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    for name, feats, labels in (("train", train, y_train),
                                ("test", test, y_test)):
        check_tensor(feats, name, ndim=2, shape="(n, D)")
        check_tensor(labels, f"y_{name}", ndim=1, shape="(n,)",
                     dtype_kind="int")
        check_examples(**{name: feats, f"y_{name}": labels})
    if train.dim() != 2 or test.dim() != 2 or train.size(1) != test.size(1):
        raise ValueError("los rasgos deben ser (n, D) con la misma D; se "
                         f"recibieron {tuple(train.shape)} y "
                         f"{tuple(test.shape)}")
    train, test = train.detach().cpu().numpy(), test.detach().cpu().numpy()
    scaler = StandardScaler().fit(train)
    clf = LogisticRegression(max_iter=3000)
    clf.fit(scaler.transform(train), y_train.cpu().numpy())
    return float(clf.score(scaler.transform(test), y_test.cpu().numpy()))

