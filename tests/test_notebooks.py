"""Higiene de los cuadernos y ejercicios resueltos, sin reejecutarlos.

La reejecución completa la hace nbval (`make nbval`); aquí se comprueba
lo barato: que cada cuaderno esté guardado ejecutado de arriba abajo, sin
errores, con la celda de configuración de Colab al día, y que cada celda
de ejercicio pase su `check` cuando el esqueleto se sustituye por la
solución de referencia.
"""

import ast
import base64
import importlib
import re
import struct
from pathlib import Path

import nbformat
import pytest
import yaml

from tools.maintenance import (
    IMPORTS_TAG,
    SETUP_TAGS,
    merge_streams,
    repository_url,
    setup_source,
    stamp,
)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.name for p in NOTEBOOKS]
EXERCISE_TAG = "ejercicio"


def _read(path):
    return nbformat.read(path, as_version=4)


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_there_are_notebooks_and_all_are_in_the_toc():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = {ch["file"] for part in toc["parts"] for ch in part["chapters"]}
    assert NOTEBOOKS, "no hay cuadernos en notebooks/"
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}" in files, (
            f"{path.name} no está en _toc.yml"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_valid_and_uses_python3(path):
    nb = _read(path)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_first_cell_is_the_colab_setup_from_config(path):
    first = _read(path).cells[0]
    assert first.cell_type == "code"
    assert first.metadata.get("tags") == SETUP_TAGS, (
        "la celda de configuración lleva sus etiquetas (no se publica en "
        "el sitio): ejecuta `make setup-cells`")
    assert first.source == setup_source(), (
        "celda de configuración desactualizada: ejecuta `make setup-cells`"
    )
    assert repository_url() in first.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_imports_cell_is_folded_on_the_site(path):
    """La primera celda de código tras el título es la de importaciones y
    sale plegada en el sitio (se abre con un clic)."""
    nb = _read(path)
    code = _code_cells(nb)
    imports = code[1]
    lines = [ln for ln in imports.source.splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines[0].startswith(("import ", "from ")), lines[0]
    assert IMPORTS_TAG in imports.metadata.get("tags", [])
    assert not any(IMPORTS_TAG in c.metadata.get("tags", [])
                   for c in code[2:]), "solo se pliega la de importaciones"


def test_stamp_adds_the_setup_cell_and_folds_the_imports(tmp_path):
    path = tmp_path / "nuevo.ipynb"
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Título"),
        nbformat.v4.new_code_cell("import torch"),
        nbformat.v4.new_code_cell("x = torch.zeros(2)")])
    nbformat.write(nb, path)
    assert stamp(path, url="https://example.org/libro")
    cells = _read(path).cells
    assert cells[0].metadata["tags"] == SETUP_TAGS
    assert "https://example.org/libro" in cells[0].source
    assert cells[2].metadata["tags"] == [IMPORTS_TAG]
    assert "tags" not in cells[3].metadata
    assert not stamp(path, url="https://example.org/libro")   # idempotente


