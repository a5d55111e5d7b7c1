"""Pruebas propias de los ejercicios del capítulo 5 (ViT; el contrato
común está en ``test_exercise_contract.py``)."""

import torch

from course_lib.exercises import cap05 as ej
from course_lib.patches import patchify


def test_patches_agree_with_course_lib() -> None:
    x = torch.randn(2, 3, 8, 12)
    assert torch.equal(ej.extraer_parches.reference(x, 4), patchify(x, 4))


def test_unfold_variant_is_named() -> None:
    # F.unfold da parches en orden (canal, fila, columna): error conocido.
    def with_unfold(imagenes, P):
        cols = torch.nn.functional.unfold(imagenes, P, stride=P)
        return cols.transpose(1, 2)

    result = ej.extraer_parches.evaluate(with_unfold)
    assert result.mistake == "canal_primero"


def test_cosine_similarity_with_builtin_passes() -> None:
    def with_builtin(pos):
        return torch.nn.functional.cosine_similarity(
            pos[:, None], pos[None], dim=-1)

    assert ej.similitud_posiciones.evaluate(with_builtin).ok


def test_attention_distance_uniform_and_local() -> None:
    ref = ej.distancia_media_atencion.reference
    eye = torch.eye(16)[None]                      # cada parche se mira
    assert ref(eye, 4, 2).item() == 0.0
    uniform = torch.full((1, 4, 4), 0.25)          # rejilla 2×2, P = 1
    expected = (0 + 1 + 1 + 2 ** 0.5) / 4
    assert abs(ref(uniform, 2, 1).item() - expected) < 1e-6


def test_attention_distance_in_float64_passes() -> None:
    # Coordenadas en float64 (p. ej., salidas de NumPy): resultado float64.
    def distancia_media_atencion(pesos, g, P):
        fila = torch.arange(g, dtype=torch.float64).repeat_interleave(g)
        col = torch.arange(g, dtype=torch.float64).repeat(g)
        centros = torch.stack([fila, col], dim=-1) * P
        dist = torch.cdist(centros, centros)
        return (pesos.double() * dist).sum(dim=-1).mean(dim=-1)

    assert ej.distancia_media_atencion.evaluate(distancia_media_atencion).ok
    wrong = ej.distancia_media_atencion.evaluate(
        lambda pesos, g, P: distancia_media_atencion(pesos, g, 1))
    assert wrong.mistake == "en_parches"
