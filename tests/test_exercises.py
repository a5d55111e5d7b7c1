"""Pruebas del marco de ejercicios y de los ejercicios del capítulo 1."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest
import torch

from course_lib.exercises import CheckResult, Exercise
from course_lib.exercises import cap01 as ej

# El contrato común (la referencia pasa, los errores típicos se nombran,
# casos deterministas, solución y pistas) está en test_exercise_contract.py
# para todos los capítulos; aquí, lo propio del capítulo 1 y del corrector.
# Cada prueba empieza con los ejercicios limpios (`_fresh_exercises`, en
# conftest.py).

# --- atención: variantes correctas y robustez --------------------------

def _attention_big_negative(q, k, v, mascara=None, invert=False):
    scores = torch.einsum("...qd,...kd->...qk", q / math.sqrt(q.size(-1)), k)
    if mascara is not None:
        blocked = mascara if invert else ~mascara
        scores = scores.masked_fill(blocked, -1e9)
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def test_equivalent_attention_passes() -> None:
    assert ej.atencion.evaluate(_attention_big_negative).ok


def test_inverted_mask_with_big_negative_is_recognised() -> None:
    # Con -1e9 en vez de -inf las filas vacías no dan NaN, pero el error
    # sigue siendo el mismo y debe nombrarse.
    result = ej.atencion.evaluate(
        lambda q, k, v, mascara=None: _attention_big_negative(
            q, k, v, mascara, invert=True))
    assert result.mistake == "mascara_invertida"


def test_positional_encoding_exp_log_variant_passes() -> None:
    def pe_exp(T: int, d: int) -> torch.Tensor:
        pos = torch.arange(T).float()[:, None]
        div = torch.exp(torch.arange(0, d, 2).float()
                        * (-math.log(10000.0) / d))
        pe = torch.zeros(T, d)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)
        return pe

    assert ej.codificacion_posicional.evaluate(pe_exp).ok


def test_causal_mask_int_dtype_is_named() -> None:
    result = ej.mascara_causal.evaluate(
        lambda T: torch.tril(torch.ones(T, T, dtype=torch.int64)))
    assert result.mistake == "dtype"
    assert "usa dtype torch.bool" in result.message


# --- fallos genéricos --------------------------------------------------

def test_not_callable() -> None:
    result = ej.atencion.evaluate(42)
    assert not result.ok and result.mistake is None
    assert "Se esperaba una función" in result.message
    assert "int" in result.message


def test_exception_is_reported_with_type_case_and_line() -> None:
    def broken(q, k, v, mascara=None):
        x = q + 1
        raise ValueError("algo salió mal\nsegunda línea larga")
        return x

    result = ej.atencion.evaluate(broken)
    assert not result.ok
    assert "ValueError: algo salió mal" in result.message
    assert "segunda línea" not in result.message
    assert "caso 1 de 5" in result.message
    line = broken.__code__.co_firstlineno + 2
    assert f"(línea {line})" in result.message


def test_exception_only_in_masked_cases() -> None:
    def no_mask_support(q, k, v):
        return ej.atencion.reference(q, k, v)

    result = ej.atencion.evaluate(no_mask_support)
    assert "TypeError" in result.message and "caso 3 de 5" in result.message


def test_untouched_template_is_your_turn_not_an_error(capsys) -> None:
    """La plantilla sin tocar (``...``) no es un error: es «tu turno»,
    con un mensaje neutro y sin ❌."""
    def stub(q, k, v, mascara=None):
        # TU CÓDIGO AQUÍ
        ...

    result = ej.atencion.evaluate(stub)
    assert not result.ok and result.pending
    assert "Tu turno" in result.message and "hint()" in result.message
    ej.atencion.check(stub)
    printed = capsys.readouterr().out
    assert printed.startswith("✏️") and "❌" not in printed


def test_returns_none_after_writing_code() -> None:
    def forgot_return(q, k, v, mascara=None):
        scores = q @ k.transpose(-2, -1)
        scores.softmax(-1) @ v

    result = ej.atencion.evaluate(forgot_return)
    assert not result.ok and not result.pending
    assert "devolvió None" in result.message and "return" in result.message


def test_wrong_structure_and_type() -> None:
    only_output = ej.atencion.evaluate(
        lambda q, k, v, mascara=None: ej.atencion.reference(
            q, k, v, mascara)[0])
    assert "tupla de 2 elementos (salida, pesos)" in only_output.message
    assert "torch.Tensor de forma" in only_output.message

    numpy_array = ej.dividir_cabezas.evaluate(
        lambda x, h: ej.dividir_cabezas.reference(x, h).numpy())
    assert ("el resultado es numpy.ndarray; se esperaba un torch.Tensor"
            in numpy_array.message)


def test_wrong_dtype() -> None:
    # Otra familia de dtype (entero por coma flotante) es un error…
    result = ej.dividir_cabezas.evaluate(
        lambda x, h: ej.dividir_cabezas.reference(x, h).long())
    assert not result.ok and result.mistake is None
    assert ("tiene dtype torch.int64; se esperaba torch.float32"
            in result.message)
    # …otro ancho de coma flotante no: se comparan los valores.
    assert ej.dividir_cabezas.evaluate(
        lambda x, h: ej.dividir_cabezas.reference(x, h).double()).ok
    half = ej.atencion.evaluate(
        lambda q, k, v, mascara=None: tuple(
            t.half() for t in ej.atencion.reference(q, k, v, mascara)))
    assert not half.ok and "diferencia máxima" in half.message
    assert "tu dtype es torch.float16" in half.message


def test_wrong_shape() -> None:
    result = ej.dividir_cabezas.evaluate(lambda x, h: x.unsqueeze(1))
    assert not result.ok and result.mistake is None
    assert ("el resultado tiene forma (2, 1, 5, 12); se esperaba "
            "(2, 3, 5, 4)") in result.message


def test_nan_in_output() -> None:
    def with_nan(q, k, v, mascara=None):
        out, weights = ej.atencion.reference(q, k, v, mascara)
        return out / 0 * 0, weights

    result = ej.atencion.evaluate(with_nan)
    assert not result.ok and result.mistake is None
    assert "NaN" in result.message and "`salida`" in result.message


def test_wrong_values_generic_message() -> None:
    def shifted(q, k, v, mascara=None):
        out, weights = ej.atencion.reference(q, k, v, mascara)
        return out, weights + 0.25

    result = ej.atencion.evaluate(shifted)
    assert not result.ok and result.mistake is None
    assert result.message.startswith("Aún no es correcto")
    assert "`pesos`" in result.message
    assert "diferencia máxima 0.25" in result.message


def test_wrong_bool_values_message() -> None:
    result = ej.mascara_causal.evaluate(
        lambda T: torch.ones(T, T, dtype=torch.bool))
    assert not result.ok and result.mistake is None
    assert "difiere en 6 de 16 posiciones" in result.message
    assert "(0, 1)" in result.message


def test_input_mutated_in_place() -> None:
    def mutating(q, k, v, mascara=None):
        q.mul_(1.0 / math.sqrt(q.size(-1)))   # «ahorra» memoria
        weights = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        return weights @ v, weights

    result = ej.atencion.evaluate(mutating)
    assert not result.ok
    assert "modificó su argumento `q`" in result.message

    def mutating_mask(q, k, v, mascara=None):
        if mascara is not None:
            mascara.logical_not_()
        return ej.atencion.reference(q, k, v, mascara)

    result = ej.atencion.evaluate(mutating_mask)
    assert "modificó su argumento `mascara`" in result.message


def _sleepy(q, k, v, mascara=None):
    time.sleep(0.6)
    return ej.atencion.reference(q, k, v, mascara)


def test_time_limit_with_alarm() -> None:
    fast = dataclasses.replace(ej.atencion, time_limit=0.05)
    start = time.perf_counter()
    result = fast.evaluate(_sleepy)
    assert time.perf_counter() - start < 0.5    # la alarma interrumpe
    assert not result.ok and "tardó más de 0.05 s" in result.message


def test_time_limit_catches_except_exception() -> None:
    def stubborn(q, k, v, mascara=None):
        try:
            time.sleep(0.6)
        except Exception:
            pass
        return ej.atencion.reference(q, k, v, mascara)

    fast = dataclasses.replace(ej.atencion, time_limit=0.05)
    assert "tardó más" in fast.evaluate(stubborn).message


def test_time_limit_outside_main_thread() -> None:
    fast = dataclasses.replace(ej.atencion, time_limit=0.05)
    results: list[CheckResult] = []
    worker = threading.Thread(target=lambda: results.append(
        fast.evaluate(_sleepy)))
    worker.start()
    worker.join()
    assert not results[0].ok and "tardó más" in results[0].message


def _run_fresh(code: str, timeout: float = 60) -> Any:
    """Ejecuta ``code`` en un intérprete nuevo; si se cuelga, la prueba
    falla en vez de colgarse."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
        text=True, timeout=timeout, check=False,
        env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


