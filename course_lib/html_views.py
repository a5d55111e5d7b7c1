"""Vistas interactivas que funcionan sin *kernel*: también en el sitio.

Libro: capítulo 4, «Generar texto» (la vista de temperatura y filtro),
capítulo 6 (la de la proporción tapada del MAE) y el sitio estático.

Un control de ``ipywidgets`` necesita un *kernel* de Python detrás: en el
sitio publicado aparece vacío. Cuando lo que se explora es un conjunto
pequeño de resultados (unas muestras por temperatura y filtro, unas
reconstrucciones por proporción tapada…), se pueden **calcular todos
antes** y guardarlos en la página con unas líneas de JavaScript que solo
eligen cuál enseñar. Sin red, sin CDN y sin *kernel*: la vista funciona
en el cuaderno, en Colab y en el sitio estático.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
from collections.abc import Mapping, Sequence

__all__ = ["choice_view", "image_choice_view"]


def choice_view(controls: Mapping[str, Sequence[str]],
                texts: Mapping[tuple[int, ...], str], *,
                title: str = "") -> str:
    """HTML autocontenido: un desplegable por control y el texto que
    corresponde a la combinación elegida.

    ``controls`` va de la etiqueta de cada control a sus opciones (en
    orden); ``texts`` tiene un texto por **cada** combinación de índices
    de opción, ``(i_control_1, i_control_2, …)``. Devuelve el HTML (para
    ``IPython.display.HTML``); su identificador sale del contenido, así que
    el mismo contenido da siempre el mismo HTML.
    """
    options = _check(controls, texts, "texts", "un texto", str)
    data = {",".join(map(str, k)): v for k, v in sorted(texts.items())}
    first = html.escape(data[",".join("0" * len(options))])
    return _view(controls, options, data, title,
                 f'<pre style="white-space:pre-wrap;max-width:100%">{first}'
                 "</pre>", 'const out=root.querySelector("pre");'
                 "const show=()=>{out.textContent=data[key()];};")


def image_choice_view(controls: Mapping[str, Sequence[str]],
                      images: Mapping[tuple[int, ...], bytes], *,
                      alt: str, title: str = "") -> str:
    """Como ``choice_view``, pero cada combinación es una imagen PNG
    (``bytes``, p. ej. de ``fig.savefig(buf, format="png")``) que viaja
    dentro de la página (``data:``). ``alt`` describe la imagen para
    quien no la ve (y vale para todas las combinaciones)."""
    options = _check(controls, images, "images", "una imagen PNG", bytes)
    if not isinstance(alt, str) or not alt.strip():
        raise ValueError("alt debe describir la imagen (texto no vacío)")
    data = {",".join(map(str, k)): "data:image/png;base64,"
            + base64.b64encode(v).decode("ascii")
            for k, v in sorted(images.items())}
    first = data[",".join("0" * len(options))]
    return _view(controls, options, data, title,
                 f'<img src="{first}" alt="{html.escape(alt)}" '
                 'style="max-width:100%;height:auto">',
                 'const out=root.querySelector("img");'
                 "const show=()=>{out.src=data[key()];};")


def _check(controls: object, values: object, name: str, what: str,
           kind: type) -> list[list[str]]:
    """Las opciones de cada control, comprobando que haya un valor del
    tipo ``kind`` por cada combinación."""
    if not isinstance(controls, Mapping) or not controls:
        raise ValueError("controls debe ser un diccionario no vacío "
                         "{etiqueta: [opciones]}")
    options = [list(v) for v in controls.values()]
    if any(not opts or not all(isinstance(o, str) for o in opts)
           for opts in options):
        raise ValueError("cada control necesita al menos una opción, y "
                         "las opciones deben ser textos")
    combos = set(itertools.product(*(range(len(o)) for o in options)))
    given = set(values) if isinstance(values, Mapping) else set()
    if given != combos:
        raise ValueError(
            f"{name} debe tener {what} por cada combinación de índices de "
            f"opción ({len(combos)}); faltan {sorted(combos - given)[:3]} "
            f"y sobran {sorted(given - combos, key=str)[:3]}")
    wrong = [k for k, v in values.items() if not isinstance(v, kind)]
    if wrong:
        raise TypeError(f"{name}[{wrong[0]}] debe ser {what} "
                        f"({kind.__name__}); se recibió "
                        f"{type(values[wrong[0]]).__name__}")
    return options


def _view(controls: Mapping[str, Sequence[str]], options: list[list[str]],
          data: dict[str, str], title: str, body: str, show: str) -> str:
    """El HTML común: desplegables, el elemento que se muestra (``body``,
    ya con la primera combinación) y el JavaScript que lo cambia."""
    payload = json.dumps(data, ensure_ascii=False)
    uid = "vista-" + hashlib.sha256(
        (payload + json.dumps(options, ensure_ascii=False)).encode()
    ).hexdigest()[:12]
    selects = "".join(
        f'<label style="margin-right:1em">{html.escape(label)} '
        f'<select data-i="{i}">'
        + "".join(f'<option value="{j}">{html.escape(o)}</option>'
                  for j, o in enumerate(opts))
        + "</select></label>"
        for i, (label, opts) in enumerate(zip(controls, options,
                                              strict=True)))
    heading = f"<strong>{html.escape(title)}</strong><br>" if title else ""
    # El JSON va en un <script type="application/json">: no se ejecuta, y
    # «</» se escapa para que ningún texto pueda cerrar la etiqueta.
    safe = payload.replace("</", "<\\/")
    return (
        f'<div id="{uid}" class="vista-estatica">{heading}{selects}'
        f"{body}"
        f'<script type="application/json">{safe}</script>'
        "<script>(function(){"
        f'const root=document.getElementById("{uid}");'
        'const data=JSON.parse(root.querySelector('
        '\'script[type="application/json"]\').textContent);'
        'const sel=[...root.querySelectorAll("select")];'
        'const key=()=>sel.map(s=>s.value).join(",");'
        f"{show}"
        'sel.forEach(s=>s.addEventListener("change",show));'
        "})();</script></div>")
