"""Acceso opcional a *checkpoints* preentrenados del Hub de Hugging Face.

Libro: introducción, «Sin internet». Los cuadernos prueban el modelo real
cuando hay conexión y, si no, siguen con los modelos pequeños del curso.
Nada aquí puede colgar un cuaderno: la conexión se comprueba con un plazo
corto y se respeta ``HF_HUB_OFFLINE``.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from course_lib.utils import describe

T = TypeVar("T")

HUB_HOST = "huggingface.co"
_TRUTHY = {"1", "true", "yes", "on"}


def offline_requested() -> bool:
    """True si ``HF_HUB_OFFLINE`` o ``COURSE_LIB_OFFLINE`` piden no usar
    la red."""
    return any(
        os.environ.get(var, "").strip().lower() in _TRUTHY
        for var in ("HF_HUB_OFFLINE", "COURSE_LIB_OFFLINE")
    )


def hub_available(
    *, timeout: float = 3.0, host: str = HUB_HOST, port: int = 443
) -> bool:
    """¿Se puede llegar al Hub? Responde en menos de ``timeout`` segundos.

    La resolución DNS no respeta el *timeout* de los sockets, así que la
    prueba entera corre en un hilo auxiliar con plazo.
    """
    _check_timeout(timeout)
    if offline_requested():
        return False
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(result and result[0])


def _check_timeout(timeout: object) -> None:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError("timeout debe ser un número de segundos > 0; se "
                        f"recibió {describe(timeout)}")
    if not timeout > 0:
        raise ValueError(f"timeout debe ser > 0 segundos; vale {timeout}")


@dataclass(frozen=True)
class Loaded(Generic[T]):
    """Lo que se cargó: el objeto, su nombre y si es el preentrenado."""

    model: T
    name: str
    pretrained: bool

    def describe(self) -> str:
        kind = "preentrenado" if self.pretrained else "propio del curso"
        return f"Modelo usado: {self.name} ({kind})"


def load_pretrained(
    load: Callable[[str], T],
    repo_id: str,
    *,
    fallback: Callable[[], T] | None = None,
    fallback_name: str = "modelo pequeño del curso",
    timeout: float = 3.0,
) -> Loaded[T] | None:
    """Intenta ``load(repo_id)`` y, si no se puede, usa ``fallback()``.

    ``repo_id`` puede ser una carpeta local (se carga sin red) o un nombre
    del Hub (solo si ``hub_available``). Cualquier error al cargar se
    informa en una línea y se pasa al modelo de reserva; sin reserva,
    devuelve ``None``. Nunca ejecuta ``trust_remote_code``: ``load`` es una
    función de ``transformers`` que elige quien llama.
    """
    if not callable(load):
        raise TypeError("load debe ser una función que recibe repo_id; "
                        f"se recibió {describe(load)}")
    if fallback is not None and not callable(fallback):
        raise TypeError("fallback debe ser una función sin argumentos "
                        f"(o None); se recibió {describe(fallback)}")
    if not isinstance(repo_id, str):
        raise TypeError("repo_id debe ser un nombre del Hub o una "
                        f"carpeta (str); se recibió {repo_id!r}")
    if not repo_id:
        raise ValueError("repo_id no puede estar vacío")
    _check_timeout(timeout)
    reason = None
    if Path(repo_id).is_dir() or hub_available(timeout=timeout):
        try:
            return Loaded(load(repo_id), repo_id, pretrained=True)
        except Exception as exc:  # noqa: BLE001 - se informa y se sigue
            reason = f"no se pudo cargar {repo_id!r}: {exc}"[:300]
    else:
        reason = (
            "sin conexión con el Hub (o HF_HUB_OFFLINE=1): "
            f"no se descarga {repo_id!r}"
        )
    print(f"ℹ️ {reason}")
    if fallback is None:
        return None
    print(f"ℹ️ Se usa en su lugar el {fallback_name}.")
    return Loaded(fallback(), fallback_name, pretrained=False)
