"""Utilidades comunes: semillas, dispositivo, *preset* y cronómetro.

Libro: introducción, «Cómo ejecutar el libro».
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch
from tqdm.auto import tqdm

T = TypeVar("T")

PRESETS = ("cpu", "gpu")


def seed_everything(seed: int = 0) -> torch.Generator:
    """Fija las semillas de ``random``, NumPy y PyTorch (CPU y CUDA).

    Devuelve además un ``torch.Generator`` sembrado con la misma semilla,
    para pasarlo explícitamente a funciones aleatorias.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(
            f"la semilla debe ser un entero >= 0; se recibió {seed!r}"
        )
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """Elige el dispositivo: ``cuda`` si hay GPU, si no ``cpu``.

    ``prefer`` («cpu» o «cuda») fuerza la elección; pedir «cuda» sin GPU
    es un error explícito, no una caída silenciosa a CPU.
    """
    if prefer is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if prefer not in ("cpu", "cuda"):
        raise ValueError(
            f"dispositivo desconocido {prefer!r}; se esperaba 'cpu' o 'cuda'"
        )
    if prefer == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("se pidió 'cuda' pero no hay GPU disponible")
    return torch.device(prefer)


def choose_preset(preset: str | None = None) -> str:
    """Devuelve el *preset* de tamaño: «cpu» (pequeño) o «gpu» (grande).

    Orden: el argumento, la variable ``COURSE_LIB_PRESET`` y, si no hay
    ninguno, «gpu» cuando hay CUDA y «cpu» en otro caso. El preset «cpu»
    es el que ejecutan la CI y las salidas guardadas del libro.
    """
    chosen = preset or os.environ.get("COURSE_LIB_PRESET") or (
        "gpu" if torch.cuda.is_available() else "cpu"
    )
    if chosen not in PRESETS:
        raise ValueError(
            f"preset desconocido {chosen!r}; se esperaba uno de {PRESETS}"
        )
    return chosen


@dataclass
class Timer:
    """Cronómetro de pared para bloques ``with``.

    >>> with Timer() as t:
    ...     pass
    >>> t.seconds >= 0
    True
    """

    start: float = field(default=0.0, init=False)
    seconds: float = field(default=0.0, init=False)

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start

    def __str__(self) -> str:
        return f"{self.seconds:.2f} s"


# Segundos mínimos entre dos actualizaciones de una barra de progreso.
PROGRESS_INTERVAL_S = 1.0


def progress_bar(iterable: Iterable[T], *, desc: str | None = None,
                 disable: bool = False, **kwargs: Any) -> tqdm[T]:
    """Barra de progreso (`tqdm.auto`) para los bucles de entrenamiento.

    Se actualiza como mucho una vez por segundo. No es estética: en un
    cuaderno cada actualización es un mensaje del kernel, y una celda que
    entrena dos minutos con la barra por defecto (cada 0,1 s) envía miles;
    pasado el límite de la cola de salida (1000 mensajes) el kernel
    descarta los siguientes y quien ejecuta la celda (nbval, nbclient)
    puede quedarse esperando un final que nunca llega.
    """
    kwargs.setdefault("mininterval", PROGRESS_INTERVAL_S)
    return tqdm(iterable, desc=desc, disable=disable, **kwargs)


def stored_results(name: str) -> dict | None:
    """Lee ``benchmarks/results/<name>`` (JSON) si está a mano, o None.

    Los estudios con varias semillas no caben en un cuaderno: se miden con
    ``benchmarks/`` y el capítulo muestra la tabla guardada. La busca desde
    ``notebooks/`` (el libro, nbval) y desde la raíz del repositorio. En
    Colab solo se instala ``course_lib``: no está, y el capítulo lo dice.
    """
    import json
    from pathlib import Path

    for folder in ("../benchmarks/results", "benchmarks/results"):
        path = Path(folder) / name
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    return None
