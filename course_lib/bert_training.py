"""Preentrenar BERT (MLM + NSP) y ajustarlo a una clasificación.

Libro: capítulo 3, «Preentrenamiento en el Quijote» y «Ajuste fino».
Artículo: Devlin et al. (2019), §3.1 (MLM y NSP), §3.2 (ajuste fino) y
apéndice A.2 (AdamW con calentamiento y decaimiento lineal).

El presupuesto es siempre un número de pasos (nunca de segundos) y todo
el azar sale de un ``torch.Generator``: con la misma semilla, el mismo
resultado. Los datos son diccionarios de tensores (N, T) como los que
devuelven ``bert_data.encode`` y ``bert_data.build_inputs``:
``input_ids``, ``token_type_ids`` y ``attention_mask``.
"""

# Notación: B lote · T tokens · C canales · V vocabulario
#           N ejemplos · M posiciones elegidas por el MLM

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.bert import (
    BertForPreTraining,
    BertForSequenceClassification,
    BertModel,
)
from course_lib.bert_data import IGNORE_INDEX, mask_tokens
from course_lib.training import History, fit, warmup_linear
from course_lib.utils import check_int, check_range, describe, from_preset

__all__ = [
    "INPUT_KEYS", "RECIPES", "BertRecipe", "PretrainHistory",
    "PretrainLosses", "check_inputs",
    "classification_accuracy", "evaluate_pretraining", "finetune",
    "linear_schedule", "mean_pooled_features", "most_frequent_token",
    "pretrain",
    "pretraining_losses",
]

INPUT_KEYS = ("input_ids", "token_type_ids", "attention_mask")


@dataclass(frozen=True)
class BertRecipe:
    """Receta del capítulo: tokenizador, preentrenamiento y ajuste fino.

    El modelo sale de ``BertConfig.preset`` con el mismo nombre; aquí van
    los presupuestos (en pasos) y las tasas de aprendizaje.
    """

    vocab_size: int = 4000        # WordPiece entrenado en el Quijote
    max_len: int = 48             # tokens por ejemplo (par NSP o pasaje)
    pretrain_steps: int = 800
    pretrain_batch: int = 32
    pretrain_lr: float = 2e-3
    pretrain_pairs: int | None = None   # None: pasos × lote, sin repetir
    grad_clip: float | None = None
    finetune_steps: int = 120
    finetune_batch: int = 32
    finetune_lr: float = 5e-4
    finetune_warmup: float | None = None   # None: tasa constante

    def __post_init__(self) -> None:
        for name in ("vocab_size", "max_len", "pretrain_steps",
                     "pretrain_batch", "finetune_steps", "finetune_batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} debe ser un entero >= 1; vale "
                                 f"{value!r}")
        if self.pretrain_lr <= 0 or self.finetune_lr <= 0:
            raise ValueError("las tasas de aprendizaje deben ser > 0; se "
                             f"recibieron {self.pretrain_lr} y "
                             f"{self.finetune_lr}")

    @property
    def n_pairs(self) -> int:
        """Pares NSP de entrenamiento que hay que construir."""
        full = self.pretrain_steps * self.pretrain_batch
        return full if self.pretrain_pairs is None else min(
            full, self.pretrain_pairs)

    @classmethod
    def preset(cls, name: str, **changes: Any) -> BertRecipe:
        return from_preset(cls, RECIPES, name, changes)


RECIPES: dict[str, dict[str, Any]] = {
    # El cuaderno: ~1 minuto de CPU con 2 núcleos. Lo que necesita más
    # cómputo va en los pesos del curso «bert-quijote».
    "cpu": {},
}


def check_inputs(data: Mapping[str, Tensor],
                 labels: Tensor | None = None) -> int:
    """Comprueba un lote de datos y devuelve su número de ejemplos N.

    ``data`` debe tener las tres claves de ``INPUT_KEYS``, tensores
    enteros (N, T) de la misma forma; ``labels``, si se da, (N,) enteros.
    """
    if not isinstance(data, Mapping):
        raise TypeError("los datos deben ser un diccionario con "
                        f"{INPUT_KEYS}; se recibió {type(data).__name__}")
    missing = [k for k in INPUT_KEYS if k not in data]
    if missing:
        raise ValueError(f"faltan las claves {missing} en los datos; se "
                         f"recibieron {sorted(data)}")
    for key in INPUT_KEYS:
        value = data[key]
        if not isinstance(value, Tensor) or value.is_floating_point():
            raise TypeError(
                f"{key} debe ser un tensor de enteros; se recibió "
                f"{getattr(value, 'dtype', type(value).__name__)}")
    shape = data["input_ids"].shape
    for key in INPUT_KEYS:
        value = data[key]
        if value.dim() != 2 or value.shape != shape:
            raise ValueError(f"{key} debe tener forma (N, T) = "
                             f"{tuple(shape)}; tiene {tuple(value.shape)}")
    if labels is not None:
        if not isinstance(labels, Tensor) or labels.is_floating_point():
            raise TypeError("las etiquetas deben ser un tensor de enteros; "
                            "se recibió "
                            f"{getattr(labels, 'dtype', type(labels))}")
        if labels.shape != shape[:1]:
            raise ValueError(f"las etiquetas deben tener forma (N,) = "
                             f"({shape[0]},); tienen {tuple(labels.shape)}")
    return shape[0]


