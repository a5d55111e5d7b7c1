"""Pesos del curso «bert-quijote»: la receta del capítulo 3, más larga.

Libro: capítulo 3, «El BERT del curso».

El cuaderno entrena en vivo un BERT diminuto durante un minuto: basta para
ver bajar la pérdida, no para que el preentrenamiento se note. Este módulo
es la misma receta (``BertForPreTraining``, MLM + NSP, AdamW con
calentamiento y decaimiento lineal) con el presupuesto de una hora de CPU,
escrita una vez para que cualquiera la repita::

    python -m course_lib.checkpoints train bert-quijote

Decisiones (la ficha guarda la receta entera):

- **Datos**: todo el Quijote salvo los bloques de prueba de
  ``bert_data.split_blocks`` (el 10 %, repartido por el libro). Las
  métricas salen siempre de esos bloques, que el modelo nunca ve.
- **Segmentos de 20 palabras** en vez de frases: ``[CLS] A [SEP] B [SEP]``
  con A y B trozos consecutivos del texto (*IsNext*) o B un trozo al azar
  (*NotNext*), como los «segmentos» del artículo de BERT. Un par de trozos
  llena casi los 64 tokens (menos relleno que dos frases) y, como A y B
  se cortan a mitad de frase igual en las dos clases, NSP no puede
  acertar por la puntuación: tiene que mirar el contenido.
- **Pares nuevos en cada tramo** de ``save_every`` pasos (sorteados con la
  semilla y el número de tramo): la misma secuencia de lotes aunque el
  entrenamiento se corte y se retome.
- **Tamaño**: 4 capas, C = 192, 4 cabezas; la capa intermedia de 512
  deja los pesos en float16 por debajo de los 5 MB del registro.
- **Pasos**: 9000 de 64 pares (56 min con 2 hilos). Con 6000 pasos
  (50 min con 1 hilo) la exactitud NSP se quedaba en 0,69 en los pares
  de prueba; con 9000, 0,78 (la ficha guarda la curva entera).
"""

# Notación: B lote · T tokens · N ejemplos

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from course_lib import bert_data
from course_lib.bert import BertConfig, BertForPreTraining
from course_lib.bert_training import evaluate_pretraining, pretraining_losses
from course_lib.training import History, warmup_linear

if TYPE_CHECKING:   # checkpoints importa este módulo para su registro
    from course_lib.checkpoints import Checkpoint, Run

__all__ = ["CONFIG", "TOLERANCE", "build", "evaluate", "nsp_data", "spans",
           "tokenizer", "train"]

CONFIG: dict[str, Any] = {
    "seed": 0,
    "model": dict(vocab_size=4000, max_position_embeddings=64,
                  num_hidden_layers=4, num_attention_heads=4,
                  hidden_size=192, intermediate_size=512, dropout=0.1,
                  attention_dropout=0.1),
    "span_words": 20,          # palabras por segmento A o B
    "max_len": 64,             # tokens por par, especiales incluidos
    "steps": 9000,
    "batch_size": 64,
    "lr": 1e-3,
    "warmup_fraction": 0.1,
    "weight_decay": 0.01,
    "grad_clip": 1.0,
    "save_every": 200,         # pasos por tramo (estado guardado y pares)
    "eval_every": 400,
    "test_pairs": 2000,        # pares de los bloques de prueba
    "quick_pairs": 1000,       # los primeros, para la prueba rápida
    "eval_seed": 123,          # sorteo de las máscaras al evaluar
    "dtype": "float16",        # así se guardan los pesos
}

# Cuánto puede separarse la evaluación rápida de la ficha en otra CPU.
TOLERANCE = {"mlm_accuracy": 0.01, "nsp_accuracy": 0.02}


def build(config: dict[str, Any]) -> BertForPreTraining:
    """El modelo sin entrenar que describe ``config["model"]``."""
    return BertForPreTraining(BertConfig(**config["model"]))


def tokenizer(config: dict[str, Any]) -> Any:
    """El WordPiece de 4000 tokens con el que se entrenó."""
    return bert_data.quijote_wordpiece()


def spans(split: str, *, n_words: int) -> list[list[int]]:
    """Segmentos de ``n_words`` palabras del Quijote, ya tokenizados, de
    los bloques de entrenamiento (``split="train"``) o de prueba
    (``"test"``), primero los de 1605 y luego los de 1615."""
    if split not in ("train", "test"):
        raise ValueError(f"split debe ser 'train' o 'test'; se recibió "
                         f"{split!r}")
    texts = []
    for part in bert_data.quijote_parts():
        train, test = bert_data.split_blocks(part)
        texts += bert_data.word_chunks(train if split == "train" else test,
                                       n_words=n_words)
    return bert_data.tokenize(bert_data.quijote_wordpiece(), texts)


