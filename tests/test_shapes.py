"""Pruebas del conjunto de figuras con descripciones y preguntas."""

import re

import pytest
import torch

from course_lib import shapes as S


def test_noun_phrase_agreement():
    assert S.noun_phrase("triángulo", "rojo", "pequeño") == (
        "un triángulo rojo pequeño")
    assert S.noun_phrase("estrella", "rojo", "pequeño") == (
        "una estrella roja pequeña")
    assert S.noun_phrase("cruz", "amarillo", "grande", size_first=True) == (
        "una gran cruz amarilla")
    assert S.noun_phrase("círculo", "azul", definite=True) == (
        "el círculo azul")
    assert S.noun_phrase("estrella", definite=True) == "la estrella"
    assert S.noun_phrase(None, "morado") == "una figura morada"
    assert S.noun_phrase("cruz", "azul", "grande", count=2) == (
        "dos cruces azules grandes")
    assert S.noun_phrase("estrella", "rojo", "pequeño", count=3) == (
        "tres estrellas rojas pequeñas")
    assert S.noun_phrase("círculo", "naranja", count=2) == (
        "dos círculos naranjas")


def test_plural_and_describe():
    assert [S.plural(w) for w in ("rojo", "azul", "cruz", "verde")] == [
        "rojos", "azules", "cruces", "verdes"]
    figs = [S.Figure("círculo", "rojo", "grande", 0, 0),
            S.Figure("círculo", "rojo", "pequeño", 1, 1),
            S.Figure("cruz", "azul", "grande", 0, 1)]
    assert S.describe(figs) == "dos círculos rojos y una cruz azul arriba"
    assert S.full_caption(figs[0]) == (
        "un círculo rojo grande arriba a la izquierda")


def test_bad_names_raise_spanish_errors():
    with pytest.raises(ValueError, match="forma desconocida"):
        S.noun_phrase("hexágono", "rojo")
    with pytest.raises(ValueError, match="color desconocido"):
        S.noun_phrase("círculo", "rosa")
    with pytest.raises(ValueError, match="held_out"):
        S.make_caption_data(3, held_out="a veces")
    with pytest.raises(ValueError, match="n debe ser"):
        S.make_caption_data(0)
    with pytest.raises(ValueError, match="tipos de pregunta"):
        S.make_qa_data(3, kinds=("cuántos",))
    with pytest.raises(TypeError, match="texto"):
        S.WordTokenizer().tokenize(3)


def test_caption_data_is_seeded_and_well_formed():
    a = S.make_caption_data(60, seed=4, image_size=24)
    b = S.make_caption_data(60, seed=4, image_size=24)
    assert a.images.shape == (60, 3, 24, 24)
    assert a.images.dtype == torch.float32
    assert 0.0 <= a.images.min() and a.images.max() <= 1.0
    assert torch.equal(a.images, b.images) and a.captions == b.captions
    c = S.make_caption_data(60, seed=5, image_size=24)
    assert a.captions != c.captions


def test_captions_agree_with_the_figure():
    data = S.make_caption_data(150, seed=0)
    for text, f in zip(data.captions, data.figures, strict=True):
        words = text.split()
        fem = S.SHAPES[f.shape][0] == "f"
        named = [w for w in words if w in S.SHAPES]
        assert named in ([], [f.shape])
        colour_words = {w for c, (_, fem_word) in S.COLOURS.items()
                        for w in (c, fem_word)}
        colours = [w for w in words if w in colour_words]
        if colours:
            shape_fem = fem if named else True   # «una figura roja»
            assert colours == [S.colour_word(f.colour, feminine=shape_fem)]
        assert f.position in text or named or colours
        assert ("un " in text) != ("una " in text)


def test_greyscale_images_are_grey_and_their_caption_has_no_colour():
    plain = S.make_caption_data(200, seed=3, image_size=24)
    data = S.make_caption_data(200, seed=3, image_size=24, greyscale=0.25)
    grey = data.grey
    assert grey.dtype == torch.bool and 20 < int(grey.sum()) < 80
    assert not plain.grey.any()
    # Las demás imágenes y frases son las mismas que sin grises.
    assert torch.equal(data.images[~grey], plain.images[~grey])
    assert [c for c, g in zip(data.captions, grey.tolist(), strict=True)
            if not g] == [c for c, g in zip(plain.captions, grey.tolist(),
                                              strict=True) if not g]
    colour_words = {w for c, (_, fem) in S.COLOURS.items() for w in (c, fem)}
    for i in grey.nonzero().flatten().tolist():
        x = data.images[i]                                  # (3, S, S)
        assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])
        f = data.figures[i]
        assert not set(data.captions[i].split()) & colour_words
        assert data.captions[i].endswith(f.position)
        assert f.shape in data.captions[i]
    # La luminancia conserva la figura: sigue más clara que el fondo.
    i = grey.nonzero()[0].item()
    assert data.images[i].max() > data.images[i].median() + 0.2


@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.2", True])
def test_greyscale_must_be_a_fraction(bad):
    with pytest.raises(ValueError, match="greyscale"):
        S.make_caption_data(4, greyscale=bad)