def _check_budget(steps: int, batch_size: int) -> None:
    check_int(steps, "steps")
    check_int(batch_size, "batch_size")


def _check_classes(labels: Tensor, n_classes: int, name: str) -> None:
    """Etiquetas en [0, n_classes): lo que acepta la entropía cruzada."""
    check_range(labels, 0, n_classes, name, outside="clases fuera de")


def linear_schedule(step: int, *, steps: int, warmup_steps: int) -> float:
    """Factor de la tasa de aprendizaje en el paso ``step`` (0, 1, …):
    sube linealmente durante ``warmup_steps`` y baja linealmente hasta 0
    en el último paso, como en BERT. Sin calentamiento, solo baja."""
    check_int(steps, "steps")
    check_int(step, "step", minimum=0)
    if not 0 <= check_int(warmup_steps, "warmup_steps", minimum=0) <= steps:
        raise ValueError(f"warmup_steps debe estar entre 0 y steps={steps};"
                         f" se recibió {warmup_steps}")
    return warmup_linear(step, lr=1.0, steps=steps, warmup=warmup_steps)


def _batch(data: Mapping[str, Tensor], idx: Tensor,
           device: torch.device) -> list[Tensor]:
    return [data[k][idx].to(device) for k in INPUT_KEYS]


# --- preentrenamiento ---------------------------------------------------

class PretrainLosses(NamedTuple):
    mlm: Tensor           # escalar: entropía cruzada en las M elegidas
    nsp: Tensor           # escalar: entropía cruzada de NSP
    mlm_correct: int      # aciertos del MLM entre las M elegidas
    n_masked: int         # M
    nsp_logits: Tensor    # (B, 2)


def pretraining_losses(
    model: BertForPreTraining, batch: Mapping[str, Tensor],
    nsp_labels: Tensor, *, mask_token_id: int,
    special_token_ids: Sequence[int],
    generator: torch.Generator | None = None,
) -> PretrainLosses:
    """Un paso del preentrenamiento, sin la actualización.

    1. Enmascara ``batch["input_ids"]`` con la regla 80/10/10
       (``mask_tokens``; el sorteo sale de ``generator``).
    2. Pasa el codificador por la secuencia alterada.
    3. MLM: la cabeza (multiplicar por la tabla de *embeddings*, C -> V)
       solo se calcula en las M posiciones elegidas, el ~15 %: el mismo
       resultado que con todas y etiqueta -100 en el resto, más barato.
    4. NSP: clasificador sobre la salida del *pooler* (``[CLS]``).
    """
    n = check_inputs(batch, nsp_labels)
    if n == 0:
        raise ValueError("el lote está vacío (N = 0)")
    _check_classes(nsp_labels, 2, "nsp_labels")
    device = next(model.parameters()).device
    inputs, labels = mask_tokens(
        batch["input_ids"], mask_token_id=mask_token_id,
        vocab_size=model.config.vocab_size,
        special_token_ids=list(special_token_ids), generator=generator)
    out = model.bert(inputs.to(device), batch["token_type_ids"].to(device),
                     batch["attention_mask"].to(device))
    chosen = (labels != IGNORE_INDEX).to(device)              # (B, T)
    target = labels.to(device)[chosen]                        # (M,)
    logits = model.mlm_logits(out.last_hidden_state[chosen])  # (M, V)
    mlm = F.cross_entropy(logits, target)   # NaN si M = 0 (lote diminuto)
    nsp_logits = model.cls.seq_relationship(out.pooler_output)  # (B, 2)
    nsp = F.cross_entropy(nsp_logits, nsp_labels.to(device))
    correct = int((logits.argmax(-1) == target).sum())
    return PretrainLosses(mlm, nsp, correct, len(target), nsp_logits)


# Por paso: ``loss`` (MLM + NSP, o solo MLM), ``mlm``, ``nsp`` y ``lr``;
# ``evals``: pares (paso, lo que devuelve ``evaluate``).
PretrainHistory = History


