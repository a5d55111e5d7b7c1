"""Comprobadores de ejercicios, al estilo de Kaggle Learn.

Libro: introducción, «Cómo usar los ejercicios».

En un cuaderno::

    from course_lib.exercises import cap01 as ej

    def atencion(q, k, v, mascara=None):
        ...                           # TU CÓDIGO AQUÍ

    ej.atencion.check(atencion)       # ✅ / ❌ con un mensaje preciso
    ej.atencion.hint()                # una pista, no la respuesta
    ej.atencion.solution()            # muestra la solución de referencia

``check`` nunca lanza por culpa del código del estudiante: excepciones,
``None``, tipos, formas, NaN, entradas modificadas y lentitud se convierten
en mensajes. Si la salida coincide con la de un error típico conocido
(``KnownMistake``), el mensaje lo nombra.
"""

from __future__ import annotations

import inspect
import signal
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["Case", "CheckResult", "Exercise", "KnownMistake"]


@dataclass(frozen=True)
class CheckResult:
    """Resultado de evaluar una función: ``mistake`` es el id del error
    típico reconocido, o ``None``."""

    ok: bool
    message: str
    mistake: str | None = None


@dataclass(frozen=True)
class Case:
    """Un caso de prueba: ``make`` crea los argumentos posicionales a partir
    de un generador sembrado, así cada comprobación es determinista."""

    description: str
    make: Callable[[torch.Generator], tuple[Any, ...]]


@dataclass(frozen=True)
class KnownMistake:
    """Un error típico: ``implementation`` es la versión equivocada y
    ``description`` lo explica en una o dos frases."""

    id: str
    description: str
    implementation: Callable[..., Any]


class _TimeLimitExceeded(BaseException):
    """Hereda de ``BaseException`` para que un ``except Exception`` del
    estudiante no la atrape."""


def _call_with_time_limit(fn: Callable[..., Any], args: tuple[Any, ...],
                          limit: float) -> Any:
    """Llama a ``fn(*args)``; lanza ``_TimeLimitExceeded`` si tarda más de
    ``limit`` segundos. En el hilo principal de Unix (el caso de Jupyter)
    SIGALRM la interrumpe; si no, se mide el tiempo al terminar. Una sola
    operación larga en C solo se interrumpe cuando termina."""
    use_alarm = (hasattr(signal, "setitimer")
                 and threading.current_thread() is threading.main_thread())
    previous: Any = None
    if use_alarm:
        def on_alarm(signum: int, frame: object) -> None:
            raise _TimeLimitExceeded

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, limit)
    start = time.perf_counter()
    try:
        result = fn(*args)
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM,
                          signal.SIG_DFL if previous is None else previous)
    if time.perf_counter() - start > limit:
        raise _TimeLimitExceeded
    return result


def _clone(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, (tuple, list)):
        return type(obj)(_clone(o) for o in obj)
    return obj


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.is_floating_point():
            return bool(torch.equal(a.isnan(), b.isnan())) and bool(
                torch.equal(a.nan_to_num(), b.nan_to_num()))
        return bool(torch.equal(a, b))
    return a is b or a == b


def _type_name(obj: Any) -> str:
    if isinstance(obj, torch.Tensor):
        return f"torch.Tensor de forma {tuple(obj.shape)}"
    module = type(obj).__module__
    name = type(obj).__qualname__
    return name if module == "builtins" else f"{module}.{name}"


def _error_line(exc: BaseException, fn: Callable[..., Any]) -> str:
    """« (línea N)» de la última línea de ``fn`` en la traza, si la hay."""
    filename = getattr(getattr(fn, "__code__", None), "co_filename", None)
    line, tb = "", exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = f" (línea {tb.tb_lineno})"
        tb = tb.tb_next
    return line


def _matches(got: Any, wrong: Any, atol: float, rtol: float) -> bool:
    """¿Coincide ``got`` con la salida de un error típico? Compara valores;
    del dtype solo si es booleano o no (así float e int reproducen el mismo
    error). Donde el error da NaN/inf cualquier valor vale: -inf y -1e9
    como relleno solo difieren en filas bloqueadas por completo."""
    if isinstance(wrong, (tuple, list)):
        return (isinstance(got, (tuple, list)) and len(got) == len(wrong)
                and all(_matches(g, w, atol, rtol)
                        for g, w in zip(got, wrong, strict=True)))
    if not (isinstance(got, torch.Tensor)
            and isinstance(wrong, torch.Tensor)
            and got.shape == wrong.shape
            and (got.dtype == torch.bool) == (wrong.dtype == torch.bool)):
        return False
    g, w = got.detach().double(), wrong.detach().double()
    keep = w.isfinite()
    return bool(g[keep].isfinite().all()) and bool(torch.allclose(
        g[keep], w[keep], rtol=rtol, atol=atol))


