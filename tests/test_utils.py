"""Pruebas de course_lib.utils."""

import os
import random
import time

import numpy as np
import pytest
import torch

from course_lib.utils import Timer, choose_preset, get_device, seed_everything


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


def test_preset_choice(monkeypatch):
    monkeypatch.delenv("COURSE_LIB_PRESET", raising=False)
    expected = "gpu" if torch.cuda.is_available() else "cpu"
    assert choose_preset() == expected
    monkeypatch.setenv("COURSE_LIB_PRESET", "gpu")
    assert choose_preset() == "gpu"
    assert choose_preset("cpu") == "cpu"
    with pytest.raises(ValueError, match="preset desconocido"):
        choose_preset("tpu")


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
