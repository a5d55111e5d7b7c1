"""Utilidades comunes: semillas, dispositivo, *presets*, cronómetro y
comprobación de entradas.

Libro: introducción, «Cómo ejecutar el libro».

Comprobaciones (``check_*``): cada función pública de ``course_lib``
valida lo que recibe al entrar, una vez, con un mensaje en castellano que
nombra lo esperado y lo recibido. Tipo equivocado (una lista en lugar de
un tensor, un ``str`` en lugar de una lista, un dtype que no toca):
``TypeError``. Forma, tamaño, rango, vacío o cero: ``ValueError``.
"""

from __future__ import annotations

import dataclasses
import numbers
import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

T = TypeVar("T")
C = TypeVar("C")


def seed_everything(seed: int = 0) -> torch.Generator:
    """Fija las semillas de ``random``, NumPy y PyTorch (CPU y CUDA).

    Devuelve además un ``torch.Generator`` sembrado con la misma semilla,
    para pasarlo explícitamente a funciones aleatorias.
    """
    check_int(seed, "la semilla", minimum=0)
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


def check_config(config: object, *, positive: Iterable[str] = (),
                 fractions: Iterable[str] = (),
                 choices: Mapping[str, Iterable[Any]] | None = None,
                 multiples: Iterable[tuple[str, str]] = ()) -> None:
    """Valida una configuración al crearla (desde su ``__post_init__``).

    - ``positive``: campos que deben ser enteros >= 1 (tamaños, capas);
    - ``fractions``: probabilidades en [0, 1) (los *dropout*);
    - ``choices``: campo -> valores admitidos (``hidden_act``…);
    - ``multiples``: pares (a, b) en los que a debe ser múltiplo de b
      (``hidden_size`` de ``num_attention_heads``: cada cabeza recibe
      C / H canales).

    Cada error nombra el campo, lo esperado y lo recibido.
    """
    for name in positive:
        check_int(getattr(config, name), name)
    for name in fractions:
        value = getattr(config, name)
        if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                or not 0.0 <= value < 1.0):
            raise ValueError(f"{name} debe estar en [0, 1); vale {value!r}")
    for name, options in (choices or {}).items():
        options, value = tuple(options), getattr(config, name)
        if value not in options:
            raise ValueError(f"valor desconocido para {name}: se recibió "
                             f"{value!r}; se esperaba uno de {options}")
    for big, small in multiples:
        if getattr(config, big) % getattr(config, small):
            raise ValueError(f"{big}={getattr(config, big)} no es múltiplo "
                             f"de {small}={getattr(config, small)}")


def from_preset(cls: type[C], presets: Mapping[str, Mapping[str, Any]],
                name: object, changes: Mapping[str, Any]) -> C:
    """La configuración ``presets[name]`` de la clase ``cls`` (una
    *dataclass*) con ``changes`` encima: lo que hacen todos los
    ``Config.preset(nombre, **cambios)`` del paquete.

    Un nombre desconocido o un campo que ``cls`` no tiene son errores que
    dicen qué se esperaba (no un ``TypeError`` de ``__init__``).
    """
    if not isinstance(name, str) or name not in presets:
        raise ValueError(f"preset desconocido {name!r} para {cls.__name__}; "
                         f"se esperaba uno de {sorted(presets)}")
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise TypeError(f"{cls.__name__} no tiene los campos {unknown}; se "
                        f"esperaba alguno de {sorted(fields)}")
    return cls(**{**presets[name], **changes})


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


# --- comprobación de entradas ------------------------------------------

def describe(x: object) -> str:
    """Lo recibido, para los mensajes: «list», «tensor float32 (2, 3)»."""
    if isinstance(x, Tensor):
        dtype = str(x.dtype).removeprefix("torch.")
        return f"tensor {dtype} de forma {tuple(x.shape)}"
    return type(x).__name__


_KINDS = {
    "float": ("flotante", lambda t: t.is_floating_point()),
    "int": ("de enteros", lambda t: not (t.is_floating_point()
                                         or t.is_complex()
                                         or t.dtype == torch.bool)),
    "bool": ("booleano", lambda t: t.dtype == torch.bool),
    "int_or_bool": ("de enteros o booleano",
                    lambda t: not (t.is_floating_point() or t.is_complex())),
}


def check_tensor(x: object, name: str, *, ndim: int | tuple[int, ...] |
                 None = None, shape: str = "", dtype_kind: str | None = None
                 ) -> Tensor:
    """Comprueba que ``x`` sea un tensor con ``ndim`` dimensiones y, si se
    da ``dtype_kind`` («float», «int», «bool» o «int_or_bool»), de ese
    tipo. ``shape``
    («(B, T)») solo sirve para el mensaje. Devuelve ``x``."""
    word, ok = _KINDS[dtype_kind] if dtype_kind else ("", None)
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if not shape and dims:
        shape = f"de {' o '.join(map(str, dims))} dimensiones"
    expected = " ".join(w for w in ("un tensor", word, shape) if w)
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{name} debe ser {expected}; se recibió {describe(x)}")
    if ok is not None and not ok(x):
        raise TypeError(
            f"{name} debe ser {expected}; se recibió {describe(x)}")
    if dims is not None and x.dim() not in dims:
        raise ValueError(f"{name} debe ser {expected}; se recibió la "
                              f"forma {tuple(x.shape)}")
    return x


