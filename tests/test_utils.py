"""Pruebas de course_lib.utils."""

import dataclasses
import os
import random
import time

import numpy as np
import pytest
import torch

from course_lib.utils import (
    Timer,
    check_config,
    from_preset,
    get_device,
    seed_everything,
)


def test_seed_everything_is_reproducible():
    g = seed_everything(123)
    a = (random.random(), np.random.rand(), torch.rand(2),
         torch.rand(2, generator=g))
    g = seed_everything(123)
    b = (random.random(), np.random.rand(), torch.rand(2),
         torch.rand(2, generator=g))
    assert a[0] == b[0] and a[1] == b[1]
    assert torch.equal(a[2], b[2]) and torch.equal(a[3], b[3])


def test_seed_rejects_bad_values():
    with pytest.raises(ValueError, match="semilla"):
        seed_everything(-1)
    with pytest.raises(TypeError, match="semilla"):
        seed_everything(1.5)


@dataclasses.dataclass(frozen=True)
class _Config:
    width: int = 8
    depth: int = 1


def test_from_preset_applies_changes_and_names_what_it_expects():
    presets = {"small": {"width": 4}, "deep": {"depth": 6}}
    assert from_preset(_Config, presets, "small", {}) == _Config(4, 1)
    assert from_preset(_Config, presets, "deep", {"width": 2}) == _Config(
        2, 6)
    with pytest.raises(ValueError, match=r"preset desconocido 'tpu'.*"
                       r"se esperaba uno de \['deep', 'small'\]"):
        from_preset(_Config, presets, "tpu", {})
    with pytest.raises(TypeError, match=r"no tiene los campos \['n_embd'\]"
                       r"; se esperaba alguno de \['depth', 'width'\]"):
        from_preset(_Config, presets, "small", {"n_embd": 3})


def test_device_choice():
    assert get_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="desconocido"):
        get_device("npu")
    if not torch.cuda.is_available():
        assert get_device() == torch.device("cpu")
        with pytest.raises(RuntimeError, match="no hay GPU"):
            get_device("cuda")


def test_timer_measures_wall_time():
    with Timer() as t:
        time.sleep(0.05)
    assert 0.04 < t.seconds < 1.0
    assert str(t).endswith(" s")


def test_progress_bar_throttles_updates_and_yields_everything():
    from course_lib.utils import PROGRESS_INTERVAL_S, progress_bar

    bar = progress_bar(range(5), desc="prueba", disable=True)
    assert list(bar) == [0, 1, 2, 3, 4]
    bar = progress_bar(range(3), desc="prueba", file=open(os.devnull, "w"))
    # Una actualización por segundo como mucho: no inunda el kernel.
    assert bar.mininterval == PROGRESS_INTERVAL_S >= 1.0
    assert list(bar) == [0, 1, 2]


def test_stored_results_are_found_from_root_and_notebooks(tmp_path,
                                                          monkeypatch):
    from course_lib.utils import stored_results

    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    (results / "x.json").write_text('{"rows": [1]}', encoding="utf-8")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path)
    assert stored_results("x.json") == {"rows": [1]}
    monkeypatch.chdir(tmp_path / "notebooks")
    assert stored_results("x.json") == {"rows": [1]}
    assert stored_results("falta.json") is None


@pytest.mark.parametrize("changes, error, message", [
    ({"width": 0}, ValueError, "width debe ser un entero >= 1"),
    ({"width": 2.5}, TypeError, "width debe ser un entero"),
    ({"drop": 1.0}, ValueError, r"drop debe estar en \[0, 1\); vale 1.0"),
    ({"act": "swish"}, ValueError,
     r"desconocido para act: se recibió 'swish'; se esperaba uno de "
     r"\('gelu', 'relu'\)"),
    ({"width": 6, "heads": 4}, ValueError,
     "width=6 no es múltiplo de heads=4"),
])
def test_check_config_names_the_field_and_what_it_expects(
        changes, error, message):
    @dataclasses.dataclass(frozen=True)
    class Config:
        width: int = 8
        heads: int = 2
        drop: float = 0.1
        act: str = "gelu"

        def __post_init__(self):
            check_config(self, positive=("width", "heads"),
                         fractions=("drop",),
                         choices={"act": ("gelu", "relu")},
                         multiples=[("width", "heads")])

    Config()                          # la de por defecto es válida
    with pytest.raises(error, match=message):
        Config(**changes)
