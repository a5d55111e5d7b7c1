"""Pruebas del GPT del curso, su tokenizador y su bucle de entrenamiento."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch.testing import assert_close

from course_lib.char_tokenizer import CharTokenizer, train_val_split
from course_lib.gpt import GPT, GPTConfig, KVCache, next_token_probs
from course_lib.layers import count_parameters
from course_lib.lm_training import (
    LMTrainConfig,
    evaluate_loss,
    get_batch,
    learning_rate,
    train_lm,
)


def _ids(B: int, T: int, V: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, V, (B, T),
                         generator=torch.Generator().manual_seed(seed))


# --- configuración -----------------------------------------------------

def test_config_is_frozen_and_validates(tiny_gpt_config) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        tiny_gpt_config.num_hidden_layers = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="múltiplo"):
        GPTConfig(hidden_size=30, num_attention_heads=4)
    with pytest.raises(ValueError, match="dropout"):
        GPTConfig(dropout=1.0)
    with pytest.raises(ValueError, match="preset desconocido"):
        GPTConfig.preset("tpu")


def test_anchor_preset_has_about_632k_parameters() -> None:
    model = GPT(GPTConfig.preset("anchor"))
    assert abs(count_parameters(model) - 632_000) < 15_000
    cfg = model.config
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads,
            cfg.max_position_embeddings,
            cfg.dropout) == (3, 128, 4, 128, 0.2)


def test_weight_tying_and_state_dict_holds_only_parameters(
        tiny_gpt) -> None:
    model = tiny_gpt
    assert model.lm_head.weight is model.wte.weight
    keys = set(model.state_dict())
    assert not any("causal" in k or k.endswith(".attn.bias") for k in keys)
    assert "h.1.attn.c_attn.weight" in keys and "ln_f.bias" in keys


# --- numérica ----------------------------------------------------------

def test_from_hf_matches_transformers_logits(hf_tiny_gpt2) -> None:
    hf = hf_tiny_gpt2
    ours = GPT.from_hf(hf).eval()
    assert ours.config.hidden_act == "gelu_tanh"
    assert ours.lm_head.weight is ours.wte.weight
    idx = _ids(3, 16, V=50)
    with torch.no_grad():
        expected = hf(idx).logits
        got, _ = ours(idx)
    assert_close(got, expected, rtol=0, atol=1e-5)


def test_from_hf_is_strict_about_keys(hf_tiny_gpt2) -> None:
    hf = hf_tiny_gpt2
    state = {k.removeprefix("transformer."): v
             for k, v in hf.state_dict().items()}
    ours = GPT(GPT.from_hf(hf).config)
    state.pop("h.0.mlp.c_fc.bias")
    with pytest.raises(RuntimeError, match="Missing key"):
        ours.load_state_dict(state, strict=True)


def test_exact_gelu_would_be_visible(hf_tiny_gpt2) -> None:
    # Con la GELU exacta en vez de la tanh, la diferencia supera la
    # tolerancia: la prueba anterior sí distingue las dos.
    hf = hf_tiny_gpt2
    wrong = GPT.from_hf(hf, hidden_act="gelu").eval()
    idx = _ids(2, 16, V=50)
    with torch.no_grad():
        diff = (wrong(idx)[0] - hf(idx).logits).abs().max()
    assert diff > 1e-5


def test_greedy_generation_matches_transformers_generate(
        hf_tiny_gpt2) -> None:
    # Con los pesos copiados, la decodificación voraz del curso (top_k=1:
    # siempre el argmax) da los mismos ids que `generate` sin muestreo.
    hf = hf_tiny_gpt2
    ours = GPT.from_hf(hf).eval()
    for seed, (B, T) in enumerate([(1, 1), (2, 5), (3, 12)]):
        prompt = _ids(B, T, V=50, seed=seed)
        expected = hf.generate(
            prompt, attention_mask=torch.ones_like(prompt),
            do_sample=False, max_new_tokens=10, pad_token_id=0)
        got = ours.generate(prompt, 10, top_k=1)
        assert expected.shape == (B, T + 10)   # no paró en un <eos>
        assert torch.equal(got, expected)
        assert len(set(got[:, T:].flatten().tolist())) > 1  # no trivial


def test_fused_and_textbook_attention_agree(tiny_gpt) -> None:
    fused = tiny_gpt.eval()
    manual = GPT(dataclasses.replace(fused.config, fused=False)).eval()
    manual.load_state_dict(fused.state_dict())
    idx = _ids(2, 16, V=fused.config.vocab_size)
    assert_close(fused(idx)[0], manual(idx)[0], rtol=1e-4, atol=1e-5)


def test_attention_is_scaled_by_head_dim(tiny_gpt) -> None:
    model = tiny_gpt.eval()
    C, H = model.config.hidden_size, model.config.num_attention_heads
    x = torch.randn(1, 5, C)
    attn = model.h[0].attn
    _, weights = attn(x, return_weights=True)
    q, k, _ = attn.c_attn(x).split(C, dim=2)
    D = C // H
    q = q.view(1, 5, H, D).transpose(1, 2)
    k = k.view(1, 5, H, D).transpose(1, 2)
    scores = (q @ k.transpose(-2, -1)) / D ** 0.5
    scores = scores.masked_fill(~torch.ones(5, 5).tril().bool(),
                                float("-inf"))
    assert_close(weights, scores.softmax(-1))


def test_causality_future_tokens_do_not_change_past_logits(
        tiny_gpt) -> None:
    model = tiny_gpt.eval()
    V = model.config.vocab_size
    idx = _ids(2, 12, V)
    changed = idx.clone()
    changed[:, 7:] = (changed[:, 7:] + 3) % V
    with torch.no_grad():
        a, _ = model(idx)
        b, _ = model(changed)
    assert_close(a[:, :7], b[:, :7])
    assert not torch.allclose(a[:, 7:], b[:, 7:])


def test_loss_is_cross_entropy_and_initial_loss_is_log_vocab(
        tiny_gpt) -> None:
    model = tiny_gpt.eval()
    V = model.config.vocab_size
    idx, targets = _ids(4, 16, V), _ids(4, 16, V, seed=1)
    logits, loss = model(idx, targets)
    expected = torch.nn.functional.cross_entropy(
        logits.reshape(-1, V), targets.reshape(-1))
    assert_close(loss, expected)
    assert abs(loss.item() - math.log(V)) < 0.3


def test_return_weights_gives_one_causal_map_per_layer(tiny_gpt) -> None:
    model = tiny_gpt.eval()
    cfg = model.config
    logits, loss, maps = model(_ids(2, 6, cfg.vocab_size),
                               return_weights=True)
    assert loss is None and len(maps) == cfg.num_hidden_layers
    for w in maps:
        assert w.shape == (2, cfg.num_attention_heads, 6, 6)
        assert_close(w.sum(-1), torch.ones(2, cfg.num_attention_heads, 6))
        assert (w.triu(1) == 0).all()


# --- entradas incorrectas -----------------------------------------------

def test_bad_inputs_raise_spanish_errors(tiny_gpt) -> None:
    model = tiny_gpt
    V, T = model.config.vocab_size, model.config.max_position_embeddings
    with pytest.raises(ValueError, match="fuera del vocabulario"):
        model(torch.tensor([[0, V]]))
    with pytest.raises(ValueError, match="fuera del vocabulario"):
        model(torch.tensor([[-1, 0]]))
    with pytest.raises(ValueError, match=f"max_position_embeddings=\n?{T}"):
        model(_ids(1, T + 1, V))
    with pytest.raises(TypeError, match="tensor de enteros"):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="tensor de enteros"):
        model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="targets"):
        model(_ids(1, 4, V), _ids(1, 5, V))


@pytest.mark.parametrize("kwargs, match", [
    ({"temperature": 0.0}, "temperature"),
    ({"temperature": -1.0}, "temperature"),
    ({"top_k": 0}, "top_k"),
    ({"top_p": 0.0}, "top_p"),
    ({"top_p": 1.5}, "top_p"),
])
def test_bad_sampling_options_raise(tiny_gpt, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        tiny_gpt.generate(_ids(1, 3, tiny_gpt.config.vocab_size), 2,
                          **kwargs)


# --- generación ---------------------------------------------------------

def test_generation_is_reproducible_with_a_generator(tiny_gpt) -> None:
    model = tiny_gpt
    idx = _ids(2, 3, model.config.vocab_size)
    a = model.generate(idx, 30, generator=torch.Generator().manual_seed(5))
    b = model.generate(idx, 30, generator=torch.Generator().manual_seed(5))
    c = model.generate(idx, 30, generator=torch.Generator().manual_seed(6))
    assert a.shape == (2, 33) and torch.equal(a[:, :3], idx)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert model.training   # generate restaura el modo


# --- caché KV -------------------------------------------------------------

@pytest.mark.parametrize("fused", [True, False])
def test_kv_cache_gives_the_logits_of_the_full_forward(
        tiny_gpt_config, fused) -> None:
    torch.manual_seed(0)
    model = GPT(dataclasses.replace(tiny_gpt_config, fused=fused)).eval()
    idx = _ids(2, 11, model.config.vocab_size)
    full, _ = model(idx)                                  # (B, T, V)
    cache = KVCache(model.config.num_hidden_layers)
    pieces = [model(idx[:, :4], cache=cache)[0]]          # el prompt
    for t in range(4, 11):                                # token a token
        pieces.append(model(idx[:, t:t + 1], cache=cache)[0])
    assert len(cache) == 11
    assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)
    # los pesos con caché: el token nuevo mira a los 11 anteriores y a él
    _, _, maps = model(idx[:, :1], cache=cache, return_weights=True)
    assert maps[0].shape == (2, model.config.num_attention_heads, 1, 12)


@pytest.mark.parametrize("options", [{}, {"top_k": 1},
                                     {"top_p": 0.8, "temperature": 0.7}])
def test_generate_with_and_without_cache_gives_the_same_tokens(
        tiny_gpt, options) -> None:
    model = tiny_gpt.eval()
    T = model.config.max_position_embeddings
    idx = _ids(2, 3, model.config.vocab_size)
    # T + 6 tokens: se llena el contexto y la ventana se desplaza
    runs = [model.generate(idx, T + 6, use_cache=use_cache,
                           generator=torch.Generator().manual_seed(3),
                           **options)
            for use_cache in (True, False)]
    assert runs[0].shape == (2, T + 9)
    assert torch.equal(runs[0], runs[1])


def test_kv_cache_bad_use_raises_spanish_errors(tiny_gpt) -> None:
    model = tiny_gpt.eval()
    T = model.config.max_position_embeddings
    cache = KVCache(model.config.num_hidden_layers)
    model(_ids(1, T - 1, model.config.vocab_size), cache=cache)
    with pytest.raises(ValueError, match="no caben en el contexto"):
        model(_ids(1, 2, model.config.vocab_size), cache=cache)
    with pytest.raises(TypeError, match="KVCache de"):
        model(_ids(1, 2, model.config.vocab_size),
              cache=KVCache(model.config.num_hidden_layers + 1))
    with pytest.raises(ValueError, match="num_layers"):
        KVCache(0)


def test_top_k_and_top_p_restrict_the_support() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0]])
    p = next_token_probs(logits, top_k=2)
    assert (p[0, 2:] == 0).all() and torch.isclose(p.sum(), torch.tensor(1.))
    full = logits.softmax(-1)[0]      # 0.52, 0.19, 0.12, 0.07, 0.03
    p = next_token_probs(logits, top_p=0.6)
    assert (p[0] > 0).tolist() == [True, True, False, False, False]
    assert_close(p[0, :2], full[:2] / full[:2].sum())
    p = next_token_probs(logits, top_p=0.1)   # siempre queda el mejor
    assert p[0].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    # temperatura: baja concentra, alta aplana
    cold = next_token_probs(logits, temperature=0.5)
    hot = next_token_probs(logits, temperature=2.0)
    assert cold.max() > full.max() > hot.max()


def test_generate_with_top_k_one_is_greedy_and_crops_the_context(
        tiny_gpt) -> None:
    model = tiny_gpt.eval()
    T = model.config.max_position_embeddings
    idx = _ids(1, T + 4, model.config.vocab_size)  # se recorta a T
    out = model.generate(idx, 5, top_k=1)
    ctx = out[:, -(T + 5):-5][:, -T:]
    logits, _ = model(ctx)
    assert out[0, -5].item() == logits[0, -1].argmax().item()


# --- tokenizador y datos -------------------------------------------------

def test_char_tokenizer_roundtrip_and_errors() -> None:
    tok = CharTokenizer.from_text("Le Tartuffe!")
    assert tok.vocab_size == len(set("Le Tartuffe!"))
    ids = tok.encode("Tartuffe")
    assert ids.dtype == torch.long and tok.decode(ids) == "Tartuffe"
    with pytest.raises(ValueError, match="fuera del vocabulario.*'z'"):
        tok.encode("Tarz")
    with pytest.raises(ValueError, match="fuera del vocabulario"):
        tok.decode([99])
    with pytest.raises(TypeError, match="str"):
        tok.encode(3)  # type: ignore[arg-type]


def test_moliere_has_85_characters_and_90_10_split() -> None:
    from course_lib.data import load_text

    text = load_text("moliere.txt")
    tok = CharTokenizer.from_text(text)
    assert tok.vocab_size == 85 == GPTConfig().vocab_size
    data = tok.encode(text[:1000])
    train, val = train_val_split(data)
    assert len(train) == 900 and torch.equal(torch.cat([train, val]), data)


def test_get_batch_targets_are_inputs_shifted_by_one() -> None:
    data = torch.arange(100)
    g = torch.Generator().manual_seed(0)
    x, y = get_batch(data, 8, 4, generator=g)
    assert x.shape == y.shape == (4, 8)
    assert torch.equal(y, x + 1)
    x2, _ = get_batch(data, 8, 4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)


def test_learning_rate_schedule() -> None:
    cfg = LMTrainConfig(steps=100, lr=1e-3, min_lr=1e-4, warmup_steps=10)
    assert learning_rate(0, cfg) == pytest.approx(1e-4)
    assert learning_rate(9, cfg) == pytest.approx(1e-3)
    assert learning_rate(99, cfg) == pytest.approx(1e-4)
    lrs = [learning_rate(s, cfg) for s in range(10, 100)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))
    const = dataclasses.replace(cfg, schedule="constant")
    assert learning_rate(50, const) == 1e-3


def test_training_lowers_the_loss_and_is_deterministic() -> None:
    text = "abcabcabdabcabcabd" * 40
    tok = CharTokenizer.from_text(text)
    train, val = train_val_split(tok.encode(text))
    config = GPTConfig(vocab_size=tok.vocab_size, max_position_embeddings=8,
                       num_hidden_layers=1,
                       num_attention_heads=2, hidden_size=16)
    recipe = LMTrainConfig(steps=60, batch_size=8, lr=1e-2, min_lr=1e-3,
                           warmup_steps=5, eval_every=30, eval_tokens=64)
    results = []
    for _ in range(2):
        torch.manual_seed(0)
        model = GPT(config)
        before = evaluate_loss(model, val, 8)
        history = train_lm(model, train, val, recipe, progress=False,
                           generator=torch.Generator().manual_seed(0))
        results.append(history.val_loss)
    assert history.eval_steps == [30, 60]
    assert history.tokens_seen == 60 * 8 * 8
    assert results[0] == results[1]
    assert history.val_loss[-1] < 0.5 * before


# --- benchmarks/gpt_moliere.py -------------------------------------------

def test_benchmark_prints_table_and_json(tmp_path, capsys) -> None:
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / (
        "gpt_moliere.py")
    spec = importlib.util.spec_from_file_location("bench_gpt", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "gpt.json"
    code = bench.main(["--preset", "cpu", "--steps", "2", "--ref-steps",
                       "1", "--val-tokens", "512", "--quiet",
                       "--json", str(out)])
    assert code == 0
    table = capsys.readouterr().out
    for title in ("parámetros", "tokens vistos", "tokens/s",
                  "pérdida de validación", "bucle de referencia"):
        assert title in table
    data = json.loads(out.read_text(encoding="utf-8"))
    row = data["rows"][0]
    per_step = (LMTrainConfig.preset("cpu").batch_size
                * GPTConfig.preset("cpu").max_position_embeddings)
    assert row["steps"] == 2 and row["tokens_seen"] == 2 * per_step
    assert row["val_loss"] > 3.0 and row["tokens_per_s"] > 0
    assert {"date", "torch", "loadavg", "title"} <= set(data["metadata"])
