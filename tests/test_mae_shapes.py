"""Pruebas de los pesos del curso «mae-figuras» y de su receta.

La comprobación de la ficha (la pérdida rápida dentro de su tolerancia)
es la común de ``test_checkpoints.py``; aquí va lo propio de este modelo:
los objetivos del capítulo 6 en la ficha y en el banco guardado, la
interfaz que usan los capítulos 5 y 6, y que el preentrenamiento no ve
nunca las imágenes etiquetadas ni las de prueba.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from course_lib import checkpoints, mae_shapes
from course_lib.mae import MAE

NAME = "mae-figuras"
RESULTS = (Path(__file__).resolve().parent.parent / "benchmarks" /
           "results" / "mae_shapes.json")


@pytest.fixture(scope="module")
def ck(course_checkpoint) -> checkpoints.Checkpoint:
    return course_checkpoint(NAME)


def test_reconstruction_beats_both_references(ck) -> None:
    """En las imágenes de prueba, los parches tapados se reconstruyen
    mejor que con el parche medio y que interpolando los vecinos."""
    rec = ck.card["metrics"]["reconstruccion"]
    assert rec["mae"] < rec["parche_medio"], rec
    assert rec["mae"] < rec["vecinos"], rec
    curve = ck.card["metrics"]["curve"]
    assert curve[-1]["loss_quick"] < curve[0]["loss_quick"]


def test_reconstruction_losses_are_those_of_the_card(ck) -> None:
    """Las cifras de la ficha se rehacen con las funciones del paquete
    (en 300 imágenes de prueba: cerca, no iguales)."""
    again = mae_shapes.reconstruction_losses(
        ck.model, mae_shapes.test_set().images[:300])
    stored = ck.card["metrics"]["reconstruccion"]
    for key in ("mae", "parche_medio", "vecinos"):
        assert abs(again[key] - stored[key]) < 0.05, (key, again, stored)
    assert again["mae"] < again["vecinos"] < again["parche_medio"]


def test_probe_beats_pixels_in_the_card(ck) -> None:
    probe = ck.card["metrics"]["sonda_20"]
    assert probe["mae"] > probe["pixeles"], probe


def test_stored_benchmark_is_of_these_weights_and_reaches_targets(
        ck) -> None:
    """El banco del capítulo (``benchmarks/mae_shapes.py``) se midió con
    estos pesos y, con ≤ 20 etiquetas por clase y 3 semillas: sonda MAE >
    píxeles y > codificador aleatorio; ajuste fino MAE ≥ desde cero + 5
    puntos."""
    result = json.loads(RESULTS.read_text(encoding="utf-8"))
    assert result["metadata"]["checkpoint_sha256"] == ck.card["sha256"]
    rows = result["rows"]
    budgets = {r["etiquetas por clase"] for r in rows}
    assert {5, 20} <= budgets
    for k in budgets:
        mean = {r["método"]: r for r in rows if r["etiquetas por clase"] == k}
        acc = {m: row["exactitud media"] for m, row in mean.items()}
        assert all(row["semillas"] == 3 for row in mean.values()), k
        if k > 20:
            continue
        mae_probe = acc["codificador MAE + sonda lineal"]
        assert mae_probe > acc["regresión logística sobre los píxeles"], k
        assert mae_probe > acc["codificador aleatorio + sonda lineal"], k
        assert (acc["codificador MAE + ajuste fino"]
                >= acc["ViT desde cero (ajuste supervisado)"] + 0.05), k
    curves = [r["curve"] for r in result["runs"] if "curve" in r]
    assert curves and all(c[-1][0] == result["metadata"]["finetune_steps"]
                          for c in curves)


def test_loaded_model_has_the_chapter_interface(ck) -> None:
    model = ck.model
    assert isinstance(model, MAE) and not model.training
    assert ck.tokenizer is None
    x = mae_shapes.test_set().images[:4]                  # (4, 3, 32, 32)
    out = model(x)
    assert out.pred.shape == (4, 64, 48)
    assert model.features(x).shape == (4, 192)
    _, weights = model.vit(x)
    assert len(weights) == 6 and weights[0].shape == (4, 6, 65, 65)


def test_pretraining_never_sees_labelled_or_test_images() -> None:
    config = mae_shapes.CONFIG
    seeds = config["data_seeds"]
    chunks = range(config["steps"] // config["save_every"] + 1)
    unlabelled = {seeds["unlabelled"] + c for c in chunks}
    assert seeds["labelled"] not in unlabelled
    assert seeds["test"] not in unlabelled
    assert seeds["labelled"] != seeds["test"]
    a, b = mae_shapes.labelled().images, mae_shapes.test_set().images
    assert not torch.equal(a[:len(b)], b)


def test_attention_heads_differentiate_after_pretraining(ck) -> None:
    """Lo que lee el capítulo 5 en la figura de la distancia de atención:
    sin entrenar, todas las cabezas atienden como la uniforme; tras el MAE
    se separan (alguna baja varios píxeles) y las más locales no están en
    la primera capa."""
    from course_lib.vit import mean_attention_distance

    enc = ck.model.config.encoder
    images = mae_shapes.test_set().images[:100]           # (100, 3, 32, 32)
    torch.manual_seed(ck.card["config"]["seed"])
    untrained = mae_shapes.build(ck.card["config"]).eval()

    def distances(model: MAE) -> torch.Tensor:
        with torch.no_grad():
            _, weights = model.vit(images)
        return torch.stack([
            mean_attention_distance(w, grid_size=enc.grid_size,
                                    patch_size=enc.patch_size)
            for w in weights])                              # (L, H)

    uniform = mean_attention_distance(
        torch.ones(1, 1, enc.num_patches + 1, enc.num_patches + 1),
        grid_size=enc.grid_size, patch_size=enc.patch_size).item()
    before, after = distances(untrained), distances(ck.model)
    assert (before - uniform).abs().max() < 0.5, before
    assert after.max() - after.min() > 3 * (before.max() - before.min())
    assert after.min() < uniform - 3, after
    assert after[0].min() > after[1:].min() + 2, after
