"""Pesos del curso «gpt-moliere»: el GPT del capítulo 4, entrenado una hora.

Libro: capítulo 4, «El GPT del curso».

El cuaderno entrena en vivo un GPT de caracteres durante dos minutos: la
pérdida baja, pero las muestras todavía no se leen como francés. Este
módulo es la misma receta (``GPT``, AdamW con calentamiento y coseno,
``lm_training``) con el presupuesto de una hora de CPU, escrita una vez
para que cualquiera la repita::

    python -m course_lib.checkpoints train gpt-moliere

Decisiones (la ficha guarda la receta entera):

- **Datos y medida, los del libro**: el tokenizador de caracteres de
  ``moliere.txt`` entero y el corte 90/10 (``train_val_split``); la
  pérdida de validación, en nats por carácter, recorre el 10 % final
  entero en ventanas del contexto del modelo (``evaluate_loss``).
- **Contexto de 256 caracteres** (el cuaderno usa 64): cada predicción
  ve, de media, el doble de texto anterior que con 128, y en teatro en
  verso eso es ver el verso anterior y el nombre de quien habla.
- **Tamaño**: el mayor que la hora de CPU entrena varias pasadas por el
  texto (1,5 M de caracteres de entrenamiento); *dropout* contra el
  sobreajuste de esas pasadas repetidas.
- **Muestras durante el entrenamiento** (paso 0, unos cientos, unos
  miles y el final), con la pérdida de cada momento: la ficha las guarda
  para que el capítulo enseñe cómo emerge el idioma.
- Se guarda cada ``save_every`` pasos; los lotes de cada tramo salen de
  la semilla y del número de tramo, así que retomar un entrenamiento
  cortado da los mismos lotes.
"""

# Notación: B lote · T contexto · V vocabulario (caracteres)

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from course_lib.char_tokenizer import CharTokenizer, train_val_split
from course_lib.data import load_text
from course_lib.gpt import GPT, GPTConfig
from course_lib.lm_training import (
    LMTrainConfig,
    evaluate_loss,
    get_batch,
    make_optimizer,
)
from course_lib.training import History, warmup_cosine_to_min

if TYPE_CHECKING:   # checkpoints importa este módulo para su registro
    from course_lib.checkpoints import Checkpoint, Run

__all__ = ["CONFIG", "SAMPLE_PROMPT", "TOLERANCE", "build", "evaluate",
           "sample", "splits", "tokenizer", "train"]

CONFIG: dict[str, Any] = {
    "seed": 0,
    "model": dict(vocab_size=85, max_position_embeddings=256,
                  num_hidden_layers=4, num_attention_heads=4,
                  hidden_size=192, dropout=0.1),
    "steps": 5000,
    "batch_size": 16,
    "lr": 2e-3,
    "min_lr": 2e-4,
    "warmup_steps": 200,
    "weight_decay": 0.1,
    "betas": [0.9, 0.99],
    "grad_clip": 1.0,
    "save_every": 250,         # pasos por tramo (estado guardado y lotes)
    "eval_every": 500,
    "eval_tokens": 65_536,     # caracteres de la evaluación periódica
    "sample_steps": [0, 250, 1000, 3000],   # y el final
    "sample_chars": 300,
    "quick_tokens": 32_768,    # la evaluación rápida de la prueba
    "dtype": "float16",        # así se guardan los pesos
}

SAMPLE_PROMPT = "SGANARELLE.\n"

# Cuánto puede separarse la evaluación rápida de la ficha en otra CPU.
TOLERANCE = {"val_loss_quick": 0.01}


def build(config: dict[str, Any]) -> GPT:
    """El modelo sin entrenar que describe ``config["model"]``."""
    return GPT(GPTConfig(**config["model"]))


@lru_cache(maxsize=1)
def _tokenizer() -> CharTokenizer:
    return CharTokenizer.from_text(load_text("moliere.txt"))


def tokenizer(config: dict[str, Any]) -> CharTokenizer:
    """El tokenizador de caracteres de ``moliere.txt`` (el del libro)."""
    return _tokenizer()


