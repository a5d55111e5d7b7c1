"""Pruebas propias de los ejercicios del capítulo 7 (el contrato común
está en ``test_exercise_contract.py``)."""

from course_lib.exercises import cap07 as ej


def test_course_lib_loss_passes_the_exercise() -> None:
    from course_lib.clip import contrastive_loss

    assert ej.perdida_contrastiva.evaluate(contrastive_loss).ok
