"""Datos para BERT: el Quijote en frases, WordPiece, pares NSP, pasajes
y el enmascarado del MLM.

Libro: capítulo 3, «BERT».
Artículo: Devlin et al. (2019), §3.1 (MLM 80/10/10 y NSP) y apéndice
A.2 (datos).

El corpus es ``quijote.txt`` (``course_lib.data``), que contiene las dos
partes: la de 1605 y la de 1615. Para evaluar sin trampas, cada parte se
corta en bloques contiguos y una fracción fija de bloques se reserva como
prueba (``split_blocks``): el preentrenamiento, el tokenizador y el ajuste
fino solo ven los bloques de entrenamiento.

Pasa de 400 líneas a propósito: es una sola tubería, leída en orden
(texto → frases → tokens → pares NSP → enmascarado MLM), y cada paso
prepara la entrada del siguiente.
"""

# Notación: B lote · T tokens

from __future__ import annotations

import numbers
import random
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import torch
from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from torch import Tensor

from course_lib.data import load_text
from course_lib.utils import (
    check_int,
    check_range,
    check_tensor,
    check_texts,
    describe,
)

__all__ = [
    "IGNORE_INDEX", "PART_TWO_TITLE", "QUIJOTE_VOCAB", "SPECIAL_TOKENS",
    "apply_mlm_masking", "build_inputs",
    "canonical_vocab", "encode", "quijote_training_sentences",
    "quijote_wordpiece", "save_vocab", "wordpiece_from_vocab",
    "make_nsp_pairs", "mask_tokens", "tokenize",
    "quijote_parts", "special_ids", "split_blocks", "split_sentences",
    "train_wordpiece", "word_chunks", "wordpiece_split",
]

T = TypeVar("T")

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PART_TWO_TITLE = "Segunda parte del ingenioso caballero don Quijote"

# ¿Frontera de frase? Tras . ! ? (o cierre de comillas) y antes de una
# mayúscula, un signo de apertura o la raya de diálogo; o tras ; y :, que
# en el Quijote separan cláusulas largas (las frases pasan de 39 a 25
# palabras de media y un par cabe mejor en 64 tokens).
_SENTENCE_END = re.compile(
    r"(?<=[.!?»])\s+(?=[¿¡«—A-ZÁÉÍÓÚÑ])|(?<=[;:])\s+")


def quijote_parts(text: str | None = None) -> tuple[str, str]:
    """Devuelve las dos partes del Quijote: (1605, 1615)."""
    text = load_text("quijote.txt") if text is None else _check_str(text)
    cut = text.find(PART_TWO_TITLE)
    if cut < 0:
        raise ValueError(f"no se encontró «{PART_TWO_TITLE}» en el texto")
    return text[:cut], text[cut:]