_STUBBORN = """
    import dataclasses, json, threading, time
    from course_lib.exercises import cap01 as ej

    def nested(q, k, v, mascara=None):      # dos niveles, con llamadas
        while True:
            try:
                while True:
                    try:
                        time.sleep(0.001)
                        sum(range(100))
                    except:  # noqa: E722
                        pass
            except BaseException:
                continue

    def busy(q, k, v, mascara=None):        # sin llamadas en el try
        n = 0
        while True:
            try:
                n += 1
            except:  # noqa: E722
                pass

    def keeps_it(q, k, v, mascara=None):    # guarda la excepción
        seen = []
        while True:
            try:
                time.sleep(0.001)
            except BaseException as exc:
                seen.append(exc)

    fast = dataclasses.replace(ej.atencion, time_limit=0.2)

    def measure(fn):
        start = time.perf_counter()
        message = fast.evaluate(fn).message
        return [time.perf_counter() - start, message]
"""


def test_time_limit_survives_nested_bare_excepts() -> None:
    results = _run_fresh(_STUBBORN + """
    print(json.dumps([measure(f) for f in (nested, busy, keeps_it)]))
    """)
    for seconds, message in results:
        assert seconds < 10 and "tardó más de 0.2 s" in message


def test_time_limit_with_bare_except_outside_main_thread() -> None:
    results = _run_fresh(_STUBBORN + """
    out = []
    for f in (nested, busy):
        worker = threading.Thread(target=lambda: out.append(measure(f)))
        worker.start()
        worker.join()
    print(json.dumps(out))
    """)
    assert len(results) == 2
    for seconds, message in results:
        assert seconds < 10 and "tardó más de 0.2 s" in message


