"""Pruebas de course_lib.hub: nunca se cuelga, respeta HF_HUB_OFFLINE."""

import socket
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from course_lib import hub


def test_offline_env_answers_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    assert hub.hub_available() is False
    assert time.perf_counter() - start < 0.1


def test_hub_available_against_local_server(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("COURSE_LIB_OFFLINE", raising=False)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        assert hub.hub_available(host="127.0.0.1", port=port, timeout=1)
    finally:
        server.close()
    # el mismo puerto, ya cerrado: nadie escucha
    start = time.perf_counter()
    assert not hub.hub_available(host="127.0.0.1", port=port, timeout=1)
    assert time.perf_counter() - start < 2


def test_unresolvable_host_is_quick(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    start = time.perf_counter()
    assert not hub.hub_available(host="no-existe.invalid", timeout=1)
    assert time.perf_counter() - start < 2


def _tiny_gpt2(path):
    torch.manual_seed(0)
    config = GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=20,
                        n_positions=8)
    GPT2LMHeadModel(config).save_pretrained(path)


def test_local_folder_loads_even_offline(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _tiny_gpt2(tmp_path)
    loaded = hub.load_pretrained(GPT2LMHeadModel.from_pretrained,
                                 str(tmp_path), fallback=lambda: "propio")
    assert loaded.pretrained and isinstance(loaded.model, GPT2LMHeadModel)
    assert "preentrenado" in loaded.describe()
    assert capsys.readouterr().out == ""


def test_offline_falls_back_within_seconds(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    calls = []
    start = time.perf_counter()
    loaded = hub.load_pretrained(calls.append, "gpt2",
                                 fallback=lambda: "modelo-curso",
                                 fallback_name="GPT del curso")
    assert time.perf_counter() - start < 1
    assert calls == []  # ni siquiera se intenta cargar
    assert loaded.model == "modelo-curso" and not loaded.pretrained
    assert "GPT del curso (propio del curso)" in loaded.describe()
    out = capsys.readouterr().out
    assert "sin conexión" in out and "GPT del curso" in out


def test_failed_load_is_reported_and_falls_back(tmp_path, capsys):
    def broken(path):
        raise OSError("archivo dañado")

    loaded = hub.load_pretrained(broken, str(tmp_path), fallback=lambda: 1)
    assert loaded.model == 1 and not loaded.pretrained
    assert "archivo dañado" in capsys.readouterr().out


def test_no_fallback_returns_none(monkeypatch):
    monkeypatch.setenv("COURSE_LIB_OFFLINE", "1")
    assert hub.load_pretrained(lambda name: name, "gpt2") is None
