"""El contrato de todos los ejercicios del libro, capítulo a capítulo.

Cada ``Exercise`` de cada módulo ``course_lib.exercises.capNN``: su
solución de referencia pasa; cada error típico que declara se reconoce y
se nombra; el código de la solución que ve el alumno (``solution()`` y el
bloque plegado del sitio) define una función que pasa, sin ayudantes
privados; un esqueleto sin terminar (que devuelve None) recibe un
mensaje que lo explica; los casos son deterministas (misma semilla,
mismos datos) y las pistas y la solución se imprimen. Las pruebas propias
de cada capítulo están en ``test_exercises_capNN.py``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest
import torch

import course_lib.exercises as exercises_pkg
from course_lib.exercises import CheckResult, Exercise


def _all_exercises() -> list[Exercise]:
    found = []
    for info in sorted(pkgutil.iter_modules(exercises_pkg.__path__),
                       key=lambda i: i.name):
        if info.name.startswith("cap"):
            module = importlib.import_module(
                f"course_lib.exercises.{info.name}")
            found += [e for e in vars(module).values()
                      if isinstance(e, Exercise)]
    return found


EXERCISES = _all_exercises()
MISTAKES = [(ex, m) for ex in EXERCISES for m in ex.mistakes]


def _ids(param: Any) -> str:
    return param.name if isinstance(param, Exercise) else param.id


def test_every_chapter_with_exercises_is_covered() -> None:
    chapters = {ex.reference.__module__.rsplit(".", 1)[-1]
                for ex in EXERCISES}
    assert {f"cap0{n}" for n in range(1, 9)} <= chapters


@pytest.mark.parametrize("ex", EXERCISES, ids=_ids)
def test_reference_passes(ex: Exercise) -> None:
    result = ex.evaluate(ex.reference)
    assert result == CheckResult(True, result.message, None)
    assert "Correcto" in result.message


@pytest.mark.parametrize(("ex", "mistake"), MISTAKES, ids=_ids)
def test_known_mistake_is_named(ex: Exercise, mistake: Any) -> None:
    result = ex.evaluate(mistake.implementation)
    assert not result.ok
    assert result.mistake == mistake.id
    assert result.message.startswith(mistake.description)
    assert "Detalle: en el caso" in result.message


@pytest.mark.parametrize("ex", EXERCISES, ids=_ids)
def test_solution_source_defines_a_passing_function(ex: Exercise) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(ex.solution_source, "<celda>", "exec"), namespace)
    assert namespace[ex.function_name].__name__ == ex.function_name
    assert ex.evaluate(namespace[ex.function_name]).ok
    assert "def _" not in ex.solution_source


@pytest.mark.parametrize("ex", EXERCISES, ids=_ids)
def test_unfinished_stub_is_explained(ex: Exercise) -> None:
    result = ex.evaluate(lambda *args, **kwargs: None)
    assert not result.ok
    assert "None" in result.message


@pytest.mark.parametrize("ex", EXERCISES, ids=_ids)
def test_cases_are_deterministic(ex: Exercise) -> None:
    for case in ex.cases:
        a = case.make(torch.Generator().manual_seed(3))
        b = case.make(torch.Generator().manual_seed(3))
        for x, y in zip(a, b, strict=True):
            if torch.is_tensor(x):
                assert torch.equal(x, y)
            elif isinstance(x, (int, float, str, tuple, type(None))):
                assert x == y
            else:               # p. ej., un modelo de juguete: mismo tipo
                assert type(x) is type(y)


@pytest.mark.parametrize("ex", EXERCISES, ids=_ids)
def test_solution_and_hints_print(ex: Exercise,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    ex.solution()
    assert f"def {ex.function_name}(" in capsys.readouterr().out
    total = len(ex.hints)
    assert 1 <= total <= 4
    for n in range(1, total + 1):
        ex.hint()
        assert f"💡 Pista {n}/{total}: {ex.hints[n - 1]}" in (
            capsys.readouterr().out)
    ex.hint()   # pasada la última, la repite y sugiere la solución
    out = capsys.readouterr().out
    assert f"Pista {total}/{total}" in out and ".solution()" in out
    ex.hint(1)
    assert "Pista 1/" in capsys.readouterr().out
    with pytest.raises(ValueError, match="pistas"):
        ex.hint(total + 1)
