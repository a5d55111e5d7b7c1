"""La interfaz del sitio, entera en castellano.

Con ``language: es``, Sphinx y los temas traducen lo que tienen en sus
catálogos, pero sphinx-book-theme deja en inglés varios textos de sus
botones («Launch interactive content», «Repository», «Open issue»), tiene
erratas en otros («Descarga esta pagina») y escribe algunos textos fijos en
sus plantillas, sin pasar por ningún catálogo («Toggle primary sidebar»).
Esta extensión los arregla en dos pasos:

1. ``CATALOG``: traducciones que van **delante** de las del tema y de las de
   Sphinx (lo que no está aquí lo sigue traduciendo su catálogo).
2. ``FIXED_TEXT``: los textos fijos de las plantillas, que se sustituyen en
   las páginas ya escritas (y en el JavaScript que los escribe).

tests/test_site.py comprueba en Chromium que ninguna página muestra estos
textos en inglés.
"""

from __future__ import annotations

import gettext
from pathlib import Path
from typing import Any

from sphinx.locale import translators

# (catálogo, texto original) → texto en castellano. Los catálogos son los
# de sphinx-book-theme («booktheme») y el de Sphinx («sphinx»).
CATALOG: dict[tuple[str, str], str] = {
    ("booktheme", "Launch interactive content"): "Abrir en un entorno "
                                                 "interactivo",
    ("booktheme", "Launch on"): "Abrir en",
    ("booktheme", "Launch"): "Abrir",
    ("booktheme", "Repository"): "Repositorio",
    ("booktheme", "Source repository"): "Repositorio del libro",
    ("booktheme", "Source repositories"): "Repositorio del libro",
    ("booktheme", "Open issue"): "Avisar de un problema",
    ("booktheme", "Open an issue"): "Avisar de un problema",
    ("booktheme", "open issue"): "avisar de un problema",
    ("booktheme", "Download this page"): "Descargar esta página",
    ("booktheme", "Download source file"): "Descargar el archivo fuente",
    ("booktheme", "Download notebook file"): "Descargar el cuaderno",
    ("booktheme", "Edit this page"): "Editar esta página",
    ("booktheme", "suggest edit"): "sugerir un cambio",
    ("booktheme", "Print to PDF"): "Imprimir en PDF",
    ("booktheme", "Fullscreen mode"): "Pantalla completa",
    ("booktheme", "Toggle navigation"): "Mostrar u ocultar la navegación",
    ("booktheme", "Last updated on"): "Última actualización:",
    ("booktheme", "previous page"): "página anterior",
    ("booktheme", "logo"): "(logotipo)",
    ("sphinx", "Link to this heading"): "Enlace a este título",
    ("sphinx", "Link to this equation"): "Enlace a esta ecuación",
    ("sphinx", "Link to this table"): "Enlace a esta tabla",
    ("sphinx", "Link to this image"): "Enlace a esta imagen",
    ("sphinx", "Link to this code"): "Enlace a este código",
    ("sphinx", "Link to this definition"): "Enlace a esta definición",
    ("sphinx", "Link to this term"): "Enlace a este término",
}

# Textos fijos en las plantillas de los temas y en myst-nb (sin catálogo):
# el fragmento de HTML o de JavaScript tal cual → el mismo en castellano.
FIXED_TEXT: dict[str, str] = {
    'title="Toggle primary sidebar"':
        'title="Mostrar u ocultar el índice del libro"',
    'title="Toggle secondary sidebar"':
        'title="Mostrar u ocultar el contenido de la página"',
    'aria-label="Main"': 'aria-label="Índice del libro"',
    'aria-label="Page"': 'aria-label="Página"',
    'aria-label="Toggle hidden content"':
        'aria-label="Mostrar u ocultar el contenido plegado"',
    # sphinx-book-theme pone «Colab» + «logo» en el texto alternativo.
    'alt="Colab (logotipo)"': 'alt="Logotipo de Colab"',
}

SEARCH_BAR_TEXT = "Buscar en el libro…"


class _Overrides(gettext.NullTranslations):
    """Las traducciones de ``table`` y, para lo demás, las de ``fallback``."""

    def __init__(self, table: dict[str, str],
                 fallback: gettext.NullTranslations | None) -> None:
        super().__init__()
        self._table = table
        if fallback is not None:
            self.add_fallback(fallback)

    def gettext(self, message: str) -> str:
        if message in self._table:
            return self._table[message]
        return super().gettext(message)


def _install_catalog(app: Any) -> None:
    """Pone ``CATALOG`` delante de los catálogos del tema y de Sphinx.

    Se hace en builder-inited: el tema registra su catálogo al crearse el
    constructor HTML, después de las extensiones locales.
    """
    if not str(app.config.language or "").startswith("es"):
        return
    for catalog in {c for c, _ in CATALOG}:
        table = {text: es for (c, text), es in CATALOG.items()
                 if c == catalog}
        key = ("general", catalog)
        current = translators.get(key)
        if isinstance(current, _Overrides):
            continue
        translators[key] = _Overrides(table, current)


def _search_bar_text(app: Any, config: Any) -> None:
    # Jupyter Book fija «Search this book...» en html_theme_options.
    if str(config.language or "").startswith("es"):
        config.html_theme_options["search_bar_text"] = SEARCH_BAR_TEXT


def _replace_fixed_text(app: Any, exception: Exception | None) -> None:
    """Sustituye ``FIXED_TEXT`` en las páginas y el JavaScript escritos."""
    if exception is not None or app.builder.format != "html":
        return
    if not str(app.config.language or "").startswith("es"):
        return
    out = Path(app.outdir)
    files = [p for p in out.rglob("*.html")
             if "_sources" not in p.relative_to(out).parts]
    files += list((out / "_static").glob("togglebutton*.js"))
    for path in files:
        text = path.read_text(encoding="utf-8")
        new = text
        for english, spanish in FIXED_TEXT.items():
            new = new.replace(english, spanish)
        if new != text:
            path.write_text(new, encoding="utf-8")


def setup(app: Any) -> dict:
    app.connect("config-inited", _search_bar_text)
    app.connect("builder-inited", _install_catalog)
    app.connect("build-finished", _replace_fixed_text)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