def test_repository_url_is_defined_once_in_config():
    url = repository_url()
    assert url.startswith("https://github.com/")
    config = (ROOT / "_config.yml").read_text(encoding="utf-8")
    assert config.count(url) == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_outputs_stored_in_order_without_errors(path):
    cells = [c for c in _code_cells(_read(path)) if c.source.strip()]
    counts = [c.execution_count for c in cells]
    assert None not in counts, "hay celdas sin ejecutar"
    assert counts == list(range(1, len(counts) + 1)), (
        "las salidas no vienen de una ejecución limpia de arriba abajo"
    )
    for cell in cells:
        for out in cell.outputs:
            assert out.output_type != "error", (
                f"salida de error guardada en:\n{cell.source[:200]}"
            )
            if out.output_type == "stream":
                assert "Traceback" not in out.text
    assert any(c.outputs for c in cells), "el cuaderno no tiene salidas"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_shell_downloads_or_absolute_paths(path):
    for cell in _code_cells(_read(path)):
        assert not re.search(r"^\s*!\s*(wget|curl)", cell.source, re.M)
        assert "/work/" not in cell.source and "/home/" not in cell.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_nbval_markers_are_tags_not_comments(path):
    """Los marcadores de nbval van en las etiquetas de la celda: como
    comentario, el lector los vería en el sitio."""
    for index, cell in enumerate(_code_cells(_read(path))):
        assert not re.search(r"#\s*(NBVAL|PYTEST_VALIDATE)_", cell.source), (
            f"celda {index}: marcador de nbval como comentario; usa la "
            "etiqueta nbval-ignore-output (o una de tolerancia)"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_chapter_ends_with_summary_exercises_references(path):
    text = "\n".join(c.source for c in _read(path).cells
                     if c.cell_type == "markdown")
    for title in ("## Resumen", "## Ejercicios", "## Referencias"):
        assert title in text, f"falta la sección «{title}»"
    assert "{cite}" in text


def _exercise_module(nb):
    for cell in _code_cells(nb):
        m = re.search(r"from course_lib\.exercises import (cap\d+) as ej",
                      cell.source)
        if m:
            return importlib.import_module(f"course_lib.exercises.{m[1]}")
    return None


def _exercise_cells(path):
    nb = _read(path)
    module = _exercise_module(nb)
    cells = [c for c in _code_cells(nb)
             if EXERCISE_TAG in c.metadata.get("tags", [])]
    return [(module, c) for c in cells]


EXERCISE_CASES = [
    pytest.param(module, cell, id=f"{path.stem}-{i}")
    for path in NOTEBOOKS
    for i, (module, cell) in enumerate(_exercise_cells(path))
]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_exercise_count_and_stored_feedback(path):
    cells = _exercise_cells(path)
    assert 2 <= len(cells) <= 4, "cada capítulo tiene de 2 a 4 ejercicios"
    for _, cell in cells:
        text = "".join(o.get("text", "") for o in cell.outputs)
        assert text.startswith("✏️ Tu turno"), (
            "el cuaderno guardado debe mostrar el esqueleto sin resolver "
            "con su «✏️ Tu turno» (no un ❌)"
        )


def _replace_stub(source, name, solution):
    """Sustituye la definición ``def name(...)`` de la celda por la
    solución de referencia."""
    tree = ast.parse(source)
    lines = source.splitlines()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            start, end = node.lineno - 1, node.end_lineno
            return "\n".join(lines[:start] + [solution] + lines[end:])
    raise AssertionError(f"la celda no define `{name}`")


@pytest.mark.parametrize("module, cell", EXERCISE_CASES)
def test_exercise_cell_passes_with_the_solution(module, cell, capsys):
    m = re.search(r"ej\.(\w+)\.check\((\w+)\)", cell.source)
    assert m, "la celda de ejercicio debe llamar a ej.<nombre>.check(...)"
    exercise = getattr(module, m[1])
    assert exercise.function_name == m[2]
    solved = _replace_stub(cell.source, m[2], exercise.solution_source)
    exercise.last_result = None
    exec(compile(solved, "<celda>", "exec"), {"ej": module})
    assert exercise.last_result is not None and exercise.last_result.ok, (
        exercise.last_result
    )
    assert capsys.readouterr().out.startswith("✅")
    # y el esqueleto tal como está guardado no pasa
    exec(compile(cell.source, "<celda>", "exec"), {"ej": module})
    assert not exercise.last_result.ok


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_figures_have_alt_text(path):
    for cell in _code_cells(_read(path)):
        if any("image/png" in o.get("data", {}) for o in cell.outputs):
            alt = cell.metadata.get("mystnb", {}).get("image", {})
            assert alt.get("alt", "").strip(), (
                "figura sin texto alternativo (metadatos "
                f"mystnb.image.alt):\n{cell.source[:200]}"
            )


# La columna de texto del sitio mide 688 px con la ventana a 1280 px: una
# figura más ancha se encoge, y su letra con ella. Con 1000 px como mucho
# (10 pulgadas a 100 ppp), la letra de 8 puntos (11 px) queda a ≥ 7,6 px y
# la de 10 puntos, a ≥ 9,6 px.
MAX_FIGURE_WIDTH = 1000
MIN_FONT_SIZE = 8
_FONT_SIZE = re.compile(r"fontsize=(\d+(?:\.\d+)?)")


def _png_size(data: str) -> tuple[int, int]:
    raw = base64.b64decode(data)
    return struct.unpack(">II", raw[16:24])        # cabecera IHDR del PNG


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_figures_stay_legible_in_the_column(path):
    for cell in _code_cells(_read(path)):
        for out in cell.outputs:
            png = out.get("data", {}).get("image/png")
            if png:
                width, _ = _png_size(png)
                assert width <= MAX_FIGURE_WIDTH, (
                    f"figura de {width} px de ancho (máximo "
                    f"{MAX_FIGURE_WIDTH}): en el sitio se encoge y su letra "
                    f"no se lee; usa un figsize más estrecho.\n"
                    f"{cell.source[:200]}")
        small = [float(m) for m in _FONT_SIZE.findall(cell.source)
                 if float(m) < MIN_FONT_SIZE]
        assert not small, (
            f"fontsize={small[0]:g}: por debajo de {MIN_FONT_SIZE} puntos no "
            f"se lee en el sitio.\n{cell.source[:200]}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_each_exercise_shows_its_solution_folded_and_in_sync(path):
    from tools.maintenance import SOLUTION_TAG, write_solutions

    nb = _read(path)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    n_exercises = sum(EXERCISE_TAG in t for t in tags)
    solutions = [c for c, t in zip(nb.cells, tags, strict=True)
                 if SOLUTION_TAG in t]
    assert len(solutions) == n_exercises, (
        "cada ejercicio lleva su solución plegada: ejecuta `make soluciones`"
    )
    for cell in solutions:
        assert cell.cell_type == "markdown"
        assert ":class: dropdown" in cell.source   # plegada en el sitio
    assert not write_solutions(path, write=False), (
        "las soluciones del cuaderno no coinciden con course_lib.exercises: "
        "ejecuta `make soluciones`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stream_outputs_are_merged(path):
    """Un mismo ``print`` no sale en el sitio partido en varias cajas:
    ninguna celda guarda dos trozos seguidos del mismo flujo."""
    split = [i for i, c in enumerate(_read(path).cells)
             if c.cell_type == "code" and any(
                 a.output_type == b.output_type == "stream"
                 and a.name == b.name
                 for a, b in zip(c.outputs, c.outputs[1:], strict=False))]
    assert not split, (f"{path.name}: celdas {split} con la salida partida;"
                       " python -m tools.maintenance merge-streams "
                       f"notebooks/{path.name}")


def test_merge_streams_joins_only_neighbours_of_the_same_stream():
    nb = nbformat.v4.new_notebook()
    out = nbformat.v4.new_output
    nb.cells = [nbformat.v4.new_code_cell("x", outputs=[
        out("stream", name="stdout", text="a"),
        out("stream", name="stdout", text="b\n"),
        out("stream", name="stderr", text="aviso\n"),
        out("stream", name="stdout", text="c"),
        out("display_data", data={"text/plain": "d"}),
        out("stream", name="stdout", text="e"),
        out("stream", name="stdout", text="f")])]
    assert merge_streams(nb)
    assert [(o.output_type, o.get("name"), o.get("text"))
            for o in nb.cells[0].outputs] == [
        ("stream", "stdout", "ab\n"), ("stream", "stderr", "aviso\n"),
        ("stream", "stdout", "c"), ("display_data", None, None),
        ("stream", "stdout", "ef")]
    assert not merge_streams(nb)
