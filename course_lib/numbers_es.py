"""Una traducción de juguete: números con cifras → números en palabras.

Libro: capítulo 2, «Los datos: números que el modelo nunca verá».

«1987» → «mil novecientos ochenta y siete». Las reglas del español
(veintiuno, cien frente a ciento, quinientos, «un» delante de «mil»…)
hacen que la tarea no sea una simple sustitución de cifras: el modelo
tiene que leer toda la fuente para decidir cada palabra. Todo se genera
con semilla; no hay nada que descargar.

La fuente se tokeniza por caracteres (las cifras) y se **alinea a la
derecha** (relleno a la izquierda): así cada posición significa siempre
lo mismo (la última, unidades; la penúltima, decenas…). El destino se
tokeniza por palabras.
"""

# Notación: B lote · S cifras de la fuente · T palabras del destino

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from course_lib.utils import check_int, check_tensor

MAX_NUMBER = 999_999_999
MAX_DIGITS = 6              # la tarea del libro: de 0 a 999 999
PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIALS = (PAD, BOS, EOS)  # índices 0, 1 y 2 en los dos vocabularios

_UNITS = (
    "cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete",
    "ocho", "nueve", "diez", "once", "doce", "trece", "catorce", "quince",
    "dieciséis", "diecisiete", "dieciocho", "diecinueve", "veinte",
    "veintiuno", "veintidós", "veintitrés", "veinticuatro", "veinticinco",
    "veintiséis", "veintisiete", "veintiocho", "veintinueve",
)
_TENS = ("", "", "", "treinta", "cuarenta", "cincuenta", "sesenta",
         "setenta", "ochenta", "noventa")
_HUNDREDS = ("", "ciento", "doscientos", "trescientos", "cuatrocientos",
             "quinientos", "seiscientos", "setecientos", "ochocientos",
             "novecientos")
WORDS = (*_UNITS, *_TENS[3:], *_HUNDREDS[1:], "cien", "y", "un",
         "veintiún", "mil", "millón", "millones")


def _below_100(n: int, apocope: bool) -> str:
    """1..99. Con ``apocope``, «uno» se acorta delante de «mil» o
    «millones»: «veintiún mil», «treinta y un mil»."""
    if n < 30:
        word = _UNITS[n]
        if apocope and n in (1, 21):
            word = "un" if n == 1 else "veintiún"
        return word
    tens, unit = divmod(n, 10)
    if unit == 0:
        return _TENS[tens]
    last = "un" if apocope and unit == 1 else _UNITS[unit]
    return f"{_TENS[tens]} y {last}"


def _below_1000(n: int, apocope: bool = False) -> str:
    """1..999: «cien» solo, «ciento» seguido de algo."""
    if n == 100:
        return "cien"
    hundreds, rest = divmod(n, 100)
    parts = [_HUNDREDS[hundreds]] if hundreds else []
    if rest:
        parts.append(_below_100(rest, apocope))
    return " ".join(parts)


def number_to_words(n: int) -> str:
    """El número ``n`` (0 ≤ n ≤ 999 999 999) en palabras, en español.

    >>> number_to_words(1987)
    'mil novecientos ochenta y siete'
    >>> number_to_words(21_000)
    'veintiún mil'
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(
            f"n debe ser un int; se recibió {type(n).__name__} ({n!r})"
        )
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(
            f"n debe estar entre 0 y {MAX_NUMBER:_}; se recibió {n:_}"
        )
    if n == 0:
        return "cero"
    millions, rest = divmod(n, 1_000_000)
    thousands, units = divmod(rest, 1000)
    parts = []
    if millions:
        parts.append("un millón" if millions == 1
                     else f"{_below_1000(millions, True)} millones")
    if thousands:
        parts.append("mil" if thousands == 1      # «mil», no «un mil»
                     else f"{_below_1000(thousands, True)} mil")
    if units:
        parts.append(_below_1000(units))
    return " ".join(parts)


@dataclass(frozen=True)
class Vocabulary:
    """Tabla token ↔ id. Los especiales ocupan los ids 0, 1, 2."""

    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.tokens[:3] != SPECIALS:
            raise ValueError(
                f"los tres primeros tokens deben ser {SPECIALS}; se "
                f"recibieron {self.tokens[:3]}"
            )
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError("hay tokens repetidos en el vocabulario")
        object.__setattr__(
            self, "_ids", {t: i for i, t in enumerate(self.tokens)}
        )

    pad_id, bos_id, eos_id = 0, 1, 2

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        ids = []
        for t in tokens:
            if t not in self._ids:
                raise ValueError(
                    f"token desconocido {t!r}; el vocabulario tiene "
                    f"{len(self)} tokens"
                )
            ids.append(self._ids[t])
        return ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Ids → tokens, hasta el primer ``<eos>`` y sin especiales."""
        tokens = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if not 0 <= i < len(self):
                raise ValueError(
                    f"id {i} fuera del vocabulario [0, {len(self)})"
                )
            if i >= len(SPECIALS):
                tokens.append(self.tokens[i])
        return tokens


SRC_VOCAB = Vocabulary((*SPECIALS, *"0123456789"))
TGT_VOCAB = Vocabulary((*SPECIALS, *WORDS))


