"""Herramientas de mantenimiento de los cuadernos (no las usa el lector).

- ``stamp``: escribe la celda de configuración de Colab (la primera de cada
  cuaderno) con la URL única del repositorio, leída de ``_config.yml``, y
  la etiqueta que la quita del sitio; pliega en el sitio la celda de
  importaciones.
- ``execute``: reejecuta cuadernos en un kernel limpio, de arriba abajo,
  con el preset «cpu» y sin red, y guarda las salidas en el archivo, con
  los trozos seguidos de un mismo flujo unidos (``merge-streams`` lo hace
  sin reejecutar).
- ``solutions``: tras cada ejercicio, una celda de Markdown con la solución
  de referencia en un bloque plegado: en el sitio se lee sin ejecutar nada,
  y solo quien la abre la ve. Se genera desde ``course_lib.exercises``, así
  que nunca se desincroniza del corrector.

Uso, desde la raíz del repositorio: ``python -m tools.maintenance
stamp|execute|merge-streams|solutions CUADERNO...`` (o ``make
setup-cells`` / ``make execute NB=...`` / ``make soluciones``).
Necesita nbformat, nbclient y PyYAML, que instala ``requirements.txt``
(no son dependencias de ``course_lib``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SETUP_TAG = "configuracion"
# Etiquetas de myst-nb: la celda de configuración no se publica en el
# sitio (allí no se instala nada) y la de importaciones sale plegada.
SETUP_TAGS = [SETUP_TAG, "remove-cell"]
IMPORTS_TAG = "hide-input"
EXERCISE_TAG = "ejercicio"
SOLUTION_TAG = "solucion"
SETUP_TEMPLATE = '''\
# Configuración: en Colab instala course_lib desde el repositorio del libro;
# en local (tras `make lab`) no hace nada. Celda generada por
# `make setup-cells` a partir de `_config.yml`.
import sys

REPO = "{url}"
if "google.colab" in sys.modules:
    %pip install -q "git+{{REPO}}"'''


def repository_url(config: Path = ROOT / "_config.yml") -> str:
    """La URL del repositorio, definida una sola vez en ``_config.yml``."""
    import yaml

    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    try:
        return str(data["repository"]["url"]).rstrip("/")
    except (KeyError, TypeError):
        raise ValueError(f"{config} no define repository.url") from None


def setup_source(url: str | None = None) -> str:
    """El código exacto de la celda de configuración."""
    return SETUP_TEMPLATE.format(url=url or repository_url())


def stamp(path: Path, url: str | None = None) -> bool:
    """Pone (o actualiza) la celda de configuración y pliega la de
    importaciones (la primera celda de código tras ella); True si cambió
    algo."""
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    source = setup_source(url)
    first = nb.cells[0] if nb.cells else None
    if first is not None and SETUP_TAG in first.metadata.get("tags", []):
        first.source = source
        first.metadata["tags"] = list(SETUP_TAGS)
    else:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = list(SETUP_TAGS)
        nb.cells.insert(0, cell)
    code = [c for c in nb.cells[1:] if c.cell_type == "code"]
    if code:
        tags = code[0].metadata.setdefault("tags", [])
        if IMPORTS_TAG not in tags:
            tags.append(IMPORTS_TAG)
    if nbformat.writes(nb) == before:
        return False
    nbformat.write(nb, path)
    return True


def merge_streams(nb: nbformat.NotebookNode) -> bool:
    """Une las salidas de flujo seguidas del mismo nombre (``stdout`` o
    ``stderr``) de cada celda de código.

    El *kernel* envía lo que imprime una celda en trozos, según cuándo se
    vacía el búfer: guardados tal cual, un mismo ``print`` sale en el
    sitio partido en varias cajas. nbval los une antes de comparar, así
    que unirlos no cambia lo que comprueba. Devuelve si cambió algo.
    """
    changed = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged: list = []
        for out in cell.outputs:
            last = merged[-1] if merged else None
            if (out.output_type == "stream" and last is not None
                    and last.output_type == "stream"
                    and last.name == out.name):
                last.text += out.text
                changed = True
            else:
                merged.append(out)
        cell.outputs = merged
    return changed


def execute(path: Path, timeout: int = 900) -> float:
    """Ejecuta el cuaderno en un kernel nuevo y guarda las salidas.

    Devuelve los segundos de pared. Se fuerza el modo
    sin red para que las salidas guardadas sean las que comprueba la CI.
    """
    from nbclient import NotebookClient

    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("PYTHONHASHSEED", "0")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    merge_streams(nb)
    nbformat.write(nb, path)
    return seconds


def solution_markdown(name: str, source: str) -> str:
    """Celda de Markdown con la solución de ``name`` en un bloque plegado."""
    # Bloque de dos puntos (colon_fence): el título puede llevar `código`,
    # que un bloque de acentos graves no admite en su primera línea.
    return (
        f":::{{admonition}} Solución de `{name}` (ábrela después de "
        "intentarlo)\n"
        ":class: dropdown\n\n"
        f"```python\n{source.strip()}\n```\n"
        ":::"
    )


def write_solutions(path: Path, write: bool = True) -> bool:
    """Pone (o actualiza) la solución plegada de cada ejercicio del cuaderno.

    La celda va tras la de pistas (``# ej.x.hint()``) si la hay, si no tras
    el ejercicio. Devuelve True si algo cambió.
    """
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    found = re.search(r"from course_lib\.exercises import (\w+) as ej", code)
    if found is None:
        return False
    module = importlib.import_module(f"course_lib.exercises.{found[1]}")
    cells, changed = list(nb.cells), False
    i = 0
    while i < len(cells):
        cell = cells[i]
        i += 1
        if EXERCISE_TAG not in cell.metadata.get("tags", []):
            continue
        name = re.search(r"ej\.(\w+)\.check\(", cell.source)
        if name is None:
            raise ValueError(f"{path}: celda de ejercicio sin ej.<x>.check")
        exercise = getattr(module, name[1])
        text = solution_markdown(exercise.function_name,
                                 exercise.solution_source)
        if i < len(cells) and cells[i].source.startswith(f"# ej.{name[1]}."):
            i += 1                                   # tras las pistas
        old = cells[i] if i < len(cells) else None
        if old is not None and SOLUTION_TAG in old.metadata.get("tags", []):
            if old.source != text:
                old.source, changed = text, True
        else:
            new = nbformat.v4.new_markdown_cell(text)
            new.metadata["tags"] = [SOLUTION_TAG]
            cells.insert(i, new)
            changed = True
        i += 1
    if changed and write:
        nb.cells = cells
        nbformat.write(nb, path)
    return changed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("stamp", "execute",
                                            "merge-streams", "solutions"))
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if args.command == "stamp":
            changed = stamp(path)
            print(f"{path}: {'actualizada' if changed else 'sin cambios'}")
        elif args.command == "merge-streams":
            nb = nbformat.read(path, as_version=4)
            changed = merge_streams(nb)
            if changed:
                nbformat.write(nb, path)
            print(f"{path}: {'unidas' if changed else 'sin cambios'}")
        elif args.command == "solutions":
            changed = write_solutions(path)
            print(f"{path}: {'actualizadas' if changed else 'sin cambios'}")
        else:
            print(f"{path}: ejecutando…", flush=True)
            print(f"{path}: {execute(path):.1f} s")


if __name__ == "__main__":
    main()
