"""Pruebas de tools/glossary.py: enlaces al glosario desde el primer uso."""

from pathlib import Path

import pytest
import yaml

from tools.glossary import SKIP, link_notebook, link_text, load_terms

ROOT = Path(__file__).resolve().parent.parent
TERMS = {"atención": "atención", "atención cruzada": "atención cruzada",
         "consulta": "consulta", "embedding": "embedding",
         "LayerNorm": "layernorm", "teacher forcing": "teacher forcing"}


def test_terms_come_from_the_glossary_page():
    terms = load_terms()
    assert len(terms) >= 40
    assert terms["embedding"] == "embedding"        # sin la cursiva
    assert terms["LayerNorm"] == "layernorm"        # clave de Sphinx
    assert not SKIP & set(terms)


def test_only_the_first_use_is_linked():
    seen: set[str] = set()
    out = link_text("La atención mira. La atención otra vez.", TERMS, seen)
    assert out == "La {term}`atención` mira. La atención otra vez."
    # y en la celda siguiente ya no se enlaza
    assert link_text("Más atención.", TERMS, seen) == "Más atención."


def test_longest_term_wins_and_plural_and_emphasis_are_kept():
    out = link_text("La **atención cruzada** usa *embeddings* y consultas; "
                    "*LayerNorm*.", TERMS, set())
    assert out == ("La **{term}`atención cruzada`** usa "
                   "*{term}`embeddings <embedding>`* y "
                   "{term}`consultas <consulta>`; "
                   "*{term}`LayerNorm <layernorm>`*.")


def test_code_math_links_headings_and_roles_are_left_alone():
    text = "\n".join([
        "# La atención",
        "`atención` y $atención$ y [atención](x.md) y {cite}`atención`",
        "```python",
        "atención = 1",
        "```",
        "$$",
        "\\text{atención}",
        "$$",
        "Ahora sí: atención.",
    ])
    out = link_text(text, TERMS, set())
    assert out.splitlines()[:8] == text.splitlines()[:8]
    assert out.splitlines()[8] == "Ahora sí: {term}`atención`."


def test_directive_content_is_prose_but_its_options_are_not():
    text = "```{admonition} Objetivos\n:class: atención\nla atención\n```"
    out = link_text(text, TERMS, set())
    assert out.splitlines()[1] == ":class: atención"
    assert out.splitlines()[2] == "la {term}`atención`"


def test_existing_links_count_as_first_use():
    seen: set[str] = set()
    text = "Ya enlazada: {term}`consultas <consulta>`; otra consulta."
    assert link_text(text, TERMS, seen) == text
    assert "consulta" in seen


def _toc_notebooks() -> list[Path]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    return [ROOT / f"{f}.ipynb" for f in files if f.startswith("notebooks/")]


@pytest.mark.parametrize("path", _toc_notebooks(), ids=lambda p: p.stem)
def test_chapters_link_the_first_use_of_each_term(path):
    assert not link_notebook(path, write=False), (
        f"{path.name}: hay primeros usos sin enlazar al glosario; "
        "ejecuta `make glosario`"
    )


def test_nested_fences_keep_code_out_and_prose_in():
    text = "\n".join(["````{admonition} Solución", ":class: dropdown", "",
                      "```python", "atención = 1", "```", "````",
                      "luego atención"])
    out = link_text(text, TERMS, set())
    assert out.splitlines()[4] == "atención = 1"
    assert out.splitlines()[-1] == "luego {term}`atención`"