def _check_numbers(numbers: Sequence[int], max_digits: int) -> list[int]:
    numbers = [int(n) if isinstance(n, Tensor) else n for n in numbers]
    limit = 10 ** max_digits - 1
    for n in numbers:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"se esperaban enteros; se recibió {n!r}")
        if not 0 <= n <= limit:
            raise ValueError(
                f"{n} no cabe en {max_digits} cifras: cada número debe "
                f"estar entre 0 y {limit}"
            )
    return numbers


def encode_sources(numbers: Sequence[int], *,
                   max_digits: int = MAX_DIGITS) -> Tensor:
    """Cifras alineadas a la derecha: (B, S=max_digits), relleno a la
    izquierda. 1987 → [pad, pad, 1, 9, 8, 7]."""
    numbers = _check_numbers(numbers, max_digits)
    rows = [[SRC_VOCAB.pad_id] * (max_digits - len(str(n)))
            + SRC_VOCAB.encode(str(n)) for n in numbers]
    return torch.tensor(rows, dtype=torch.long).view(-1, max_digits)


def encode_targets(numbers: Sequence[int], *, length: int = 10) -> Tensor:
    """Etiquetas del decodificador (B, T=length): palabras + ``<eos>`` y
    relleno a la derecha. La entrada del decodificador es esta secuencia
    desplazada a la derecha con ``<bos>`` delante."""
    rows = []
    for n in _check_numbers(numbers, len(str(MAX_NUMBER))):
        ids = TGT_VOCAB.encode(number_to_words(n).split())
        ids.append(TGT_VOCAB.eos_id)
        if len(ids) > length:
            raise ValueError(
                f"{n} necesita {len(ids)} tokens y length={length}"
            )
        rows.append(ids + [TGT_VOCAB.pad_id] * (length - len(ids)))
    return torch.tensor(rows, dtype=torch.long).view(-1, length)


def decode_targets(ids: Tensor) -> list[str]:
    """(B, T) ids → B frases (se corta en el primer ``<eos>``)."""
    check_tensor(ids, "ids", ndim=2, shape="(B, T)", dtype_kind="int")
    return [" ".join(TGT_VOCAB.decode(row.tolist())) for row in ids]


def sample_numbers(n: int, *, max_digits: int = MAX_DIGITS,
                   generator: torch.Generator | None = None) -> Tensor:
    """``n`` números: primero un número de cifras k ∈ {1..max_digits}
    equiprobable y luego un número de k cifras al azar. Así los números
    cortos no son rarísimos (con un muestreo uniforme, 9 de cada 10
    tendrían 6 cifras)."""
    check_int(n, "n", minimum=0)
    check_int(max_digits, "max_digits")
    if max_digits > len(str(MAX_NUMBER)):
        raise ValueError(f"max_digits debe estar entre 1 y "
                         f"{len(str(MAX_NUMBER))}; se recibió {max_digits}")
    k = torch.randint(1, max_digits + 1, (n,), generator=generator)
    low = torch.where(k == 1, 0, 10 ** (k - 1))         # (n,)
    span = 10 ** k - low                                 # (n,)
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    return low + (u * span).long().clamp(max=span - 1)  # (n,)


@dataclass(frozen=True)
class NumberTranslation:
    """Datos de la tarea. ``*_src`` (N, S) cifras; ``*_tgt`` (N, T)
    etiquetas (palabras + ``<eos>``). Ningún número de prueba aparece en
    el entrenamiento."""

    train_numbers: Tensor
    test_numbers: Tensor
    train_src: Tensor
    train_tgt: Tensor
    test_src: Tensor
    test_tgt: Tensor


def make_number_translation(
    *, n_train: int = 60_000, n_test_per_length: int = 250,
    test_lengths: Sequence[int] = (3, 4, 5, 6),
    generator: torch.Generator | None = None,
) -> NumberTranslation:
    """Parte de prueba: ``n_test_per_length`` números distintos de cada
    longitud de ``test_lengths``. Parte de entrenamiento: ``n_train``
    números de ``sample_numbers`` (con repeticiones) que no están en la
    prueba. Los números de 0 a 99 son el léxico básico (palabras que no se
    deducen de reglas): van todos al entrenamiento."""
    if n_train < 1 or n_test_per_length < 1:
        raise ValueError(
            "n_train y n_test_per_length deben ser >= 1; se recibieron "
            f"{n_train} y {n_test_per_length}"
        )
    test = []
    for k in test_lengths:
        if not 3 <= k <= MAX_DIGITS:
            raise ValueError(
                f"las longitudes de prueba van de 3 a {MAX_DIGITS}; se "
                f"recibió {k}"
            )
        count = 9 * 10 ** (k - 1)
        if n_test_per_length > count // 2:
            raise ValueError(
                f"{n_test_per_length} números de prueba de {k} cifras "
                f"dejarían menos de la mitad para entrenar"
            )
        pick = torch.randperm(count, generator=generator)
        test.append(10 ** (k - 1) + pick[:n_test_per_length])
    test_numbers = torch.cat(test)
    train = sample_numbers(2 * n_train, generator=generator)
    train = train[~torch.isin(train, test_numbers)][:n_train]
    # Se codifica cada número distinto una sola vez y se indexa.
    distinct, inverse = torch.unique(train, return_inverse=True)
    return NumberTranslation(
        train_numbers=train, test_numbers=test_numbers,
        train_src=encode_sources(distinct.tolist())[inverse],
        train_tgt=encode_targets(distinct.tolist())[inverse],
        test_src=encode_sources(test_numbers.tolist()),
        test_tgt=encode_targets(test_numbers.tolist()),
    )