def pretrain(
    model: BertForPreTraining, data: Mapping[str, Tensor],
    nsp_labels: Tensor, *, steps: int, batch_size: int, lr: float,
    mask_token_id: int, special_token_ids: Sequence[int],
    warmup_fraction: float = 0.1, weight_decay: float = 0.01,
    grad_clip: float | None = None, use_nsp: bool = True,
    generator: torch.Generator | None = None, progress: bool = True,
    desc: str = "preentrenamiento",
    evaluate: Callable[[], dict[str, float]] | None = None,
    eval_every: int = 0,
) -> PretrainHistory:
    """Preentrena ``model`` con MLM (+ NSP si ``use_nsp``) ``steps`` pasos.

    Los lotes recorren los pares de ``data`` en orden: el paso s usa los
    ejemplos s·B … s·B + B - 1 (módulo N, así que se da la vuelta si los
    pasos piden más pares de los que hay; el MLM vuelve a sortear las
    máscaras cada vez). AdamW con calentamiento lineal del
    ``warmup_fraction`` de los pasos y decaimiento lineal hasta 0.
    Si se da ``evaluate`` (sin argumentos, devuelve un diccionario), se
    llama cada ``eval_every`` pasos y se guarda en ``history.evals``.
    """
    n = check_inputs(data, nsp_labels)
    _check_budget(steps, batch_size)
    _check_classes(nsp_labels, 2, "nsp_labels")
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} es mayor que el número "
                         f"de ejemplos N={n}")
    if not 0.0 <= warmup_fraction < 1.0:
        raise ValueError("warmup_fraction debe estar en [0, 1); vale "
                         f"{warmup_fraction}")
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr,
                                  weight_decay=weight_decay)

    def batch(step: int) -> tuple[dict[str, Tensor], Tensor]:
        idx = (step * batch_size + torch.arange(batch_size)) % n   # (B,)
        return {k: data[k][idx] for k in INPUT_KEYS}, nsp_labels[idx]

    def loss_fn(model: BertForPreTraining,
                batch: tuple[dict[str, Tensor], Tensor]
                ) -> tuple[Tensor, dict[str, Tensor]]:
        losses = pretraining_losses(
            model, *batch, mask_token_id=mask_token_id,
            special_token_ids=special_token_ids, generator=generator)
        loss = losses.mlm + losses.nsp if use_nsp else losses.mlm
        return loss, {"mlm": losses.mlm, "nsp": losses.nsp}
    return fit(model, optimizer, batch, loss_fn, steps=steps,
               schedule=partial(warmup_linear, lr=lr, steps=steps,
                                warmup=int(steps * warmup_fraction)),
               grad_clip=grad_clip,
               evaluate=evaluate if eval_every else None,
               eval_every=eval_every or 1, progress=progress, desc=desc)


@torch.no_grad()
def evaluate_pretraining(
    model: BertForPreTraining, data: Mapping[str, Tensor],
    nsp_labels: Tensor, *, mask_token_id: int,
    special_token_ids: Sequence[int], seed: int = 123,
    batch_size: int = 1000,
) -> dict[str, float]:
    """Exactitud y pérdida del MLM y exactitud de NSP en ``data``.

    Las máscaras se sortean una sola vez para todo ``data`` con la semilla
    ``seed`` (la misma evaluación para cualquier modelo y cualquier
    ``batch_size``). Devuelve ``mlm_accuracy``, ``mlm_loss``,
    ``nsp_accuracy`` y ``n_masked``.
    """
    n = check_inputs(data, nsp_labels)
    if n == 0:
        raise ValueError("no hay ejemplos que evaluar (N = 0)")
    check_int(batch_size, "batch_size")
    _check_classes(nsp_labels, 2, "nsp_labels")
    inputs, labels = mask_tokens(
        data["input_ids"], mask_token_id=mask_token_id,
        vocab_size=model.config.vocab_size,
        special_token_ids=list(special_token_ids),
        generator=torch.Generator().manual_seed(seed))
    masked = {**data, "input_ids": inputs}
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct = nsp_correct = 0
    total_loss = 0.0
    n_masked = 0
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(start + batch_size, n))
        out = model.bert(*_batch(masked, idx, device))
        chosen = (labels[idx] != IGNORE_INDEX).to(device)     # (b, T)
        target = labels[idx].to(device)[chosen]               # (m,)
        logits = model.mlm_logits(out.last_hidden_state[chosen])
        total_loss += F.cross_entropy(logits, target,
                                      reduction="sum").item()
        correct += int((logits.argmax(-1) == target).sum())
        n_masked += len(target)
        nsp = model.cls.seq_relationship(out.pooler_output)   # (b, 2)
        nsp_correct += int((nsp.argmax(-1).cpu() == nsp_labels[idx]).sum())
    model.train(was_training)
    return {"mlm_accuracy": correct / max(n_masked, 1),
            "mlm_loss": total_loss / max(n_masked, 1),
            "nsp_accuracy": nsp_correct / n, "n_masked": n_masked}


