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
import json
import os
import pkgutil
import subprocess
import sys
import textwrap
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
    """La plantilla sin tocar es «tu turno» y nombra la función; una que
    hace algo pero no devuelve nada es un error que dice «None»."""
    untouched = ex.evaluate(lambda *args, **kwargs: None)
    assert not untouched.ok and untouched.pending
    assert f"`{ex.function_name}`" in untouched.message

    def no_return(*args, **kwargs):
        args = [a for a in args]

    forgot = ex.evaluate(no_return)
    assert not forgot.ok and not forgot.pending
    assert "None" in forgot.message


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


# --- un resultado correcto escrito de otra forma pasa --------------------

def _outputs(ex: Exercise) -> tuple[Any, ...]:
    args = ex.cases[0].make(torch.Generator().manual_seed(ex.seed))
    out = ex.reference(*args)
    return out if isinstance(out, tuple) else (out,)


def _with_outputs(ex: Exercise, convert: Any) -> Any:
    """La referencia, con ``convert`` aplicado a cada tensor que devuelve
    y una lista en lugar de una tupla (también vale)."""
    def student(*args: Any) -> Any:
        out = ex.reference(*args)
        if isinstance(out, tuple):
            return [convert(o) for o in out]
        return convert(out)
    return student


def _is_int(t: torch.Tensor) -> bool:
    return not t.is_floating_point() and t.dtype != torch.bool


FLOAT_EXERCISES = [ex for ex in EXERCISES
                   if any(t.is_floating_point() for t in _outputs(ex))]
INT_EXERCISES = [ex for ex in EXERCISES
                 if any(_is_int(t) for t in _outputs(ex))]
SCALAR_EXERCISES = [ex for ex in EXERCISES
                    if all(t.dim() == 0 for t in _outputs(ex))]


@pytest.mark.parametrize("ex", FLOAT_EXERCISES, ids=_ids)
def test_any_float_dtype_passes_but_values_still_count(ex: Exercise) -> None:
    def as_double(t: torch.Tensor) -> torch.Tensor:
        if not t.is_floating_point():
            return t
        t = t.double()      # y no contiguo: mismos valores, otro orden
        return t.mT.contiguous().mT if t.dim() >= 2 else t

    assert ex.evaluate(_with_outputs(ex, as_double)).ok
    shifted = ex.evaluate(_with_outputs(
        ex, lambda t: as_double(t) + 0.5 if t.is_floating_point() else t))
    assert not shifted.ok
    assert "float64" in shifted.message or shifted.mistake is not None
    as_int = ex.evaluate(_with_outputs(
        ex, lambda t: t.long() if t.is_floating_point() else t))
    assert not as_int.ok and "dtype torch.int64" in as_int.message


@pytest.mark.parametrize("ex", INT_EXERCISES, ids=_ids)
def test_any_integer_width_passes(ex: Exercise) -> None:
    def as_int32(t: torch.Tensor) -> torch.Tensor:
        return t.int() if _is_int(t) else t

    assert ex.evaluate(_with_outputs(ex, as_int32)).ok
    as_float = ex.evaluate(_with_outputs(
        ex, lambda t: t.float() if _is_int(t) else t))
    assert not as_float.ok and "dtype torch.float32" in as_float.message


@pytest.mark.parametrize("ex", SCALAR_EXERCISES, ids=_ids)
def test_python_number_for_a_scalar_passes(ex: Exercise) -> None:
    result = ex.evaluate(_with_outputs(ex, lambda t: t.item()))
    assert result.ok and "backward()" in result.message
    wrong = ex.evaluate(_with_outputs(ex, lambda t: t.item() + 1))
    assert not wrong.ok


# --- el código del estudiante no tumba ni cuelga el corrector ------------

