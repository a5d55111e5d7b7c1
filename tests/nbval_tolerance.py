"""Plugin de pytest: nbval compara los números medidos con tolerancia.

nbval compara cada salida guardada carácter a carácter. Los números que
salen de un entrenamiento o de una suma en coma flotante cambian en las
últimas cifras con otro procesador u otro número de hilos, y entonces
``make test`` falla aunque el libro diga lo mismo. Este plugin deja que
quien escribe una celda fije la tolerancia de sus números con etiquetas
de celda (no con comentarios que el lector vería en el sitio):

- ``tolerance-abs=0.02``: cada número puede diferir hasta 0,02;
- ``tolerance-rel=0.05``: o hasta un 5 % del valor guardado.

Con las dos, basta con cumplir una. En una celda con tolerancia solo se
relajan los números con decimales o exponente (``0.952``, ``1.1e-06``):
los enteros (pasos, formas, ids, recuentos) y todo el texto se siguen
comparando exactamente. Si el texto que rodea a los números cambia, la
comparación es la de nbval, sin tolerancia.

Se activa con ``pytest -p tests.nbval_tolerance --nbval ...`` (así lo
hace ``make nbval``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
TAG = re.compile(r"tolerance-(abs|rel)=(.+)")
# Claves de una salida cuyo texto se compara (las mismas que mira nbval).
TEXT_KEYS = ("text/plain", "text/html", "text/markdown")


@dataclass(frozen=True)
class Tolerance:
    """Cuánto puede separarse un número medido del guardado."""

    abs: float = 0.0
    rel: float = 0.0

    def accepts(self, stored: float, got: float) -> bool:
        if math.isnan(stored) or math.isnan(got):
            return False
        # El margen de 1e-12 absorbe la representación binaria: 0,20 - 0,16
        # da 0,04000000000000001, y una tolerancia de 0,04 debe aceptarlo.
        gap = abs(got - stored) - 1e-12
        return gap <= self.abs or gap <= self.rel * abs(stored)


def tolerance_from_tags(tags: list[str]) -> Tolerance | None:
    """Lee ``tolerance-abs=…`` y ``tolerance-rel=…``; ``None`` si no hay.

    Una etiqueta mal escrita es un error: una tolerancia que no se aplica
    en silencio volvería a romper la prueba en otra máquina.
    """
    found: dict[str, float] = {}
    for tag in tags:
        match = TAG.fullmatch(tag)
        if not match:
            if tag.startswith("tolerance"):
                raise ValueError(
                    f"etiqueta de tolerancia mal escrita: {tag!r}; se "
                    "esperaba tolerance-abs=<número> o tolerance-rel=<número>"
                )
            continue
        kind, value = match.groups()
        try:
            number = float(value)
        except ValueError:
            raise ValueError(
                f"{tag!r}: la tolerancia debe ser un número, no {value!r}"
            ) from None
        if not number > 0 or math.isinf(number):
            raise ValueError(f"{tag!r}: la tolerancia debe ser > 0 y finita")
        found[kind] = number
    return Tolerance(**found) if found else None


def _is_integer(text: str) -> bool:
    return not any(c in text for c in ".eE")


def align(stored: str, got: str, tolerance: Tolerance) -> str:
    """Devuelve ``got`` con los números tolerados escritos como en
    ``stored``, para que la comparación exacta de nbval los dé por buenos.

    Si el texto sin números difiere, o un número no cabe en la tolerancia,
    ese número (o todo el texto) se deja como vino y nbval muestra la
    diferencia de siempre.
    """
    if NUMBER.split(stored) != NUMBER.split(got):
        return got
    stored_numbers = NUMBER.findall(stored)
    got_numbers = NUMBER.findall(got)
    pieces = NUMBER.split(got)
    out = [pieces[0]]
    for ref, new, piece in zip(stored_numbers, got_numbers, pieces[1:],
                               strict=True):
        keep = new
        if not (_is_integer(ref) or _is_integer(new)) and tolerance.accepts(
            float(ref), float(new)
        ):
            keep = ref
        out.extend((keep, piece))
    return "".join(out)


def align_outputs(
    got: list[Any], stored: list[Any], tolerance: Tolerance
) -> list[Any]:
    """Aplica ``align`` a cada salida de texto emparejada por posición."""
    aligned = []
    for index, output in enumerate(got):
        output = _copy(output)
        ref = stored[index] if index < len(stored) else None
        if ref is not None and ref.get("output_type") == output.get(
            "output_type"
        ):
            if "text" in output and "text" in ref:
                output["text"] = align(_text(ref["text"]),
                                       _text(output["text"]), tolerance)
            for key in TEXT_KEYS:
                data, ref_data = output.get("data", {}), ref.get("data", {})
                if key in data and key in ref_data:
                    data[key] = align(_text(ref_data[key]), _text(data[key]),
                                      tolerance)
        aligned.append(output)
    return aligned


def _text(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def _copy(output: Any) -> Any:
    """Copia lo justo para no tocar la salida original."""
    copy = type(output)(output)
    if "data" in output:
        copy["data"] = type(output["data"])(output["data"])
    return copy


def _tolerant(
    compare: Callable[..., bool], tolerance: Tolerance
) -> Callable[..., bool]:
    def compare_with_tolerance(test: list[Any], ref: list[Any],
                               skip_compare: Any = None) -> bool:
        return compare(align_outputs(test, ref, tolerance), ref,
                       skip_compare)

    return compare_with_tolerance


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A cada celda con etiquetas de tolerancia, su comparación tolerante."""
    for item in items:
        cell = getattr(item, "cell", None)
        if cell is None or not hasattr(item, "compare_outputs"):
            continue
        tolerance = tolerance_from_tags(cell.metadata.get("tags", []))
        if tolerance is not None:
            item.compare_outputs = _tolerant(item.compare_outputs, tolerance)
