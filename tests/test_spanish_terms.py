"""Un nombre en castellano por concepto en la prosa del libro.

El texto de los capítulos (celdas Markdown de los cuadernos) y de las
páginas de ``book/`` usa los nombres del glosario. Cada variante retirada
va con el nombre que la sustituye; el código (``enmascarar``, ``tapado``)
no se mira.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent

# Variante retirada → el nombre del libro.
RETIRED = {
    # NSP: «frase», como la frase A y la frase B del capítulo 3.
    r"siguiente oraci[oó]n|oraci[oó]n siguiente|"
    r"predicci[oó]n de la frase siguiente":
        "predicción de la siguiente frase (NSP)",
    # MLM: el nombre de la tarea, no el de un modelo.
    r"modelos? de lenguaje enmascarados?":
        "modelado de lenguaje enmascarado (MLM)",
    # Para los tokens y los parches que no se ven, «tapar» (o el término
    # técnico «enmascarar»); «oculto» queda para el estado oculto y la
    # capa oculta.
    r"(?<!estado )(?<!estados )(?<!capa )(?<!capas )"
    r"\bocult(?:ar|a|an|o|os|as|e|en|ando|ados?|adas?)\b":
        "tapar (tapa, tapado, tapados…)",
}


def _prose() -> list[tuple[str, str]]:
    """(nombre, texto) de cada celda Markdown y de cada página .md."""
    out = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        out += [(f"{path.name}, celda {i}", cell.source)
                for i, cell in enumerate(nb.cells)
                if cell.cell_type == "markdown"]
    out += [(path.relative_to(ROOT).as_posix(),
             path.read_text(encoding="utf-8"))
            for path in sorted((ROOT / "book").glob("*.md"))]
    return out


def _without_code(text: str) -> str:
    """El texto sin bloques ni trozos de código (ahí mandan los nombres
    del código, no los de la prosa)."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    return re.sub(r"`[^`\n]*`", " ", text)


@pytest.mark.parametrize("pattern", list(RETIRED))
def test_one_name_per_concept(pattern: str) -> None:
    regex = re.compile(pattern, re.I)
    found = []
    for where, text in _prose():
        for match in regex.finditer(_without_code(text)):
            found.append(f"{where}: «{match[0]}»")
    assert not found, (
        f"usa «{RETIRED[pattern]}» en lugar de: " + "; ".join(found[:8]))


def test_the_patterns_catch_the_retired_names() -> None:
    """La prueba de arriba puede fallar: cada patrón reconoce la variante
    y deja en paz los usos legítimos."""
    samples = {
        "predicción de la siguiente oración": True,
        "predicción de la oración siguiente": True,
        "predicción de la siguiente frase": False,
        "el modelo de lenguaje enmascarado": True,
        "el modelado de lenguaje enmascarado": False,
        "se oculta el 15 % de los tokens": True,
        "parches ocultos": True,
        "el último estado oculto del codificador": False,
        "una capa oculta de 512": False,
    }
    for text, retired in samples.items():
        hits = [p for p in RETIRED if re.search(p, text, re.I)]
        assert bool(hits) == retired, (text, hits)


def test_the_glossary_terms_of_this_cleanup_are_used() -> None:
    """El glosario no define términos que ningún capítulo use (pasó con
    «perplejidad»)."""
    prose = "\n".join(text for where, text in _prose()
                      if ".ipynb" in where)
    for term in ("perplejidad", "predicción de la siguiente frase",
                 "modelado de lenguaje enmascarado"):
        assert term in prose, f"ningún capítulo usa «{term}»"