def nsp_data(segments: list[list[int]], *, n_pairs: int, max_len: int,
             seed: int) -> tuple[dict[str, Tensor], Tensor]:
    """``n_pairs`` pares NSP de ``segments`` en tensores (N, max_len) y
    sus etiquetas (N,) (0 = *IsNext*, 1 = *NotNext*)."""
    first, second, labels = bert_data.make_nsp_pairs(
        segments, n_pairs=n_pairs,
        generator=torch.Generator().manual_seed(seed))
    ids = bert_data.special_ids(bert_data.quijote_wordpiece())
    data = bert_data.build_inputs(
        first, second, max_len=max_len, cls_id=ids["[CLS]"],
        sep_id=ids["[SEP]"], pad_id=ids["[PAD]"])
    return data, labels


def _masking() -> dict[str, Any]:
    ids = bert_data.special_ids(bert_data.quijote_wordpiece())
    return dict(mask_token_id=ids["[MASK]"],
                special_token_ids=list(ids.values()))


def _test_set(config: dict[str, Any], n_pairs: int
              ) -> tuple[dict[str, Tensor], Tensor]:
    return nsp_data(spans("test", n_words=config["span_words"]),
                    n_pairs=n_pairs, max_len=config["max_len"],
                    seed=config["eval_seed"])


def _evaluate(model: BertForPreTraining, config: dict[str, Any],
              n_pairs: int) -> dict[str, float]:
    data, labels = _test_set(config, n_pairs)
    metrics = evaluate_pretraining(model, data, labels,
                                   seed=config["eval_seed"], **_masking())
    return {"mlm_accuracy": round(metrics["mlm_accuracy"], 4),
            "nsp_accuracy": round(metrics["nsp_accuracy"], 4),
            "mlm_loss": round(metrics["mlm_loss"], 4)}


def train(model: BertForPreTraining, config: dict[str, Any],
          run: Run) -> dict[str, Any]:
    """Preentrena ``model`` con la receta; retoma si hay estado guardado.

    Devuelve las métricas finales en los pares de prueba y la curva
    (exactitudes cada ``eval_every`` pasos)."""
    steps, batch_size, every = (config["steps"], config["batch_size"],
                                config["save_every"])
    segments = spans("train", n_words=config["span_words"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"],
                                  weight_decay=config["weight_decay"])
    masking = _masking()
    schedule = partial(warmup_linear, lr=config["lr"], steps=steps,
                       warmup=int(steps * config["warmup_fraction"]))

    def loss_fn(model: BertForPreTraining,
                batch: tuple[dict[str, Tensor], Tensor, torch.Generator]
                ) -> tuple[Tensor, dict[str, Tensor]]:
        inputs, labels, generator = batch
        losses = pretraining_losses(model, inputs, labels,
                                    generator=generator, **masking)
        return losses.mlm + losses.nsp, {"mlm": losses.mlm,
                                         "nsp": losses.nsp}

    def batches(first: int, n: int) -> Callable[[int], Any]:
        seed = config["seed"] * 100_003 + first
        data, labels = nsp_data(segments, n_pairs=n * batch_size,
                                max_len=config["max_len"], seed=seed)
        masks = torch.Generator().manual_seed(seed)

        def batch(step: int) -> tuple[dict[str, Tensor], Tensor,
                                      torch.Generator]:
            rows = slice(step * batch_size, (step + 1) * batch_size)
            return ({k: v[rows] for k, v in data.items()}, labels[rows],
                    masks)
        return batch

    def after_chunk(done: int, part: History) -> dict[str, Any] | None:
        if done % config["eval_every"] and done != steps:
            return None
        metrics = _evaluate(model, config, config["quick_pairs"])
        model.train()
        return {"step": done, **metrics}

    progress = run.fit_in_chunks(
        model, optimizer, loss_fn, steps=steps, every=every,
        batches=batches, schedule=schedule, grad_clip=config["grad_clip"],
        after_chunk=after_chunk)
    model.eval()
    final = _evaluate(model, config, config["test_pairs"])
    return {**final, "test_pairs": config["test_pairs"],
            "train_minutes": round(progress.seconds / 60, 1),
            "curve": progress.curve}


def evaluate(checkpoint: Checkpoint) -> dict[str, float]:
    """La evaluación rápida de la prueba: exactitud MLM y NSP en los
    primeros ``quick_pairs`` pares de prueba (unos segundos en CPU)."""
    metrics = _evaluate(checkpoint.model, checkpoint.card["config"],
                        checkpoint.card["config"]["quick_pairs"])
    return {k: metrics[k] for k in ("mlm_accuracy", "nsp_accuracy")}

