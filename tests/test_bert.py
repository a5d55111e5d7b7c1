"""Pruebas de course_lib.bert y course_lib.bert_data (capítulo 3).

Nivel 1: configuraciones diminutas frente a ``transformers`` con los pesos
copiados (``from_hf``, ``strict=True``). Nivel 2: invariantes (relleno,
regla 80/10/10, pesos atados, guardar y cargar). Sin red.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
import transformers
from torch.testing import assert_close

from course_lib.bert import (
    BertConfig,
    BertForPreTraining,
    BertForSequenceClassification,
    BertModel,
    convert_hf_state_dict,
    from_hf,
)
from course_lib.bert_data import (
    SPECIAL_TOKENS,
    apply_mlm_masking,
    build_inputs,
    encode,
    make_nsp_pairs,
    mask_tokens,
    quijote_parts,
    special_ids,
    split_blocks,
    split_sentences,
    train_wordpiece,
    word_chunks,
    wordpiece_split,
)
from course_lib.layers import count_parameters

TOL = {"rtol": 1e-5, "atol": 1e-5}
SPECIAL = [0, 1, 2, 3, 4]       # [PAD] [UNK] [CLS] [SEP] [MASK]


def _hf_config(**changes: object) -> transformers.BertConfig:
    base = dict(vocab_size=50, hidden_size=32, num_hidden_layers=2,
                num_attention_heads=4, intermediate_size=37,
                max_position_embeddings=16, type_vocab_size=2,
                pad_token_id=0)
    base.update(changes)
    return transformers.BertConfig(**base)


@torch.no_grad()
def _randomize(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Pesos grandes y variados: con la inicialización de HF (std 0,02)
    las activaciones son tan pequeñas que GELU exacta y tanh coinciden a
    1e-6 y un error de fórmula podría pasar inadvertido."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        noise = torch.randn(p.shape, generator=g)
        if "LayerNorm.weight" in name:
            p.copy_(1.0 + 0.2 * noise)
        else:
            p.copy_(0.3 * noise)
    return model.eval()


def _inputs(B: int = 3, T: int = 10, V: int = 50
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, V, (B, T), generator=g)
    types = torch.zeros(B, T, dtype=torch.long)
    types[:, T // 2:] = 1
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, 6:] = 0                      # relleno al final
    mask[2, 3:] = 0
    ids[mask == 0] = 0
    return ids, types, mask


def _tiny(**changes: object) -> BertConfig:
    base = dict(vocab_size=50, max_position_embeddings=16,
                num_hidden_layers=2, num_attention_heads=4, hidden_size=32,
                intermediate_size=37, dropout=0.0, attention_dropout=0.0)
    base.update(changes)
    return BertConfig(**base)


# --- nivel 1: igual que transformers -----------------------------------

def test_pretraining_matches_transformers() -> None:
    ref = _randomize(transformers.BertForPreTraining(_hf_config()), 0)
    ours = from_hf(ref)
    assert isinstance(ours, BertForPreTraining) and not ours.training
    ids, types, mask = _inputs()
    with torch.no_grad():
        expected = ref(input_ids=ids, token_type_ids=types,
                       attention_mask=mask)
        got = ours(ids, types, mask)
    assert_close(got.mlm_logits, expected.prediction_logits, **TOL)
    assert_close(got.nsp_logits, expected.seq_relationship_logits, **TOL)


def test_bert_model_matches_transformers_with_padding() -> None:
    ref = _randomize(transformers.BertModel(_hf_config()), 1)
    ours = from_hf(ref)
    assert isinstance(ours, BertModel)
    ids, types, mask = _inputs()
    with torch.no_grad():
        expected = ref(input_ids=ids, token_type_ids=types,
                       attention_mask=mask)
        got = ours(ids, types, mask)
    assert_close(got.last_hidden_state, expected.last_hidden_state, **TOL)
    assert_close(got.pooler_output, expected.pooler_output, **TOL)
    assert len(got.attentions) == 2
    assert got.attentions[0].shape == (3, 4, 10, 10)
    # el relleno no recibe atención
    assert got.attentions[0][2, :, :, 3:].abs().max() == 0


def test_bert_model_attentions_match_eager_transformers() -> None:
    config = _hf_config()
    config._attn_implementation = "eager"
    ref = _randomize(transformers.BertModel(config), 2)
    ours = from_hf(ref)
    ids, types, mask = _inputs()
    with torch.no_grad():
        expected = ref(input_ids=ids, token_type_ids=types,
                       attention_mask=mask, output_attentions=True)
        got = ours(ids, types, mask)
    for a, b in zip(got.attentions, expected.attentions, strict=True):
        assert_close(a, b, **TOL)


def test_sequence_classification_matches_transformers() -> None:
    ref = _randomize(transformers.BertForSequenceClassification(
        _hf_config(num_labels=3)), 3)
    ours = from_hf(ref)
    assert isinstance(ours, BertForSequenceClassification)
    ids, types, mask = _inputs()
    with torch.no_grad():
        expected = ref(input_ids=ids, token_type_ids=types,
                       attention_mask=mask).logits
        assert_close(ours(ids, types, mask), expected, **TOL)


def test_config_numerics_come_from_the_checkpoint() -> None:
    ours = from_hf(transformers.BertModel(_hf_config()).eval())
    assert ours.config.layer_norm_eps == 1e-12
    assert ours.config.hidden_act == "gelu"
    norms = [m for m in ours.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert norms and all(m.eps == 1e-12 for m in norms)
    assert BertConfig().layer_norm_eps == 1e-12


def test_exact_gelu_matters() -> None:
    # Con GELU tanh la salida cambia: la prueba detectaría el error.
    ref = _randomize(transformers.BertModel(_hf_config()), 4)
    ours = from_hf(ref)
    wrong = BertModel(dataclasses.replace(ours.config, hidden_act="gelu_tanh"))
    wrong.load_state_dict(ours.state_dict())
    wrong.eval()
    ids, types, mask = _inputs()
    with torch.no_grad():
        diff = (wrong(ids, types, mask).last_hidden_state
                - ours(ids, types, mask).last_hidden_state).abs().max()
    assert diff > 1e-5


def test_unsupported_checkpoints_are_rejected() -> None:
    with pytest.raises(ValueError, match="hidden_act"):
        from_hf(transformers.BertModel(_hf_config(hidden_act="relu")))
    with pytest.raises(TypeError, match="from_hf admite"):
        from_hf(transformers.BertForMaskedLM(_hf_config()))


def test_convert_old_key_names_and_tied_decoder() -> None:
    torch.manual_seed(5)
    ref = transformers.BertForPreTraining(_hf_config()).eval()
    state = {k.replace("LayerNorm.weight", "LayerNorm.gamma")
             .replace("LayerNorm.bias", "LayerNorm.beta"): v
             for k, v in ref.state_dict().items()}
    state["bert.embeddings.position_ids"] = torch.arange(16)[None]
    converted = convert_hf_state_dict(state)
    assert not any("gamma" in k or "decoder" in k or "position_ids" in k
                   for k in converted)
    ours = BertForPreTraining(BertConfig.from_hf_config(ref.config))
    ours.load_state_dict(converted, strict=True)
    # un decodificador desatado no se puede representar: error claro
    state["cls.predictions.decoder.weight"] = torch.zeros(50, 32)
    with pytest.raises(ValueError, match="no está atado"):
        convert_hf_state_dict(state)


def test_strict_load_reports_missing_keys() -> None:
    ref = transformers.BertModel(_hf_config())
    state = convert_hf_state_dict(ref.state_dict())
    del state["pooler.dense.weight"]
    ours = BertModel(BertConfig.from_hf_config(ref.config))
    with pytest.raises(RuntimeError, match="pooler.dense.weight"):
        ours.load_state_dict(state, strict=True)


def test_state_dict_keys_are_the_checkpoint_keys() -> None:
    ref = transformers.BertForPreTraining(_hf_config())
    expected = set(convert_hf_state_dict(ref.state_dict()))
    assert set(BertForPreTraining(_tiny()).state_dict()) == expected


# --- nivel 2: invariantes ----------------------------------------------

def test_padding_does_not_change_real_positions() -> None:
    torch.manual_seed(6)
    model = BertForPreTraining(_tiny()).eval()
    ids = torch.randint(5, 50, (1, 7))
    types = torch.tensor([[0, 0, 0, 0, 1, 1, 1]])
    padded = torch.cat([ids, torch.randint(0, 50, (1, 5))], dim=1)
    padded_types = torch.cat([types, torch.zeros(1, 5, dtype=torch.long)],
                             dim=1)
    mask = torch.tensor([[1] * 7 + [0] * 5])
    with torch.no_grad():
        short = model(ids, types)
        long = model(padded, padded_types, mask)
    assert_close(long.mlm_logits[:, :7], short.mlm_logits, **TOL)
    assert_close(long.nsp_logits, short.nsp_logits, **TOL)


def test_bidirectional_context() -> None:
    # A diferencia de GPT, cambiar un token futuro cambia el pasado.
    torch.manual_seed(7)
    model = BertModel(_tiny()).eval()
    ids = torch.randint(5, 50, (1, 6))
    changed = ids.clone()
    changed[0, -1] = (ids[0, -1] + 1 - 5) % 45 + 5
    with torch.no_grad():
        a = model(ids).last_hidden_state[0, 0]
        b = model(changed).last_hidden_state[0, 0]
    assert (a - b).abs().max() > 1e-4


def test_mlm_decoder_is_tied_to_word_embeddings() -> None:
    model = BertForPreTraining(_tiny()).eval()
    emb = model.bert.embeddings.word_embeddings.weight
    state = model.state_dict()
    assert "cls.predictions.bias" in state
    assert not any("decoder" in k for k in state)   # una sola matriz E
    assert count_parameters(model) == sum(v.numel()
                                          for v in state.values())
    ids = torch.randint(8, 50, (1, 4))
    with torch.no_grad():
        before = model(ids).mlm_logits
        emb[7] += torch.randn(emb.shape[1])     # cambia la fila del id 7
        after = model(ids).mlm_logits
    changed = (after - before).abs().amax(dim=(0, 1))   # (V,)
    assert changed[7] > 1e-3 and changed[8:].max() < 1e-6


def test_mlm_logits_on_selected_positions_match_full() -> None:
    model = BertForPreTraining(_tiny()).eval()
    ids, types, mask = _inputs()
    with torch.no_grad():
        out = model(ids, types, mask)
        hidden = model.bert(ids, types, mask).last_hidden_state
        sel = mask.bool()
        assert_close(model.mlm_logits(hidden[sel]), out.mlm_logits[sel])


def test_save_and_load_give_the_same_output(tmp_path) -> None:
    model = BertForSequenceClassification(_tiny(), num_labels=2).eval()
    torch.save(model.state_dict(), tmp_path / "m.pt")
    other = BertForSequenceClassification(_tiny(), num_labels=2).eval()
    other.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True),
                          strict=True)
    ids, types, mask = _inputs()
    with torch.no_grad():
        assert torch.equal(model(ids, types, mask), other(ids, types, mask))


def test_training_reduces_the_loss() -> None:
    torch.manual_seed(8)
    model = BertForPreTraining(_tiny())
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    ids = torch.randint(5, 50, (8, 12))
    labels = torch.randint(0, 2, (8,))
    losses = []
    for _ in range(30):
        out = model(ids)
        loss = (torch.nn.functional.cross_entropy(
            out.mlm_logits.flatten(0, 1), ids.flatten())
            + torch.nn.functional.cross_entropy(out.nsp_logits, labels))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# --- la regla 80/10/10 -------------------------------------------------

def _mask_batch(seed: int = 0, B: int = 2000, T: int = 50
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 1000, (B, T), generator=g)
    ids[:, 0] = 2
    lengths = torch.randint(10, T, (B,), generator=g)
    for row, n in enumerate(lengths.tolist()):
        ids[row, n - 1] = 3
        ids[row, n:] = 0
    inputs, labels = mask_tokens(ids, mask_token_id=4, vocab_size=1000,
                                 special_token_ids=SPECIAL, generator=g)
    return ids, inputs, labels


def test_mask_tokens_statistics() -> None:
    ids, inputs, labels = _mask_batch()
    normal = ids >= 5
    chosen = labels != -100
    rate = chosen.sum() / normal.sum()
    assert abs(rate.item() - 0.15) < 0.005
    n = chosen.sum().item()
    masked = (inputs == 4) & chosen
    unchanged = (inputs == ids) & chosen
    random_ = chosen & ~masked & ~unchanged
    assert abs(masked.sum().item() / n - 0.8) < 0.015
    # un «aleatorio» puede coincidir con el original (1 entre 995)
    assert abs(unchanged.sum().item() / n - 0.1) < 0.012
    assert abs(random_.sum().item() / n - 0.1) < 0.012


def test_mask_tokens_never_touches_special_or_padding() -> None:
    for seed in range(5):
        ids, inputs, labels = _mask_batch(seed)
        special = ids < 5
        assert (labels[special] == -100).all()
        assert torch.equal(inputs[special], ids[special])
        assert (inputs[~special] >= 4).all()     # azar: nunca especiales
        chosen = labels != -100
        assert torch.equal(labels[chosen], ids[chosen])
        assert (inputs[~chosen] == ids[~chosen]).all()


def test_mask_tokens_is_reproducible_and_does_not_mutate() -> None:
    ids = torch.randint(5, 100, (4, 20))
    copy = ids.clone()
    kwargs = dict(mask_token_id=4, vocab_size=100, special_token_ids=SPECIAL)
    a = mask_tokens(ids, generator=torch.Generator().manual_seed(3),
                    **kwargs)
    b = mask_tokens(ids, generator=torch.Generator().manual_seed(3),
                    **kwargs)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert torch.equal(ids, copy)


def test_apply_mlm_masking_by_hand() -> None:
    ids = torch.tensor([[2, 10, 11, 12, 13, 3, 0]])
    choose = torch.tensor([[0.0, 0.1, 0.1, 0.1, 0.5, 0.0, 0.0]])
    kind = torch.tensor([[0.0, 0.5, 0.85, 0.95, 0.0, 0.0, 0.0]])
    rand = torch.full_like(ids, 42)
    inputs, labels = apply_mlm_masking(
        ids, choose, kind, rand, mask_token_id=4, is_special=ids < 5)
    assert inputs.tolist() == [[2, 4, 42, 12, 13, 3, 0]]
    assert labels.tolist() == [[-100, 10, 11, 12, -100, -100, -100]]


def test_mask_tokens_errors_in_spanish() -> None:
    ids = torch.randint(5, 100, (2, 5))
    kw = dict(mask_token_id=4, vocab_size=100, special_token_ids=SPECIAL)
    with pytest.raises(TypeError, match="tensor de enteros"):
        mask_tokens(ids.float(), **kw)
    with pytest.raises(ValueError, match="mlm_probability"):
        mask_tokens(ids, mlm_probability=1.5, **kw)
    with pytest.raises(ValueError, match="especiales"):
        mask_tokens(ids, mask_token_id=7, vocab_size=100,
                    special_token_ids=SPECIAL)
    with pytest.raises(ValueError, match="fuera del vocabulario"):
        mask_tokens(ids + 100, **kw)


# --- errores claros ----------------------------------------------------

def test_config_validation() -> None:
    with pytest.raises(ValueError, match="no es múltiplo"):
        BertConfig(hidden_size=30, num_attention_heads=4)
    with pytest.raises(ValueError, match="hidden_act"):
        BertConfig(hidden_act="quick")
    with pytest.raises(ValueError, match="preset desconocido"):
        BertConfig.preset("enorme")
    assert BertConfig.preset("bert-base").hidden_size == 768
    with pytest.raises(TypeError, match="no tiene los campos"):
        BertConfig.preset("cpu", n_embd=64)    # el nombre antiguo
    with pytest.raises(dataclasses.FrozenInstanceError):
        BertConfig().num_hidden_layers = 3


def test_forward_input_errors_in_spanish() -> None:
    model = BertModel(_tiny())
    ids = torch.randint(5, 50, (2, 6))
    with pytest.raises(TypeError, match=r"enteros \(B, T\).*float32"):
        model(ids.float())
    with pytest.raises(ValueError, match="enteros"):
        model(ids[0])
    with pytest.raises(ValueError, match="como máximo 16"):
        model(torch.randint(5, 50, (1, 17)))
    with pytest.raises(ValueError, match="fuera del vocabulario"):
        model(ids + 50)
    with pytest.raises(ValueError, match="token_type_ids"):
        model(ids, torch.full_like(ids, 2))
    with pytest.raises(ValueError, match="attention_mask"):
        model(ids, None, torch.ones(2, 5, dtype=torch.long))
    with pytest.raises(TypeError, match="attention_mask"):
        model(ids, None, torch.ones(2, 6))
    with pytest.raises(ValueError, match="al menos un token real"):
        model(ids, None, torch.tensor([[1] * 6, [0] * 6]))
    with pytest.raises(ValueError, match="num_labels"):
        BertForSequenceClassification(_tiny(), num_labels=0)


# --- datos --------------------------------------------------------------

@pytest.fixture(scope="module")
def tokenizer():
    text = ("En un lugar de la Mancha, de cuyo nombre no quiero acordarme, "
            "no ha mucho tiempo que vivía un hidalgo. ") * 20
    return train_wordpiece([text], vocab_size=120)


def test_tokenizer_special_tokens_and_template(tokenizer) -> None:
    assert special_ids(tokenizer) == {t: i for i, t in
                                      enumerate(SPECIAL_TOKENS)}
    enc = tokenizer.encode("un hidalgo", "la mancha")
    assert enc.tokens[0] == "[CLS]" and enc.tokens[-1] == "[SEP]"
    assert enc.type_ids[0] == 0 and enc.type_ids[-1] == 1
    pieces = wordpiece_split(tokenizer, "hidalguía")
    assert len(pieces) > 1 and pieces[1].startswith("##")


def test_encode_and_build_inputs(tokenizer) -> None:
    batch = encode(tokenizer, ["un hidalgo", "en un lugar de la mancha"],
                   max_len=8)
    assert batch["input_ids"].shape == (2, 8)
    assert batch["attention_mask"][0].tolist()[-1] == 0
    out = build_inputs([[10, 11, 12, 13, 14]], [[20, 21]], max_len=7,
                       cls_id=2, sep_id=3, pad_id=0)
    assert out["input_ids"].tolist() == [[2, 10, 11, 3, 20, 21, 3]]
    assert out["token_type_ids"].tolist() == [[0, 0, 0, 0, 1, 1, 1]]
    with pytest.raises(ValueError, match="misma longitud"):
        build_inputs([[1]], [], max_len=5, cls_id=2, sep_id=3, pad_id=0)


def test_nsp_pairs_are_half_consecutive() -> None:
    sentences = [f"frase {i}" for i in range(200)]
    a, b, labels = make_nsp_pairs(
        sentences, n_pairs=4000, generator=torch.Generator().manual_seed(0))
    assert abs(labels.float().mean().item() - 0.5) < 0.03
    for x, y, label in zip(a, b, labels.tolist(), strict=True):
        i, j = int(x.split()[1]), int(y.split()[1])
        assert (j == i + 1) == (label == 0)


def test_quijote_parts_and_blocks() -> None:
    first, second = quijote_parts()
    assert first.startswith("Primera parte")
    assert second.startswith("Segunda parte del ingenioso caballero")
    train, test = split_blocks(first)
    assert 0.05 < len(test) / len(first) < 0.15
    assert "En un lugar de la Mancha" in train
    sentences = split_sentences(test)
    assert all(len(s.split()) >= 3 for s in sentences)
    assert len(word_chunks("a b c d e f g", n_words=3)) == 2
    with pytest.raises(ValueError, match="Segunda parte"):
        quijote_parts("sin segunda parte")


def test_stored_vocabulary_tokenizes_like_the_trained_one() -> None:
    from course_lib import bert_data

    texts = ["En un lugar de la Mancha, de cuyo nombre no quiero "
             "acordarme", "Sancho Panza, escudero de don Quijote"] * 50
    trained = bert_data.train_wordpiece(texts, vocab_size=120)
    vocab = bert_data.canonical_vocab(trained)
    loaded = bert_data.wordpiece_from_vocab(vocab)
    for a, b in [("no quiero acordarme", "de la Mancha"),
                 ("Rocinante", None), ("En un lugar de la [MASK]", None),
                 ("[CLS] Sancho [SEP] [PAD]", "[UNK] Panza")]:
        assert trained.encode(a, b).tokens == loaded.encode(a, b).tokens
    assert bert_data.canonical_vocab(loaded) == vocab   # orden fijo
    assert bert_data.special_ids(loaded)["[MASK]"] == 4
    with pytest.raises(ValueError, match="empezar por"):
        bert_data.wordpiece_from_vocab(vocab[1:])
    with pytest.raises(ValueError, match="repetidos"):
        bert_data.wordpiece_from_vocab(vocab + [vocab[-1]])


def test_save_vocab_round_trip(tmp_path) -> None:
    from course_lib import bert_data

    texts = ["el caballero de la triste figura"] * 20
    trained = bert_data.train_wordpiece(texts, vocab_size=60)
    saved = bert_data.save_vocab(trained, tmp_path / "vocab.txt")
    loaded = bert_data.quijote_wordpiece(tmp_path / "vocab.txt")
    assert bert_data.canonical_vocab(loaded) == saved
    for text in ("la triste figura", "la [MASK] figura"):
        assert loaded.encode(text).tokens == trained.encode(text).tokens
    assert "[MASK]" in loaded.encode("la [MASK] figura").tokens
    with pytest.raises(FileNotFoundError, match="regenéralo"):
        bert_data.quijote_wordpiece(tmp_path / "no_existe.txt")


def test_book_vocabulary_is_the_quijote_wordpiece() -> None:
    """El vocabulario guardado en el paquete: 4000 tokens en orden
    canónico, con los especiales primero, y cubre el Quijote (casi ningún
    [UNK] en el texto de prueba, que el tokenizador nunca vio)."""
    from course_lib import bert_data

    tokenizer = bert_data.quijote_wordpiece()
    vocab = bert_data.canonical_vocab(tokenizer)
    stored = bert_data.QUIJOTE_VOCAB.read_text(encoding="utf-8")
    assert stored.splitlines() == vocab
    assert len(vocab) == 4000
    assert {"caballero", "sancho", "dulcinea", "##mente"} <= set(vocab)
    _, test = bert_data.split_blocks(bert_data.quijote_parts()[0])
    ids = bert_data.tokenize(tokenizer, bert_data.split_sentences(test))
    n_tokens = sum(map(len, ids))
    n_unk = sum(row.count(bert_data.special_ids(tokenizer)["[UNK]"])
                for row in ids)
    assert n_unk / n_tokens < 1e-3
