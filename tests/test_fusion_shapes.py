"""Pruebas de la receta «fusion-figuras» (``course_lib.fusion_shapes``) y
de sus pesos del curso.

La comprobación común de la ficha (la exactitud rápida dentro de su
tolerancia) está en ``test_checkpoints.py``; aquí va lo propio: el
currículo, que las preguntas de entrenamiento no son nunca las de prueba,
que retomar da los mismos pesos y lo que la ficha dice haber alcanzado.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch

from course_lib import checkpoints, fusion_shapes, shapes
from course_lib.checkpoints import Run
from course_lib.fusion_qa import CrossAttentionFusion

NAME = "fusion-figuras"


def _tiny(**changes) -> dict:
    config = copy.deepcopy(fusion_shapes.CONFIG)
    config.update(stages=[{"kinds": ["existencia"], "steps": 4},
                          {"kinds": ["posición"], "steps": 4},
                          {"kinds": list(shapes.QUESTION_KINDS), "steps": 4}],
                  save_every=4, questions_per_chunk=24, quick_questions=16,
                  batch_size=8, warmup_steps=2, test_questions=32)
    config.update(changes)
    return config


def test_stage_at_walks_the_curriculum() -> None:
    config = _tiny()
    assert [fusion_shapes.stage_at(config, s) for s in (0, 3, 4, 11)] == [
        (0, 0), (0, 0), (1, 4), (2, 8)]
    with pytest.raises(ValueError, match="fuera del currículo"):
        fusion_shapes.stage_at(config, 12)


def test_each_stage_restarts_its_warmup_and_cosine() -> None:
    config = _tiny()
    lrs = [fusion_shapes._schedule(config, s) for s in range(12)]
    assert lrs[0] == lrs[4] == lrs[8] == config["lr"] / 2   # rampa
    assert max(lrs) <= config["lr"]
    assert lrs[3] < lrs[1] and lrs[7] < lrs[5]               # coseno


def test_default_curriculum_ends_with_every_kind_and_fits_chunks() -> None:
    config = fusion_shapes.CONFIG
    assert config["stages"][-1]["kinds"] == list(shapes.QUESTION_KINDS)
    assert all(st["steps"] % config["save_every"] == 0
               for st in config["stages"])
    steps = sum(st["steps"] for st in config["stages"])
    chunks = range(config["data_seeds"]["train"],
                   config["data_seeds"]["train"] + config["seed"] * 1_000
                   + steps // config["save_every"] + 1)
    assert config["data_seeds"]["test"] not in chunks


def test_build_rejects_an_unknown_model() -> None:
    with pytest.raises(ValueError, match="desconocido"):
        fusion_shapes.build({**fusion_shapes.CONFIG, "model": "mágico"})


def test_train_rejects_stages_that_split_a_chunk(tmp_path) -> None:
    config = _tiny(save_every=3)
    model = fusion_shapes.build(config)
    with pytest.raises(ValueError, match="múltiplo de save_every"):
        fusion_shapes.train(model, config, Run("x", tmp_path,
                                               torch.device("cpu")))


def _qa_by_hand(kind: str, answer: int, figures: list, question: str):
    data = shapes.QAData(torch.zeros(1, 3, 48, 48), [question],
                         torch.tensor([answer]), [kind], [tuple(figures)])
    ids, _ = shapes.WordTokenizer()(data.questions)
    return data, ids


def _fig(shape: str, row: int, col: int) -> shapes.Figure:
    return shapes.Figure(shape, "rojo", "grande", row, col)


def test_attention_targets_point_each_shape_word_to_its_cell() -> None:
    tok = shapes.WordTokenizer()
    data, ids = _qa_by_hand(
        "relación", 1, [_fig("cuadrado", 0, 2), _fig("círculo", 2, 1)],
        "¿el cuadrado está encima del círculo?")
    targets = fusion_shapes.attention_targets(data, ids)[0].tolist()
    words = [tok.vocab[i] for i in ids[0]]
    assert targets[words.index("cuadrado")] == 2         # fila 0, col. 2
    assert targets[words.index("círculo")] == 7          # fila 2, col. 1
    assert sum(t >= 0 for t in targets) == 2             # nada más


def test_attention_targets_skip_what_has_no_single_answer() -> None:
    # existencia con «no»: la figura nombrada no está en la imagen
    data, ids = _qa_by_hand("existencia", 0, [_fig("cuadrado", 1, 1)],
                            "¿hay un cuadrado azul?")
    assert (fusion_shapes.attention_targets(data, ids) == -1).all()
    # dos figuras de la misma forma: ¿a cuál debería mirar? a ninguna
    data, ids = _qa_by_hand(
        "existencia", 1, [_fig("cruz", 0, 0), _fig("cruz", 2, 2)],
        "¿hay una cruz roja?")
    assert (fusion_shapes.attention_targets(data, ids) == -1).all()
    # la forma nombrada no está (color con otra figura): sin objetivo
    data, ids = _qa_by_hand("color", 1, [_fig("estrella", 1, 0)],
                            "¿el cuadrado es rojo?")
    assert (fusion_shapes.attention_targets(data, ids) == -1).all()


def test_attention_targets_on_generated_questions() -> None:
    """En preguntas generadas, cada objetivo es el parche de una figura
    con esa forma, y casi todas las preguntas tienen alguno."""
    data, ids, _ = fusion_shapes.test_set(200)
    targets = fusion_shapes.attention_targets(data, ids)
    tok = shapes.WordTokenizer()
    for i, j in (targets >= 0).nonzero().tolist():
        shape = tok.vocab[ids[i, j]]
        cells = [3 * f.row + f.col for f in data.figures[i]
                 if f.shape == shape]
        assert cells == [targets[i, j].item()]
    assert (targets >= 0).any(1).float().mean() > 0.6
    with pytest.raises(ValueError, match="mismas"):
        fusion_shapes.attention_targets(data, ids[:10])


def test_supervision_needs_text_to_image_attention(tmp_path) -> None:
    config = _tiny(model="tardía")
    model = fusion_shapes.build(config)
    with pytest.raises(ValueError, match="CrossAttentionFusion"):
        fusion_shapes.train(model, config, Run("x", tmp_path,
                                               torch.device("cpu")))
    model, result = _train(_tiny(model="tardía", attention_supervision=0.0),
                           tmp_path / "sin")
    assert set(result["exactitud"]) == {"total", *shapes.QUESTION_KINDS}


def _train(config: dict, tmp_path, **kw) -> tuple[torch.nn.Module, dict]:
    torch.manual_seed(0)
    tmp_path.mkdir(parents=True, exist_ok=True)
    model = fusion_shapes.build(config)
    run = Run("fusion", tmp_path, torch.device("cpu"), log=lambda _: None)
    return model, fusion_shapes.train(model, config, run, **kw)


def test_training_is_deterministic_and_reports_every_kind(tmp_path) -> None:
    config = _tiny()
    a, result = _train(config, tmp_path / "a")
    b, _ = _train(config, tmp_path / "b")
    for (name, p), q in zip(a.state_dict().items(),
                            b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    assert [p["stage"] for p in result["curve"]] == [0, 1, 2]
    assert set(result["exactitud"]) == {"total", *shapes.QUESTION_KINDS}


def test_recipe_clips_the_gradient(tmp_path) -> None:
    """``grad_clip`` llega al bucle: con una norma máxima minúscula los
    pesos apenas se mueven (Adam divide por √v + ε y ε manda); sin
    recorte, sí. Sin decaimiento de pesos, que los movería igual."""
    torch.manual_seed(0)
    start = copy.deepcopy(fusion_shapes.build(_tiny()).state_dict())

    def moved(grad_clip: float | None, folder: str) -> float:
        model, _ = _train(_tiny(grad_clip=grad_clip, lr=0.1,
                                weight_decay=0.0), tmp_path / folder)
        return max((p - start[name]).abs().max().item()
                   for name, p in model.state_dict().items())

    assert moved(1e-14, "clip") < 1e-4
    assert moved(None, "free") > 1e-2


def test_training_resumes_where_it_stopped(tmp_path) -> None:
    """Cortado tras el primer tramo y retomado, da los mismos pesos que
    de un tirón (las preguntas de cada tramo salen de su número)."""
    config = _tiny()
    whole, _ = _train(config, tmp_path / "whole")
    short = _tiny(stages=config["stages"][:1])
    _train(short, tmp_path / "cut")       # deja el estado del paso 4
    resumed, _ = _train(config, tmp_path / "cut")
    for (name, p), q in zip(whole.state_dict().items(),
                            resumed.state_dict().values(), strict=True):
        assert torch.allclose(p, q), name


# --- los pesos del curso --------------------------------------------------

@pytest.fixture(scope="module")
def ck(course_checkpoint) -> checkpoints.Checkpoint:
    return course_checkpoint(NAME)


def test_checkpoint_is_the_cross_attention_fusion(ck) -> None:
    assert isinstance(ck.model, CrossAttentionFusion)
    # la ficha es de la receta de ahora, no de una anterior
    assert ck.card["config"] == json.loads(json.dumps(fusion_shapes.CONFIG))
    assert len(ck.model.image.patch_mlps) == 2
    assert isinstance(ck.tokenizer, shapes.WordTokenizer)


def test_card_reaches_the_chapter_targets(ck) -> None:
    """Objetivos del capítulo 8 (issue 16), en las 2000 preguntas de
    prueba: ≥ 0,95 en existencia y color y ≥ 0,85 en relación."""
    acc = ck.card["metrics"]["exactitud"]
    assert acc["existencia"] >= 0.95, acc
    assert acc["color"] >= 0.95, acc
    assert acc["relación"] >= 0.85, acc
    assert acc["posición"] >= 0.95, acc


def test_card_accuracy_is_recomputed_by_the_package(ck) -> None:
    """La exactitud por tipo de la ficha se rehace con las funciones del
    paquete (en 600 preguntas de prueba: cerca, no igual)."""
    again = fusion_shapes.accuracy_by_kind(ck.model,
                                           *fusion_shapes.test_set(600))
    stored = ck.card["metrics"]["exactitud"]
    for kind in shapes.QUESTION_KINDS:
        assert abs(again[kind] - stored[kind]) < 0.06, (kind, again, stored)