def test_timeout_disguised_as_another_error_or_result() -> None:
    def swallow_and_return(q, k, v, mascara=None):
        try:
            time.sleep(0.6)
        except BaseException:
            pass
        return ej.atencion.reference(q, k, v, mascara)

    def swallow_and_raise(q, k, v, mascara=None):
        try:
            time.sleep(0.6)
        except BaseException as exc:
            raise ValueError("otra cosa") from exc

    fast = dataclasses.replace(ej.atencion, time_limit=0.05)
    for fn in (swallow_and_return, swallow_and_raise):
        result = fast.evaluate(fn)
        assert not result.ok and "tardó más" in result.message


def test_only_keyboard_interrupt_escapes_and_leaves_no_trace() -> None:
    # El botón ■ de Jupyter (KeyboardInterrupt) para la celda; sys.exit()
    # no: se convierte en mensaje.
    import signal

    before = (signal.getsignal(signal.SIGALRM), sys.gettrace())

    def interrupted(q, k, v, mascara=None):
        raise KeyboardInterrupt

    def exits(q, k, v, mascara=None):
        sys.exit("adiós")

    with pytest.raises(KeyboardInterrupt):
        ej.atencion.check(interrupted)
    assert "sys.exit()" in ej.atencion.evaluate(exits).message
    fast = dataclasses.replace(ej.atencion, time_limit=0.05)
    assert "tardó más" in fast.evaluate(_sleepy).message
    assert (signal.getsignal(signal.SIGALRM), sys.gettrace()) == before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_time_limit_keeps_an_earlier_timer() -> None:
    import signal

    previous = signal.signal(signal.SIGALRM, lambda *args: None)
    try:
        signal.setitimer(signal.ITIMER_REAL, 50.0)
        fast = dataclasses.replace(ej.atencion, time_limit=0.05)
        assert "tardó más" in fast.evaluate(_sleepy).message
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 45.0 < left <= 50.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_time_limit_leaves_no_alarm_behind() -> None:
    import signal

    before = signal.getsignal(signal.SIGALRM)
    assert ej.atencion.evaluate(ej.atencion.reference).ok
    assert signal.getsignal(signal.SIGALRM) == before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


# --- check imprime y nunca lanza ---------------------------------------

def test_check_prints_and_stores(capsys: pytest.CaptureFixture[str]) -> None:
    assert ej.atencion.check(ej.atencion.reference) is None
    out = capsys.readouterr().out
    assert out.startswith("✅ ¡Correcto!")
    assert ej.atencion.last_result is not None
    assert ej.atencion.last_result.ok

    def crashes(*args: Any) -> None:
        raise RuntimeError("boom")

    for bad in (crashes, None, "atencion", ej.atencion.mistakes[0]
                .implementation):
        ej.atencion.check(bad)
        out = capsys.readouterr().out
        assert out.startswith("❌ ")
        assert not ej.atencion.last_result.ok


def test_repr_mentions_how_to_use() -> None:
    assert ".check(atencion)" in repr(ej.atencion)


def test_exercise_needs_cases_and_hints() -> None:
    with pytest.raises(ValueError, match="al menos"):
        Exercise(name="x", title="x", reference=lambda: None, cases=[],
                 hints=[])


def test_uncomparable_output_does_not_crash() -> None:
    class Weird(torch.Tensor):
        def __ne__(self, other: object) -> Any:
            raise RuntimeError("no me compares")

    result = ej.mascara_causal.evaluate(
        lambda T: torch.ones(T, T, dtype=torch.bool).tril().as_subclass(
            Weird))
    assert not result.ok and result.mistake is None
    assert "no se pudo comparar" in result.message


def test_output_on_another_device() -> None:
    result = ej.mascara_causal.evaluate(
        lambda T: torch.ones(T, T, dtype=torch.bool, device="meta"))
    assert not result.ok and "está en meta" in result.message


def test_float_mask_with_wrong_values_gets_dtype_message_first() -> None:
    result = ej.mascara_causal.evaluate(
        lambda T: torch.triu(torch.ones(T, T)))
    assert not result.ok and result.mistake is None
    assert "dtype torch.float32; se esperaba torch.bool" in result.message
