"""Pesos del curso: modelos que el propio libro entrena con una receta.

Libro: introducción, «Pesos del curso».

Algunas lecciones piden más cómputo que los 3 minutos de un cuaderno (un
BERT cuyo preentrenamiento se nota, un MAE que bate a los píxeles). El libro
entrena entonces el modelo una vez, con una receta escrita aquí, y guarda
el resultado dentro del paquete, como los corpus de ``course_lib.data``::

    course_lib/resources/checkpoints/<nombre>.safetensors   pesos
    course_lib/resources/checkpoints/<nombre>.json          ficha

La ficha (``card``) dice todo lo necesario para fiarse de los pesos y
rehacerlos: la receta exacta (configuración, datos, semilla, pasos,
calendario), las métricas medidas, el dispositivo, los segundos de
entrenamiento, la versión de torch y el SHA-256 de los pesos. ``load``
comprueba ese SHA-256 antes de leer nada, y los pesos se leen con
``safetensors``: nunca con pickle.

Cada modelo es una ``Recipe`` en ``REGISTRY``. Rehacerlo desde cero::

    python -m course_lib.checkpoints train NOMBRE     # o make checkpoint
    python -m course_lib.checkpoints list

Un entrenamiento largo guarda su estado cada cierto número de pasos
(``Run.save_state``) y, si se corta, la misma orden lo retoma donde iba.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from course_lib.training import History, fit

__all__ = [
    "REGISTRY",
    "Checkpoint",
    "CheckpointError",
    "Progress",
    "Recipe",
    "Run",
    "available",
    "load",
    "train",
]

MAX_BYTES = 5_000_000        # por modelo (los pesos en float16 si hace falta)
MAX_TOTAL_BYTES = 25_000_000  # todos los pesos del paquete

# Carpeta de los pesos del paquete (las pruebas la sustituyen).
_FOLDER = resources.files("course_lib") / "resources" / "checkpoints"


class CheckpointError(RuntimeError):
    """Unos pesos del curso faltan, están alterados o no cuadran."""


@dataclass(frozen=True)
class Checkpoint:
    """Lo que devuelve ``load``: el modelo en modo eval, su ficha y el
    tokenizador con el que se entrenó (o ``None``)."""

    model: nn.Module
    card: dict[str, Any]
    tokenizer: Any = None


@dataclass
class Run:
    """Un entrenamiento en marcha: dónde escribir y cómo retomarlo."""

    name: str
    folder: Path
    device: torch.device
    log: Callable[[str], None] = print

    @property
    def state_path(self) -> Path:
        return self.folder / f"{self.name}.estado.pt"

    def save_state(self, step: int, **state: Any) -> None:
        """Guarda el estado (modelo, optimizador…) tras ``step`` pasos; se
        escribe en un temporal y se renombra, así nunca queda a medias."""
        tmp = self.state_path.with_suffix(".tmp")
        torch.save({"step": step, **state}, tmp)
        tmp.replace(self.state_path)

    def load_state(self) -> dict[str, Any] | None:
        """El último estado guardado, o ``None`` si se empieza de cero."""
        if not self.state_path.is_file():
            return None
        return torch.load(self.state_path, map_location=self.device,
                          weights_only=True)

    def fit_in_chunks(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Callable[[nn.Module, Any], Any],
        *,
        steps: int,
        every: int,
        batches: Callable[[int, int], Callable[[int], Any]],
        schedule: Callable[[int], float],
        grad_clip: float | None = None,
        before_chunk: Callable[[int], None] | None = None,
        after_chunk: Callable[[int, History], dict[str, Any] | None]
        | None = None,
        extra: dict[str, list] | None = None,
    ) -> Progress:
        """El bucle de ``training.fit`` en tramos de ``every`` pasos, con el
        estado guardado tras cada tramo: retoma donde se cortó.

        Para cada tramo que empieza en el paso ``first`` (de ``n`` pasos):
        ``before_chunk(first)``; ``batches(first, n)`` da la función de
        lotes del tramo (cada receta siembra sus datos con ``first``, así
        que retomar da los mismos lotes); ``fit`` con ``schedule`` desplazado
        a ``first``; ``after_chunk(first + n, historia_del_tramo)`` puede
        devolver un punto para la curva. ``extra`` son listas que la receta
        llena (las muestras del GPT…): se guardan y se recuperan con el
        estado. El tiempo cuenta solo lo que se entrena en esta y en las
        ejecuciones anteriores, no las esperas entre ellas.
        """
        progress = Progress(extra=dict(extra or {}))
        start = 0
        state = self.load_state()
        if state is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            progress.loss, progress.curve = state["loss"], state["curve"]
            progress.seconds, start = state["seconds"], state["step"]
            for name, values in progress.extra.items():
                values[:] = state[name]
            self.log(f"retomo «{self.name}» en el paso {start} de {steps}")
        for first in range(start, steps, every):
            tic = time.perf_counter()
            if before_chunk is not None:
                before_chunk(first)
            n = min(every, steps - first)
            part = fit(model, optimizer, batches(first, n), loss_fn, steps=n,
                       schedule=lambda s, first=first: schedule(first + s),
                       grad_clip=grad_clip, progress=False)
            progress.loss += part.loss
            done = first + n
            point = after_chunk(done, part) if after_chunk else None
            if point is not None:
                progress.curve.append(point)
            progress.seconds += time.perf_counter() - tic
            self.save_state(done, model=model.state_dict(),
                            optimizer=optimizer.state_dict(),
                            loss=progress.loss, curve=progress.curve,
                            seconds=progress.seconds, **progress.extra)
            recent = sum(part.loss[-50:]) / len(part.loss[-50:])
            self.log(f"paso {done}/{steps}  pérdida {recent:.3f}  "
                     f"{progress.seconds / 60:.1f} min  "
                     f"{progress.curve[-1] if progress.curve else ''}")
        return progress


@dataclass
class Progress:
    """Lo que deja ``Run.fit_in_chunks``: la pérdida de cada paso, la
    curva de evaluaciones, los segundos de entrenamiento y las listas
    ``extra`` de la receta."""

    loss: list[float] = field(default_factory=list)
    curve: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    extra: dict[str, list] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe:
    """Cómo se construye, se entrena y se comprueba un modelo del curso.

    - ``config``: la receta entera (tamaños, datos, semilla, pasos,
      calendario); va tal cual a la ficha y ``build`` la recibe.
    - ``build(config)``: el modelo sin entrenar.
    - ``train(model, config, run)``: lo entrena en su sitio y devuelve las
      métricas medidas al final (``{"exactitud_mlm": 0.31, ...}``).
    - ``evaluate(checkpoint)``: una evaluación rápida (< 20 s en CPU) que
      la prueba repite para ver que la ficha se sostiene.
    - ``tolerance``: cuánto puede separarse cada métrica rápida de la
      guardada (otro procesador, otro orden de sumas).
    - ``tokenizer(config)``: el tokenizador del modelo, o ``None``.
    """

    name: str
    description: str
    config: dict[str, Any]
    build: Callable[[dict[str, Any]], nn.Module]
    train: Callable[[nn.Module, dict[str, Any], Run], dict[str, float]]
    evaluate: Callable[[Checkpoint], dict[str, float]]
    tolerance: dict[str, float] = field(default_factory=dict)
    tokenizer: Callable[[dict[str, Any]], Any] | None = None


# nombre -> receta. Cada modelo vive en su módulo, que se registra al
# final de este (los módulos importan ``Recipe`` de aquí).
REGISTRY: dict[str, Recipe] = {}


def available() -> list[str]:
    """Los modelos del curso cuyos pesos vienen con el paquete."""
    return sorted(name for name in REGISTRY
                  if (_FOLDER / f"{name}.safetensors").is_file())


def _recipe(name: object) -> Recipe:
    if not isinstance(name, str):
        raise TypeError("name debe ser el nombre de un modelo del curso "
                        f"(str); se recibió {type(name).__name__}")
    if name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY)) or "ninguno todavía"
        raise ValueError(f"modelo del curso desconocido {name!r}; los "
                         f"registrados son: {known}")
    return REGISTRY[name]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load(name: str, device: str | torch.device | None = None) -> Checkpoint:
    """Carga los pesos del curso ``name`` en el dispositivo pedido.

    Comprueba que existan, que su SHA-256 sea el de la ficha y que las
    claves coincidan con el modelo (``strict=True``).
    """
    from safetensors.torch import load as load_safetensors

    recipe = _recipe(name)
    weights = _FOLDER / f"{name}.safetensors"
    card_file = _FOLDER / f"{name}.json"
    if not (weights.is_file() and card_file.is_file()):
        raise CheckpointError(
            f"Faltan los pesos del curso «{name}» ({name}.safetensors y "
            f"{name}.json en course_lib/resources/checkpoints). Rehazlos "
            f"con `python -m course_lib.checkpoints train {name}` "
            f"(o `make checkpoint NAME={name}`), o reinstala el paquete.")
    card = json.loads(card_file.read_text(encoding="utf-8"))
    data = weights.read_bytes()
    got = _sha256(data)
    if got != card.get("sha256"):
        raise CheckpointError(
            f"Los pesos de «{name}» no son los de su ficha: SHA-256 "
            f"esperado {card.get('sha256')}, obtenido {got}. El archivo "
            "está dañado o alterado; reinstala el paquete o rehazlos.")
    model = recipe.build(card["config"])
    model.load_state_dict(load_safetensors(data), strict=True)
    if device is not None:
        model = model.to(device)
    tokenizer = recipe.tokenizer(card["config"]) if recipe.tokenizer else None
    return Checkpoint(model=model.eval(), card=card, tokenizer=tokenizer)


def train(name: str, *, folder: str | Path | None = None,
          device: str | torch.device | None = None,
          log: Callable[[str], None] = print) -> Path:
    """Entrena ``name`` desde cero con su receta y escribe pesos y ficha.

    Si un entrenamiento anterior se cortó, la receta lo retoma desde su
    último estado guardado. Devuelve la ruta de los pesos.
    """
    from safetensors.torch import save as save_safetensors

    recipe = _recipe(name)
    folder = Path(folder) if folder is not None else Path(str(_FOLDER))
    folder.mkdir(parents=True, exist_ok=True)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    run = Run(name=name, folder=folder, device=torch.device(device), log=log)
    seed = recipe.config.get("seed", 0)
    torch.manual_seed(seed)
    model = recipe.build(recipe.config).to(run.device)
    start = time.perf_counter()
    metrics = recipe.train(model, recipe.config, run)
    seconds = time.perf_counter() - start
    dtype = getattr(torch, recipe.config.get("dtype", "float32"))
    # Una copia por clave: safetensors no guarda tensores que comparten
    # memoria, como los pesos atados de GPT (``wte`` y ``lm_head``).
    tensors = {k: (v.to(dtype) if v.is_floating_point() else v)
               .detach().cpu().clone().contiguous()
               for k, v in model.state_dict().items()}
    data = save_safetensors(tensors)
    if len(data) > MAX_BYTES:
        raise CheckpointError(
            f"«{name}» ocupa {len(data):,} bytes; el máximo por modelo es "
            f"{MAX_BYTES:,}: guarda los pesos en float16 o reduce el modelo")
    weights = folder / f"{name}.safetensors"
    weights.write_bytes(data)
    loaded = _load_from(folder, name)
    card = {
        "name": name,
        "description": recipe.description,
        "config": recipe.config,
        "metrics": metrics,
        "quick_metrics": recipe.evaluate(loaded),
        "tolerance": recipe.tolerance,
        "device": _device_name(run.device),
        "train_seconds": round(seconds, 1),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "sha256": _sha256(data),
        "bytes": len(data),
    }
    (folder / f"{name}.json").write_text(
        json.dumps(card, indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8")
    run.state_path.unlink(missing_ok=True)
    log(f"«{name}»: {len(data):,} bytes, {seconds:.0f} s, {metrics}")
    return weights


def _load_from(folder: Path, name: str) -> Checkpoint:
    """``load`` sin ficha todavía: solo para medir las métricas rápidas."""
    from safetensors.torch import load_file

    recipe = REGISTRY[name]
    model = recipe.build(recipe.config)
    model.load_state_dict(load_file(folder / f"{name}.safetensors"),
                          strict=True)
    tokenizer = recipe.tokenizer(recipe.config) if recipe.tokenizer else None
    return Checkpoint(model=model.eval(), card={"config": recipe.config},
                      tokenizer=tokenizer)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}), " \
        f"{torch.get_num_threads()} hilos"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.checkpoints",
        description="Pesos del curso: listar o rehacer desde cero.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="modelos registrados y si están los pesos")
    entrenar = sub.add_parser("train", help="entrena un modelo con su receta")
    entrenar.add_argument("name", metavar="NOMBRE")
    entrenar.add_argument("--out", default=None,
                          help="carpeta de salida (por defecto, el paquete)")
    entrenar.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    if args.command == "list":
        present = set(available())
        for name in sorted(REGISTRY):
            mark = "pesos presentes" if name in present else "sin pesos"
            print(f"{name:20} {mark:16} {REGISTRY[name].description}")
        if not REGISTRY:
            print("ningún modelo registrado todavía")
        return
    train(args.name, folder=args.out, device=args.device)


def _register() -> None:
    """Cada receta vive en su módulo, con los mismos nombres: ``CONFIG``,
    ``build``, ``train``, ``evaluate``, ``TOLERANCE`` y ``tokenizer``."""
    from course_lib import bert_quijote, fusion_shapes, gpt_moliere, mae_shapes

    for name, module, description in (
            ("bert-quijote", bert_quijote,
             "BERT (MLM + NSP) preentrenado en el Quijote, cap. 3"),
            ("gpt-moliere", gpt_moliere,
             "GPT de caracteres entrenado con Molière, cap. 4"),
            ("mae-figuras", mae_shapes,
             "MAE preentrenado con figuras sin etiqueta, caps. 5 y 6"),
            ("fusion-figuras", fusion_shapes,
             "Fusión por atención cruzada: preguntas sobre figuras, "
             "cap. 8")):
        REGISTRY[name] = Recipe(
            name=name, description=description, config=module.CONFIG,
            build=module.build, train=module.train,
            evaluate=module.evaluate, tolerance=module.TOLERANCE,
            tokenizer=module.tokenizer)


_register()


if __name__ == "__main__":
    # Con ``python -m`` este archivo es ``__main__``: se usa el módulo del
    # paquete para que el registro y las recetas sean uno solo.
    from course_lib.checkpoints import main as package_main

    package_main()