@dataclass(repr=False)
class Exercise:
    """Un ejercicio: referencia, casos, pistas y errores típicos.

    ``function_name`` es el nombre que la función tiene en el cuaderno;
    ``output_names`` nombra los elementos cuando la salida es una tupla.
    """

    name: str
    title: str
    reference: Callable[..., Any]
    cases: Sequence[Case]
    hints: Sequence[str]
    mistakes: Sequence[KnownMistake] = ()
    function_name: str = ""
    output_names: Sequence[str] = ()
    imports: Sequence[str] = ("import torch",)
    atol: float = 1e-5
    rtol: float = 1e-5
    time_limit: float = 2.0         # segundos por caso
    seed: int = 0
    last_result: CheckResult | None = field(default=None, init=False)
    _next_hint: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.function_name = self.function_name or self.name
        if not self.cases or not self.hints:
            raise ValueError(f"el ejercicio {self.name!r} necesita al menos "
                             "un caso y una pista")

    def __repr__(self) -> str:
        return (f"<Ejercicio «{self.title}»: usa .check({self.function_name})"
                ", .hint() o .solution()>")

    # --- comparación -------------------------------------------------
    def _label(self, index: int | None) -> str:
        if index is None:
            return "el resultado"
        if index < len(self.output_names):
            return f"`{self.output_names[index]}` (elemento {index})"
        return f"el elemento {index} de la tupla"

    def _compare(self, got: Any, expected: Any,
                 index: int | None = None) -> str | None:
        """Describe en castellano en qué difiere ``got``; None si no."""
        what = self._label(index)
        if isinstance(expected, tuple):
            names = ", ".join(self.output_names)
            if (not isinstance(got, (tuple, list))
                    or len(got) != len(expected)):
                return (f"{what} es {_type_name(got)}; se esperaba una "
                        f"tupla de {len(expected)} elementos"
                        f"{f' ({names})' if names else ''}")
            for i, (g, e) in enumerate(zip(got, expected, strict=True)):
                problem = self._compare(g, e, i)
                if problem:
                    return problem
            return None
        if not isinstance(expected, torch.Tensor):
            return None if got == expected else (
                f"{what} es {got!r}; se esperaba {expected!r}")
        if not isinstance(got, torch.Tensor):
            return (f"{what} es {_type_name(got)}; se esperaba un "
                    "torch.Tensor")
        if got.dtype != expected.dtype:
            return (f"{what} tiene dtype {got.dtype}; se esperaba "
                    f"{expected.dtype}")
        if got.shape != expected.shape:
            return (f"{what} tiene forma {tuple(got.shape)}; se esperaba "
                    f"{tuple(expected.shape)}")
        if got.device != expected.device:
            return (f"{what} está en {got.device}; se esperaba "
                    f"{expected.device}")
        got = got.detach()
        if expected.dtype == torch.bool:
            wrong = (got != expected).nonzero()
            if len(wrong):
                pos = tuple(wrong[0].tolist())
                return (f"{what} difiere en {len(wrong)} de "
                        f"{got.numel()} posiciones; la primera es {pos}: "
                        f"se esperaba {bool(expected[pos])}, se obtuvo "
                        f"{bool(got[pos])}")
            return None
        bad = ~got.isfinite() & expected.isfinite()
        if bad.any():
            return (f"{what} contiene NaN o infinitos en {int(bad.sum())} "
                    "posiciones donde el resultado correcto es finito")
        if not torch.allclose(got, expected, rtol=self.rtol, atol=self.atol,
                              equal_nan=True):
            diff = (got - expected).abs().nan_to_num(0.0)
            pos = tuple(int(i) for i in torch.unravel_index(
                diff.argmax(), diff.shape))
            return (f"{what} tiene valores incorrectos: diferencia máxima "
                    f"{diff.max().item():.3g} en la posición {pos}")
        return None

    # --- evaluación --------------------------------------------------
    def evaluate(self, fn: Any) -> CheckResult:
        """Prueba ``fn`` con todos los casos; nunca lanza por su culpa."""
        call = f"`{self.function_name}`"
        if not callable(fn):
            return CheckResult(False, (
                f"Se esperaba una función, pero se recibió {_type_name(fn)}."
                f" Pásala sin llamarla: `.check({self.function_name})`, no "
                f"`.check({self.function_name}(...))`."))
        params = list(inspect.signature(self.reference).parameters)
        records: list[tuple[tuple[Any, ...], Any, str | None, str]] = []
        for i, case in enumerate(self.cases):
            where = f"caso {i + 1} de {len(self.cases)} ({case.description})"
            args = case.make(torch.Generator().manual_seed(self.seed + i))
            expected = self.reference(*_clone(args))
            student_args = _clone(args)
            try:
                got = _call_with_time_limit(fn, student_args,
                                            self.time_limit)
            except _TimeLimitExceeded:
                return CheckResult(False, (
                    f"{call} tardó más de {self.time_limit:g} s en el "
                    f"{where}. ¿Hay un bucle que no termina, o uno de Python "
                    "donde bastaría una operación de tensores?"))
            except Exception as exc:
                text = str(exc).strip().splitlines()
                short = text[0][:200] if text else ""
                return CheckResult(False, (
                    f"{call} lanzó {type(exc).__name__}: {short}"
                    f"{_error_line(exc, fn)} en el {where}."))
            for name, before, after in zip(params, args, student_args,
                                           strict=False):
                if not _same(before, after):
                    return CheckResult(False, (
                        f"{call} modificó su argumento `{name}` en el {where}"
                        ". No cambies las entradas en su lugar (operaciones "
                        "como `x += …` o `x.masked_fill_(…)`): crea tensores "
                        "nuevos."))
            if got is None:
                return CheckResult(False, (
                    f"{call} devolvió None en el {where}. ¿Olvidaste el "
                    "`return`? Si aún no la escribiste, reemplaza `...` por "
                    "tu código."))
            try:
                problem = self._compare(got, expected)
            except Exception as exc:   # p. ej., un objeto que no compara
                problem = (f"no se pudo comparar el resultado "
                           f"({type(exc).__name__}: {exc})")
            records.append((args, got, problem, where))
        failures = [(where, p) for _, _, p, where in records if p]
        if not failures:
            return CheckResult(True, (
                f"¡Correcto! {call} pasa los {len(records)} casos de "
                "prueba."))
        where, problem = failures[0]
        detail = f"en el {where}, {problem}."
        for mistake in self.mistakes:
            if self._reproduces(mistake, records):
                return CheckResult(
                    False, f"{mistake.description}\nDetalle: {detail}",
                    mistake.id)
        return CheckResult(False, f"Aún no es correcto: {detail}")

    def _reproduces(self, mistake: KnownMistake,
                    records: Sequence[tuple[Any, ...]]) -> bool:
        for args, got, _, _ in records:
            try:
                wrong = mistake.implementation(*_clone(args))
                if not _matches(got, wrong, self.atol, self.rtol):
                    return False
            except Exception:
                return False
        return True

    # --- interfaz del cuaderno ---------------------------------------
    def check(self, fn: Any) -> None:
        """Evalúa ``fn``, guarda el resultado en ``last_result`` e imprime
        ✅ o ❌ con la explicación."""
        self.last_result = self.evaluate(fn)
        mark = "✅" if self.last_result.ok else "❌"
        print(f"{mark} {self.last_result.message}")

    def hint(self, n: int | None = None) -> None:
        """Imprime la pista ``n`` (desde 1) o, sin ``n``, la siguiente."""
        total, note = len(self.hints), ""
        if n is None:
            if self._next_hint >= total:
                note = (" (No hay más pistas; si sigues atascado, mira "
                        "`.solution()`.)")
            n = min(self._next_hint, total - 1) + 1
            self._next_hint = n
        elif not 1 <= n <= total:
            raise ValueError(f"hay {total} pistas; se pidió la pista {n}")
        print(f"💡 Pista {n}/{total}: {self.hints[n - 1]}{note}")

    @property
    def solution_source(self) -> str:
        """Código de la solución, con ``function_name`` como nombre y las
        importaciones que necesita: se puede pegar en una celda."""
        source = textwrap.dedent(inspect.getsource(self.reference))
        source = source.replace(f"def {self.reference.__name__}(",
                                f"def {self.function_name}(", 1)
        header = "\n".join(self.imports)
        return f"{header}\n\n\n{source}" if header else source

    def solution(self) -> None:
        """Imprime la solución de referencia."""
        print(self.solution_source)
