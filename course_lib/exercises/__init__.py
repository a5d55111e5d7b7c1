"""Comprobadores de ejercicios, al estilo de Kaggle Learn.

Libro: introducción, «Cómo usar los ejercicios».

En un cuaderno::

    from course_lib.exercises import cap01 as ej

    def atencion(q, k, v, mascara=None):
        ...                           # TU CÓDIGO AQUÍ

    ej.atencion.check(atencion)       # ✅ / ❌ con un mensaje preciso
                                      # (✏️ «tu turno» si sigue con `...`)
    ej.atencion.hint()                # una pista, no la respuesta
    ej.atencion.solution()            # muestra la solución de referencia

``check`` nunca lanza por culpa del código del estudiante: excepciones
(también ``sys.exit()``), ``None``, tipos, formas, NaN, entradas
modificadas y lentitud (aunque un ``except:`` desnudo atrape el aviso; ver
``_time_limit``) se convierten en mensajes. La única excepción que pasa es
``KeyboardInterrupt``: es el botón ■ de Jupyter y debe parar la celda como
cualquier otra (un ``raise KeyboardInterrupt`` del alumno no se distingue
de él). Si la salida coincide con la de un error típico conocido
(``KnownMistake``), el mensaje lo nombra.

Qué se compara: los valores, con tolerancia. Un resultado correcto escrito
de otra forma pasa: cualquier dtype de coma flotante donde se espera uno
(se compara en float64), cualquier entero donde se espera un entero, una
lista en lugar de una tupla, un tensor no contiguo, en otro dispositivo o
con gradiente, y un número de Python donde se espera un escalar (0-d) de
coma flotante. Sigue siendo un error cambiar de familia (bool, entero, coma
flotante: una máscara 0/1 no es booleana) o devolver un array de NumPy.
"""

from __future__ import annotations

import dis
import inspect
import numbers
import operator
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from course_lib.exercises._time_limit import (
    TimeLimitExceeded,
    call_with_time_limit,
)

__all__ = ["Case", "CheckResult", "Exercise", "KnownMistake"]

_MISSING: Any = object()     # «no se pasó nada» (distinto de None)


@dataclass(frozen=True)
class CheckResult:
    """Resultado de evaluar una función: ``mistake`` es el id del error
    típico reconocido, o ``None``."""

    ok: bool
    message: str
    mistake: str | None = None
    pending: bool = False      # el ejercicio sigue sin empezar (``...``)


# Lo único que compila un cuerpo vacío (``...``, ``pass`` o comentarios):
# devolver None. Cualquier código escrito por el alumno añade algo más.
_EMPTY_BODY_OPS = frozenset({"RESUME", "NOP", "LOAD_CONST", "RETURN_VALUE",
                             "RETURN_CONST", "POP_TOP", "CACHE"})


def _is_untouched(fn: Callable[..., Any]) -> bool:
    """¿Es ``fn`` la plantilla sin tocar (su cuerpo no hace nada)?"""
    try:
        ops = {ins.opname for ins in dis.get_instructions(fn)}
    except TypeError:            # no es una función de Python
        return False
    return ops <= _EMPTY_BODY_OPS


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


def _kind(dtype: torch.dtype) -> str:
    """Familia de un dtype: se exige la misma familia, no el mismo ancho."""
    if dtype == torch.bool:
        return "bool"
    if dtype.is_complex:
        return "complex"
    return "float" if dtype.is_floating_point else "int"