def split_blocks(text: str, *, n_blocks: int = 20, test_every: int = 10
                 ) -> tuple[str, str]:
    """Corta ``text`` en ``n_blocks`` bloques contiguos (por párrafos) y
    reserva como prueba los de índice ``i % test_every == test_every - 1``.

    Devuelve ``(entrenamiento, prueba)``. Con los valores por defecto, 2
    de cada 20 bloques (10 %) repartidos por todo el libro.
    """
    _check_str(text)
    check_int(n_blocks, "n_blocks")
    check_int(test_every, "test_every")
    if n_blocks < test_every or test_every < 2:
        raise ValueError(f"se necesita n_blocks >= test_every >= 2; se "
                         f"recibió n_blocks={n_blocks}, "
                         f"test_every={test_every}")
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    if not paragraphs:
        raise ValueError("text está vacío: no hay párrafos que repartir")
    size = -(-len(paragraphs) // n_blocks)
    train, test = [], []
    for i in range(n_blocks):
        block = paragraphs[i * size:(i + 1) * size]
        (test if i % test_every == test_every - 1 else train).extend(block)
    return "\n\n".join(train), "\n\n".join(test)


def split_sentences(text: str, *, min_words: int = 3) -> list[str]:
    """Parte el texto en frases o cláusulas (heurística por puntuación,
    ``_SENTENCE_END``) dentro de cada párrafo, y descarta las de menos de
    ``min_words`` palabras."""
    _check_str(text)
    check_int(min_words, "min_words", minimum=0)
    sentences = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        for s in _SENTENCE_END.split(paragraph):
            if len(s.split()) >= min_words:
                sentences.append(s)
    return sentences


def word_chunks(text: str, *, n_words: int = 40) -> list[str]:
    """Pasajes de ``n_words`` palabras consecutivas (el último incompleto
    se descarta)."""
    _check_str(text)
    check_int(n_words, "n_words")
    words = text.split()
    return [" ".join(words[i:i + n_words])
            for i in range(0, len(words) - n_words + 1, n_words)]


def train_wordpiece(texts: Iterable[str], *, vocab_size: int = 4000,
                    lowercase: bool = True) -> Tokenizer:
    """Entrena un tokenizador WordPiece con la biblioteca ``tokenizers``.

    Normaliza como BERT (minúsculas opcionales, *sin* quitar tildes: en
    castellano «está» y «esta» son palabras distintas), separa por espacios
    y puntuación, y añade la plantilla ``[CLS] A [SEP] B [SEP]`` con los
    segmentos 0 y 1. Ids fijos: [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3,
    [MASK]=4.
    """
    texts = check_texts(texts, "texts")
    check_int(vocab_size, "vocab_size", minimum=len(SPECIAL_TOKENS))
    tokenizer = _bert_pipeline(Tokenizer(models.WordPiece(unk_token="[UNK]")),
                               lowercase)
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
        show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return _with_template(tokenizer)


# Ojo: el entrenador de ``tokenizers`` no es determinista entre procesos
# (deshace empates en el orden de una tabla hash aleatoria): el orden de
# los ids y, a veces, los últimos tokens del vocabulario cambian. Para un
# libro reproducible, el vocabulario se entrena una vez, se guarda con
# ``save_vocab`` y se carga con ``wordpiece_from_vocab``. El del libro
# vive en ``QUIJOTE_VOCAB`` y se regenera con
# ``python -m course_lib.bert_data`` (cambiará algún token: hay que volver
# a ejecutar el capítulo 3 y ``benchmarks/bert_quijote.py``).

QUIJOTE_VOCAB = Path(__file__).parent / "resources" / "quijote_wordpiece.txt"


def canonical_vocab(tokenizer: Tokenizer) -> list[str]:
    """El vocabulario en un orden fijo: especiales, caracteres sueltos,
    continuaciones de un carácter (``##a``) y el resto, cada grupo en
    orden alfabético. Independiente del orden en que se entrenó."""
    tokens = set(tokenizer.get_vocab()) - set(SPECIAL_TOKENS)

    def key(token: str) -> tuple[int, str]:
        body = token.removeprefix("##")
        group = (0 if len(token) == 1 else
                 1 if token.startswith("##") and len(body) == 1 else 2)
        return group, token

    return list(SPECIAL_TOKENS) + sorted(tokens, key=key)


def wordpiece_from_vocab(vocab: Sequence[str], *,
                         lowercase: bool = True) -> Tokenizer:
    """Tokenizador WordPiece con un vocabulario dado (el id es la
    posición en ``vocab``), con la misma normalización y plantilla que
    ``train_wordpiece``."""
    vocab = list(vocab)
    if vocab[: len(SPECIAL_TOKENS)] != list(SPECIAL_TOKENS):
        raise ValueError(f"el vocabulario debe empezar por {SPECIAL_TOKENS};"
                         f" empieza por {vocab[: len(SPECIAL_TOKENS)]}")
    if len(set(vocab)) != len(vocab):
        raise ValueError("el vocabulario tiene tokens repetidos")
    model = models.WordPiece(vocab={t: i for i, t in enumerate(vocab)},
                             unk_token="[UNK]")
    tokenizer = _bert_pipeline(Tokenizer(model), lowercase)
    # Como hace el entrenador: los especiales son «tokens añadidos», que
    # no se normalizan ni se parten («[MASK]» en un texto sigue siendo
    # [MASK], no «[», «mask», «]»).
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    return _with_template(tokenizer)


def save_vocab(tokenizer: Tokenizer, path: Path | str) -> list[str]:
    """Guarda el vocabulario en orden canónico, un token por línea."""
    vocab = canonical_vocab(tokenizer)
    Path(path).write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return vocab


def quijote_training_sentences() -> list[str]:
    """Las frases de los bloques de entrenamiento de las dos partes: el
    texto con el que se entrena el tokenizador del libro."""
    sentences = []
    for part in quijote_parts():
        train, _ = split_blocks(part)
        sentences += split_sentences(train)
    return sentences


def quijote_wordpiece(path: Path | str = QUIJOTE_VOCAB, *,
                      lowercase: bool = True) -> Tokenizer:
    """El tokenizador WordPiece del libro (4000 tokens, entrenado una vez
    con ``train_wordpiece`` sobre ``quijote_training_sentences``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no encuentro el vocabulario {path}; regenéralo con "
            "«python -m course_lib.bert_data»")
    vocab = path.read_text(encoding="utf-8").splitlines()
    return wordpiece_from_vocab(vocab, lowercase=lowercase)


def _bert_pipeline(tokenizer: Tokenizer, lowercase: bool) -> Tokenizer:
    tokenizer.normalizer = normalizers.BertNormalizer(
        lowercase=lowercase, strip_accents=False, clean_text=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    return tokenizer


def _with_template(tokenizer: Tokenizer) -> Tokenizer:
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tokenizer


def special_ids(tokenizer: Tokenizer) -> dict[str, int]:
    """{"[PAD]": 0, …}: los ids de los tokens especiales."""
    return {t: tokenizer.token_to_id(t) for t in SPECIAL_TOKENS}


def tokenize(tokenizer: Tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Ids WordPiece de cada texto, sin tokens especiales."""
    return [e.ids for e in tokenizer.encode_batch(
        check_texts(texts, "texts"), add_special_tokens=False)]


def build_inputs(first: Sequence[Sequence[int]],
                 second: Sequence[Sequence[int]] | None = None, *,
                 max_len: int, cls_id: int, sep_id: int, pad_id: int
                 ) -> dict[str, Tensor]:
    """``[CLS] A [SEP]`` o ``[CLS] A [SEP] B [SEP]`` en tensores (B, T).

    Si no cabe en ``max_len``, recorta un token cada vez de la parte más
    larga (*longest first*, como BERT). Rellena con ``pad_id``. Devuelve
    ``input_ids``, ``token_type_ids`` (0 = segmento A, 1 = B; el relleno
    va con 0, como en HF) y ``attention_mask`` (1 = real, 0 = relleno).
    """
    _check_id_lists(first, "first")
    if second is not None:
        _check_id_lists(second, "second")
    check_int(max_len, "max_len")
    if second is not None and len(second) != len(first):
        raise ValueError(f"first y second deben tener la misma longitud; "
                         f"se recibieron {len(first)} y {len(second)}")
    n_special = 2 if second is None else 3
    if max_len <= n_special:
        raise ValueError(f"max_len={max_len} no deja sitio para tokens: "
                         f"debe ser mayor que {n_special} (los especiales)")
    n = len(first)
    ids = torch.full((n, max_len), pad_id, dtype=torch.long)
    types = torch.zeros(n, max_len, dtype=torch.long)
    mask = torch.zeros(n, max_len, dtype=torch.long)
    for row in range(n):
        a = list(first[row])
        b = [] if second is None else list(second[row])
        while len(a) + len(b) > max_len - n_special:
            (a if len(a) >= len(b) else b).pop()
        seq = [cls_id, *a, sep_id]
        if second is not None:
            seq += [*b, sep_id]
            types[row, len(a) + 2:len(seq)] = 1
        ids[row, :len(seq)] = torch.tensor(seq)
        mask[row, :len(seq)] = 1
    return {"input_ids": ids, "token_type_ids": types,
            "attention_mask": mask}


def encode(tokenizer: Tokenizer, first: Sequence[str],
           second: Sequence[str] | None = None, *, max_len: int = 64
           ) -> dict[str, Tensor]:
    """Tokeniza textos (o pares de textos) en tensores (B, max_len):
    ``tokenize`` y luego ``build_inputs``."""
    first = check_texts(first, "first")
    second = None if second is None else check_texts(second, "second")
    ids = special_ids(tokenizer)
    return build_inputs(
        tokenize(tokenizer, first),
        None if second is None else tokenize(tokenizer, second),
        max_len=max_len, cls_id=ids["[CLS]"], sep_id=ids["[SEP]"],
        pad_id=ids["[PAD]"])


def make_nsp_pairs(sentences: Sequence[T], *, n_pairs: int,
                   generator: torch.Generator | None = None
                   ) -> tuple[list[T], list[T], Tensor]:
    """Pares para la predicción de la siguiente frase (NSP).

    Para cada par se sortea una frase A (que no sea la última); con
    probabilidad 1/2, B es la frase que la sigue (etiqueta 0, *IsNext*) y
    si no, una frase al azar del corpus que no sea A ni la siguiente
    (etiqueta 1, *NotNext*). Las etiquetas siguen la convención de HF.
    Las frases pueden ser textos o listas de ids ya tokenizadas.
    Devuelve ``(frases_A, frases_B, etiquetas (n_pairs,))``.
    """
    if isinstance(sentences, str):
        raise TypeError("sentences debe ser una lista de frases, no un "
                        "único str")
    check_int(n_pairs, "n_pairs")
    if len(sentences) < 3 or n_pairs < 1:
        raise ValueError(f"se necesitan >= 3 frases y n_pairs >= 1; se "
                         f"recibieron {len(sentences)} y {n_pairs}")
    g = generator if generator is not None else torch.Generator()
    seed = int(torch.randint(2**31 - 1, (1,), generator=g))
    rng = random.Random(seed)
    first, second, labels = [], [], []
    for _ in range(n_pairs):
        i = rng.randrange(len(sentences) - 1)
        if rng.random() < 0.5:
            j, label = i + 1, 0
        else:
            j, label = i, 1
            while j in (i, i + 1):
                j = rng.randrange(len(sentences))
        first.append(sentences[i])
        second.append(sentences[j])
        labels.append(label)
    return first, second, torch.tensor(labels)


# --- objetivo MLM: la regla 80/10/10 ----------------------------------

IGNORE_INDEX = -100  # etiqueta de las posiciones sin pérdida (PyTorch/HF)


def apply_mlm_masking(
    input_ids: Tensor, choose_noise: Tensor, kind_noise: Tensor,
    random_ids: Tensor, *, mask_token_id: int, is_special: Tensor,
    mlm_probability: float = 0.15,
) -> tuple[Tensor, Tensor]:
    """La regla del MLM con el ruido ya sorteado (determinista).

    Se elige cada token no especial con probabilidad ``mlm_probability``
    (``choose_noise < p``). De los elegidos, según ``kind_noise``: < 0,8 ->
    ``[MASK]``; [0,8, 0,9) -> ``random_ids``; ≥ 0,9 -> se deja igual.
    Todo (B, T). Devuelve ``(entradas, etiquetas)``: las etiquetas son el
    token original en las posiciones elegidas e ``IGNORE_INDEX`` (-100) en
    las demás, así la pérdida solo cuenta las elegidas.
    """
    check_tensor(input_ids, "input_ids", shape="(B, T)", dtype_kind="int")
    for name, x in (("choose_noise", choose_noise),
                    ("kind_noise", kind_noise), ("random_ids", random_ids),
                    ("is_special", is_special)):
        check_tensor(x, name, shape=f"{tuple(input_ids.shape)}")
        if x.shape != input_ids.shape:
            raise ValueError(f"{name} debe tener la forma de input_ids "
                             f"{tuple(input_ids.shape)}; se recibió "
                             f"{tuple(x.shape)}")
    check_tensor(is_special, "is_special", dtype_kind="bool")
    chosen = (choose_noise < mlm_probability) & ~is_special   # (B, T)
    labels = input_ids.masked_fill(~chosen, IGNORE_INDEX)
    to_mask = chosen & (kind_noise < 0.8)
    to_random = chosen & (kind_noise >= 0.8) & (kind_noise < 0.9)
    inputs = input_ids.masked_fill(to_mask, mask_token_id)
    inputs = torch.where(to_random, random_ids, inputs)
    return inputs, labels


def mask_tokens(
    input_ids: Tensor, *, mask_token_id: int, vocab_size: int,
    special_token_ids: tuple[int, ...] | list[int],
    mlm_probability: float = 0.15, generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Enmascara un lote (B, T) para el MLM (Devlin et al., 2019, §3.1).

    Nunca elige tokens especiales (``[CLS]``, ``[SEP]``, ``[PAD]``…, los de
    ``special_token_ids``); los tokens aleatorios del 10 % se sortean entre
    los no especiales. ``generator`` hace el sorteo reproducible. Devuelve
    ``(entradas, etiquetas)`` con -100 donde no hay pérdida.
    """
    check_tensor(input_ids, "input_ids", shape="(B, T)", dtype_kind="int")
    check_int(vocab_size, "vocab_size")
    if isinstance(special_token_ids, (str, int)) or not all(
            isinstance(i, numbers.Integral) for i in special_token_ids):
        raise TypeError("special_token_ids debe ser una lista de ids "
                        f"enteros; se recibió {special_token_ids!r}")
    if not 0.0 < mlm_probability < 1.0:
        raise ValueError("mlm_probability debe estar en (0, 1); vale "
                         f"{mlm_probability}")
    special = torch.tensor(sorted(set(special_token_ids)), dtype=torch.long)
    if mask_token_id not in special.tolist():
        raise ValueError(f"mask_token_id={mask_token_id} debe estar entre "
                         f"los especiales {special.tolist()}")
    if special.min() < 0 or special.max() >= vocab_size:
        raise ValueError(f"tokens especiales {special.tolist()} fuera del "
                         f"vocabulario [0, {vocab_size})")
    check_range(input_ids, 0, vocab_size, "input_ids",
                outside="ids fuera del vocabulario")
    candidates = torch.ones(vocab_size, dtype=torch.bool)
    candidates[special] = False
    candidates = candidates.nonzero().squeeze(1)       # ids no especiales
    shape, device = input_ids.shape, input_ids.device
    choose = torch.rand(shape, generator=generator).to(device)
    kind = torch.rand(shape, generator=generator).to(device)
    pick = torch.randint(len(candidates), shape, generator=generator)
    random_ids = candidates[pick].to(device=device, dtype=input_ids.dtype)
    is_special = torch.isin(input_ids, special.to(device))
    return apply_mlm_masking(
        input_ids, choose, kind, random_ids, mask_token_id=mask_token_id,
        is_special=is_special, mlm_probability=mlm_probability)


def _check_str(text: object, name: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} debe ser un texto (str); se recibió "
                        f"{describe(text)}")
    return text


def _check_id_lists(rows: object, name: str) -> None:
    """Una lista de secuencias de ids enteros (una por ejemplo). Los ids
    se miran solo en la primera fila: basta para el error típico."""
    if isinstance(rows, str) or not isinstance(rows, Sequence) or any(
            isinstance(r, str) or not isinstance(r, Sequence)
            for r in rows) or (rows and not all(
            isinstance(i, numbers.Integral) for i in rows[0])):
        raise TypeError(f"{name} debe ser una lista de listas de ids "
                        "enteros (usa tokenize para pasar de textos a "
                        f"ids); se recibió {describe(rows)}")


def wordpiece_split(tokenizer: Tokenizer, word: str) -> list[str]:
    """Cómo parte el tokenizador una palabra suelta (sin especiales)."""
    _check_str(word, "word")
    return tokenizer.encode(word, add_special_tokens=False).tokens



if __name__ == "__main__":
    trained = train_wordpiece(quijote_training_sentences(), vocab_size=4000)
    QUIJOTE_VOCAB.parent.mkdir(exist_ok=True)
    saved = save_vocab(trained, QUIJOTE_VOCAB)
    print(f"{QUIJOTE_VOCAB}: {len(saved)} tokens")