def check_range(x: Tensor, low: int, high: int, name: str, *,
                outside: str = "valores fuera de",
                ignore: int | None = None) -> None:
    """Valores enteros de ``x`` en [low, high) (salvo ``ignore``).

    Solo en la CPU: leer el mínimo de un tensor de la GPU sincroniza en
    cada paso; allí, si un id se sale de la tabla, salta la aserción de
    dispositivo de torch («device-side assert»). Así en todo el paquete.
    """
    if x.device.type != "cpu" or x.numel() == 0:
        return
    values = x if ignore is None else x[x != ignore]
    if values.numel() and (values.min() < low or values.max() >= high):
        raise ValueError(
            f"{name} tiene {outside} [{low}, {high}): mínimo "
            f"{int(values.min())}, máximo {int(values.max())}")


def check_ids(ids: object, vocab_size: int, name: str, *, ndim: int = 2,
              shape: str = "(B, T)") -> Tensor:
    """Ids de token: tensor de enteros (B, T) dentro del vocabulario."""
    ids = check_tensor(ids, name, ndim=ndim, shape=shape, dtype_kind="int")
    check_range(ids, 0, vocab_size, name,
                outside="ids fuera del vocabulario")
    return ids


def check_targets(logits: Tensor, targets: object, name: str, *,
                  ignore_index: int | None = -100) -> Tensor:
    """Etiquetas de clase para ``F.cross_entropy(logits, targets)``:
    enteros con la forma de ``logits`` sin la última dimensión (las V
    clases), en [0, V) salvo ``ignore_index``."""
    expected = tuple(logits.shape[:-1])
    targets = check_tensor(targets, name, shape=str(expected),
                           dtype_kind="int")
    if tuple(targets.shape) != expected:
        raise ValueError(
            f"{name} tiene forma {tuple(targets.shape)} pero los logits son "
            f"{tuple(logits.shape)}: se esperaba {expected}")
    check_range(targets, 0, logits.size(-1), name,
                outside="clases fuera de", ignore=ignore_index)
    return targets


def check_int(value: object, name: str, *, minimum: int = 1) -> int:
    """Un entero >= ``minimum`` (un número de pasos, de cabezas…)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} debe ser un entero >= {minimum}; se "
                        f"recibió {describe(value)} {value!r}")
    if value < minimum:
        raise ValueError(
            f"{name} debe ser un entero >= {minimum}; se recibió {value!r}")
    return int(value)


def check_texts(texts: object, name: str) -> list[str]:
    """Una lista (o secuencia) de textos; un ``str`` suelto es un error:
    se trocearía en caracteres sin avisar."""
    if isinstance(texts, str):
        raise TypeError(
            f"{name} debe ser una lista de textos, no un único str; "
            f"escribe [{texts[:30]!r}]")
    if not isinstance(texts, Iterable):
        raise TypeError(f"{name} debe ser una lista de textos; se "
                        f"recibió {describe(texts)}")
    texts = list(texts)
    bad = [describe(t) for t in texts if not isinstance(t, str)]
    if bad:
        raise TypeError(f"{name} debe contener solo textos (str); se "
                        f"recibió {bad[0]}")
    return texts


def check_examples(**named: Tensor) -> int:
    """Tensores con el mismo número N > 0 de ejemplos (primera dimensión);
    devuelve N. Comprobar antes que son tensores."""
    sizes = {name: len(x) for name, x in named.items()}
    names = ", ".join(sizes)
    if len(set(sizes.values())) > 1:
        raise ValueError(f"{names} deben tener el mismo número de "
                         f"ejemplos; se recibieron {sizes}")
    n = next(iter(sizes.values()))
    if n == 0:
        raise ValueError(f"no hay ejemplos: {names} están vacíos (N = 0)")
    return n


def check_hf_family(model: object, model_type: str, expected: str,
                    where: str) -> None:
    """Un ``from_hf`` solo acepta modelos de su familia (el
    ``config.model_type`` de ``transformers``)."""
    got = getattr(getattr(model, "config", None), "model_type", None)
    if not isinstance(model, torch.nn.Module) or got != model_type:
        raise TypeError(
            f"{where} espera un {expected} de transformers (model_type="
            f"{model_type!r}); se recibió {type(model).__name__} "
            f"(model_type={got!r})")
