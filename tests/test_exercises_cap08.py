"""Pruebas propias de los ejercicios del capítulo 8 (el contrato común
está en ``test_exercise_contract.py``)."""

from course_lib.exercises import cap08 as ej


def test_course_lib_masked_mean_passes_the_exercise() -> None:
    from course_lib.fusion import masked_mean

    assert ej.media_enmascarada.evaluate(masked_mean).ok
