"""Arreglos del sitio que Jupyter Book 1 no permite hacer desde _config.yml.

Sphinx 7.4 repite en cada página los ``<script>`` en línea que una
extensión registra después de crear el constructor HTML (sphinx-thebe y
sphinx-togglebutton lo hacen): uno llega con ``filename=None`` y otro con
``filename=''``. El segundo ``const THEBE_JS_URL`` es un SyntaxError en la
consola del navegador. Aquí se quita el duplicado antes de escribir cada
página.
"""

from __future__ import annotations

from typing import Any


def _drop_duplicate_scripts(app: Any, pagename: str, templatename: str,
                            context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for js in scripts:
        key = (getattr(js, "filename", js) or "", getattr(js, "priority", 0),
               tuple(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def setup(app: Any) -> dict:
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
