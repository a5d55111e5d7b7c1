"""Pruebas del bucle común (course_lib.training) y de sus adaptadores.

Cada capítulo entrenaba con su propio bucle; ahora todos pasan por
``fit``. Las salidas guardadas de los cuadernos exigen que los números no
cambien: por cada adaptador hay aquí una copia del bucle antiguo
(``_reference_*``, tal como estaba en el capítulo antes de la
unificación) y la prueba exige historial y pesos finales **idénticos**
(``==`` y ``torch.equal``, sin tolerancia) en un modelo diminuto.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import training
from course_lib.training import (
    History,
    accuracy,
    constant,
    fit,
    train_classifier,
    warmup_cosine,
    warmup_cosine_to_min,
    warmup_linear,
    warmup_min_cosine,
    warmup_times_cosine,
)


def _seeded(build, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build()


def _assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- calendarios --------------------------------------------------------

def test_constant() -> None:
    assert [constant(s, lr=0.5) for s in (0, 7, 99)] == [0.5] * 3


def test_warmup_cosine() -> None:
    lrs = [warmup_cosine(s, lr=2.0, steps=10, warmup=2) for s in range(10)]
    assert lrs[:2] == [1.0, 2.0]                    # rampa: (s + 1) / 2
    assert lrs[2] == 2.0                            # empieza el coseno
    assert lrs[6] == pytest.approx(1.0)             # mitad del coseno
    assert all(a >= b for a, b in zip(lrs[2:-1], lrs[3:], strict=True))
    assert warmup_cosine(10, lr=2.0, steps=10, warmup=2) == pytest.approx(0)


def test_warmup_cosine_to_min() -> None:
    def lr(s: int) -> float:
        return warmup_cosine_to_min(s, lr=1e-3, min_lr=1e-4, steps=100,
                                    warmup=10)
    assert lr(0) == pytest.approx(1e-4) and lr(9) == pytest.approx(1e-3)
    assert lr(99) == pytest.approx(1e-4)            # llega a min_lr
    assert lr(500) == pytest.approx(1e-4)           # y se queda ahí


def test_warmup_linear() -> None:
    lrs = [warmup_linear(s, lr=1.0, steps=10, warmup=2) for s in range(10)]
    assert lrs[:3] == [0.5, 1.0, 1.0]
    assert lrs[-1] == pytest.approx(1 / 8)          # (10 - 9) / (10 - 2)
    assert warmup_linear(0, lr=1.0, steps=4, warmup=0) == 1.0


def test_warmup_times_cosine() -> None:
    lrs = [warmup_times_cosine(s, lr=1.0, steps=10, warmup=4)
           for s in range(10)]
    assert lrs[0] == pytest.approx(0.2 * 1.0)       # (0 + 1) / 5 · cos 0
    assert lrs[4] == pytest.approx(0.5 * (1 + math.cos(0.4 * math.pi)))
    assert all(v < 1.0 for v in lrs)                # nunca llega al pico


def test_warmup_min_cosine() -> None:
    lrs = [warmup_min_cosine(s, lr=1.0, steps=10, warmup=1)
           for s in range(10)]
    assert lrs[0] == 1.0                            # min(1, cos 0)
    assert lrs[5] == pytest.approx(0.5)
    assert warmup_min_cosine(0, lr=1.0, steps=10, warmup=4) == 0.25


# --- fit ------------------------------------------------------------------

def test_fit_learns_a_linear_map_and_keeps_a_history() -> None:
    g = _gen(0)
    w = torch.tensor([[2.0], [-3.0]])
    x = torch.randn(256, 2, generator=g)
    y = x @ w + 0.5                                            # (N, 1)
    model = _seeded(lambda: nn.Linear(2, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def loss_fn(m: nn.Module, batch: tuple) -> tuple:
        xb, yb = batch
        loss = F.mse_loss(m(xb), yb)
        return loss, {"doble": 2 * loss.detach()}

    history = fit(model, opt, training.random_batches(
        x, y, batch_size=32, generator=g), loss_fn, steps=200,
        schedule=lambda s: 0.1 if s < 100 else 0.05, grad_clip=10.0,
        evaluate=lambda: {"mse": F.mse_loss(model(x), y).item()},
        eval_every=50, monitor=lambda m: {"sesgo": m.bias.item()},
        progress=False)
    assert history.steps == list(range(1, 201))
    assert history.lr[0] == 0.1 and history.lr[-1] == 0.05
    assert history.eval_steps == [50, 100, 150, 200]
    assert history.mse[-1] < 1e-4                    # curva con nombre
    assert history.doble == [2 * v for v in history.loss]
    assert history.sesgo[-1] == pytest.approx(0.5, abs=1e-2)
    assert history.loss[-1] < 1e-3 * history.loss[0]
    assert not model.training
    with pytest.raises(AttributeError, match="curva 'nada'"):
        _ = history.nada


def test_history_curves_by_name() -> None:
    h = History(evals=[(10, {"a": 1.0}), (20, {"a": 2.0})],
                logs={"b": [3.0]})
    assert h.eval_steps == [10, 20] and h.a == [1.0, 2.0] and h.b == [3.0]


def test_fit_on_the_meta_device_mixes_no_devices() -> None:
    """Modelo en ``meta`` y datos en la CPU: si el bucle olvidara mover un
    lote o creara un tensor en la CPU, fallaría con «tensors on different
    devices» o «expected device meta». El único error permitido es leer
    la pérdida con ``.item()``, que en ``meta`` no tiene valor: llega
    después de ``optimizer.step()``, así que el paso entero ha corrido."""
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 3))
    x = torch.randn(16, 4)
    y = torch.randint(0, 3, (16,))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    with pytest.raises((RuntimeError, NotImplementedError)) as err:
        fit(model, opt, training.random_batches(x, y, batch_size=4),
            training.classification_loss, steps=1, grad_clip=1.0,
            schedule=lambda s: 1e-3, progress=False)
    assert "item" in str(err.value) and "meta" in str(err.value)
    assert len(opt.state) == 4                       # step() ya corrió


# --- capítulo 1: train_classifier -----------------------------------------

@torch.no_grad()
def _reference_accuracy(model, x, y, batch_size=1024):
    was_training = model.training
    model.eval()
    hits = 0
    for i in range(0, len(x), batch_size):
        logits = model(x[i:i + batch_size])
        hits += (logits.argmax(-1) == y[i:i + batch_size]).sum().item()
    model.train(was_training)
    return hits / len(x)


def _reference_classifier(model, x, y, *, steps, batch_size, lr, generator,
                          eval_data, eval_every):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses, evals = [], []
    model.train()
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(x), (batch_size,), generator=generator)
        logits = model(x[idx])
        loss = F.cross_entropy(logits, y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % eval_every == 0 or step == steps:
            evals.append((step, _reference_accuracy(model, *eval_data)))
    model.eval()
    return losses, evals


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 16), nn.GELU(), nn.Linear(16, 3))


def test_train_classifier_is_the_old_loop() -> None:
    g = _gen(1)
    x, y = torch.randn(64, 4, generator=g), torch.randint(0, 3, (64,),
                                                          generator=g)
    ref, new = _seeded(_mlp), _seeded(_mlp)
    kw = dict(steps=9, batch_size=8, lr=3e-2, eval_data=(x, y),
              eval_every=4)
    losses, evals = _reference_classifier(ref, x, y, generator=_gen(2),
                                          **kw)
    h = train_classifier(new, x, y, generator=_gen(2), progress=False, **kw)
    assert h.loss == losses and h.steps == list(range(1, 10))
    assert list(zip(h.eval_steps, h.eval_accuracy, strict=True)) == evals
    _assert_same_weights(ref, new)
    assert accuracy(new, x, y) == _reference_accuracy(ref, x, y)


# --- la sonda lineal (caps. 6 y 7) --------------------------------------

def test_linear_probe_reads_separable_features_and_checks_shapes() -> None:
    from course_lib.training import linear_probe

    g = torch.Generator().manual_seed(0)
    y = torch.arange(40) % 2
    x = torch.randn(40, 3, generator=g) + 4.0 * y[:, None]   # separables
    assert linear_probe(x[:30], y[:30], x[30:], y[30:]) == 1.0
    noise = torch.randn(40, 3, generator=g)                    # sin señal
    assert linear_probe(noise[:30], y[:30], noise[30:], y[30:]) < 1.0
    with pytest.raises(ValueError, match="misma D"):
        linear_probe(x[:30], y[:30], x[30:, :2], y[30:])


# --- capítulos 5 y 6: train_image_classifier y pretrain_mae ------------

def _ref_warmup_cosine(step, total, warmup):
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _reference_image_classifier(model, x, y, *, steps, batch_size, lr,
                                weight_decay=0.05, warmup=None,
                                schedule=True, max_shift=1,
                                label_smoothing=0.1, generator=None,
                                eval_data=None, eval_every=100,
                                parameters=None):
    from course_lib.images import random_shift

    params = list(model.parameters()) if parameters is None else parameters
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    warmup = max(1, steps // 10) if warmup is None else warmup
    losses, evals = [], []
    model.train()
    for step in range(steps):
        if schedule:
            for group in optimizer.param_groups:
                group["lr"] = lr * _ref_warmup_cosine(step, steps, warmup)
        idx = torch.randint(0, len(x), (batch_size,), generator=generator)
        xb = random_shift(x[idx], max_shift, generator=generator)
        logits = model(xb)
        loss = F.cross_entropy(logits, y[idx],
                               label_smoothing=label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if eval_data is not None and ((step + 1) % eval_every == 0
                                      or step + 1 == steps):
            evals.append((step + 1, _reference_accuracy(model, *eval_data)))
    model.eval()
    return losses, evals


@pytest.mark.parametrize("options", [
    {}, {"schedule": False, "max_shift": 0, "label_smoothing": 0.0},
    {"warmup": 3, "head_only": True}])
def test_train_image_classifier_is_the_old_loop(options) -> None:
    from course_lib.images import SmallCNN, train_image_classifier

    options = dict(options)
    g = _gen(3)
    x = torch.rand(40, 1, 8, 8, generator=g)
    y = torch.randint(0, 10, (40,), generator=g)
    ref = _seeded(lambda: SmallCNN(width=4))
    new = _seeded(lambda: SmallCNN(width=4))
    if options.pop("head_only", False):
        options_ref = {**options, "parameters": list(ref.head.parameters())}
        options_new = {**options, "parameters": list(new.head.parameters())}
    else:
        options_ref = options_new = options
    kw = dict(steps=8, batch_size=6, lr=1e-2, eval_data=(x, y),
              eval_every=3)
    losses, evals = _reference_image_classifier(
        ref, x, y, generator=_gen(4), **kw, **options_ref)
    h = train_image_classifier(new, x, y, generator=_gen(4), progress=False,
                               **kw, **options_new)
    assert h.loss == losses
    assert list(zip(h.eval_steps, h.eval_accuracy, strict=True)) == evals
    _assert_same_weights(ref, new)


def _reference_mae(model, x, *, steps, batch_size, lr, weight_decay=0.05,
                   warmup=None, max_shift=1, mask_ratio=None,
                   generator=None):
    from course_lib.images import random_shift

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95),
                                  weight_decay=weight_decay)
    warmup = max(1, steps // 10) if warmup is None else warmup
    losses = []
    model.train()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr * _ref_warmup_cosine(step, steps, warmup)
        idx = torch.randint(0, len(x), (batch_size,), generator=generator)
        xb = random_shift(x[idx.to(x.device)], max_shift,
                          generator=generator)
        loss = model(xb, mask_ratio=mask_ratio, generator=generator).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses


def test_pretrain_mae_is_the_old_loop() -> None:
    from course_lib.mae import MAE, MAEConfig, pretrain_mae

    x = torch.rand(24, 1, 8, 8, generator=_gen(5))
    ref = _seeded(lambda: MAE(MAEConfig()))
    new = _seeded(lambda: MAE(MAEConfig()))
    kw = dict(steps=7, batch_size=8, lr=3e-3, warmup=2, mask_ratio=0.5)
    losses = _reference_mae(ref, x, generator=_gen(6), **kw)
    assert pretrain_mae(new, x, generator=_gen(6), progress=False,
                        **kw) == losses
    _assert_same_weights(ref, new)


# --- capítulo 2: train_seq2seq ------------------------------------------

def _reference_seq2seq(model, src, labels, *, steps, batch_size, lr, warmup,
                       generator):
    from course_lib.transformer import sequence_loss, shift_right

    c = model.config
    optimizer = torch.optim.Adam(model.parameters(), lr=lr,
                                 betas=(0.9, 0.98))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / (warmup + 1))
        * 0.5 * (1 + math.cos(math.pi * s / steps)))
    device = next(model.parameters()).device
    losses = []
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(src), (batch_size,), generator=generator)
        y = labels[idx].to(device)
        logits = model(src[idx].to(device), shift_right(y, c.bos_id))
        loss = sequence_loss(logits, y, c.pad_id)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    model.eval()
    return losses


def test_train_seq2seq_is_the_old_loop() -> None:
    from course_lib.transformer import (
        Transformer,
        TransformerConfig,
        train_seq2seq,
    )

    def build() -> Transformer:
        return Transformer(TransformerConfig(
            src_vocab_size=13, tgt_vocab_size=20, hidden_size=32,
            num_attention_heads=4,
            intermediate_size=64, max_position_embeddings=12))
    g = _gen(7)
    src = torch.randint(3, 13, (32, 5), generator=g)
    labels = torch.cat([src, torch.full((32, 1), 2)], dim=1)
    ref, new = _seeded(build), _seeded(build)
    kw = dict(steps=8, batch_size=8, lr=3e-3, warmup=3)
    losses = _reference_seq2seq(ref, src, labels, generator=_gen(8), **kw)
    assert train_seq2seq(new, src, labels, generator=_gen(8),
                         progress=False, **kw) == losses
    _assert_same_weights(ref, new)


# --- capítulo 3: pretrain y finetune --------------------------------------

def _ref_linear_schedule(step, *, steps, warmup_steps):
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return (steps - step) / max(1, steps - warmup_steps)


def _reference_pretrain(model, data, nsp_labels, *, steps, batch_size, lr,
                        mask_token_id, special_token_ids,
                        warmup_fraction=0.1, weight_decay=0.01,
                        grad_clip=None, use_nsp=True, generator=None,
                        evaluate=None, eval_every=0):
    from course_lib.bert_training import INPUT_KEYS, pretraining_losses

    n = len(nsp_labels)
    warmup = int(steps * warmup_fraction)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr,
                                  weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: _ref_linear_schedule(s, steps=steps,
                                                  warmup_steps=warmup))
    mlm, nsp, lrs, evals = [], [], [], []
    model.train()
    for step in range(steps):
        idx = (step * batch_size + torch.arange(batch_size)) % n
        batch = {k: data[k][idx] for k in INPUT_KEYS}
        losses = pretraining_losses(
            model, batch, nsp_labels[idx], mask_token_id=mask_token_id,
            special_token_ids=special_token_ids, generator=generator)
        loss = losses.mlm + losses.nsp if use_nsp else losses.mlm
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
        mlm.append(losses.mlm.item())
        nsp.append(losses.nsp.item())
        if evaluate is not None and eval_every and (
                (step + 1) % eval_every == 0 or step + 1 == steps):
            evals.append((step + 1, evaluate()))
            model.train()
    model.eval()
    return mlm, nsp, lrs, evals


@pytest.mark.parametrize("options", [
    {}, {"grad_clip": 0.5, "use_nsp": False, "warmup_fraction": 0.0},
    {"eval_every": 3}])
def test_pretrain_is_the_old_loop(options) -> None:
    from course_lib.bert import BertForPreTraining
    from course_lib.bert_training import evaluate_pretraining, pretrain
    from tests.test_bert_training import MASKING, tiny_config, toy_data

    data = toy_data(24)
    nsp = torch.randint(2, (24,), generator=_gen(9))
    ref = _seeded(lambda: BertForPreTraining(tiny_config()))
    new = _seeded(lambda: BertForPreTraining(tiny_config()))

    def evaluator(model):
        return lambda: evaluate_pretraining(model, data, nsp, **MASKING)
    ev = "eval_every" in options
    kw = dict(steps=8, batch_size=5, lr=3e-3, **MASKING, **options)
    mlm, nsp_losses, lrs, evals = _reference_pretrain(
        ref, data, nsp, generator=_gen(10),
        evaluate=evaluator(ref) if ev else None, **kw)
    h = pretrain(new, data, nsp, generator=_gen(10), progress=False,
                 evaluate=evaluator(new) if ev else None, **kw)
    assert (h.mlm, h.nsp, h.lr, h.evals) == (mlm, nsp_losses, lrs, evals)
    _assert_same_weights(ref, new)


def _reference_finetune(model, data, labels, *, steps, batch_size, lr,
                        weight_decay=0.01, warmup_fraction=None,
                        generator=None):
    from course_lib.bert_training import INPUT_KEYS

    n = len(labels)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr,
                                  weight_decay=weight_decay)
    scheduler = None
    if warmup_fraction is not None:
        warmup = int(steps * warmup_fraction)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: _ref_linear_schedule(s, steps=steps,
                                                      warmup_steps=warmup))
    losses = []
    model.train()
    for _ in range(steps):
        idx = torch.randint(n, (batch_size,), generator=generator)
        logits = model(*[data[k][idx] for k in INPUT_KEYS])
        loss = F.cross_entropy(logits, labels[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.item())
    model.eval()
    return losses


@pytest.mark.parametrize("warmup_fraction", [None, 0.25])
def test_finetune_is_the_old_loop(warmup_fraction) -> None:
    from course_lib.bert import BertForSequenceClassification
    from course_lib.bert_training import finetune
    from tests.test_bert_training import tiny_config, toy_data

    data = toy_data(20)
    labels = torch.randint(2, (20,), generator=_gen(11))

    def build():
        return BertForSequenceClassification(tiny_config(), num_labels=2)
    ref, new = _seeded(build), _seeded(build)
    kw = dict(steps=8, batch_size=4, lr=1e-3,
              warmup_fraction=warmup_fraction)
    losses = _reference_finetune(ref, data, labels, generator=_gen(12), **kw)
    assert finetune(new, data, labels, generator=_gen(12), **kw) == losses
    _assert_same_weights(ref, new)


# --- capítulo 4: train_lm -----------------------------------------------

def _reference_lm(model, train_data, val_data, config, *, generator):
    from course_lib.lm_training import evaluate_loss, get_batch

    def learning_rate(step):
        if config.schedule == "constant":
            return config.lr
        if step < config.warmup_steps:
            return config.lr * (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(
            1, config.steps - 1 - config.warmup_steps)
        cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        return config.min_lr + (config.lr - config.min_lr) * cosine

    block_size = model.config.max_position_embeddings
    device = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([
        {"params": [p for p in params if p.dim() >= 2],
         "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ], lr=config.lr, betas=config.betas)
    losses, lrs, evals, tokens = [], [], [], 0
    model.train()
    for step in range(config.steps):
        lr = learning_rate(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = get_batch(train_data, block_size, config.batch_size,
                         generator=generator, device=device)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        losses.append(loss.item())
        lrs.append(lr)
        tokens += x.numel()
        if (step + 1) % config.eval_every == 0 or step + 1 == config.steps:
            evals.append((step + 1, [
                evaluate_loss(model, d, block_size,
                              max_tokens=config.eval_tokens)
                for d in (train_data, val_data)]))
    model.eval()
    return losses, lrs, evals, tokens


@pytest.mark.parametrize("options", [
    {}, {"schedule": "constant", "grad_clip": None}])
def test_train_lm_is_the_old_loop(options) -> None:
    from course_lib.gpt import GPT, GPTConfig
    from course_lib.lm_training import LMTrainConfig, train_lm

    data = torch.randint(0, 11, (300,), generator=_gen(13))
    train, val = data[:240], data[240:]
    config = GPTConfig(vocab_size=11, max_position_embeddings=8,
                       num_hidden_layers=1, num_attention_heads=2,
                       hidden_size=16)
    recipe = LMTrainConfig(steps=9, batch_size=4, lr=1e-2, min_lr=1e-3,
                           warmup_steps=3, eval_every=4, eval_tokens=32,
                           **options)
    ref = _seeded(lambda: GPT(config))
    new = _seeded(lambda: GPT(config))
    losses, lrs, evals, tokens = _reference_lm(ref, train, val, recipe,
                                               generator=_gen(14))
    h = train_lm(new, train, val, recipe, generator=_gen(14),
                 progress=False)
    assert (h.loss, h.lr, h.tokens_seen) == (losses, lrs, tokens)
    assert evals == [(s, [t, v]) for s, t, v in zip(
        h.eval_steps, h.train_loss, h.val_loss, strict=True)]
    _assert_same_weights(ref, new)


# --- capítulo 7: train_clip ---------------------------------------------

def _reference_clip(model, images, captions, *, steps, batch_size, lr,
                    weight_decay=0.05, generator=None):
    from course_lib.clip import contrastive_loss
    from course_lib.shapes import WordTokenizer

    ids, _ = WordTokenizer()(list(captions))
    decay = [p for n, p in model.named_parameters()
             if p.dim() >= 2 and "embedding" not in n]
    rest = [p for n, p in model.named_parameters()
            if not (p.dim() >= 2 and "embedding" not in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay},
         {"params": rest, "weight_decay": 0.0}], lr=lr)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(
        (s + 1) / warmup, 0.5 * (1 + math.cos(math.pi * s / steps))))
    losses, scales = [], []
    model.train()
    for _ in range(steps):
        idx = torch.randperm(len(images), generator=generator)[:batch_size]
        logits, _ = model(images[idx.to(images.device)],
                          ids[idx].to(images.device))
        loss = contrastive_loss(logits)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        scales.append(model.scale().item())
    model.eval()
    return losses, scales


def test_train_clip_is_the_old_loop() -> None:
    from course_lib import shapes
    from course_lib.clip import CLIP, CLIPConfig, train_clip

    cfg = CLIPConfig()
    vision = dataclasses.replace(cfg.vision, image_size=16, patch_size=8,
                                 hidden_size=32, intermediate_size=37)
    text = dataclasses.replace(cfg.text, hidden_size=32,
                               intermediate_size=37)
    cfg = dataclasses.replace(cfg, vision=vision, text=text,
                              projection_dim=16)
    data = shapes.make_caption_data(24, seed=0, image_size=16)
    ref = _seeded(lambda: CLIP(cfg))
    new = _seeded(lambda: CLIP(cfg))
    kw = dict(steps=12, batch_size=8, lr=3e-3)
    losses, scales = _reference_clip(ref, data.images, data.captions,
                                     generator=_gen(15), **kw)
    h = train_clip(new, data.images, data.captions, generator=_gen(15),
                   progress=False, **kw)
    assert (h.loss, h.scale) == (losses, scales)
    _assert_same_weights(ref, new)


# --- capítulo 8: train_qa y train_captioner -----------------------------

def _fusion_schedule(optimizer, steps):
    warmup = max(1, steps // 10)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(
        (s + 1) / warmup, 0.5 * (1 + math.cos(math.pi * s / steps))))


def _reference_qa(model, images, input_ids, lengths, answers, *, steps,
                  batch_size, lr, generator):
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr,
                                  weight_decay=0.01)
    schedule = _fusion_schedule(optimizer, steps)
    losses = []
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(images), (batch_size,),
                            generator=generator)
        T = int(lengths[idx].max())
        logits = model(images[idx], input_ids[idx, :T], lengths[idx])
        loss = F.cross_entropy(logits, answers[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    model.eval()
    return losses


def _reference_captioner(model, images, input_ids, *, steps, batch_size,
                         lr, generator):
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr,
                                  weight_decay=0.01)
    schedule = _fusion_schedule(optimizer, steps)
    losses = []
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(images), (batch_size,),
                            generator=generator)
        loss = model.loss(images[idx], input_ids[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    model.eval()
    return losses


def _small_fusion():
    from course_lib.fusion import FusionConfig

    return FusionConfig(hidden_size=16, num_attention_heads=2,
                        num_fusion_layers=1)


@pytest.mark.parametrize("kind", ["tardía", "atención cruzada"])
def test_train_qa_is_the_old_loop(kind) -> None:
    from course_lib import shapes
    from course_lib.fusion_qa import FUSION_MODELS, train_qa

    data = shapes.make_qa_data(12, seed=0, image_size=48)
    ids, lengths = shapes.WordTokenizer()(data.questions)
    ref = _seeded(lambda: FUSION_MODELS[kind](_small_fusion()))
    new = _seeded(lambda: FUSION_MODELS[kind](_small_fusion()))
    kw = dict(steps=7, batch_size=4, lr=3e-3)
    losses = _reference_qa(ref, data.images, ids, lengths, data.answers,
                           generator=_gen(16), **kw)
    assert train_qa(new, data.images, ids, lengths, data.answers,
                    generator=_gen(16), progress=False, **kw) == losses
    _assert_same_weights(ref, new)


def test_train_captioner_is_the_old_loop() -> None:
    from course_lib import shapes
    from course_lib.captioner import TinyCaptioner, train_captioner

    data = shapes.make_caption_data(12, seed=0, image_size=48)
    ids, _ = shapes.WordTokenizer()(data.captions)
    ref = _seeded(lambda: TinyCaptioner(_small_fusion()))
    new = _seeded(lambda: TinyCaptioner(_small_fusion()))
    kw = dict(steps=7, batch_size=4, lr=3e-3)
    losses = _reference_captioner(ref, data.images, ids,
                                  generator=_gen(17), **kw)
    assert train_captioner(new, data.images, ids, generator=_gen(17),
                           progress=False, **kw) == losses
    _assert_same_weights(ref, new)


def _on_meta(build):
    with torch.device("meta"):
        return build()


def _meta_runs():
    from course_lib import shapes
    from course_lib.captioner import TinyCaptioner, train_captioner
    from course_lib.fusion_qa import FUSION_MODELS, train_qa
    from course_lib.images import SmallCNN, train_image_classifier

    x, y = torch.rand(8, 1, 8, 8), torch.randint(0, 10, (8,))
    qa = shapes.make_qa_data(8, seed=0, image_size=48)
    q_ids, lengths = shapes.WordTokenizer()(qa.questions)
    cap = shapes.make_caption_data(8, seed=0, image_size=48)
    c_ids, _ = shapes.WordTokenizer()(cap.captions)
    kw = dict(steps=1, batch_size=4, progress=False)
    return {
        "cap. 1": lambda: train_classifier(
            _on_meta(_mlp), torch.randn(8, 4), y % 3, **kw),
        "caps. 5-7": lambda: train_image_classifier(
            _on_meta(lambda: SmallCNN(width=4)), x, y, **kw),
        "cap. 8, preguntas": lambda: train_qa(
            _on_meta(lambda: FUSION_MODELS["atención cruzada"](
                _small_fusion())), qa.images, q_ids, lengths, qa.answers,
            **kw),
        "cap. 8, subtítulos": lambda: train_captioner(
            _on_meta(lambda: TinyCaptioner(_small_fusion())), cap.images,
            c_ids, **kw),
    }


@pytest.mark.parametrize("chapter", ["cap. 1", "caps. 5-7",
                                     "cap. 8, preguntas",
                                     "cap. 8, subtítulos"])
def test_adapters_move_batches_to_the_model(chapter) -> None:
    """Los cuatro bucles que antes dejaban los lotes en la CPU: con el
    modelo en ``meta`` y los datos en la CPU, solo falla ``.item()``."""
    with pytest.raises((RuntimeError, NotImplementedError)) as err:
        _meta_runs()[chapter]()
    assert "item" in str(err.value) and "meta" in str(err.value)
