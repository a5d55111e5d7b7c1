"""Plazo para el código del estudiante: ``check`` vuelve siempre a tiempo.

Libro: introducción, «Cómo usar los ejercicios».

El problema: un ``except:`` desnudo (o ``except BaseException``) atrapa
cualquier excepción, también la que avisa de que se acabó el tiempo, y un
``while True`` con él no terminaría nunca. Por eso, una vez vencido el
plazo, se insiste hasta salir:

1. En el hilo principal (Jupyter, Colab), ``SIGALRM`` llega al vencer el
   plazo y después cada ``TICK`` segundos; cada alarma lanza
   ``TimeLimitExceeded`` (también corta un ``time.sleep``).
2. La primera alarma activa además una función de traza: cada línea nueva
   del código del estudiante vuelve a lanzarla. Lanzada dentro del
   ``except``, el mismo ``try`` ya no la atrapa y sale del bucle.
3. CPython desactiva la traza cuando esta lanza; al liberarse la excepción
   atrapada (``__del__``) se vuelve a activar, así que con bucles anidados
   la excepción sube nivel a nivel.

Fuera del hilo principal no hay señales: un hilo vigilante activa la traza
al vencer el plazo. Ahí una sola llamada larga en C (``time.sleep(60)``)
no se interrumpe hasta que termina; en ningún caso se interrumpe una
operación de tensores a medias. ``KeyboardInterrupt`` y las demás
excepciones del código vigilado se propagan tal cual.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["TICK", "TimeLimitExceeded", "call_with_time_limit"]

TICK = 0.05     # segundos entre alarmas, una vez vencido el plazo


class TimeLimitExceeded(BaseException):
    """Se acabó el tiempo. Hereda de ``BaseException`` para que un
    ``except Exception`` del estudiante no la atrape."""

    guard: _Guard | None = None

    def __init__(self, guard: _Guard | None = None) -> None:
        super().__init__()
        self.guard = guard

    def __del__(self) -> None:
        # Alguien la atrapó y la soltó: si el código vigilado sigue en
        # marcha, se reactiva la traza para que vuelva a salir.
        guard = self.guard
        if guard is not None and guard.running and (
                threading.get_ident() == guard.thread):
            guard.install(sys._getframe(1), thread_trace=True)


class _Guard:
    """Estado de una llamada vigilada: el marco que llama (``caller``), el
    hilo y si el plazo ya venció."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.thread = threading.get_ident()
        self.caller: FrameType | None = None
        self.running = False
        self.expired = False
        self.done = threading.Event()

    def trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        """Función de traza: tras el plazo, cada llamada o línea nueva del
        código vigilado lanza ``TimeLimitExceeded``."""
        if (not self.running or frame is self.caller
                or frame.f_code in _OWN_CODE):
            return None
        if self.expired and event in ("call", "line"):
            raise TimeLimitExceeded(self)
        return self.trace if self.expired else None

    def install(self, frame: FrameType | None, *,
                thread_trace: bool) -> bool:
        """Pone la traza en los marcos entre ``frame`` y ``caller`` (sin
        incluirlo); False si ``frame`` no está dentro de la llamada."""
        chain = []
        while frame is not None and frame is not self.caller:
            chain.append(frame)
            frame = frame.f_back
        if frame is None or not self.running:
            return False
        for f in chain:
            if f.f_code not in _OWN_CODE:
                f.f_trace = self.trace
        if thread_trace:        # solo desde el propio hilo
            sys.settrace(self.trace)
        return True

    def on_alarm(self, signum: int, frame: FrameType | None) -> None:
        """Manejador de ``SIGALRM`` (hilo principal)."""
        if not self.running or frame is None or frame.f_code in _OWN_CODE:
            return
        self.expired = True
        if self.install(frame, thread_trace=True):
            raise TimeLimitExceeded(self)

    def watch(self) -> None:
        """Hilo vigilante (fuera del hilo principal)."""
        if self.done.wait(self.limit):
            return
        self.expired = True
        while True:
            frame = sys._current_frames().get(self.thread)
            self.install(frame, thread_trace=False)
            if self.done.wait(TICK):
                return

    def run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """Llama a ``fn(*args)`` con la vigilancia puesta y la quita
        siempre al salir, también si ``fn`` lanza."""
        use_alarm = (hasattr(signal, "setitimer")
                     and threading.current_thread()
                     is threading.main_thread())
        self.caller = sys._getframe()
        previous_trace = sys.gettrace()
        self.running = True
        if use_alarm:
            previous = signal.signal(signal.SIGALRM, self.on_alarm)
            old_delay, old_interval = signal.setitimer(
                signal.ITIMER_REAL, self.limit, TICK)
        else:
            watcher = threading.Thread(target=self.watch, daemon=True)
            watcher.start()
            sys.settrace(self.trace)    # barata hasta que vence el plazo
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            # Primero se apaga todo lo que puede lanzar en este marco.
            self.running = False
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if sys.gettrace() is not previous_trace:
                sys.settrace(previous_trace)
            if use_alarm:
                signal.signal(signal.SIGALRM, signal.SIG_DFL
                              if previous is None else previous)
                if old_delay > 0:   # otro temporizador que ya corría
                    left = old_delay - (time.perf_counter() - start)
                    signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3),
                                     old_interval)
            else:
                self.done.set()
                watcher.join()
            if time.perf_counter() - start > self.limit:
                self.expired = True


_OWN_CODE = frozenset({   # marcos de esta maquinaria: nunca se interrumpen
    TimeLimitExceeded.__init__.__code__,
    TimeLimitExceeded.__del__.__code__, _Guard.trace.__code__,
    _Guard.install.__code__, _Guard.on_alarm.__code__,
})


def call_with_time_limit(fn: Callable[..., Any], args: tuple[Any, ...],
                         limit: float) -> Any:
    """Devuelve ``fn(*args)``. Lanza ``TimeLimitExceeded`` si tardó más
    de ``limit`` segundos, aunque ``fn`` atrapara el aviso y siguiera o
    lanzara otra cosa; fuera de eso, sus excepciones pasan tal cual."""
    guard = _Guard(limit)
    try:
        result = guard.run(fn, args)
    except KeyboardInterrupt:
        raise
    except BaseException:
        if guard.expired:
            raise TimeLimitExceeded from None
        raise
    if guard.expired:
        raise TimeLimitExceeded
    return result