def most_frequent_token(data: Mapping[str, Tensor],
                        special_token_ids: Sequence[int]) -> int:
    """El token no especial más frecuente en las posiciones reales de
    ``data``: la predicción de la referencia «responder siempre lo mismo»."""
    check_inputs(data)
    ids = data["input_ids"][data["attention_mask"].bool()]
    ids = ids[~torch.isin(ids, torch.tensor(list(special_token_ids)))]
    if ids.numel() == 0:
        raise ValueError("no hay tokens normales en los datos")
    return int(ids.bincount().argmax())


# --- ajuste fino ----------------------------------------------------------

def finetune(
    model: BertForSequenceClassification, data: Mapping[str, Tensor],
    labels: Tensor, *, steps: int, batch_size: int, lr: float,
    weight_decay: float = 0.01, warmup_fraction: float | None = None,
    generator: torch.Generator | None = None, progress: bool = False,
    desc: str = "ajuste fino",
) -> list[float]:
    """Ajusta ``model`` (todos sus parámetros) con entropía cruzada.

    Cada paso sortea B ejemplos con ``generator`` (con reemplazo). Tasa de
    aprendizaje constante, o con calentamiento y decaimiento lineal si se
    da ``warmup_fraction``. Devuelve la pérdida de cada paso y deja el
    modelo en modo ``eval``.
    """
    n = check_inputs(data, labels)
    _check_budget(steps, batch_size)
    if n == 0:
        raise ValueError("no hay ejemplos para el ajuste fino (N = 0)")
    _check_classes(labels, model.num_labels, "labels")
    if warmup_fraction is not None and not 0.0 <= warmup_fraction < 1.0:
        raise ValueError("warmup_fraction debe estar en [0, 1); vale "
                         f"{warmup_fraction}")
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr,
                                  weight_decay=weight_decay)
    schedule = None
    if warmup_fraction is not None:
        schedule = partial(warmup_linear, lr=lr, steps=steps,
                           warmup=int(steps * warmup_fraction))

    def batch(step: int) -> tuple[list[Tensor], Tensor]:
        idx = torch.randint(n, (batch_size,), generator=generator)  # (B,)
        return [data[k][idx] for k in INPUT_KEYS], labels[idx]

    def loss_fn(model: BertForSequenceClassification,
                batch: tuple[list[Tensor], Tensor]) -> Tensor:
        inputs, y = batch
        return F.cross_entropy(model(*inputs), y)   # (B, K) frente a (B,)
    return fit(model, optimizer, batch, loss_fn, steps=steps,
               schedule=schedule, progress=progress, desc=desc).loss


@torch.no_grad()
def classification_accuracy(
    model: BertForSequenceClassification, data: Mapping[str, Tensor],
    labels: Tensor, *, batch_size: int = 1000,
) -> float:
    """Fracción de aciertos de ``model`` en ``data`` (en modo ``eval``)."""
    n = check_inputs(data, labels)
    if n == 0:
        raise ValueError("no hay ejemplos que evaluar (N = 0)")
    check_int(batch_size, "batch_size")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(start + batch_size, n))
        logits = model(*_batch(data, idx, device))            # (b, K)
        correct += int((logits.argmax(-1).cpu() == labels[idx]).sum())
    model.train(was_training)
    return correct / n


# --- representaciones congeladas: la sonda lineal ---------------------------

@torch.no_grad()
def mean_pooled_features(
    model: nn.Module, data: Mapping[str, Tensor], *, batch_size: int = 256,
) -> Tensor:
    """La media de los estados de la última capa sobre los tokens reales
    (sin relleno) de cada texto: rasgos (N, C) para una sonda lineal.

    ``model`` es un ``BertModel`` o un modelo que lo lleve en ``.bert``
    (``BertForPreTraining``, ``BertForSequenceClassification``). No toca
    sus pesos: el codificador queda congelado y en modo ``eval``.
    """
    n = check_inputs(data)
    if n == 0:
        raise ValueError("no hay textos de los que sacar rasgos (N = 0)")
    check_int(batch_size, "batch_size")
    encoder = getattr(model, "bert", model)
    if not isinstance(encoder, BertModel):
        raise TypeError("model debe ser un BertModel o llevarlo en .bert; "
                        f"se recibió {describe(model)}")
    device = next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    features = []
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(start + batch_size, n))
        inputs = _batch(data, idx, device)
        hidden = encoder(*inputs).last_hidden_state           # (b, T, C)
        real = inputs[2].unsqueeze(-1).to(hidden.dtype)       # (b, T, 1)
        features.append(((hidden * real).sum(1)
                         / real.sum(1).clamp(min=1)).cpu())   # (b, C)
    encoder.train(was_training)
    return torch.cat(features)                                # (N, C)
