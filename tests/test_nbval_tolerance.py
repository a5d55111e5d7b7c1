"""Tests del plugin de tolerancias de nbval (``tests/nbval_tolerance.py``).

Primero la lógica pura (leer etiquetas, alinear números); después nbval de
verdad sobre un cuaderno pequeño, donde un número que se mueve en la
última cifra pasa y uno que se hunde, un entero o un texto que cambian,
fallan. Al final, las tolerancias del propio libro: ninguna deja pasar un
resultado hundido.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest

from tests.nbval_tolerance import (
    NUMBER,
    Tolerance,
    align,
    tolerance_from_tags,
)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


# --- etiquetas -----------------------------------------------------------

def test_tags_are_read() -> None:
    assert tolerance_from_tags(["hide-input"]) is None
    assert tolerance_from_tags(["tolerance-abs=0.02"]) == Tolerance(abs=0.02)
    assert tolerance_from_tags(
        ["tolerance-rel=0.05", "tolerance-abs=1e-5"]
    ) == Tolerance(abs=1e-5, rel=0.05)


@pytest.mark.parametrize(
    "tag", ["tolerance-abs=", "tolerance-abs=dos", "tolerance-rel=-1",
            "tolerance-abs=0", "tolerance-absolute=0.1", "tolerance=0.1"]
)
def test_misspelled_tags_are_errors(tag: str) -> None:
    with pytest.raises(ValueError, match="tolerancia|tolerance"):
        tolerance_from_tags([tag])


# --- alineación de números ----------------------------------------------

TOL = Tolerance(abs=0.01)


@pytest.mark.parametrize(
    "stored, got, same",
    [
        ("exactitud 0.952\n", "exactitud 0.955\n", True),
        ("exactitud 0.952\n", "exactitud 0.900\n", False),   # hundida
        ("pérdida 1.676, 1.2e-06\n", "pérdida 1.679, 3.4e-06\n", True),
        ("paso 800: 0.95\n", "paso 801: 0.95\n", False),     # entero
        ("(2, 5, 32)", "(2, 5, 33)", False),                 # forma
        ("exactitud 0.952", "precisión 0.952", False),       # texto
        ("0.5 y 0.6", "0.5 y 0.6 y 0.7", False),             # otro número
        ("x = nan", "x = nan", True),
        ("-0.004", "0.003", True),
    ],
)
def test_align(stored: str, got: str, same: bool) -> None:
    assert (align(stored, got, TOL) == stored) is same


def test_relative_tolerance_scales_with_the_value() -> None:
    rel = Tolerance(rel=0.05)
    assert align("1200.5", "1240.0", rel) == "1200.5"
    assert align("1200.5", "1300.0", rel) == "1300.0"
    assert align("0.001", "0.0011", rel) == "0.0011"


def test_tolerance_edge_counts_as_inside() -> None:
    """0,20 frente a 0,16 con tolerancia 0,04: dentro, aunque en binario la
    resta dé 0,04000000000000001."""
    assert Tolerance(abs=0.04).accepts(0.16, 0.20)
    assert not Tolerance(abs=0.04).accepts(0.16, 0.21)


def test_nan_is_never_close() -> None:
    assert not Tolerance(abs=1.0).accepts(float("nan"), 0.0)


# --- nbval de verdad ------------------------------------------------------

def _cell(source: str, stored: str, tags: list[str]) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                           text=stored)]
    cell.metadata["tags"] = tags
    return cell


CASES = {  # nombre: (código, salida guardada, etiquetas, ¿pasa?)
    "ruido": ('print("exactitud 0.955")', "exactitud 0.952\n",
              ["tolerance-abs=0.01"], True),
    "hundida": ('print("exactitud 0.900")', "exactitud 0.952\n",
                ["tolerance-abs=0.01"], False),
    "entero": ('print("paso 801: 0.952")', "paso 800: 0.952\n",
               ["tolerance-abs=0.01"], False),
    "sin_etiqueta": ('print("exactitud 0.955")', "exactitud 0.952\n",
                     [], False),
    "relativa": ('print("diferencia 1.0e-06")', "diferencia 1.1e-06\n",
                 ["tolerance-rel=0.2"], True),
    "texto": ('print("precisión 0.952")', "exactitud 0.952\n",
              ["tolerance-abs=0.01"], False),
    "resultado": ("0.5 + 0.004", "0.5\n", ["tolerance-abs=0.01"], True),
}


def test_nbval_applies_tolerances_per_cell(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    for source, stored, tags, _ in CASES.values():
        cell = _cell(source, stored, tags)
        if source.startswith("0.5"):  # un execute_result, no un print
            cell.outputs = [nbformat.v4.new_output(
                "execute_result", data={"text/plain": stored.strip()},
                execution_count=1)]
        nb.cells.append(cell)
    path = tmp_path / "tolerancias.ipynb"
    nbformat.write(nb, path)
    report = tmp_path / "report.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-p", "tests.nbval_tolerance", "--nbval", str(path),
         f"--junitxml={report}", "--rootdir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    passed = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        number = int(case.get("name").split()[-1])
        passed[number] = not any(child.tag in ("failure", "error")
                                 for child in case)
    expected = {i: case[3] for i, case in enumerate(CASES.values())}
    assert passed == expected


# --- las tolerancias del libro --------------------------------------------

def _tagged_cells() -> list[tuple[str, int, Tolerance, str]]:
    found = []
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        for index, cell in enumerate(code):
            tolerance = tolerance_from_tags(cell["metadata"].get("tags", []))
            if tolerance is None:
                continue
            text = "".join(
                "".join(out.get("text", ""))
                + "".join(out.get("data", {}).get("text/plain", ""))
                for out in cell.get("outputs", [])
            )
            found.append((path.name, index, tolerance, text))
    return found


def _sunk(value: float) -> list[float]:
    """Un resultado hundido: un 10 % (y al menos 0,05) arriba o abajo; una
    exactitud que cae de 0,95 a 0,85, o una pérdida de 1,67 a 1,84."""
    step = max(0.1 * abs(value), 0.05)
    return [value - step, value + step]


def test_book_tolerances_reject_a_sunk_result() -> None:
    """En cada celda con tolerancia del libro, mover cualquier número
    medido un 10 % (y al menos 0,05) hace fallar la comparación."""
    cells = _tagged_cells()
    assert cells, "ningún cuaderno usa tolerancias"
    loose = []
    for name, index, tolerance, text in cells:
        for number in NUMBER.findall(text):
            if not any(c in number for c in ".eE"):
                continue
            for bad in _sunk(float(number)):
                if tolerance.accepts(float(number), bad):
                    loose.append(f"{name} celda {index}: {number} → {bad}")
    assert not loose, "tolerancias que aceptan un resultado hundido:\n" + (
        "\n".join(loose[:20]))