def splits() -> tuple[Tensor, Tensor]:
    """El texto codificado, primer 90 % y último 10 % (los del libro)."""
    return train_val_split(_tokenizer().encode(load_text("moliere.txt")))


def sample(model: GPT, *, n_chars: int, seed: int = 0,
           prompt: str = SAMPLE_PROMPT) -> str:
    """Texto generado por ``model`` a partir de ``prompt`` (temperatura
    0,8, semilla fija: la misma muestra en cada llamada)."""
    tok = _tokenizer()
    device = next(model.parameters()).device
    idx = tok.encode(prompt)[None].to(device)           # (1, T)
    out = model.generate(idx, n_chars, temperature=0.8,
                         generator=torch.Generator(device).manual_seed(seed))
    return tok.decode(out[0].cpu())


def _recipe(config: dict[str, Any]) -> LMTrainConfig:
    return LMTrainConfig(
        steps=config["steps"], batch_size=config["batch_size"],
        lr=config["lr"], min_lr=config["min_lr"],
        warmup_steps=config["warmup_steps"],
        weight_decay=config["weight_decay"],
        betas=tuple(config["betas"]), grad_clip=config["grad_clip"],
        eval_every=config["eval_every"], eval_tokens=config["eval_tokens"])


def train(model: GPT, config: dict[str, Any], run: Run) -> dict[str, Any]:
    """Entrena ``model`` con la receta; retoma si hay estado guardado.

    Devuelve la pérdida de validación final (el 10 % entero), la curva y
    las muestras de cada momento."""
    recipe = _recipe(config)
    T = model.config.max_position_embeddings
    train_data, val_data = splits()
    optimizer = make_optimizer(model, recipe)
    samples: list[dict[str, Any]] = []
    schedule = partial(warmup_cosine_to_min, lr=recipe.lr,
                       min_lr=recipe.min_lr, steps=recipe.steps,
                       warmup=recipe.warmup_steps)

    def measure(step: int) -> dict[str, float]:
        return {"step": step, **{name: round(evaluate_loss(
            model, data, T, max_tokens=recipe.eval_tokens), 4)
            for name, data in (("train_loss", train_data),
                               ("val_loss", val_data))}}

    def record_sample(step: int) -> None:
        point = measure(step)
        samples.append({**point, "text": sample(
            model, n_chars=config["sample_chars"])})
        model.train()

    def loss_fn(model: GPT, batch: tuple[Tensor, Tensor]) -> Tensor:
        x, y = batch                                     # (B, T) cada uno
        return model(x, y)[1]

    def before_chunk(first: int) -> None:
        if first in config["sample_steps"]:
            record_sample(first)

    def batches(first: int, n: int) -> Callable[[int], tuple[Tensor, Tensor]]:
        generator = torch.Generator().manual_seed(
            config["seed"] * 100_003 + first)

        def batch(step: int) -> tuple[Tensor, Tensor]:
            return get_batch(train_data, T, recipe.batch_size,
                             generator=generator)
        return batch

    def after_chunk(done: int, part: History) -> dict[str, float] | None:
        if done % recipe.eval_every and done != recipe.steps:
            return None
        point = measure(done)
        model.train()
        return point

    progress = run.fit_in_chunks(
        model, optimizer, loss_fn, steps=recipe.steps,
        every=config["save_every"], batches=batches, schedule=schedule,
        grad_clip=recipe.grad_clip, before_chunk=before_chunk,
        after_chunk=after_chunk, extra={"samples": samples})
    record_sample(recipe.steps)
    model.eval()
    val_loss = evaluate_loss(model, val_data, T)
    return {"val_loss": round(val_loss, 4), "val_chars": len(val_data),
            "train_minutes": round(progress.seconds / 60, 1),
            "curve": progress.curve, "samples": samples}


def evaluate(checkpoint: Checkpoint) -> dict[str, float]:
    """La evaluación rápida de la prueba: la pérdida de validación en
    ``quick_tokens`` caracteres repartidos por el 10 % final."""
    config = checkpoint.card["config"]
    model = checkpoint.model
    _, val_data = splits()
    loss = evaluate_loss(model, val_data, model.config.max_position_embeddings,
                         max_tokens=config["quick_tokens"])
    return {"val_loss_quick": round(loss, 4)}
