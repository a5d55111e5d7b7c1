"""Batería de llamadas erróneas a la API pública de ``course_lib``.

Cada caso comprueba el tipo de la excepción (``TypeError`` para un tipo
equivocado: una lista en lugar de un tensor, un ``str`` en lugar de una
lista, un dtype que no toca; ``ValueError`` para forma, tamaño, rango,
vacío o cero) y que el mensaje esté en castellano y nombre lo esperado.
Al final, las llamadas que antes devolvían un resultado erróneo sin avisar.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from functools import cache

import pytest
import torch
import transformers

from course_lib import (
    attention,
    bert,
    bert_data,
    bert_quijote,
    bert_tasks,
    bert_training,
    captioner,
    char_tokenizer,
    clip,
    fusion,
    fusion_qa,
    gpt,
    hub,
    images,
    layers,
    lm_training,
    mae,
    numbers_es,
    patches,
    shapes,
    toy_tasks,
    training,
    transformer,
    utils,
    vit,
    viz,
)

# Palabras que solo aparecen en un mensaje en castellano que dice lo que
# se esperaba o lo que se recibió.
SPANISH = re.compile(r"debe|se esperaba|se recibi|fuera de|necesita|admite"
                     r"|vac[ií]o|máximo|espera |no tapa|no hay|deben")


# --- modelos diminutos (dim 32, 2 capas), construidos una vez ------------

@cache
def _gpt() -> gpt.GPT:
    torch.manual_seed(0)
    return gpt.GPT(gpt.GPTConfig(vocab_size=11, max_position_embeddings=16,
                                 num_hidden_layers=2,
                                 num_attention_heads=4, hidden_size=32)).eval()


@cache
def _seq2seq() -> transformer.Transformer:
    torch.manual_seed(0)
    return transformer.Transformer(transformer.TransformerConfig(
        src_vocab_size=13, tgt_vocab_size=20, hidden_size=32,
        num_attention_heads=4,
        num_encoder_layers=2, num_decoder_layers=2, intermediate_size=64,
        max_position_embeddings=12)).eval()


BERT_CFG = bert.BertConfig(vocab_size=50, max_position_embeddings=16,
                           num_hidden_layers=2, num_attention_heads=4,
                           hidden_size=32, intermediate_size=64)


@cache
def _bert() -> bert.BertForPreTraining:
    torch.manual_seed(0)
    return bert.BertForPreTraining(BERT_CFG).eval()


@cache
def _bert_cls() -> bert.BertForSequenceClassification:
    torch.manual_seed(0)
    return bert.BertForSequenceClassification(BERT_CFG, 3).eval()


@cache
def _vit() -> vit.ViT:
    torch.manual_seed(0)
    return vit.ViT(vit.ViTConfig.preset("tiny")).eval()


@cache
def _mae() -> mae.MAE:
    torch.manual_seed(0)
    enc = vit.ViTConfig(hidden_size=32, num_hidden_layers=2, num_labels=0)
    return mae.MAE(mae.MAEConfig(encoder=enc)).eval()


@cache
def _clip() -> clip.CLIP:
    cfg = clip.CLIPConfig()
    vision = dataclasses.replace(cfg.vision, image_size=16, patch_size=8,
                                 hidden_size=32, intermediate_size=37)
    text = dataclasses.replace(cfg.text, hidden_size=32,
                               intermediate_size=37)
    torch.manual_seed(0)
    return clip.CLIP(dataclasses.replace(cfg, vision=vision, text=text,
                                         projection_dim=16)).eval()


FUSION_CFG = fusion.FusionConfig(hidden_size=32, num_attention_heads=4,
                                 num_fusion_layers=1)


@cache
def _fusion(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return fusion_qa.FUSION_MODELS[name](FUSION_CFG).eval()


@cache
def _captioner() -> captioner.TinyCaptioner:
    torch.manual_seed(0)
    return captioner.TinyCaptioner(FUSION_CFG).eval()


@cache
def _hf_bert() -> torch.nn.Module:
    return transformers.BertModel(transformers.BertConfig(
        vocab_size=99, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=37))


@cache
def _hf_gpt2() -> torch.nn.Module:
    return transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=99, n_positions=16, n_embd=32, n_layer=2, n_head=4))


@cache
def _wordpiece():
    return bert_data.quijote_wordpiece()


def _ids(B: int, T: int, V: int) -> torch.Tensor:
    return torch.randint(3, V, (B, T), generator=torch.Generator()
                         .manual_seed(0))


def _pixels(B: int = 2, C: int = 1, S: int = 8) -> torch.Tensor:
    return torch.rand(B, C, S, S, generator=torch.Generator()
                      .manual_seed(0))


def _qa_batch(B: int = 2):
    data = shapes.make_qa_data(B, seed=0, image_size=48)
    ids, lengths = shapes.WordTokenizer()(data.questions)
    return data.images, ids, lengths


def _bert_data(n: int = 4) -> dict[str, torch.Tensor]:
    ids = _ids(n, 8, 50)
    return {"input_ids": ids, "token_type_ids": torch.zeros_like(ids),
            "attention_mask": torch.ones_like(ids)}


MASKING = dict(mask_token_id=4, special_token_ids=[0, 1, 2, 3, 4])
TE, VE = TypeError, ValueError
L = [[1, 2, 3], [4, 5, 6]]                  # una lista donde va un tensor


# --- la batería: (nombre, llamada, excepción, palabras del mensaje) ------

CASES: list[tuple[str, Callable[[], object], type, tuple[str, ...]]] = [
    # attention
    ("sdpa-list", lambda: attention.scaled_dot_product_attention(
        L, L, L), TE, ("q", "list")),
    ("sdpa-int", lambda: attention.scaled_dot_product_attention(
        *(torch.ones(1, 2, 4, dtype=torch.long),) * 3), TE, ("flotante",)),
    ("split-heads-list", lambda: attention.split_heads(L, 2), TE,
     ("x", "list")),
    ("split-heads-2d", lambda: attention.split_heads(torch.rand(3, 8), 2),
     VE, ("(B, T, C)", "(3, 8)")),
    ("split-heads-indivisible", lambda: attention.split_heads(
        torch.rand(1, 3, 8), 3), VE, ("n_head=3",)),
    ("split-heads-zero", lambda: attention.split_heads(
        torch.rand(1, 3, 8), 0), VE, ("n_head",)),
    ("split-heads-float-n", lambda: attention.split_heads(
        torch.rand(1, 3, 8), 2.0), TE, ("n_head", "entero")),
    ("merge-heads-3d", lambda: attention.merge_heads(torch.rand(2, 3, 8)),
     VE, ("(B, H, T, D)",)),
    ("merge-heads-list", lambda: attention.merge_heads(L), TE, ("list",)),
    ("padding-mask-list", lambda: attention.padding_mask([1, 2], 3), TE,
     ("lengths", "list")),
    ("padding-mask-float", lambda: attention.padding_mask(
        torch.tensor([1.0]), 3), TE, ("lengths", "enteros")),
    ("padding-mask-2d", lambda: attention.padding_mask(
        torch.ones(2, 2, dtype=torch.long), 3), VE, ("(B,)",)),
    ("padding-mask-range", lambda: attention.padding_mask(
        torch.tensor([4]), 3), VE, ("entre 1 y T=3",)),
    ("padding-mask-T0", lambda: attention.padding_mask(
        torch.tensor([1]), 0), VE, ("T",)),
    ("causal-mask-0", lambda: attention.causal_mask(0), VE, ("T",)),
    ("mha-n-head-0", lambda: attention.MultiHeadAttention(8, 0), VE,
     ("n_head",)),
    ("mha-list", lambda: attention.MultiHeadAttention(8, 2)(L), TE,
     ("x", "list")),
    ("mha-shape", lambda: attention.MultiHeadAttention(8, 2)(
        torch.rand(2, 3, 6)), VE, ("(B, T, 8)",)),
    ("mha-bad-mask", lambda: attention.MultiHeadAttention(8, 2)(
        torch.rand(2, 3, 8), mask=torch.ones(3, 3)), TE, ("booleano",)),
    ("sinusoidal-odd", lambda: attention.sinusoidal_positions(4, 7), VE,
     ("par",)),
    # transformer
    ("cfg-n-head-0",
     lambda: transformer.TransformerConfig(num_attention_heads=0), VE,
     ("n_head",)),
    ("cfg-bos-outside", lambda: transformer.TransformerConfig(bos_id=13),
     VE, ("bos_id",)),
    ("seq2seq-list-src", lambda: _seq2seq()(L, _ids(2, 3, 20)), TE,
     ("src", "list")),
    ("seq2seq-list-tgt", lambda: _seq2seq()(_ids(2, 3, 13), L), TE,
     ("tgt", "list")),
    ("seq2seq-float-src", lambda: _seq2seq()(
        _ids(2, 3, 13).float(), _ids(2, 3, 20)), TE, ("src", "enteros")),
    ("seq2seq-1d", lambda: _seq2seq()(_ids(1, 3, 13)[0], _ids(1, 3, 20)),
     VE, ("src", "(B, T)")),
    ("seq2seq-src-range", lambda: _seq2seq()(
        _ids(2, 3, 13) + 13, _ids(2, 3, 20)), VE, ("src",
                                                   "fuera del vocabulario")),
    ("seq2seq-tgt-range", lambda: _seq2seq()(
        _ids(2, 3, 13), _ids(2, 3, 20) + 20), VE, ("tgt", "vocabulario")),
    ("seq2seq-too-long", lambda: _seq2seq()(
        _ids(2, 13, 13), _ids(2, 3, 20)), VE, ("max_position_embeddings=12",)),
    ("seq2seq-batch", lambda: _seq2seq()(_ids(2, 3, 13), _ids(3, 3, 20)),
     VE, ("mismo lote",)),
    ("greedy-list", lambda: _seq2seq().greedy_decode(L, 5), TE,
     ("src", "list")),
    ("greedy-range", lambda: _seq2seq().greedy_decode(
        _ids(2, 3, 13) + 20, 5), VE, ("src", "vocabulario")),
    ("greedy-max-len", lambda: _seq2seq().greedy_decode(
        _ids(2, 3, 13), 0), VE, ("max_len",)),
    ("encode-list", lambda: _seq2seq().encode(L), TE, ("src",)),
    ("decode-memory-list", lambda: _seq2seq().decode(
        _ids(2, 3, 20), L, None), TE, ("memory", "list")),
    ("shift-right-list", lambda: transformer.shift_right(L, 1), TE,
     ("labels", "list")),
    ("shift-right-1d", lambda: transformer.shift_right(
        torch.tensor([3, 4, 5]), 1), VE, ("labels", "(B, T)")),
    ("shift-right-float", lambda: transformer.shift_right(
        torch.rand(2, 3), 1), TE, ("enteros",)),
    ("decoder-mask-1d", lambda: transformer.decoder_mask(
        torch.tensor([3, 4]), 0), VE, ("tgt", "(B, T)")),
    ("seq-loss-shape", lambda: transformer.sequence_loss(
        torch.rand(2, 6, 20), _ids(2, 5, 20), 0), VE,
     ("labels", "(2, 6)")),
    ("seq-loss-float", lambda: transformer.sequence_loss(
        torch.rand(2, 6, 20), torch.rand(2, 6), 0), TE,
     ("labels", "enteros")),
    ("seq-loss-range", lambda: transformer.sequence_loss(
        torch.rand(2, 6, 20), _ids(2, 6, 20) + 20, 0), VE,
     ("labels", "fuera de")),
    ("seq-loss-list", lambda: transformer.sequence_loss(
        torch.rand(2, 3, 20), L, 0), TE, ("labels", "list")),
    ("seq-loss-logits-2d", lambda: transformer.sequence_loss(
        torch.rand(6, 20), _ids(2, 3, 20), 0), VE, ("logits", "(B, T, V)")),
    ("seq2seq-train-steps0", lambda: transformer.train_seq2seq(
        _seq2seq(), _ids(4, 3, 13), _ids(4, 3, 20), steps=0,
        progress=False), VE, ("steps",)),
    ("seq2seq-train-empty", lambda: transformer.train_seq2seq(
        _seq2seq(), _ids(0, 3, 13), _ids(0, 3, 20), steps=1,
        progress=False), VE, ("vac",)),
    ("seq2seq-train-list", lambda: transformer.train_seq2seq(
        _seq2seq(), L, L, steps=1, progress=False), TE, ("src", "list")),
    ("seq2seq-train-n", lambda: transformer.train_seq2seq(
        _seq2seq(), _ids(4, 3, 13), _ids(3, 3, 20), steps=1,
        progress=False), VE, ("mismo número",)),
    ("seq2seq-train-float-steps", lambda: transformer.train_seq2seq(
        _seq2seq(), _ids(4, 3, 13), _ids(4, 3, 20), steps=2.5,
        progress=False), TE, ("steps", "entero")),
    # numbers_es
    ("decode-targets-1d", lambda: numbers_es.decode_targets(
        torch.tensor([3, 4, 2])), VE, ("ids", "(B, T)")),
    ("decode-targets-list", lambda: numbers_es.decode_targets(L), TE,
     ("ids", "list")),
    ("decode-targets-float", lambda: numbers_es.decode_targets(
        torch.rand(2, 3)), TE, ("enteros",)),
    ("encode-sources-str", lambda: numbers_es.encode_sources("123"), TE,
     ("enteros",)),
    ("encode-sources-range", lambda: numbers_es.encode_sources([10**7]),
     VE, ("cifras",)),
    ("sample-numbers-neg", lambda: numbers_es.sample_numbers(-1), VE,
     ("n",)),
    ("sample-numbers-digits0", lambda: numbers_es.sample_numbers(
        3, max_digits=0), VE, ("max_digits",)),
    ("sample-numbers-float", lambda: numbers_es.sample_numbers(2.5), TE,
     ("n", "entero")),
    ("number-to-words-str", lambda: numbers_es.number_to_words("12"), TE,
     ("int",)),
    # gpt
    ("gpt-cfg-n-head-0", lambda: gpt.GPTConfig(num_attention_heads=0), VE,
     ("n_head",)),
    ("gpt-cfg-float", lambda: gpt.GPTConfig(num_hidden_layers=2.0), TE,
     ("n_layer",)),
    ("gpt-list", lambda: _gpt()(L), TE, ("idx", "list")),
    ("gpt-float", lambda: _gpt()(torch.rand(1, 4)), TE, ("idx", "enteros")),
    ("gpt-range", lambda: _gpt()(_ids(1, 4, 11) + 11), VE,
     ("fuera del vocabulario",)),
    ("gpt-long", lambda: _gpt()(_ids(1, 17, 11)), VE,
     ("max_position_embeddings=16",)),
    ("gpt-targets-list", lambda: _gpt()(_ids(2, 4, 11), L), TE,
     ("targets", "list")),
    ("gpt-targets-float", lambda: _gpt()(_ids(2, 4, 11),
                                         torch.rand(2, 4)), TE,
     ("targets", "enteros")),
    ("gpt-targets-shape", lambda: _gpt()(_ids(2, 4, 11), _ids(2, 5, 11)),
     VE, ("targets", "(2, 4)")),
    ("gpt-targets-range", lambda: _gpt()(_ids(2, 4, 11),
                                         _ids(2, 4, 11) + 11), VE,
     ("targets", "fuera de")),
    ("gpt-generate-list", lambda: _gpt().generate(L, 2), TE,
     ("idx", "list")),
    ("gpt-generate-neg", lambda: _gpt().generate(_ids(1, 2, 11), -1), VE,
     ("max_new_tokens",)),
    ("gpt-generate-temp", lambda: _gpt().generate(
        _ids(1, 2, 11), 1, temperature=0.0), VE, ("temperature",)),
    ("next-probs-list", lambda: gpt.next_token_probs([[0.1, 0.2]]), TE,
     ("logits", "list")),
    ("next-probs-int", lambda: gpt.next_token_probs(
        torch.ones(2, 5, dtype=torch.long)), TE, ("logits", "flotante")),
    ("next-probs-3d", lambda: gpt.next_token_probs(torch.rand(2, 3, 5)),
     VE, ("logits", "(B, V)")),
    ("next-probs-top-k", lambda: gpt.next_token_probs(
        torch.rand(2, 5), top_k=0), VE, ("top_k",)),
    ("gpt-from-hf-bert", lambda: gpt.GPT.from_hf(_hf_bert()), TE,
     ("GPT2LMHeadModel", "bert")),
    ("gpt-from-hf-str", lambda: gpt.GPT.from_hf("gpt2"), TE,
     ("GPT2LMHeadModel", "str")),
    # char_tokenizer
    ("char-encode-list", lambda: char_tokenizer.CharTokenizer.from_text(
        "hola").encode(["h"]), TE, ("str",)),
    ("char-encode-unknown", lambda: char_tokenizer.CharTokenizer.from_text(
        "hola").encode("z"), VE, ("fuera del vocabulario",)),
    ("char-decode-float", lambda: char_tokenizer.CharTokenizer.from_text(
        "hola").decode(torch.rand(3)), TE, ("ids", "enteros")),
    ("char-decode-2d", lambda: char_tokenizer.CharTokenizer.from_text(
        "hola").decode(torch.zeros(2, 2, dtype=torch.long)), VE,
     ("ids", "(T,)")),
    ("char-decode-str", lambda: char_tokenizer.CharTokenizer.from_text(
        "hola").decode("01"), TE, ("ids", "str")),
    ("char-decode-range", lambda: char_tokenizer.CharTokenizer.from_text(
        "hola").decode([7]), VE, ("fuera del vocabulario",)),
    ("char-empty-vocab", lambda: char_tokenizer.CharTokenizer.from_text(""),
     VE, ("no vacía",)),
    ("split-empty", lambda: char_tokenizer.train_val_split(
        torch.zeros(0, dtype=torch.long)), VE, ("vacía",)),
    ("split-list", lambda: char_tokenizer.train_val_split([1, 2, 3]), TE,
     ("data", "list")),
    ("split-fraction", lambda: char_tokenizer.train_val_split(
        torch.arange(10), 1.5), VE, ("train_fraction",)),
    # lm_training
    ("lm-cfg-steps0", lambda: lm_training.LMTrainConfig(steps=0), VE,
     ("steps",)),
    ("lm-cfg-warmup-neg", lambda: lm_training.LMTrainConfig(
        warmup_steps=-1), VE, ("warmup_steps",)),
    ("get-batch-list", lambda: lm_training.get_batch([1, 2, 3], 2, 1), TE,
     ("data", "list")),
    ("get-batch-short", lambda: lm_training.get_batch(
        torch.arange(5), 8, 2), VE, ("block_size=8",)),
    ("get-batch-block0", lambda: lm_training.get_batch(
        torch.arange(5), 0, 2), VE, ("block_size",)),
    ("get-batch-batch0", lambda: lm_training.get_batch(
        torch.arange(20), 4, 0), VE, ("batch_size",)),
    ("get-batch-float", lambda: lm_training.get_batch(
        torch.rand(20), 4, 2), TE, ("data", "enteros")),
    ("evaluate-short", lambda: lm_training.evaluate_loss(
        _gpt(), torch.arange(5), 8), VE, ("block_size=8",)),
    ("evaluate-empty", lambda: lm_training.evaluate_loss(
        _gpt(), torch.zeros(0, dtype=torch.long), 4), VE, ("data",)),
    ("evaluate-batch0", lambda: lm_training.evaluate_loss(
        _gpt(), torch.arange(11), 4, batch_size=0), VE, ("batch_size",)),
    ("lr-bad-config", lambda: lm_training.learning_rate(0, {"lr": 1}), TE,
     ("LMTrainConfig",)),
    ("lr-neg-step", lambda: lm_training.learning_rate(
        -1, lm_training.LMTrainConfig()), VE, ("step",)),
    ("train-lm-val-short", lambda: lm_training.train_lm(
        _gpt(), torch.arange(11).repeat(5), torch.arange(5),
        lm_training.LMTrainConfig(steps=1), progress=False), VE,
     ("val_data",)),
    # train, toy_tasks
    ("train-cls-float-y", lambda: training.train_classifier(
        toy_tasks.BagOfWordsClassifier(10, 3), _ids(4, 5, 10),
        torch.rand(4), steps=1, progress=False), TE, ("y", "enteros")),
    ("train-cls-y-range", lambda: training.train_classifier(
        toy_tasks.BagOfWordsClassifier(10, 3), _ids(4, 5, 10),
        torch.tensor([0, 1, 2, 7]), steps=1, batch_size=64,
        progress=False), VE, ("y", "fuera de")),
    ("train-cls-y-2d", lambda: training.train_classifier(
        toy_tasks.BagOfWordsClassifier(10, 3), _ids(4, 5, 10),
        torch.zeros(4, 1, dtype=torch.long), steps=1, progress=False), VE,
     ("y", "(N,)")),
    ("train-cls-empty", lambda: training.train_classifier(
        toy_tasks.BagOfWordsClassifier(10, 3), _ids(0, 5, 10),
        torch.zeros(0, dtype=torch.long), steps=1, progress=False), VE,
     ("vac",)),
    ("train-cls-list", lambda: training.train_classifier(
        toy_tasks.BagOfWordsClassifier(10, 3), L, [0, 1], steps=1,
        progress=False), TE, ("x", "list")),
    ("train-cls-steps0", lambda: training.train_classifier(
        toy_tasks.BagOfWordsClassifier(10, 3), _ids(4, 5, 10),
        torch.zeros(4, dtype=torch.long), steps=0, progress=False), VE,
     ("steps",)),
    ("accuracy-empty", lambda: training.accuracy(
        toy_tasks.BagOfWordsClassifier(10, 3), _ids(0, 5, 10),
        torch.zeros(0, dtype=torch.long)), VE, ("vac",)),
    ("accuracy-mismatch", lambda: training.accuracy(
        toy_tasks.BagOfWordsClassifier(10, 3), _ids(1, 5, 10),
        torch.zeros(3, dtype=torch.long)), VE, ("mismo número",)),
    ("bow-list", lambda: toy_tasks.BagOfWordsClassifier(10, 3)(L), TE,
     ("x", "list")),
    ("bow-range", lambda: toy_tasks.BagOfWordsClassifier(10, 3)(
        _ids(2, 3, 10) + 10), VE, ("x", "vocabulario")),
    ("bow-vocab0", lambda: toy_tasks.BagOfWordsClassifier(0, 3), VE,
     ("vocab_size",)),
    ("pointer-float", lambda: toy_tasks.PointerAttentionClassifier(
        10, 3, 6)(torch.rand(2, 6)), TE, ("x", "enteros")),
    ("pointer-task-float", lambda: toy_tasks.make_pointer_task(2.5), TE,
     ("n",)),
    # bert
    ("bert-cfg-n-head-0", lambda: bert.BertConfig(num_attention_heads=0), VE,
     ("n_head",)),
    ("bert-list", lambda: _bert()(L), TE, ("input_ids", "list")),
    ("bert-types-list", lambda: _bert()(_ids(2, 3, 50), L), TE,
     ("token_type_ids", "list")),
    ("bert-mask-list", lambda: _bert()(_ids(2, 3, 50), None, L), TE,
     ("attention_mask", "list")),
    ("bert-types-float", lambda: _bert()(
        _ids(2, 3, 50), torch.zeros(2, 3)), TE, ("token_type_ids",
                                                 "enteros")),
    ("bert-types-range", lambda: _bert()(
        _ids(2, 3, 50), torch.full((2, 3), 2)), VE, ("token_type_ids",)),
    ("bert-types-shape", lambda: _bert()(
        _ids(2, 3, 50), torch.zeros(2, 4, dtype=torch.long)), VE,
     ("token_type_ids", "(2, 4)")),
    ("bert-mask-float", lambda: _bert()(
        _ids(2, 3, 50), None, torch.ones(2, 3)), TE, ("attention_mask",)),
    ("bert-mask-zeros", lambda: _bert()(
        _ids(2, 3, 50), None, torch.zeros(2, 3, dtype=torch.long)), VE,
     ("token real",)),
    ("bert-range", lambda: _bert()(_ids(2, 3, 50) + 50), VE,
     ("input_ids", "vocabulario")),
    ("bert-empty-T", lambda: _bert()(torch.zeros(2, 0, dtype=torch.long)),
     VE, ("al menos 1",)),
    ("bert-cls-list", lambda: _bert_cls()(L), TE, ("input_ids", "list")),
    ("bert-mlm-hidden", lambda: _bert().mlm_logits(torch.rand(3, 31)), VE,
     ("hidden", "C = 32")),
    ("bert-from-hf-gpt2", lambda: bert.from_hf(_hf_gpt2()), TE,
     ("from_hf admite",)),
    ("bert-convert-list", lambda: bert.convert_hf_state_dict([1, 2]), TE,
     ("state", "list")),
    ("bert-num-labels-0", lambda: bert.BertForSequenceClassification(
        BERT_CFG, 0), VE, ("num_labels",)),
    ("mask-tokens-list", lambda: bert_data.mask_tokens(
        L, vocab_size=50, **MASKING), TE, ("input_ids", "list")),
    ("mask-tokens-range", lambda: bert_data.mask_tokens(
        _ids(2, 3, 50) + 50, vocab_size=50, **MASKING), VE,
     ("vocabulario",)),
    ("mask-tokens-specials-str", lambda: bert_data.mask_tokens(
        _ids(2, 3, 50), vocab_size=50, mask_token_id=4,
        special_token_ids="[MASK]"), TE, ("special_token_ids",)),
    ("apply-mlm-shape", lambda: bert_data.apply_mlm_masking(
        _ids(2, 3, 50), torch.rand(3), torch.rand(2, 3), _ids(2, 3, 50),
        mask_token_id=4, is_special=torch.zeros(2, 3, dtype=torch.bool)),
     VE, ("choose_noise", "(2, 3)")),
    ("apply-mlm-special-int", lambda: bert_data.apply_mlm_masking(
        _ids(2, 3, 50), torch.rand(2, 3), torch.rand(2, 3), _ids(2, 3, 50),
        mask_token_id=4, is_special=torch.zeros(2, 3, dtype=torch.long)),
     TE, ("is_special", "booleano")),
    # bert_data
    ("bd-encode-str", lambda: bert_data.encode(_wordpiece(), "hola"), TE,
     ("first", "str")),
    ("bd-encode-second-str", lambda: bert_data.encode(
        _wordpiece(), ["hola"], "adiós"), TE, ("second", "str")),
    ("bd-tokenize-str", lambda: bert_data.tokenize(_wordpiece(), "hola"),
     TE, ("texts", "str")),
    ("bd-tokenize-ints", lambda: bert_data.tokenize(_wordpiece(), [1, 2]),
     TE, ("texts", "int")),
    ("bd-build-str", lambda: bert_data.build_inputs(
        ["hola"], max_len=8, cls_id=2, sep_id=3, pad_id=0), TE,
     ("first", "ids")),
    ("bd-build-max-len", lambda: bert_data.build_inputs(
        [[5]], max_len=2, cls_id=2, sep_id=3, pad_id=0), VE, ("max_len",)),
    ("bd-nsp-str", lambda: bert_data.make_nsp_pairs(
        "una frase larga", n_pairs=2), TE, ("sentences", "str")),
    ("bd-nsp-n0", lambda: bert_data.make_nsp_pairs(
        ["a", "b", "c"], n_pairs=0), VE, ("n_pairs",)),
    ("bd-train-wp-str", lambda: bert_data.train_wordpiece("hola"), TE,
     ("texts", "str")),
    ("bd-split-blocks-list", lambda: bert_data.split_blocks(["a"]), TE,
     ("text", "list")),
    ("bd-split-blocks-empty", lambda: bert_data.split_blocks(""), VE,
     ("vac",)),
    ("bd-sentences-none", lambda: bert_data.split_sentences(None), TE,
     ("text",)),
    ("bd-chunks-0", lambda: bert_data.word_chunks("a b c", n_words=0), VE,
     ("n_words",)),
    ("bd-parts-list", lambda: bert_data.quijote_parts(["x"]), TE,
     ("text",)),
    ("bd-wp-split-int", lambda: bert_data.wordpiece_split(_wordpiece(), 3),
     TE, ("word",)),
    # bert_training
    ("bt-check-list", lambda: bert_training.check_inputs(
        {k: L for k in bert_training.INPUT_KEYS}), TE, ("input_ids",)),
    ("bt-schedule-steps0", lambda: bert_training.linear_schedule(
        0, steps=0, warmup_steps=0), VE, ("steps",)),
    ("bt-schedule-warmup", lambda: bert_training.linear_schedule(
        0, steps=5, warmup_steps=9), VE, ("warmup_steps",)),
    ("bt-finetune-range", lambda: bert_training.finetune(
        _bert_cls(), _bert_data(), torch.tensor([0, 1, 2, 3]), steps=1,
        batch_size=2, lr=1e-3), VE, ("labels", "fuera de")),
    ("bt-finetune-empty", lambda: bert_training.finetune(
        _bert_cls(), _bert_data(0), torch.zeros(0, dtype=torch.long),
        steps=1, batch_size=2, lr=1e-3), VE, ("N = 0",)),
    ("bt-pretrain-nsp-range", lambda: bert_training.pretrain(
        _bert(), _bert_data(), torch.tensor([0, 1, 2, 0]), steps=1,
        batch_size=2, lr=1e-3, progress=False, **MASKING), VE,
     ("nsp_labels",)),
    ("bt-eval-empty", lambda: bert_training.evaluate_pretraining(
        _bert(), _bert_data(0), torch.zeros(0, dtype=torch.long),
        **MASKING), VE, ("N = 0",)),
    ("bt-accuracy-batch0", lambda: bert_training.classification_accuracy(
        _bert_cls(), _bert_data(), torch.zeros(4, dtype=torch.long),
        batch_size=0), VE, ("batch_size",)),
    # vit
    ("vit-list", lambda: _vit()(L), TE, ("Tensor", "list")),
    ("vit-int", lambda: _vit()(torch.zeros(1, 1, 8, 8, dtype=torch.long)),
     TE, ("flotante",)),
    ("vit-channels", lambda: _vit()(_pixels(C=3)), VE, ("canales",)),
    ("vit-size", lambda: _vit()(_pixels(S=6)), VE, ("8×8",)),
    ("vit-3d", lambda: _vit()(torch.rand(1, 8, 8)), VE, ("(B, C, H, W)",)),
    ("vit-cfg-heads0", lambda: vit.ViTConfig(num_attention_heads=0), VE,
     ("num_attention_heads",)),
    ("vit-from-hf-bert", lambda: vit.ViT.from_hf(_hf_bert()), TE,
     ("ViTForImageClassification", "bert")),
    ("vit-pool-list", lambda: _vit().pool(L), TE, ("features", "list")),
    ("patchify-p0", lambda: patches.patchify(_pixels(), 0), VE,
     ("patch_size",)),
    ("patchify-list", lambda: patches.patchify(L, 2), TE, ("list",)),
    ("unpatchify-list", lambda: patches.unpatchify(L, 2), TE,
     ("patches", "list")),
    ("unpatchify-p0", lambda: patches.unpatchify(torch.rand(1, 4, 4), 0), VE,
     ("patch_size",)),
    ("unpatchify-2d", lambda: patches.unpatchify(torch.rand(4, 4), 2), VE,
     ("(B, N, P·P·C)",)),
    ("patch-embed-p0", lambda: patches.PatchEmbedding(1, 8, 0), VE,
     ("patch_size",)),
    # mae
    ("mae-list", lambda: _mae()(L), TE, ("Tensor", "list")),
    ("mae-ratio-str", lambda: _mae()(_pixels(), mask_ratio="0.5"), TE,
     ("mask_ratio",)),
    ("mae-ratio-1", lambda: _mae()(_pixels(), mask_ratio=1.0), VE,
     ("mask_ratio",)),
    ("mae-noise-list", lambda: _mae()(_pixels(), noise=[0.1]), TE,
     ("noise", "list")),
    ("mae-from-hf-bert", lambda: mae.MAE.from_hf(_hf_bert()), TE,
     ("ViTMAEForPreTraining", "bert")),
    ("mae-decoder-shape", lambda: _mae().forward_decoder(
        torch.rand(2, 5, 31), torch.zeros(2, 16, dtype=torch.long)), VE,
     ("latent",)),
    ("mae-decoder-float-ids", lambda: _mae().forward_decoder(
        torch.rand(2, 5, 32), torch.rand(2, 16)), TE,
     ("ids_restore", "enteros")),
    ("mae-reconstruct-tuple", lambda: _mae().reconstruct(
        _pixels(), (1, 2)), TE, ("MAEOutput",)),
    ("mae-loss-empty-mask", lambda: mae.mae_loss(
        torch.rand(2, 4, 3), torch.rand(2, 4, 3),
        torch.zeros(2, 4, dtype=torch.bool)), VE, ("is_masked",)),
    ("mae-loss-broadcast", lambda: mae.mae_loss(
        torch.rand(2, 4, 3), torch.rand(1, 4, 3),
        torch.ones(2, 4, dtype=torch.bool)), VE, ("pred", "(1, 4, 3)")),
    ("mae-loss-mask-shape", lambda: mae.mae_loss(
        torch.rand(2, 4, 3), torch.rand(2, 4, 3),
        torch.ones(4, dtype=torch.bool)), VE, ("is_masked", "(B, N)")),
    ("mae-loss-mask-float", lambda: mae.mae_loss(
        torch.rand(2, 4, 3), torch.rand(2, 4, 3), torch.ones(2, 4)), TE,
     ("is_masked", "booleano")),
    ("mae-loss-list", lambda: mae.mae_loss(L, L, L), TE, ("target",)),
    ("random-masking-list", lambda: mae.random_masking(L, 0.5), TE,
     ("x", "list")),
    ("sincos-grid0", lambda: mae.sincos_2d_positions(0, 8), VE,
     ("grid_size",)),
    ("pretrain-mae-batch0", lambda: mae.pretrain_mae(
        _mae(), _pixels(), steps=1, batch_size=0, progress=False), VE,
     ("batch_size",)),
    ("pretrain-mae-list", lambda: mae.pretrain_mae(
        _mae(), L, steps=1, progress=False), TE, ("list",)),
    ("linear-probe-list", lambda: training.linear_probe(
        L, [0, 1], torch.rand(2, 3), torch.tensor([0, 1])), TE,
     ("train", "list")),
    ("linear-probe-n", lambda: training.linear_probe(
        torch.rand(3, 2), torch.tensor([0, 1]), torch.rand(2, 2),
        torch.tensor([0, 1])), VE, ("mismo número",)),
    ("linear-probe-float-y", lambda: training.linear_probe(
        torch.rand(2, 2), torch.rand(2), torch.rand(2, 2),
        torch.tensor([0, 1])), TE, ("y_train", "enteros")),
    # images
    ("subset-neg", lambda: images.subset_per_class(
        torch.tensor([0, 0, 1, 1]), -1), VE, ("per_class",)),
    ("subset-list", lambda: images.subset_per_class([0, 1], 1), TE,
     ("y", "list")),
    ("shift-list", lambda: images.random_shift(L), TE, ("images", "list")),
    ("shift-neg", lambda: images.random_shift(_pixels(), -1), VE,
     ("max_shift",)),
    ("shift-3d", lambda: images.random_shift(torch.rand(1, 8, 8)), VE,
     ("images", "(B, C, H, W)")),
    ("photo-int", lambda: images.load_photo(3), TE, ("name",)),
    ("photo-size0", lambda: images.load_photo("chelsea", size=0), VE,
     ("size",)),
    ("train-img-y-range", lambda: images.train_image_classifier(
        _vit(), _pixels(4), torch.tensor([0, 1, 2, 10]), steps=1,
        batch_size=64, progress=False), VE, ("y", "fuera de")),
    ("train-img-y-float", lambda: images.train_image_classifier(
        _vit(), _pixels(4), torch.rand(4), steps=1, progress=False), TE,
     ("y", "enteros")),
    ("train-img-empty", lambda: images.train_image_classifier(
        _vit(), _pixels(0), torch.zeros(0, dtype=torch.long), steps=1,
        progress=False), VE, ("vac",)),
    ("train-img-steps0", lambda: images.train_image_classifier(
        _vit(), _pixels(4), torch.zeros(4, dtype=torch.long), steps=0,
        progress=False), VE, ("steps",)),
    ("small-cnn-channels", lambda: images.SmallCNN()(_pixels(C=3)), VE,
     ("canales",)),
    # shapes
    ("figure-bad-shape", lambda: shapes.Figure("óvalo", "rojo", "grande",
                                               0, 0), VE, ("forma",)),
    ("figure-bad-row", lambda: shapes.Figure("cruz", "rojo", "grande",
                                             3, 0), VE, ("row",)),
    ("render-str", lambda: shapes.render("cruz"), TE, ("figures",)),
    ("render-size", lambda: shapes.render([], image_size=4), VE,
     ("image_size",)),
    ("qa-kinds-str", lambda: shapes.make_qa_data(2, kinds="color"), TE,
     ("kinds", "str")),
    ("caption-n0", lambda: shapes.make_caption_data(0), VE, ("n",)),
    ("binding-n0", lambda: shapes.make_binding_data(0), VE, ("n",)),
    ("word-tok-int", lambda: shapes.WordTokenizer()(5), TE, ("texts",)),
    ("word-tok-empty", lambda: shapes.WordTokenizer()([]), VE,
     ("vacía",)),
    ("word-decode-2d", lambda: shapes.WordTokenizer().decode(
        torch.zeros(2, 3, dtype=torch.long)), VE, ("ids", "(T,)")),
    ("word-decode-str", lambda: shapes.WordTokenizer().decode("12"), TE,
     ("ids",)),
    # clip
    ("clip-cfg-pos-std0", lambda: clip.CLIPConfig(vision_position_std=0.0),
     VE, ("vision_position_std",)),
    ("clip-text-cfg-heads0", lambda: clip.CLIPTextConfig(
        num_attention_heads=0), VE, ("num_attention_heads",)),
    ("clip-text-cfg-eos", lambda: clip.CLIPTextConfig(eos_token_id=65), VE,
     ("eos_token_id",)),
    ("clip-list", lambda: _clip()(L, L), TE, ("images", "list")),
    ("clip-text-list", lambda: _clip().encode_text(L), TE,
     ("input_ids", "list")),
    ("clip-text-float", lambda: _clip().encode_text(torch.rand(2, 3)), TE,
     ("input_ids", "enteros")),
    ("clip-text-range", lambda: _clip().encode_text(
        torch.tensor([[2, 70, 3]])), VE, ("input_ids", "vocabulario")),
    ("clip-text-no-eos", lambda: _clip().encode_text(
        torch.tensor([[2, 5, 6]])), VE, ("<eos>",)),
    ("clip-image-list", lambda: _clip().encode_image(L), TE,
     ("Tensor", "list")),
    ("clip-batch", lambda: _clip()(_pixels(2, 3, 16),
                                   torch.tensor([[2, 5, 3]])), VE,
     ("una imagen por texto",)),
    ("clip-encode-texts-str", lambda: clip.encode_texts(
        _clip(), "un círculo rojo"), TE, ("texts", "str")),
    ("clip-encode-texts-empty", lambda: clip.encode_texts(_clip(), []), VE,
     ("vac",)),
    ("clip-encode-images-empty", lambda: clip.encode_images(
        _clip(), _pixels(0, 3, 16)), VE, ("vac",)),
    ("clip-encode-images-batch0", lambda: clip.encode_images(
        _clip(), _pixels(2, 3, 16), batch_size=0), VE, ("batch_size",)),
    ("clip-recall-list", lambda: clip.recall_at_k(L, 1), TE,
     ("similarity", "list")),
    ("clip-recall-k0", lambda: clip.recall_at_k(torch.rand(3, 3), 0), VE,
     ("k",)),
    ("clip-class-emb-int", lambda: clip.class_embeddings(
        _clip(), ["a"], [3]), TE, ("templates",)),
    ("clip-zero-shot-list", lambda: clip.zero_shot_classify(
        _clip(), L, ["un círculo"]), TE, ("images", "list")),
    ("clip-train-captions-str", lambda: clip.train_clip(
        _clip(), _pixels(3, 3, 16), "abc", steps=1, batch_size=2,
        progress=False), TE, ("captions", "str")),
    ("clip-train-steps0", lambda: clip.train_clip(
        _clip(), _pixels(3, 3, 16), ["a", "b", "c"], steps=0,
        batch_size=2, progress=False), VE, ("steps",)),
    ("clip-loss-list", lambda: clip.contrastive_loss(L), TE,
     ("Tensor",)),
    # fusion
    ("fusion-cfg-heads0", lambda: fusion.FusionConfig(num_attention_heads=0),
     VE,
     ("n_head",)),
    ("fusion-cfg-patch0", lambda: fusion.FusionConfig(patch_size=0), VE,
     ("patch_size",)),
    ("fusion-spec-heads0", lambda: fusion.CrossAttentionSpec(n_head=0), VE,
     ("n_head",)),
    ("fusion-cross-list", lambda: fusion.CrossAttentionBlock(32)(
        L, torch.rand(1, 2, 32)), TE, ("x", "list")),
    ("fusion-masked-mean-list", lambda: fusion.masked_mean(
        L, torch.tensor([1])), TE, ("x", "list")),
    ("perceiver-latents0", lambda: fusion_qa.PerceiverFusion(
        FUSION_CFG, n_latents=0), VE, ("n_latents",)),
    ("fusion-attention-spread-list", lambda: fusion.attention_spread(L),
     TE, ("weights", "list")),
    ("fusion-collapsed-empty", lambda: fusion.is_collapsed(
        None, torch.zeros(0, dtype=torch.long)), VE, ("predictions",)),
    ("captioner-list", lambda: _captioner()(_qa_batch()[0], L), TE,
     ("input_ids", "list")),
    ("captioner-range", lambda: _captioner()(
        _qa_batch()[0], torch.tensor([[2, 99, 3], [2, 5, 3]])), VE,
     ("input_ids", "vocabulario")),
    ("captioner-loss-short", lambda: _captioner().loss(
        _qa_batch()[0], torch.tensor([[2], [2]])), VE, ("2 tokens",)),
    ("captioner-generate-list", lambda: _captioner().generate(L), TE,
     ("images", "list")),
    ("captioner-generate-bos", lambda: _captioner().generate(
        _qa_batch()[0], bos_id=99), VE, ("bos_id",)),
    ("train-captioner-steps0", lambda: captioner.train_captioner(
        _captioner(), _qa_batch()[0], _qa_batch()[1], steps=0,
        progress=False), VE, ("steps",)),
    ("train-qa-steps0", lambda: fusion_qa.train_qa(
        _fusion("tardía"), *_qa_batch(), torch.tensor([0, 1]), steps=0,
        progress=False), VE, ("steps",)),
    ("train-qa-answers-range", lambda: fusion_qa.train_qa(
        _fusion("tardía"), *_qa_batch(), torch.tensor([0, 5]), steps=1,
        batch_size=16, progress=False), VE, ("answers", "fuera de")),
    ("train-qa-answers-float", lambda: fusion_qa.train_qa(
        _fusion("tardía"), *_qa_batch(), torch.rand(2), steps=1,
        progress=False), TE, ("answers", "enteros")),
    ("predict-qa-empty", lambda: fusion_qa.predict_qa(
        _fusion("tardía"), *(x[:0] for x in _qa_batch())), VE, ("vac",)),
    ("predict-qa-batch0", lambda: fusion_qa.predict_qa(
        _fusion("tardía"), *_qa_batch(), batch_size=0), VE,
     ("batch_size",)),
    # viz, hub, utils
    ("viz-empty", lambda: viz.plot_attention(torch.zeros(0, 0)), VE,
     ("vac",)),
    ("viz-3d", lambda: viz.plot_attention(torch.rand(1, 3, 3)), VE,
     ("(Tq, Tk)",)),
    ("viz-strings", lambda: viz.plot_attention([["a", "b"]]), TE,
     ("números", "list")),
    ("viz-labels-int", lambda: viz.plot_attention(torch.rand(2, 2), 5), TE,
     ("query_labels", "int")),
    ("viz-labels-len", lambda: viz.plot_attention(torch.rand(2, 2),
                                                  ["a"]), VE,
     ("necesita 2",)),
    ("viz-heads-2d", lambda: viz.plot_attention_heads(torch.rand(3, 3)),
     VE, ("(H, Tq, Tk)",)),
    ("viz-heads-cols0", lambda: viz.plot_attention_heads(
        torch.rand(2, 3, 3), max_cols=0), VE, ("max_cols",)),
    ("hub-load-str", lambda: hub.load_pretrained("load", "repo"), TE,
     ("load",)),
    ("hub-repo-int", lambda: hub.load_pretrained(print, 3), TE,
     ("repo_id",)),
    ("hub-timeout-0", lambda: hub.hub_available(timeout=0), VE,
     ("timeout",)),
    ("utils-seed-neg", lambda: utils.seed_everything(-1), VE,
     ("semilla",)),
    ("utils-seed-float", lambda: utils.seed_everything(1.5), TE,
     ("semilla",)),
    ("utils-device", lambda: utils.get_device("tpu"), VE, ("se esperaba",)),
    ("preset-unknown", lambda: gpt.GPTConfig.preset("gpu"), VE,
     ("preset desconocido", "'anchor'", "'cpu'")),
    ("preset-old-name", lambda: gpt.GPTConfig.preset("cpu", n_embd=64), TE,
     ("no tiene los campos", "n_embd", "hidden_size")),
    ("config-act", lambda: bert.BertConfig(hidden_act="relu"), VE,
     ("hidden_act", "'gelu'")),
    ("layers-count-str", lambda: layers.count_parameters("gpt2"), TE,
     ("nn.Module", "str")),
    ("bert-quijote-split", lambda: bert_quijote.spans("dev", n_words=20),
     VE, ("'train'", "'dev'")),
    ("bert-tasks-str", lambda: bert_tasks.swap_task("un texto"), TE,
     ("único str",)),
]

_IDS = [c[0] for c in CASES]
assert len(set(_IDS)) == len(_IDS), "nombres de casos repetidos"


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("call, expected, words",
                         [c[1:] for c in CASES], ids=_IDS)
def test_bad_call_gives_clear_spanish_error(call, expected, words) -> None:
    with pytest.raises(Exception) as info:
        call()
    error = info.value
    # El mismo tipo para el mismo error en todo el paquete: TypeError
    # para el tipo o el dtype, ValueError para forma, rango o tamaño.
    assert type(error) is expected, f"{type(error).__name__}: {error}"
    message = str(error)
    assert SPANISH.search(message), f"mensaje sin castellano: {message}"
    for word in words:
        assert word in message, f"falta {word!r} en: {message}"


def test_battery_is_large_and_covers_every_module() -> None:
    assert len(CASES) >= 150
    tested = {name.split("-")[0] for name in _IDS}
    assert len(tested) >= 40


# --- resultados erróneos sin aviso (el código anterior no decía nada) -----

def test_transposed_labels_do_not_reach_the_loss() -> None:
    # (B, T) = (2, 6) y etiquetas (6, 2): los dos aplanados miden 12 y la
    # pérdida de antes salía, emparejando cada logit con otra etiqueta.
    logits, labels = torch.rand(2, 6, 20), _ids(2, 6, 20)
    with pytest.raises(ValueError, match=r"se esperaba \(2, 6\)"):
        transformer.sequence_loss(logits, labels.T.contiguous(), 0)


def test_a_str_is_not_split_into_characters() -> None:
    with pytest.raises(TypeError, match="no un único str"):
        bert_data.encode(_wordpiece(), "en un lugar de la mancha")
    with pytest.raises(TypeError, match="no un único str"):
        clip.encode_texts(_clip(), "un círculo rojo")
    with pytest.raises(TypeError, match="no un único str"):
        bert_data.make_nsp_pairs("abcdef", n_pairs=2)
    with pytest.raises(TypeError, match="no un único str"):
        bert_data.train_wordpiece("abcdef")


def test_mae_loss_without_masked_patches_is_an_error_not_nan() -> None:
    target = torch.rand(2, 4, 3)
    with pytest.raises(ValueError, match="ningún parche"):
        mae.mae_loss(target, target + 1, torch.zeros(2, 4, dtype=torch.bool))


def test_mae_loss_shapes_do_not_broadcast_silently() -> None:
    target, pred = torch.rand(2, 4, 3), torch.rand(1, 4, 3)
    with pytest.raises(ValueError, match="forma"):
        mae.mae_loss(target, pred, torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="forma"):
        mae.mae_loss(target, target, torch.ones(1, 4, dtype=torch.bool))


def test_degenerate_sizes_are_errors_not_empty_results() -> None:
    with pytest.raises(ValueError, match="block_size"):
        lm_training.get_batch(torch.arange(20), 0, 4)   # antes: (4, 0)
    with pytest.raises(ValueError, match="per_class"):  # antes: N - 1
        images.subset_per_class(torch.tensor([0, 0, 1, 1]), -1)
    with pytest.raises(ValueError, match="n_latents"):  # antes: NaN
        fusion_qa.PerceiverFusion(FUSION_CFG, n_latents=0)


# --- valores en la GPU: sin leerlos (no se sincroniza) --------------------

def test_range_checks_do_not_read_values_off_the_cpu() -> None:
    # En el dispositivo «meta» no hay valores: si la comprobación los
    # leyera, fallaría. Así se comporta también en la GPU (sin sincronizar).
    ids = torch.empty(2, 3, dtype=torch.long, device="meta")
    assert utils.check_ids(ids, 10, "ids") is ids
    logits = torch.empty(2, 3, 10, device="meta")
    utils.check_targets(logits, ids, "targets")
    with pytest.raises(TypeError, match="enteros"):     # el dtype, siempre
        utils.check_ids(ids.float(), 10, "ids")
    with pytest.raises(ValueError, match=r"\(B, T\)"):  # la forma, siempre
        utils.check_ids(ids[0], 10, "ids")


def test_valid_inputs_still_work() -> None:
    logits, loss = _gpt()(_ids(2, 5, 11), _ids(2, 5, 11))
    assert logits.shape == (2, 5, 11) and loss.isfinite()
    out = _seq2seq().greedy_decode(_ids(2, 4, 13), 3)
    assert out.shape[0] == 2
    assert bert_data.encode(_wordpiece(), ["hola"])["input_ids"].shape == (
        1, 64)
    assert clip.encode_texts(_clip(), ["un círculo rojo"]).shape == (1, 16)
