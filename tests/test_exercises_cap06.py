"""Pruebas propias de los ejercicios del capítulo 6 (MAE; el contrato
común está en ``test_exercise_contract.py``)."""

import torch

from course_lib.exercises import cap06 as ej
from course_lib.mae import mae_loss, random_masking


def test_references_agree_with_course_lib() -> None:
    g = torch.Generator().manual_seed(0)
    x, noise = torch.randn(3, 16, 4, generator=g), torch.rand(3, 16,
                                                               generator=g)
    ours = ej.enmascarar.reference(x, 0.75, noise)
    for a, b in zip(ours, random_masking(x, 0.75, noise), strict=True):
        assert torch.equal(a, b)
    target, pred = torch.randn(2, 16, 4), torch.randn(2, 16, 4)
    masked = torch.rand(2, 16) > 0.5
    assert torch.allclose(ej.perdida_mae.reference(target, pred, masked),
                          mae_loss(target, pred, masked))
    normed = ej.normalizar_parches.reference(target)
    assert torch.allclose(mae_loss(target, normed, masked, norm_pix=True),
                          torch.tensor(0.0), atol=1e-8)
