"""Pruebas de la receta «fusion-figuras» (``course_lib.fusion_shapes``) y
de sus pesos del curso.

La comprobación común de la ficha (la exactitud rápida dentro de su
tolerancia) está en ``test_checkpoints.py``; aquí va lo propio: el
currículo, que las preguntas de entrenamiento no son nunca las de prueba,
que retomar da los mismos pesos y lo que la ficha dice haber alcanzado.
"""

from __future__ import annotations

import copy

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
    assert ck.card["config"]["stages"] == fusion_shapes.CONFIG["stages"]
    assert isinstance(ck.tokenizer, shapes.WordTokenizer)


def test_card_reaches_existence_and_colour_targets(ck) -> None:
    """Objetivo del capítulo 8: ≥ 0,95 en existencia y color (2000
    preguntas de prueba), y la posición absoluta claramente aprendida."""
    acc = ck.card["metrics"]["exactitud"]
    assert acc["existencia"] >= 0.95, acc
    assert acc["color"] >= 0.95, acc
    assert acc["posición"] >= 0.75, acc


def test_card_accuracy_is_recomputed_by_the_package(ck) -> None:
    """La exactitud por tipo de la ficha se rehace con las funciones del
    paquete (en 600 preguntas de prueba: cerca, no igual)."""
    again = fusion_shapes.accuracy_by_kind(ck.model,
                                           *fusion_shapes.test_set(600))
    stored = ck.card["metrics"]["exactitud"]
    for kind in shapes.QUESTION_KINDS:
        assert abs(again[kind] - stored[kind]) < 0.06, (kind, again, stored)
