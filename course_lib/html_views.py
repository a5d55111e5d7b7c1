"""Vistas interactivas que funcionan sin *kernel*: también en el sitio.

Libro: capítulo 3 (el explorador de atención del BERT del curso),
capítulo 4, «Generar texto» (la vista de temperatura y filtro), capítulo
6 (la de la proporción tapada del MAE), las figuras con control de los
capítulos 1, 2 y 5 y el sitio estático.

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
import io
import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["attention_view", "choice_view", "figure_png",
           "image_choice_view"]


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


def figure_png(fig: Any, *, dpi: int = 80) -> bytes:
    """Una figura de matplotlib en PNG, para ``image_choice_view``. La
    cierra: el cuaderno no la dibuja además debajo de la vista."""
    import matplotlib.pyplot as plt

    if not hasattr(fig, "savefig"):
        raise TypeError("fig debe ser una figura de matplotlib (con "
                        f"savefig); se recibió {type(fig).__name__}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


# Un color por cabeza (los de matplotlib «tab10»), como en bertviz.
_HEAD_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def attention_view(tokens: Mapping[str, Sequence[str]],
                   weights: Mapping[str, Any], *, title: str = "") -> str:
    """Explorador de atención sin *kernel* ni CDN, a la manera de la vista
    de cabezas de bertviz: se eligen frase, capa y cabeza; las consultas
    van a la izquierda, las claves a la derecha, y cada par se une con una
    línea tanto más opaca cuanto mayor es su peso. Al pasar el ratón por
    una consulta (o tocarla) solo quedan sus líneas.

    ``tokens`` va de cada frase (su etiqueta en el desplegable) a sus T
    tokens; ``weights``, de la misma frase a sus pesos (L, H, T, T)
    (tensor o *array*; cada fila, una distribución). Todas las frases
    comparten L y H. Los pesos viajan con 3 decimales.
    """
    import numpy as np

    if not isinstance(tokens, Mapping) or not tokens:
        raise ValueError("tokens debe ser un diccionario no vacío "
                         "{frase: [tokens]}")
    if not isinstance(weights, Mapping) or set(weights) != set(tokens):
        raise ValueError("weights debe tener las mismas frases que tokens;"
                         f" se esperaban {sorted(tokens)}")
    arrays, shape = {}, None
    for name, toks in tokens.items():
        if isinstance(toks, str) or not all(isinstance(t, str)
                                            for t in toks):
            raise TypeError(f"tokens[{name!r}] debe ser una lista de "
                            "textos")
        w = weights[name]
        w = np.asarray(w.detach().cpu() if hasattr(w, "detach") else w,
                       dtype=float)
        T = len(toks)
        if w.ndim != 4 or w.shape[2:] != (T, T):
            raise ValueError(f"weights[{name!r}] debe tener forma (L, H, "
                             f"{T}, {T}) (T = sus {T} tokens); tiene "
                             f"{w.shape}")
        if shape is not None and w.shape[:2] != shape:
            raise ValueError("todas las frases deben tener las mismas "
                             f"capas y cabezas: {shape} frente a "
                             f"{w.shape[:2]} en {name!r}")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError(f"weights[{name!r}] debe ser de pesos finitos "
                             "y no negativos")
        shape, arrays[name] = w.shape[:2], w
    L, H = shape
    controls = {"frase": list(tokens), "capa": [str(i) for i in range(L)],
                "cabeza": [str(i) for i in range(H)]}
    data = {f"{f},{layer},{head}": {
                "t": list(tokens[name]),
                "w": np.round(arrays[name][layer, head], 3).tolist(),
                "c": _HEAD_COLOURS[head % len(_HEAD_COLOURS)]}
            for f, name in enumerate(tokens) for layer in range(L)
            for head in range(H)}
    body = ('<svg role="img" aria-label="Pesos de atención: consultas a la '
            'izquierda, claves a la derecha" width="100%" '
            'style="max-width:360px;display:block;font:13px sans-serif">'
            "</svg><small>Pasa el ratón por un token de la izquierda (o "
            "tócalo) para ver solo sus líneas.</small>")
    # Se dibuja con el DOM (textContent): ningún token se interpreta
    # como HTML.
    show = (
        'const svg=root.querySelector("svg");'
        'const ns="http://www.w3.org/2000/svg";'
        "const el=(n,a,t)=>{const e=document.createElementNS(ns,n);"
        "for(const k in a)e.setAttribute(k,a[k]);"
        "if(t!==undefined)e.textContent=t;svg.appendChild(e);return e;};"
        "const only=q=>svg.querySelectorAll(\"line\").forEach(l=>{"
        'l.style.display=(q===null||l.dataset.q===q)?"":"none";});'
        "const show=()=>{const d=data[key()];const T=d.t.length;"
        "svg.textContent=\"\";const h=18*T+8;"
        'svg.setAttribute("viewBox","0 0 360 "+h);'
        "for(let i=0;i<T;i++)for(let j=0;j<T;j++){const w=d.w[i][j];"
        "if(w<0.01)continue;el(\"line\",{x1:128,y1:13+18*i,x2:232,"
        'y2:13+18*j,stroke:d.c,"stroke-width":2,"stroke-opacity":w,'
        '"data-q":i});}'
        "for(let i=0;i<T;i++){"
        'el("text",{x:122,y:17+18*i,"text-anchor":"end","data-q":i,'
        'style:"cursor:pointer"},d.t[i]);'
        'el("text",{x:238,y:17+18*i},d.t[i]);}};'
        'svg.addEventListener("mouseover",e=>{const q=e.target.dataset&&'
        "e.target.dataset.q;if(q!==undefined&&e.target.tagName===\"text\")"
        "only(q);});"
        'svg.addEventListener("mouseleave",()=>only(null));'
        'svg.addEventListener("click",e=>{const q=e.target.dataset&&'
        "e.target.dataset.q;only(q===undefined?null:q);});"
        "show();")
    return _view(controls, list(controls.values()), data, title, body, show)


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
          data: dict[str, Any], title: str, body: str, show: str) -> str:
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
