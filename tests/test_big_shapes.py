"""Pruebas de ``course_lib.big_shapes``: las imágenes de una figura grande
de los capítulos 5 y 6."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib.big_shapes import (
    BIG_SHAPES_MEAN,
    BIG_SHAPES_STD,
    denormalize,
    make_big_shapes,
    normalize,
    render_big_shape,
)
from course_lib.shapes import SHAPE_NAMES


def test_same_seed_same_images_other_seed_other_images() -> None:
    a, b = make_big_shapes(20, seed=3), make_big_shapes(20, seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    c = make_big_shapes(20, seed=4)
    assert not torch.equal(a.images, c.images)


def test_classes_are_balanced_and_images_in_range() -> None:
    data = make_big_shapes(50, seed=0)
    assert data.images.shape == (50, 3, 32, 32) and len(data) == 50
    assert data.images.dtype == torch.float32
    assert 0.0 <= data.images.min() and data.images.max() <= 1.0
    assert torch.bincount(data.labels).tolist() == [10] * len(SHAPE_NAMES)


def test_the_figure_is_large_and_differs_from_the_background() -> None:
    rng = np.random.default_rng(0)
    for shape in SHAPE_NAMES:
        x = render_big_shape(shape, rng)                  # (3, S, S)
        # el píxel central y la esquina: figura y fondo (el centro se
        # desplaza como mucho un 15 %, el radio es al menos un 20 %)
        centre, corner = x[:, 16, 16], x[:, 0, 0]
        assert np.abs(centre - corner).max() > 0.2, shape


def test_the_label_is_the_shape_not_the_pixels() -> None:
    """Dos imágenes de la misma forma se parecen menos que la media de
    las de formas distintas: color, sitio y tamaño cambian más los
    píxeles que la forma (por eso los píxeles crudos no bastan)."""
    data = make_big_shapes(200, seed=5)
    x = data.images.flatten(1)
    d = torch.cdist(x, x)
    same = data.labels[:, None] == data.labels[None]
    off = ~torch.eye(len(x), dtype=torch.bool)
    assert d[same & off].mean() > 0.9 * d[~same].mean()


def test_normalization_constants_describe_the_data() -> None:
    x = make_big_shapes(500, seed=7).images
    assert abs(x.mean().item() - BIG_SHAPES_MEAN) < 0.02
    assert abs(x.std().item() - BIG_SHAPES_STD) < 0.02
    assert torch.allclose(denormalize(normalize(x)), x, atol=1e-6)


@pytest.mark.parametrize("call, error, message", [
    (lambda: render_big_shape("rombo", np.random.default_rng(0)),
     ValueError, "forma desconocida"),
    (lambda: make_big_shapes(0, seed=0), ValueError, "n"),
    (lambda: make_big_shapes(5, seed=-1), ValueError, "seed"),
    (lambda: make_big_shapes(5, seed=0, image_size=4), ValueError,
     "image_size"),
])
def test_bad_inputs_give_spanish_errors(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()