def test_binding_data_differs_only_in_which_colour_goes_with_which_shape():
    data = S.make_binding_data(80, seed=0, image_size=48)
    assert data.images.shape == (80, 3, 48, 48)
    for (a, b), right, swapped, absent in zip(
            data.figures, data.captions, data.swapped, data.absent,
            strict=True):
        assert a.shape != b.shape and a.colour != b.colour
        assert (a.row, a.col) != (b.row, b.col)
        assert right == f"{S.noun_phrase(a.shape, a.colour)} y " \
                        f"{S.noun_phrase(b.shape, b.colour)}"
        assert swapped == f"{S.noun_phrase(a.shape, b.colour)} y " \
                          f"{S.noun_phrase(b.shape, a.colour)}"
        assert sorted(right.split()) != sorted(absent.split())
        assert absent.endswith(S.noun_phrase(b.shape, b.colour))
        for s, c in [(a.shape, a.colour), (b.shape, b.colour),
                     (a.shape, b.colour), (b.shape, a.colour)]:
            assert (s, c) not in S.HELD_OUT
    again = S.make_binding_data(80, seed=0, image_size=48)
    assert torch.equal(again.images, data.images)


def test_held_out_combinations():
    train = S.make_caption_data(250, seed=1)
    seen = {(f.shape, f.colour) for f in train.figures}
    assert not seen & S.HELD_OUT
    assert len(seen) == 25
    held = S.make_caption_data(100, seed=2, held_out="only")
    assert {(f.shape, f.colour) for f in held.figures} == S.HELD_OUT
    shapes = {s for s, _ in S.HELD_OUT}
    colours = {c for _, c in S.HELD_OUT}
    assert shapes == set(S.SHAPE_NAMES) and len(colours) == 5


def _truth(question, figures):
    """Responde la pregunta leyendo las figuras (independiente del
    generador)."""
    colour_of = {S.colour_word(c, feminine=f): c for c in S.COLOUR_NAMES
                 for f in (False, True)}
    m = re.fullmatch(r"¿hay una? (\w+) (\w+)\?", question)
    if m:
        shape, colour = m[1], colour_of[m[2]]
        return any((f.shape, f.colour) == (shape, colour) for f in figures)
    m = re.fullmatch(r"¿(?:el|la) (\w+) es (\w+)\?", question)
    if m:
        (fig,) = [f for f in figures if f.shape == m[1]]
        return fig.colour == colour_of[m[2]]
    m = re.fullmatch(r"¿(?:el|la) (\w+) está (arriba|abajo|a la izquierda"
                     r"|a la derecha)\?", question)
    if m:
        (fig,) = [f for f in figures if f.shape == m[1]]
        return {"arriba": fig.row == 0, "abajo": fig.row == 2,
                "a la izquierda": fig.col == 0,
                "a la derecha": fig.col == 2}[m[2]]
    m = re.fullmatch(r"¿(?:el|la) (\w+) está (.+) (?:del|de la) (\w+)\?",
                     question)
    (a,) = [f for f in figures if f.shape == m[1]]
    (b,) = [f for f in figures if f.shape == m[3]]
    return {"a la izquierda": a.col < b.col, "a la derecha": a.col > b.col,
            "encima": a.row < b.row, "debajo": a.row > b.row}[m[2]]


def test_qa_answers_are_correct_and_balanced():
    data = S.make_qa_data(400, seed=3)
    assert data.images.shape == (400, 3, 32, 32)
    assert set(data.kinds) == set(S.QUESTION_KINDS)
    for q, a, figs in zip(data.questions, data.answers, data.figures,
                          strict=True):
        assert _truth(q, figs) == bool(a), q
        assert 1 <= len(figs) <= 3
        cells = [(f.row, f.col) for f in figs]
        assert len(set(cells)) == len(cells)
    for kind in S.QUESTION_KINDS:
        answers = torch.tensor([a for a, k in zip(
            data.answers.tolist(), data.kinds, strict=True) if k == kind])
        assert 0.4 < answers.float().mean() < 0.6


def test_relation_question_agrees_in_gender_and_contracts_de_el():
    assert S.relation_question("estrella", "encima", "círculo") == (
        "¿la estrella está encima del círculo?")
    assert S.relation_question("cuadrado", "a la izquierda", "cruz") == (
        "¿el cuadrado está a la izquierda de la cruz?")
    # las del generador se escriben con ella
    data = S.make_qa_data(200, seed=1, kinds=("relación",))
    for q in data.questions:
        a, rel, b = re.fullmatch(
            r"¿(?:el|la) (\w+) está (.+) (?:del|de la) (\w+)\?", q).groups()
        assert S.relation_question(a, rel, b) == q
    with pytest.raises(ValueError, match="reference debe ser una forma"):
        S.relation_question("cruz", "encima", "rombo")
    with pytest.raises(ValueError, match="relación desconocida"):
        S.relation_question("cruz", "detrás", "círculo")


def test_tokenizer_round_trip_and_padding():
    tok = S.WordTokenizer()
    data = S.make_qa_data(50, seed=0)
    caps = S.make_caption_data(50, seed=0).captions
    for text in data.questions + caps:
        assert tok.unknown_words(text) == []
        assert tok.decode(tok.encode(text)) == text
    ids, lengths = tok(["hay un círculo rojo", "un círculo"])
    assert ids.shape == (2, 6) and lengths.tolist() == [6, 4]
    assert ids[1, 4:].tolist() == [tok.pad_id] * 2
    assert ids[0, 0] == tok.bos_id and ids[0, 5] == tok.eos_id
    assert tok.encode("una foto")[1:-1] == [tok.index["una"], tok.unk_id]
    assert tok.unknown_words("Una FOTO") == ["foto"]
    with pytest.raises(ValueError, match="vacía"):
        tok([])
