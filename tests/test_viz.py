"""Pruebas de course_lib.viz: figuras estáticas con etiquetas."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_lib.viz import plot_attention, plot_attention_heads  # noqa: E402


def test_plot_attention_labels_and_data():
    w = torch.softmax(torch.randn(3, 4), dim=-1)
    ax = plot_attention(w, ["a", "b", "c"], ["w", "x", "y", "z"],
                        annotate=True, title="prueba")
    assert ax.get_title() == "prueba"
    assert [t.get_text() for t in ax.get_xticklabels()] == list("wxyz")
    assert [t.get_text() for t in ax.get_yticklabels()] == list("abc")
    np.testing.assert_allclose(ax.images[0].get_array(), w.numpy())
    assert len(ax.texts) == 12
    assert ax.get_xlabel() and ax.get_ylabel()
    plt.close("all")


def test_plot_attention_heads_one_panel_per_head():
    fig = plot_attention_heads(torch.rand(5, 2, 3), max_cols=4)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 5
    assert panels[3].get_title() == "cabeza 3"
    plt.close("all")


def test_bad_inputs_raise_spanish_errors():
    with pytest.raises(ValueError, match=r"\(Tq, Tk\).*\(2, 3, 4\)"):
        plot_attention(torch.rand(2, 3, 4))
    with pytest.raises(ValueError, match="2 etiquetas"):
        plot_attention(torch.rand(3, 3), ["a", "b"])
    with pytest.raises(ValueError, match=r"\(H, Tq, Tk\)"):
        plot_attention_heads(torch.rand(3, 3))
