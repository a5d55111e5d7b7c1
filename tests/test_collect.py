"""La página de resultados (``benchmarks/collect.py``): tablas legibles y en
castellano, sin diccionarios crudos ni claves del JSON como cabeceras."""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Cabeceras o restos en inglés que no deben llegar a la página.
ENGLISH = re.compile(
    r"\b(model|seed|accuracy|loss|params|steps|collapsed|spread|"
    r"pretrain\w*|finetune\w*|mean|std|wall|slowest|cells|acc)\b", re.I)


@pytest.fixture(scope="module")
def collect():
    path = ROOT / "benchmarks" / "collect.py"
    spec = importlib.util.spec_from_file_location("bench_collect", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _tables(markdown: str) -> list[list[list[str]]]:
    """Las tablas de la página: filas de celdas (la de alineación, fuera)."""
    tables, current = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


@pytest.fixture(scope="module")
def page(collect):
    results = collect.load_results(collect.RESULTS_DIR)
    return collect.render(results, collect.toc_files())


def test_every_results_file_becomes_a_table(collect, page):
    results = collect.load_results(collect.RESULTS_DIR)
    assert len(_tables(page)) == len(results)


def test_headers_are_spanish(page):
    for table in _tables(page):
        header = table[0]
        for cell in header:
            if re.fullmatch(r"`[^`]+`", cell):
                continue   # un nombre del código (el *preset*), no un título
            assert "_" not in cell, f"cabecera con la clave del JSON: {cell}"
            assert not ENGLISH.search(cell), f"cabecera en inglés: {cell}"


def test_no_raw_dicts_or_lists(page):
    for table in _tables(page):
        for row in table:
            for cell in row:
                assert not re.search(r"[{\[]\s*\"", cell), (
                    f"celda con un diccionario o una lista crudos: "
                    f"{cell[:80]}")


def test_numbers_use_decimal_comma(page):
    for table in _tables(page):
        for row in table[1:]:
            for cell in row[1:]:
                assert not re.fullmatch(r"-?\d+\.\d+", cell), (
                    f"número con punto decimal: {cell}")


def test_mean_and_std_share_a_cell(collect):
    rows = [{"labels": 32, "tfidf_mean": 0.5021, "tfidf_std": 0.0071,
             "forma_media": 0.978, "forma_desv": 0.0137,
             "forma_min": 0.963}]
    table = collect.markdown_table(rows, set())
    assert "| 0,502 ± 0,007 |" in table
    assert "0,978 ± 0,014" in table
    assert "0,963" not in table      # el mínimo se queda en el JSON
    assert "TF-IDF" in table and "forma" in table


def test_wide_tables_with_few_rows_are_transposed(collect):
    rows = [{"preset": p, "device": "cpu", "parameters": 1_234_567,
             "steps": 1200, "train_loss": 1.5, "val_loss": 1.6,
             "tokens_per_s": 63_821.4} for p in ("cpu", "gpu")]
    lines = collect.markdown_table(rows, set()).splitlines()
    assert lines[0] == "| *preset* | `cpu` | `gpu` |"
    big = "1\u202f234\u202f567"
    assert f"| parámetros | {big} | {big} |" in lines
    assert "| pasos | 1200 | 1200 |" in lines      # 4 cifras, sin separar


def test_slowest_cell_is_readable(collect):
    value = [{"index": 52, "seconds": 11.749, "source": "SEMILLAS = [0]"},
             {"index": 2, "seconds": 1.2, "source": "import math"}]
    assert collect.format_value("slowest_cells", value) == "n.º 52 (11,7 s)"
    assert collect.format_value("otra", {"a": 1, "b": [1, 2]}) == (
        "a: 1; b: 1, 2")


def test_description_names_the_spanish_header(collect):
    data = {"metadata": {"title": "Fusión", "description":
                         "«collapsed»: responde siempre lo mismo."},
            "rows": [{"model": "tardía", "collapsed": False}]}
    text = collect.render([("fusion", data)], set())
    assert "«colapsado»: responde" in text and "collapsed" not in text


def test_conditions_in_spanish(collect):
    line = collect.conditions({"threads": 1, "loadavg": [1.034, 2, 3]})
    assert line == "1 hilo; carga media 1,03"
