"""Pruebas de course_lib.html_views: vistas sin kernel para el sitio."""

from __future__ import annotations

import json
import re

import pytest

from course_lib.html_views import choice_view

CONTROLS = {"temperatura": ["0.5", "1.0"], "filtro": ["ninguno", "top-k 5",
                                                      "top-p 0.9"]}
TEXTS = {(t, f): f"muestra {t}-{f} <b>&</b>" for t in range(2)
         for f in range(3)}


def test_the_view_carries_every_text_and_no_external_resource() -> None:
    page = choice_view(CONTROLS, TEXTS, title="Muestras")
    payload = re.search(r'<script type="application/json">(.*?)</script>',
                        page, re.S)[1]
    data = json.loads(payload.replace("<\\/", "</"))
    assert data == {f"{t},{f}": text for (t, f), text in TEXTS.items()}
    # la primera combinación ya se ve sin JavaScript, escapada
    assert "<pre" in page and "muestra 0-0 &lt;b&gt;&amp;&lt;/b&gt;" in page
    assert page.count("<select") == 2 and page.count("<option") == 5
    assert "http" not in page and "src=" not in page       # nada de CDN
    assert choice_view(CONTROLS, TEXTS, title="Muestras") == page


def test_a_text_cannot_close_the_script_tag() -> None:
    texts = dict(TEXTS)
    texts[(1, 2)] = "</script><script>alert(1)</script>"
    page = choice_view(CONTROLS, texts)
    assert page.count("</script>") == 2          # solo las dos propias


@pytest.mark.parametrize("controls, texts, match", [
    ({}, TEXTS, "no vacío"),
    ({"a": []}, {}, "al menos una opción"),
    (CONTROLS, {(0, 0): "x"}, "faltan"),
    (CONTROLS, {**TEXTS, (5, 5): "x"}, "sobran"),
])
def test_bad_input_says_what_was_expected(controls, texts, match) -> None:
    with pytest.raises(ValueError, match=match):
        choice_view(controls, texts)


def test_image_view_carries_every_png_inside_the_page() -> None:
    import base64

    from course_lib.html_views import image_choice_view

    pngs = {(i,): b"\x89PNG fake %d" % i for i in range(3)}
    page = image_choice_view({"tapado": ["25 %", "50 %", "75 %"]}, pngs,
                             alt="reconstrucciones <del MAE>")
    payload = re.search(r'<script type="application/json">(.*?)</script>',
                        page, re.S)[1]
    data = json.loads(payload)
    assert {k: base64.b64decode(v.split(",", 1)[1])
            for k, v in data.items()} == {str(i): p for (i,), p in
                                          pngs.items()}
    # la primera imagen ya se ve sin JavaScript, con su texto alternativo
    assert f'src="{data["0"]}"' in page
    assert 'alt="reconstrucciones &lt;del MAE&gt;"' in page
    assert "http" not in page                              # nada de CDN
    with pytest.raises(TypeError, match="bytes"):
        image_choice_view({"a": ["x"]}, {(0,): "no es PNG"}, alt="x")
    with pytest.raises(ValueError, match="alt"):
        image_choice_view({"a": ["x"]}, {(0,): b"png"}, alt=" ")


def _payload(page: str) -> dict:
    text = re.search(r'<script type="application/json">(.*?)</script>',
                     page, re.S)[1]
    return json.loads(text.replace("<\\/", "</"))


def test_attention_view_carries_every_layer_and_head() -> None:
    import torch

    from course_lib.html_views import attention_view

    tokens = {"una": ["[CLS]", "hola", "</script>", "[SEP]"],
              "otra": ["[CLS]", "adiós", "[SEP]"]}
    weights = {k: torch.softmax(torch.randn(2, 3, len(v), len(v)), -1)
               for k, v in tokens.items()}
    page = attention_view(tokens, weights, title="BERT del curso")
    data = _payload(page)
    assert len(data) == 2 * 2 * 3                 # frase × capa × cabeza
    cell = data["1,1,2"]                          # «otra», capa 1, cabeza 2
    assert cell["t"] == tokens["otra"]
    assert torch.allclose(torch.tensor(cell["w"]), weights["otra"][1, 2],
                          atol=5e-4)
    assert data["0,0,0"]["c"] != data["0,0,1"]["c"]   # un color por cabeza
    assert page.count("<select") == 3 and page.count("</script>") == 2
    assert "http" not in page.replace('"http://www.w3.org/2000/svg"', "")


@pytest.mark.parametrize("tokens, weights, error, match", [
    ({}, {}, ValueError, "no vacío"),
    ({"a": ["x", "y"]}, {"b": None}, ValueError, "mismas frases"),
    ({"a": "xy"}, {"a": None}, TypeError, "lista de textos"),
    ({"a": ["x", "y"]}, {"a": [[1.0]]}, ValueError, r"\(L, H, 2, 2\)"),
    ({"a": ["x", "y"], "b": ["z"]},
     {"a": [[[[1.0, 0.0], [0.0, 1.0]]]], "b": [[[[1.0]]], [[[1.0]]]]},
     ValueError, "mismas capas"),
    ({"a": ["x"]}, {"a": [[[[float("nan")]]]]}, ValueError, "finitos"),
])
def test_attention_view_bad_input(tokens, weights, error, match) -> None:
    from course_lib.html_views import attention_view

    with pytest.raises(error, match=match):
        attention_view(tokens, weights)


def test_figure_png_returns_png_and_closes_the_figure() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_lib.html_views import figure_png

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    png = figure_png(fig)
    assert png.startswith(b"\x89PNG") and not plt.fignum_exists(fig.number)
    with pytest.raises(TypeError, match="matplotlib"):
        figure_png("no es una figura")