def _run_fresh(code: str, timeout: float = 120) -> list[Any]:
    """Ejecuta ``code`` en un intérprete nuevo, en su hilo principal (como
    en Jupyter); si se cuelga, la prueba falla en vez de colgarse."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout,
                          env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_bare_except_loop_cannot_hang_check() -> None:
    results = _run_fresh("""
        import dataclasses, importlib, json, pkgutil, time
        import course_lib.exercises as pkg
        from course_lib.exercises import Exercise

        def stubborn(*args):
            while True:
                try:
                    time.sleep(0.01)
                except:  # noqa: E722
                    pass

        out = []
        for info in pkgutil.iter_modules(pkg.__path__):
            if not info.name.startswith("cap"):
                continue
            module = importlib.import_module(f"{pkg.__name__}.{info.name}")
            for ex in vars(module).values():
                if isinstance(ex, Exercise):
                    fast = dataclasses.replace(ex, time_limit=0.2)
                    start = time.perf_counter()
                    result = fast.evaluate(stubborn)
                    out.append([ex.name, time.perf_counter() - start,
                                result.message])
        print(json.dumps(out))
    """)
    assert len(results) == len(EXERCISES)
    assert len(FLOAT_EXERCISES) >= 15 and len(INT_EXERCISES) >= 4
    assert {ex.name for ex in SCALAR_EXERCISES} >= {"perdida_mae",
                                                    "perdida_contrastiva"}
    for name, seconds, message in results:
        assert seconds < 10, (name, seconds)   # vuelve; colgado, nunca
        assert "tardó más de 0.2 s" in message, (name, message)


class _Custom(BaseException):
    pass


@pytest.mark.parametrize("ex", EXERCISES, ids=_ids)
def test_sys_exit_and_base_exceptions_become_messages(
        ex: Exercise, capsys: pytest.CaptureFixture[str]) -> None:
    def exits(*args: Any) -> None:
        sys.exit(1)

    result = ex.evaluate(exits)
    assert not result.ok and "sys.exit()" in result.message
    assert "caso 1 de" in result.message and "return" in result.message
    ex.check(exits)
    assert capsys.readouterr().out.startswith("❌ ")

    for exc in (_Custom("raro"), GeneratorExit()):
        def raises(*args: Any, exc: BaseException = exc) -> None:
            raise exc

        result = ex.evaluate(raises)
        assert not result.ok
        assert f"lanzó {type(exc).__name__}" in result.message


# --- argumentos equivocados a check, hint y solution ---------------------

@pytest.mark.parametrize("ex", EXERCISES, ids=_ids)
def test_bad_arguments_get_spanish_messages(
        ex: Exercise, capsys: pytest.CaptureFixture[str]) -> None:
    total = len(ex.hints)
    for bad in ("1", 1.0, True, [1]):
        with pytest.raises(TypeError, match=f"un entero de 1 a {total}"):
            ex.hint(bad)
    with pytest.raises(TypeError, match="se recibió str '1'"):
        ex.hint("1")
    for bad in (0, -1, total + 1):
        with pytest.raises(ValueError, match=f"hay {total} pistas"):
            ex.hint(bad)
    with pytest.raises(TypeError, match="como mucho un argumento"):
        ex.hint(1, 2)
    with pytest.raises(TypeError, match="no recibe argumentos"):
        ex.solution(1)
    with pytest.raises(TypeError, match="no recibe argumentos"):
        ex.solution(nivel=1)
    ex.hint(torch.tensor(1))         # un entero de torch vale
    assert "Pista 1/" in capsys.readouterr().out

    ex.check()
    assert f"`.check({ex.function_name})`" in capsys.readouterr().out
    ex.check(ex.reference, 1)
    out = capsys.readouterr().out
    assert out.startswith("❌ ") and "un solo argumento" in out
    assert not ex.last_result.ok

    def no_params() -> None:
        return None

    result = ex.evaluate(no_params)
    assert not result.ok and "no acepta los argumentos" in result.message
    assert f"`{ex.function_name}(" in result.message
