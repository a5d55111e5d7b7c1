"""Tiempo de pared y pico de memoria de cada cuaderno del libro.

Ejecuta cada cuaderno de ``notebooks/`` (o los que se pasen como
argumentos) de arriba abajo en un kernel nuevo, como
``python -m tools.maintenance execute``: sin red
(``HF_HUB_OFFLINE=1``). Trabaja sobre una
copia temporal, en una carpeta temporal: el cuaderno original nunca se
modifica. Mide:

- el tiempo de pared, desde que se arranca el kernel hasta que termina
  la última celda;
- el pico de memoria: el máximo de la RSS del kernel más la de sus
  procesos hijos, muestreada en un hilo cada ``--interval`` segundos, y
  como mínimo el pico exacto del kernel (``VmHWM`` de /proc, en Linux).

Uso::

    python benchmarks/notebooks.py                    # todos
    python benchmarks/notebooks.py notebooks/01_atencion.ipynb
    python benchmarks/notebooks.py --check --budget 180
    python benchmarks/notebooks.py --json tiempos.json
    python benchmarks/notebooks.py --store            # benchmarks/results/

Código de salida: 0 si todo va bien; 1 si algún cuaderno falla o, con
``--check``, si alguno supera el presupuesto; 2 si los argumentos no son
válidos.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient
from nbclient.exceptions import (
    CellExecutionError,
    CellTimeoutError,
    DeadKernelError,
)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = ROOT / "notebooks"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
BUDGET_S = 180.0  # ≤ 3 minutos por cuaderno en la máquina de 2 núcleos
MIB = 2**20
SLOWEST = 3  # celdas más lentas que se anotan por cuaderno
KERNEL_ENV = {"HF_HUB_OFFLINE": "1"}


def columns(budget: float) -> list[tuple[str, str, str]]:
    """(clave en el JSON, cabecera de la tabla, formato) de cada columna."""
    return [
        ("notebook", "cuaderno", "{}"),
        ("wall_s", "tiempo (s)", "{:.1f}"),
        ("cpu_s", "CPU (s)", "{:.1f}"),
        ("peak_rss_mib", "pico de memoria (MiB)", "{:.0f}"),
        ("within_budget", f"dentro del presupuesto (≤ {budget:g} s)", "{}"),
    ]


def _cell_text(row: dict, key: str, fmt: str) -> str:
    value = row[key]
    if key == "within_budget" and row.get("error"):
        return "error"
    if isinstance(value, bool):
        return "sí" if value else "no"
    if value is None:
        return "—"
    return fmt.format(value)


def format_table(
    rows: Sequence[dict], cols: Sequence[tuple[str, str, str]]
) -> str:
    """Tabla de texto alineada: primera columna a la izquierda y el
    resto a la derecha."""
    header = [title for _, title, _ in cols]
    body = [[_cell_text(row, key, fmt) for key, _, fmt in cols]
            for row in rows]
    widths = [
        max(len(cells[i]) for cells in [header, *body])
        for i in range(len(header))
    ]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:],
                                           strict=True))
        return "  ".join([first, *rest])

    return "\n".join(
        [line(header), "  ".join("-" * w for w in widths)]
        + [line(cells) for cells in body]
    )


def format_markdown(
    rows: Sequence[dict], cols: Sequence[tuple[str, str, str]]
) -> str:
    """La misma tabla en Markdown."""
    header = [title for _, title, _ in cols]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join([":---", *["---:"] * (len(cols) - 2), ":---:"]) + "|",
    ]
    for row in rows:
        cells = [_cell_text(row, key, fmt) for key, _, fmt in cols]
        cells[0] = f"`{cells[0]}`"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _tree_rss(process: psutil.Process) -> int:
    """RSS (bytes) de un proceso más la de todos sus descendientes."""
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def _vm_hwm(pid: int) -> int | None:
    """Pico de RSS (bytes) de un proceso vivo según /proc (Linux)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # kB -> bytes
    return None


def _cpu_seconds(process: psutil.Process) -> float | None:
    """Segundos de CPU (usuario + sistema) del proceso y de sus hijos ya
    terminados; None si el proceso ya no existe."""
    try:
        times = process.cpu_times()
    except psutil.Error:
        return None
    return (times.user + times.system + times.children_user
            + times.children_system)


class MemoryMonitor:
    """Hilo que muestrea la RSS de un proceso y sus hijos y guarda el
    máximo (en bytes) en ``peak``."""

    def __init__(self, pid: int, *, interval: float = 0.1) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        try:
            self.peak = max(self.peak, _tree_rss(self.process))
        except psutil.Error:
            pass  # el kernel ya terminó (o murió): se conserva el máximo

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> MemoryMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sample()
        self._stop.set()
        self._thread.join()


