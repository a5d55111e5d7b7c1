"""Diagramas de arquitectura y temas de las fuentes, sin construir el sitio.

Cada capítulo lleva al menos un diagrama de arquitectura (un SVG de
``book/_static/diagramas/``) enlazado desde una celda Markdown con texto
alternativo en castellano, y cada tema que las fuentes del libro
(``../shared/seeds/``) enseñan y el capítulo antes solo nombraba tiene su
sección: un título o sus términos en la prosa del capítulo, y su cita a la
bibliografía (``book/referencias.bib``).

Que el diagrama se vea en el sitio construido (la imagen carga) lo
comprueba ``tests/test_site.py::test_chapter_shows_its_architecture_diagram``.

El capítulo 8 se comprueba como los demás: su diagrama de las estrategias
de fusión, Perceiver IO y la historia del subtitulado y de VQA.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
DIAGRAMS = ROOT / "book" / "_static" / "diagramas"
BIB = ROOT / "book" / "referencias.bib"
CHAPTERS = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))

IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
SVG_NS = "{http://www.w3.org/2000/svg}"
# Palabras que delatan un texto alternativo en inglés o en castellano.
SPANISH = re.compile(r"\b(de|la|el|los|las|y|con|que|una?|por)\b", re.I)
ENGLISH = re.compile(r"\b(the|of|and|with|which|is|are)\b", re.I)


@dataclass(frozen=True)
class Topic:
    """Un tema de las fuentes: dónde va, su título, sus términos, sus citas.

    ``heading``: expresión que algún título Markdown del capítulo debe
    contener (None si basta con los términos). ``terms``: expresiones que
    la prosa del capítulo debe contener todas. ``keys``: claves BibTeX que
    el capítulo cita con {cite}.
    """

    chapter: str
    name: str
    heading: str | None
    terms: tuple[str, ...]
    keys: tuple[str, ...]


TOPICS = [
    Topic("05_vit.ipynb", "Swin", r"\bSwin\b",
          ("ventanas desplazadas", "[Ff]usión de parches",
           r"\\Omega\(\\text\{W-MSA\}\)"), ("liu2021swin",)),
    Topic("05_vit.ipynb", "híbridos CNN + ViT", r"Híbridos CNN \+ ViT",
          ("tallo convolucional", "mapa de características"),
          ("dosovitskiy2021image", "xiao2021early")),
    Topic("05_vit.ipynb", "TransUNet", r"TransUNet",
          ("U-Net", "conexiones de salto"),
          ("chen2021transunet", "ronneberger2015unet")),
    Topic("05_vit.ipynb", "ViT-22B y el escalado", r"ViT-22B",
          ("Capas en paralelo", "QK-norm", r"\\mathrm\{LN\}\(XW_Q\)"),
          ("dehghani2023scaling", "zhai2022scaling")),
    Topic("06_mae.ipynb", "el argumento de BEiT sobre los píxeles",
          r"argumento de BEiT",
          ("dependencias de corto alcance", "dVAE",
           "[Pp]íxeles normalizados", r"\\mathcal\{L\}_\\text\{BEiT\}"),
          ("bao2022beit", "ramesh2021zero", "he2022masked")),
    Topic("07_clip.ipynb", "SimCLR y NT-Xent", r"NT-Xent",
          ("SimCLR", r"\\ell_\{i,j\}", "temperatura",
           "InfoNCE simétrica"), ("chen2020simple",
                                  "oord2018representation")),
    Topic("07_clip.ipynb", "la pérdida sigmoide de SigLIP", r"SigLIP",
          (r"\\mathcal\{L\}_\\text\{SigLIP\}",), ("zhai2023sigmoid",)),
    Topic("07_clip.ipynb", "la pérdida triplet", None,
          ("triplet",), ("schroff2015facenet",)),
]

# Pendiente de insertar (fragmentos escritos en /tmp/ch08_temas.md).
CHAPTER8_TOPICS = [
    Topic("08_fusion.ipynb", "Perceiver IO", r"Perceiver IO",
          ("consultas de salida",), ("jaegle2022perceiver",)),
    Topic("08_fusion.ipynb", "historia del subtitulado y de VQA",
          r"subtitulado y VQA",
          ("Show and Tell", "Show, Attend and Tell", "bottom-up",
           "top-down", "Stacked Attention Networks"),
          ("vinyals2015show", "xu2015show", "antol2015vqa",
           "yang2016stacked", "anderson2018bottom")),
]


def _markdown(name: str) -> list[str]:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def _bib_keys() -> set[str]:
    text = BIB.read_text(encoding="utf-8")
    return set(re.findall(r"^@\w+\{([^,\s]+),", text, re.M))


def diagram_problems(name: str) -> list[str]:
    """Lo que falta para que el capítulo ``name`` tenga su diagrama."""
    prefix = name[:3]            # «05_»: el diagrama lleva el número
    found = [(alt, target) for source in _markdown(name)
             for alt, target in IMAGE.findall(source)
             if "_static/diagramas/" in target]
    if not found:
        return [f"{name}: ninguna celda Markdown enlaza un diagrama de "
                "book/_static/diagramas/"]
    problems = []
    for alt, target in found:
        path = (NOTEBOOKS / target).resolve()
        if not path.is_file():
            problems.append(f"{name}: {target} no existe (la ruta es "
                            "relativa a notebooks/)")
        words = alt.split()
        if (len(words) < 8 or not SPANISH.search(alt)
                or ENGLISH.search(alt)):
            problems.append(f"{name}: el texto alternativo de {target} "
                            f"debe describir el diagrama en castellano "
                            f"(8 palabras o más): «{alt}»")
    if not any(Path(t).name.startswith(prefix) for _, t in found):
        problems.append(f"{name}: ningún diagrama {prefix}*.svg")
    return problems


def topic_problems(topic: Topic) -> list[str]:
    sources = _markdown(topic.chapter)
    prose = "\n".join(sources)
    where = f"{topic.chapter}, «{topic.name}»"
    problems = []
    if topic.heading is not None:
        headings = [ln for s in sources for ln in s.splitlines()
                    if ln.startswith("#")]
        if not any(re.search(topic.heading, h) for h in headings):
            problems.append(f"{where}: ningún título contiene "
                            f"/{topic.heading}/")
    problems += [f"{where}: falta el término /{term}/"
                 for term in topic.terms if not re.search(term, prose)]
    problems += [f"{where}: no cita {{cite}}`{key}`"
                 for key in topic.keys if f"`{key}`" not in prose]
    return problems


# --- las pruebas --------------------------------------------------------

@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_has_an_architecture_diagram(name: str) -> None:
    problems = diagram_problems(name)
    assert not problems, "\n".join(problems)


ALL_TOPICS = TOPICS + CHAPTER8_TOPICS


@pytest.mark.parametrize("topic", ALL_TOPICS,
                         ids=[t.name for t in ALL_TOPICS])
def test_seed_topic_has_its_section(topic: Topic) -> None:
    problems = topic_problems(topic)
    assert not problems, "\n".join(problems)


def test_every_topic_key_is_in_the_bibliography() -> None:
    keys = _bib_keys()
    missing = sorted({k for t in TOPICS + CHAPTER8_TOPICS for k in t.keys}
                     - keys)
    assert not missing, f"claves que no están en {BIB.name}: {missing}"


@pytest.mark.parametrize("svg", sorted(DIAGRAMS.glob("*.svg")),
                         ids=lambda p: p.name)
def test_diagram_files_are_self_contained_svg(svg: Path) -> None:
    """SVG bien formado, con tamaño propio (el navegador le da un ancho
    natural), título y ningún recurso externo: se ve sin conexión."""
    root = ET.parse(svg).getroot()
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("width") and root.get("height") and root.get("viewBox")
    title = root.find(f"{SVG_NS}title")
    assert title is not None and title.text and SPANISH.search(
        root.findtext(f"{SVG_NS}desc") or ""), (
        f"{svg.name}: falta <title> o una <desc> en castellano")
    text = svg.read_text(encoding="utf-8")
    external = re.findall(r"(?:href|src)=\"(?!#)[^\"]+\"|url\((?!#)",
                          text)
    assert not external, f"{svg.name} pide recursos externos: {external}"


def test_every_chapter_has_a_diagram_file() -> None:
    for name in CHAPTERS:
        assert list(DIAGRAMS.glob(f"{name[:3]}*.svg")), (
            f"falta book/_static/diagramas/{name[:3]}*.svg")
