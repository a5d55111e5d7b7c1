"""Pruebas de course_lib.numbers_es: reglas del español, vocabularios y
la partición entrenamiento/prueba."""

import pytest
import torch

from course_lib.numbers_es import (
    MAX_NUMBER,
    SRC_VOCAB,
    TGT_VOCAB,
    Vocabulary,
    decode_targets,
    encode_sources,
    encode_targets,
    make_number_translation,
    number_to_words,
    sample_numbers,
)

TRICKY = {
    0: "cero",
    1: "uno",
    9: "nueve",
    10: "diez",
    11: "once",
    15: "quince",
    16: "dieciséis",
    19: "diecinueve",
    20: "veinte",
    21: "veintiuno",
    22: "veintidós",
    23: "veintitrés",
    26: "veintiséis",
    30: "treinta",
    31: "treinta y uno",
    99: "noventa y nueve",
    100: "cien",
    101: "ciento uno",
    115: "ciento quince",
    121: "ciento veintiuno",
    200: "doscientos",
    500: "quinientos",
    555: "quinientos cincuenta y cinco",
    700: "setecientos",
    900: "novecientos",
    999: "novecientos noventa y nueve",
    1000: "mil",
    1001: "mil uno",
    1100: "mil cien",
    1987: "mil novecientos ochenta y siete",
    2000: "dos mil",
    10_000: "diez mil",
    21_000: "veintiún mil",
    21_021: "veintiún mil veintiuno",
    22_000: "veintidós mil",
    31_000: "treinta y un mil",
    100_000: "cien mil",
    101_000: "ciento un mil",
    115_000: "ciento quince mil",
    500_500: "quinientos mil quinientos",
    700_001: "setecientos mil uno",
    999_999: "novecientos noventa y nueve mil novecientos noventa y nueve",
    1_000_000: "un millón",
    1_001_000: "un millón mil",
    2_000_000: "dos millones",
    21_000_000: "veintiún millones",
    100_000_000: "cien millones",
    MAX_NUMBER: "novecientos noventa y nueve millones novecientos noventa "
                "y nueve mil novecientos noventa y nueve",
}


@pytest.mark.parametrize(("n", "words"), TRICKY.items())
def test_number_to_words_tricky_numbers(n, words):
    assert number_to_words(n) == words


def test_every_word_is_in_the_target_vocabulary():
    for n in [*range(0, 2000), *range(2000, 1_000_000, 997), *TRICKY]:
        TGT_VOCAB.encode(number_to_words(n).split())  # no lanza


@pytest.mark.parametrize("bad", [1.5, "12", None, True])
def test_number_to_words_rejects_non_integers(bad):
    with pytest.raises(TypeError, match="debe ser un int"):
        number_to_words(bad)


@pytest.mark.parametrize("bad", [-1, MAX_NUMBER + 1])
def test_number_to_words_rejects_out_of_range(bad):
    with pytest.raises(ValueError, match="debe estar entre 0 y"):
        number_to_words(bad)


def test_vocabulary_roundtrip_and_errors():
    assert SRC_VOCAB.tokens[:3] == ("<pad>", "<bos>", "<eos>")
    ids = TGT_VOCAB.encode(["mil", "uno"])
    assert TGT_VOCAB.decode([*ids, TGT_VOCAB.eos_id, 5]) == ["mil", "uno"]
    with pytest.raises(ValueError, match="token desconocido 'once,'"):
        TGT_VOCAB.encode(["once,"])
    with pytest.raises(ValueError, match="fuera del vocabulario"):
        TGT_VOCAB.decode([999])
    with pytest.raises(ValueError, match="primeros tokens"):
        Vocabulary(("a", "b", "c"))
    with pytest.raises(ValueError, match="repetidos"):
        Vocabulary(("<pad>", "<bos>", "<eos>", "x", "x"))


def test_sources_are_right_aligned():
    src = encode_sources([1987, 5])
    assert src.shape == (2, 6) and src.dtype == torch.long
    digits = [SRC_VOCAB.tokens[i] for i in src[0].tolist()]
    assert digits == ["<pad>", "<pad>", "1", "9", "8", "7"]
    assert src[1, :5].eq(SRC_VOCAB.pad_id).all()
    with pytest.raises(ValueError, match="no cabe en 6 cifras"):
        encode_sources([1_000_000])
    with pytest.raises(TypeError, match="se esperaban enteros"):
        encode_sources(["12"])


def test_targets_end_with_eos_and_decode_back():
    tgt = encode_targets([1987, 0])
    assert tgt.shape == (2, 10)
    assert tgt[0, 5].item() == TGT_VOCAB.eos_id
    assert tgt[1, 1].item() == TGT_VOCAB.eos_id
    assert tgt[1, 2:].eq(TGT_VOCAB.pad_id).all()
    assert decode_targets(tgt) == [number_to_words(1987), "cero"]
    with pytest.raises(ValueError, match="necesita 10 tokens"):
        encode_targets([777_777], length=9)


def test_sample_numbers_covers_all_lengths_and_is_seeded():
    a = sample_numbers(6000, generator=torch.Generator().manual_seed(0))
    b = sample_numbers(6000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 999_999
    lengths = torch.tensor([len(str(n)) for n in a.tolist()])
    counts = torch.bincount(lengths, minlength=7)[1:]
    assert (counts > 800).all()   # ≈ 1000 de cada longitud


def test_split_holds_out_test_numbers():
    data = make_number_translation(
        n_train=3000, n_test_per_length=20,
        generator=torch.Generator().manual_seed(0))
    test = set(data.test_numbers.tolist())
    assert len(test) == 80
    assert not test & set(data.train_numbers.tolist())
    assert all(n >= 100 for n in test)
    assert len(data.train_numbers) == 3000
    assert data.train_src.shape == (3000, 6)
    assert data.test_tgt.shape == (80, 10)
    i = 7
    n = data.train_numbers[i].item()
    assert decode_targets(data.train_tgt[i:i + 1]) == [number_to_words(n)]
    assert torch.equal(data.train_src[i], encode_sources([n])[0])
    again = make_number_translation(
        n_train=3000, n_test_per_length=20,
        generator=torch.Generator().manual_seed(0))
    assert torch.equal(again.train_numbers, data.train_numbers)


def test_split_rejects_bad_arguments():
    with pytest.raises(ValueError, match="de 3 a 6"):
        make_number_translation(n_train=10, test_lengths=(2,))
    with pytest.raises(ValueError, match="menos de la mitad"):
        make_number_translation(n_train=10, n_test_per_length=500,
                                test_lengths=(3,))
    with pytest.raises(ValueError, match=">= 1"):
        make_number_translation(n_train=0)