def kernel_env(threads: int | None = None) -> dict[str, str]:
    """Entorno del kernel: el actual en modo sin red.

    ``threads`` fija los hilos de cálculo de torch en el kernel (vía
    ``OMP_NUM_THREADS``) sin tocar el cuaderno; None deja los de torch.
    """
    env = {**os.environ, **KERNEL_ENV}
    env.setdefault("PYTHONHASHSEED", "0")
    if threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def run_notebook(
    path: Path,
    *,
    budget: float = BUDGET_S,
    timeout: int = 900,
    interval: float = 0.1,
    threads: int | None = None,
) -> dict:
    """Ejecuta una copia temporal de ``path`` y devuelve su fila.

    Claves: ``notebook``, ``wall_s`` (arranque del kernel + celdas),
    ``cells_s`` (solo celdas), ``cpu_s`` (segundos de CPU del kernel,
    sumando todos sus hilos), ``peak_rss_mib`` (máximo muestreado del
    kernel y sus hijos, o ``VmHWM`` del kernel si es mayor),
    ``kernel_hwm_mib``, ``within_budget``, ``error`` (None si todas las
    celdas se ejecutaron sin error; si no, la celda y el motivo) y
    ``slowest_cells`` (las celdas de código más lentas: índice, segundos
    y primera línea de código).
    """
    error = hwm = cpu_s = None
    cell_times: list[tuple[float, int, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-nb-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        nb = nbformat.read(copy, as_version=4)
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3",
            # El kernel trabaja en la carpeta del original, como nbval y el
            # lector: las rutas relativas (p. ej. ../benchmarks/results)
            # funcionan igual. La copia solo evita reescribir el cuaderno.
            resources={"metadata": {"path": str(path.resolve().parent)}},
            shutdown_kernel="immediate",  # ya medido: no hace falta esperar
        )
        start = time.perf_counter()
        with client.setup_kernel(env=kernel_env(threads)):
            pid = client.km.provisioner.pid
            with MemoryMonitor(pid, interval=interval) as monitor:
                cells_start = time.perf_counter()
                for index, cell in enumerate(nb.cells):
                    cell_start = time.perf_counter()
                    try:
                        client.execute_cell(cell, index)
                    except (CellExecutionError, CellTimeoutError,
                            DeadKernelError) as exc:
                        error = f"celda {index}: {_describe(exc, timeout)}"
                    if cell.cell_type == "code":
                        seconds = time.perf_counter() - cell_start
                        cell_times.append((seconds, index, cell.source))
                    if error:
                        break
                end = time.perf_counter()
                hwm = _vm_hwm(pid)
                cpu_s = _cpu_seconds(monitor.process)
    wall_s = end - start
    peak = max(monitor.peak, hwm or 0)
    return {
        "notebook": _display(path),
        "wall_s": wall_s,
        "cells_s": end - cells_start,
        "cpu_s": cpu_s,
        "peak_rss_mib": peak / MIB,
        "kernel_hwm_mib": None if hwm is None else hwm / MIB,
        "within_budget": error is None and wall_s <= budget,
        "error": error,
        "slowest_cells": [
            {"index": index, "seconds": seconds, "source": _gist(source)}
            for seconds, index, source in sorted(cell_times, reverse=True)
        ][:SLOWEST],
    }


def _gist(source: str) -> str:
    """La primera línea de código de una celda (sin comentarios)."""
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    code = [line for line in lines if not line.startswith("#")]
    return ((code or lines or [""])[0])[:60]


def _describe(exc: Exception, timeout: int) -> str:
    """Una línea legible con el error de una celda (sin colores ANSI)."""
    if isinstance(exc, CellTimeoutError):
        return f"superó el límite de {timeout} s por celda (--timeout)"
    if isinstance(exc, DeadKernelError):
        return "el kernel murió (¿falta de memoria?)"
    if isinstance(exc, CellExecutionError):
        text = f"{exc.ename}: {exc.evalue}"
    else:
        lines = str(exc).strip().splitlines() or [""]
        text = f"{type(exc).__name__}: {lines[-1]}"
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def metadata(
    budget: float, loadavg_start: Sequence[float], threads: int | None
) -> dict:
    """Condiciones de la medida: fecha, máquina, versiones y carga."""
    return {
        "benchmark": "notebooks",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": _package_version("torch"),
        "nbclient": _package_version("nbclient"),
        "hf_hub_offline": True,
        "budget_s": budget,
        "kernel_threads": threads,
        "loadavg_start": [round(x, 2) for x in loadavg_start],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    }


def _code(text: str) -> str:
    return text.replace("`", "'")  # para que quepa en `código` Markdown


def markdown_report(meta: dict, rows: Sequence[dict]) -> str:
    """El informe que se guarda en ``results/notebooks.md``."""
    threads = meta["kernel_threads"] or "los de torch (por defecto)"
    start = " / ".join(f"{x:.2f}" for x in meta["loadavg_start"])
    end = " / ".join(f"{x:.2f}" for x in meta["loadavg_end"])
    parts = [
        "# Tiempos de ejecución de los cuadernos",
        "",
        "Generado por `python benchmarks/notebooks.py --store` "
        f"({meta['date']}). No se edita a mano: se vuelve a generar.",
        "",
        f"- Máquina: {meta['cpu_count']} núcleos, {meta['platform']}.",
        f"- Python {meta['python']}, torch {meta['torch']}.",
        "- Kernel nuevo por cuaderno, sin red; "
        f"hilos de torch en el kernel: {threads}.",
        f"- Presupuesto: {meta['budget_s']:g} s por cuaderno.",
        f"- Carga media (1 / 5 / 15 min) al empezar: {start}; al "
        f"terminar: {end}. Con una carga mayor que el número de núcleos, "
        "los tiempos están inflados.",
        "",
        format_markdown(rows, columns(meta["budget_s"])),
    ]
    parts += ["", "Celdas de código más lentas (índice: segundos, "
              "primera línea de código):", ""]
    for row in rows:
        slowest = "; ".join(
            f"{c['index']}: {c['seconds']:.1f} s (`{_code(c['source'])}`)"
            for c in row["slowest_cells"]
        )
        parts.append(f"- `{row['notebook']}`: {slowest}")
    errors = [row for row in rows if row["error"]]
    if errors:
        parts += ["", "Errores:", ""]
        parts += [f"- `{row['notebook']}`: {row['error']}" for row in errors]
    return "\n".join(parts) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _to_json(meta: dict, rows: Sequence[dict]) -> str:
    payload = {"metadata": meta, "rows": list(rows)}
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "notebooks", nargs="*", type=Path, metavar="CUADERNO",
        help="cuadernos a medir (por defecto, todos los de notebooks/)",
    )
    parser.add_argument("--budget", type=float, default=BUDGET_S,
                        metavar="S", help="presupuesto de tiempo por "
                        "cuaderno en segundos (por defecto: %(default)g)")
    parser.add_argument("--check", action="store_true",
                        help="termina con código 1 si algún cuaderno "
                        "supera el presupuesto")
    parser.add_argument("--json", type=Path, default=None, metavar="RUTA",
                        help="escribe también las cifras en JSON")
    parser.add_argument("--store", action="store_true",
                        help="guarda notebooks.json y notebooks.md en "
                        "--results-dir")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR,
                        metavar="CARPETA", help="carpeta de --store "
                        "(por defecto: benchmarks/results)")
    parser.add_argument("--timeout", type=int, default=900, metavar="S",
                        help="límite por celda (por defecto: %(default)s)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="hilos de torch en el kernel (OMP_NUM_THREADS);"
                        " por defecto, los de torch")
    parser.add_argument("--interval", type=float, default=0.1, metavar="S",
                        help="periodo de muestreo de la memoria "
                        "(por defecto: %(default)s)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Mide los cuadernos; devuelve el código de salida."""
    args = parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if not paths or missing:
        print("error: no hay cuadernos que medir"
              + (f"; no existen: {', '.join(missing)}" if missing else ""),
              file=sys.stderr)
        return 2
    if args.threads is not None and args.threads < 1:
        print(f"error: --threads debe ser >= 1; se recibió {args.threads}",
              file=sys.stderr)
        return 2
    if args.budget <= 0:
        print(f"error: --budget debe ser > 0; se recibió {args.budget}",
              file=sys.stderr)
        return 2
    loadavg_start = os.getloadavg()
    rows = []
    for path in paths:
        print(f"{_display(path)}: ejecutando…", flush=True)
        row = run_notebook(path, budget=args.budget, timeout=args.timeout,
                           interval=args.interval, threads=args.threads)
        print(f"{row['notebook']}: {row['wall_s']:.1f} s, "
              f"{row['peak_rss_mib']:.0f} MiB"
              + (f" · {row['error']}" if row["error"] else ""), flush=True)
        rows.append(row)
    meta = metadata(args.budget, loadavg_start, args.threads)
    load = meta["loadavg_end"]
    threads = args.threads or "por defecto"
    print(f"\n{meta['cpu_count']} núcleos · torch {meta['torch']} · hilos "
          f"de torch en el kernel: {threads} · carga media al terminar "
          f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}\n")
    print(format_table(rows, columns(args.budget)))
    for row in rows:
        slowest = ", ".join(
            f"{c['index']} ({c['seconds']:.1f} s)"
            for c in row["slowest_cells"]
        )
        print(f"\n{row['notebook']}: celdas más lentas {slowest}")
        if row["error"]:
            print(f"{row['notebook']}: {row['error']}")
    if args.json is not None:
        _write_atomic(args.json, _to_json(meta, rows))
        print(f"\nCifras en JSON: {args.json}")
    if args.store:
        _write_atomic(args.results_dir / "notebooks.json",
                      _to_json(meta, rows))
        _write_atomic(args.results_dir / "notebooks.md",
                      markdown_report(meta, rows))
        print(f"Resultados guardados en {args.results_dir}")
    failed = any(row["error"] for row in rows)
    over = any(not row["within_budget"] for row in rows)
    return 1 if failed or (args.check and over) else 0


if __name__ == "__main__":
    sys.exit(main())