def _scalar_as_tensor(got: Any, expected: Any) -> tuple[Any, bool]:
    """Un número de Python o de NumPy donde se espera un escalar (0-d) de
    coma flotante pasa a tensor float64; el bool dice si hubo cambio."""
    if (isinstance(expected, torch.Tensor) and expected.dim() == 0
            and expected.is_floating_point()
            and isinstance(got, numbers.Real)
            and not isinstance(got, (bool, torch.Tensor))):
        return torch.tensor(float(got), dtype=torch.float64), True
    return got, False


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
            numpy = type(got).__module__.split(".")[0] == "numpy"
            return (f"{what} es {_type_name(got)}; se esperaba un "
                    "torch.Tensor" + (" (conviértelo con "
                                      "`torch.from_numpy(...)`)"
                                      if numpy else ""))
        if _kind(got.dtype) != _kind(expected.dtype):
            return (f"{what} tiene dtype {got.dtype}; se esperaba "
                    f"{expected.dtype}")
        if got.shape != expected.shape:
            return (f"{what} tiene forma {tuple(got.shape)}; se esperaba "
                    f"{tuple(expected.shape)}")
        if got.device != expected.device:
            if "meta" in (got.device.type, expected.device.type):
                return (f"{what} está en {got.device}; se esperaba "
                        f"{expected.device}")
            got = got.to(expected.device)    # otro dispositivo real: vale
        # Mismo ancho o no (float32, float64…), se compara en float64.
        note = ("" if got.dtype == expected.dtype else
                f" (tu dtype es {got.dtype}; el de referencia, "
                f"{expected.dtype})")
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
        got, expected = got.double(), expected.detach().double()
        bad = ~got.isfinite() & expected.isfinite()
        if bad.any():
            return (f"{what} contiene NaN o infinitos en {int(bad.sum())} "
                    f"posiciones donde el resultado correcto es finito{note}")
        if not torch.allclose(got, expected, rtol=self.rtol, atol=self.atol,
                              equal_nan=True):
            diff = (got - expected).abs().nan_to_num(0.0)
            pos = tuple(int(i) for i in torch.unravel_index(
                diff.argmax(), diff.shape))
            return (f"{what} tiene valores incorrectos: diferencia máxima "
                    f"{diff.max().item():.3g} en la posición {pos}{note}")
        return None

    # --- evaluación --------------------------------------------------
    def _call(self, fn: Callable[..., Any], args: tuple[Any, ...],
              where: str) -> tuple[Any, str | None]:
        """Llama a ``fn`` con el plazo: (resultado, None) o (None, mensaje
        de error). Solo deja pasar ``KeyboardInterrupt`` (el botón ■)."""
        call = f"`{self.function_name}`"
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):     # p. ej., algunas de C
            signature = None
        if signature is not None:
            try:
                signature.bind(*args)
            except TypeError:
                params = ", ".join(inspect.signature(self.reference)
                                   .parameters)
                return None, (
                    f"{call} no acepta los argumentos del {where} "
                    f"(TypeError): se llama como "
                    f"`{self.function_name}({params})` y tu función tiene "
                    f"los parámetros `{signature}`.")
        try:
            return call_with_time_limit(fn, args, self.time_limit), None
        except TimeLimitExceeded:
            return None, (
                f"{call} tardó más de {self.time_limit:g} s en el "
                f"{where}. ¿Hay un bucle que no termina, o uno de Python "
                "donde bastaría una operación de tensores?")
        except KeyboardInterrupt:
            raise
        except SystemExit as exc:
            return None, (
                f"{call} llamó a `sys.exit()` (SystemExit)"
                f"{_error_line(exc, fn)} en el {where}. En un cuaderno no "
                "hace falta terminar el programa: devuelve el resultado "
                "con `return` (y si algo falla, lanza una excepción como "
                "`ValueError`).")
        except BaseException as exc:
            text = str(exc).strip().splitlines()
            short = text[0][:200] if text else ""
            return None, (
                f"{call} lanzó {type(exc).__name__}: {short}"
                f"{_error_line(exc, fn)} en el {where}.")

    def evaluate(self, fn: Any) -> CheckResult:
        """Prueba ``fn`` con todos los casos; nunca lanza por su culpa
        (salvo ``KeyboardInterrupt``, el botón ■ de Jupyter)."""
        call = f"`{self.function_name}`"
        if not callable(fn):
            return CheckResult(False, (
                f"Se esperaba una función, pero se recibió {_type_name(fn)}."
                f" Pásala sin llamarla: `.check({self.function_name})`, no "
                f"`.check({self.function_name}(...))`."))
        params = list(inspect.signature(self.reference).parameters)
        records: list[tuple[tuple[Any, ...], Any, str | None, str]] = []
        as_number = False
        for i, case in enumerate(self.cases):
            where = f"caso {i + 1} de {len(self.cases)} ({case.description})"
            args = case.make(torch.Generator().manual_seed(self.seed + i))
            expected = self.reference(*_clone(args))
            student_args = _clone(args)
            got, error = self._call(fn, student_args, where)
            if error is not None:
                return CheckResult(False, error)
            for name, before, after in zip(params, args, student_args,
                                           strict=False):
                if not _same(before, after):
                    return CheckResult(False, (
                        f"{call} modificó su argumento `{name}` en el {where}"
                        ". No cambies las entradas en su lugar (operaciones "
                        "como `x += …` o `x.masked_fill_(…)`): crea tensores "
                        "nuevos."))
            if got is None and _is_untouched(fn):
                return CheckResult(False, (
                    f"Tu turno: escribe `{self.function_name}` en lugar de "
                    "`...` y vuelve a ejecutar la celda. Si te atascas, "
                    f"`ej.{self.name}.hint()` da una pista."), pending=True)
            if got is None:
                return CheckResult(False, (
                    f"{call} devolvió None en el {where}. ¿Olvidaste el "
                    "`return`?"))
            got, converted = _scalar_as_tensor(got, expected)
            as_number |= converted
            try:
                problem = self._compare(got, expected)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:   # un objeto que no compara
                problem = (f"no se pudo comparar el resultado "
                           f"({type(exc).__name__}: {exc})")
            records.append((args, got, problem, where))
        failures = [(where, p) for _, _, p, where in records if p]
        if not failures:
            return CheckResult(True, (
                f"¡Correcto! {call} pasa los {len(records)} casos de "
                "prueba." + (
                    " Devolviste un número de Python: si es una pérdida, "
                    "devuelve el tensor (sin `.item()` ni `float()`) para "
                    "poder llamar a `backward()`." if as_number else "")))
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
    def check(self, fn: Any = _MISSING, *extra: Any, **options: Any) -> None:
        """Evalúa ``fn``, guarda el resultado en ``last_result`` e imprime
        ✅ o ❌ con la explicación (✏️ si la función es aún la plantilla
        sin tocar). Nunca lanza, tampoco si se llama mal
        (salvo ``KeyboardInterrupt``, que para la celda)."""
        if fn is _MISSING or extra or options:
            given = len(extra) + len(options) + (fn is not _MISSING)
            self.last_result = CheckResult(False, (
                f"`.check()` recibe un solo argumento, tu función, sin "
                f"llamarla: `.check({self.function_name})`. Se pasaron "
                f"{given or 'ninguno'}."))
        else:
            self.last_result = self.evaluate(fn)
        mark = ("✅" if self.last_result.ok
                else "✏️" if self.last_result.pending else "❌")
        print(f"{mark} {self.last_result.message}")

    def hint(self, n: Any = None, *extra: Any, **options: Any) -> None:
        """Imprime la pista ``n`` (un entero desde 1) o, sin ``n``, la
        siguiente. Un ``n`` que no es un entero lanza ``TypeError``; uno
        fuera de rango, ``ValueError``: los dos en castellano."""
        total, note = len(self.hints), ""
        expected = (f"el número de la pista, un entero de 1 a {total} "
                    f"(sin nada, `.hint()` muestra la siguiente)")
        if extra or options:
            raise TypeError(f"`.hint()` recibe como mucho un argumento, "
                            f"{expected}; se pasaron "
                            f"{1 + len(extra) + len(options)}.")
        if n is None:
            if self._next_hint >= total:
                note = (" (No hay más pistas; si sigues atascado, mira "
                        "`.solution()`.)")
            n = min(self._next_hint, total - 1) + 1
            self._next_hint = n
        else:
            try:
                if isinstance(n, bool):
                    raise TypeError
                n = operator.index(n)   # int, o un entero de NumPy/torch
            except TypeError:
                raise TypeError(f"`.hint(n)` espera {expected}; se "
                                f"recibió {_type_name(n)} {n!r}.") from None
            if not 1 <= n <= total:
                raise ValueError(f"hay {total} pistas: `.hint(n)` espera "
                                 f"{expected}; se pidió la pista {n}.")
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

    def solution(self, *extra: Any, **options: Any) -> None:
        """Imprime la solución de referencia. No recibe argumentos."""
        if extra or options:
            raise TypeError("`.solution()` no recibe argumentos: escribe "
                            "`.solution()`, con los paréntesis vacíos. Para "
                            "una pista concreta, usa `.hint(n)`.")
        print(self.solution_source)
