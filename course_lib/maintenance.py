"""Herramientas de mantenimiento de los cuadernos (no las usa el lector).

- ``stamp``: escribe la celda de configuración de Colab (la primera de cada
  cuaderno) con la URL única del repositorio, leída de ``_config.yml``.
- ``execute``: reejecuta cuadernos en un kernel limpio, de arriba abajo,
  con el preset «cpu» y sin red, y guarda las salidas en el archivo.

Uso: ``python -m course_lib.maintenance stamp|execute CUADERNO...``
(o ``make setup-cells`` / ``make execute NB=...``).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SETUP_TAG = "configuracion"
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
    """Pone (o actualiza) la celda de configuración; True si cambió algo."""
    nb = nbformat.read(path, as_version=4)
    source = setup_source(url)
    first = nb.cells[0] if nb.cells else None
    if first is not None and SETUP_TAG in first.metadata.get("tags", []):
        if first.source == source:
            return False
        first.source = source
    else:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = [SETUP_TAG]
        nb.cells.insert(0, cell)
    nbformat.write(nb, path)
    return True


def execute(path: Path, timeout: int = 900) -> float:
    """Ejecuta el cuaderno en un kernel nuevo y guarda las salidas.

    Devuelve los segundos de pared. Se fuerza el preset «cpu» y el modo
    sin red para que las salidas guardadas sean las que comprueba la CI.
    """
    from nbclient import NotebookClient

    os.environ["COURSE_LIB_PRESET"] = "cpu"
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
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("stamp", "execute"))
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if args.command == "stamp":
            changed = stamp(path)
            print(f"{path}: {'actualizada' if changed else 'sin cambios'}")
        else:
            print(f"{path}: ejecutando…", flush=True)
            print(f"{path}: {execute(path):.1f} s")


if __name__ == "__main__":
    main()
