"""Pruebas de course_lib.layers: las piezas comunes a varios modelos."""

import pytest
import torch
from torch.testing import assert_close

from course_lib.layers import make_activation


def test_activations():
    x = torch.linspace(-3, 3, 7)
    assert_close(make_activation("gelu")(x), torch.nn.functional.gelu(x))
    assert_close(make_activation("quick_gelu")(x), x * torch.sigmoid(
        1.702 * x))
    with pytest.raises(ValueError, match="desconocida"):
        make_activation("swish")
