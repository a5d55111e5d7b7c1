"""Pruebas de los ejercicios del capítulo 7: la solución pasa, los
errores típicos se nombran, los casos son deterministas."""

from __future__ import annotations

from typing import Any

from course_lib.exercises import Exercise
from course_lib.exercises import cap07 as ej

EXERCISES = [getattr(ej, name) for name in ej.__all__]


def _ids(param: Any) -> str:
    return param.name if isinstance(param, Exercise) else param.id


def test_course_lib_loss_passes_the_exercise() -> None:
    from course_lib.clip import contrastive_loss

    assert ej.perdida_contrastiva.evaluate(contrastive_loss).ok
