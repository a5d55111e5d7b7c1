"""Tokenizador de caracteres y partición entrenamiento/validación.

Libro: capítulo 4, «Del texto a los números».
El vocabulario es el conjunto de caracteres distintos del texto, ordenado:
para ``moliere.txt``, 85 caracteres. Un id por carácter, sin tokens
especiales.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from course_lib.utils import check_tensor, describe


class CharTokenizer:
    """Convierte texto en ids (uno por carácter) y viceversa.

    >>> tok = CharTokenizer.from_text("hola")
    >>> tok.encode("ola").tolist(), tok.decode([1, 2])
    ([2, 1, 0], 'lo')
    """

    def __init__(self, chars: Sequence[str]) -> None:
        chars = list(chars)
        if not chars or any(len(c) != 1 for c in chars):
            raise ValueError("el vocabulario debe ser una lista no vacía de "
                             "caracteres sueltos")
        if len(set(chars)) != len(chars):
            raise ValueError("el vocabulario tiene caracteres repetidos")
        self.chars = chars
        self.stoi = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """Vocabulario = caracteres distintos de ``text``, ordenados."""
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> Tensor:
        """Texto -> ids (T,) de tipo int64."""
        if not isinstance(text, str):
            raise TypeError(
                f"encode espera un str; se recibió {type(text).__name__}")
        unknown = sorted(set(text) - self.stoi.keys())
        if unknown:
            pos = next(i for i, c in enumerate(text) if c in unknown)
            raise ValueError(
                f"caracteres fuera del vocabulario: {unknown!r} (el primero "
                f"en la posición {pos}); el tokenizador conoce "
                f"{self.vocab_size} caracteres")
        return torch.tensor([self.stoi[c] for c in text], dtype=torch.long)

    def decode(self, ids: Tensor | Sequence[int]) -> str:
        """ids (T,) -> texto."""
        if isinstance(ids, Tensor):
            ids = check_tensor(ids, "ids", ndim=1, shape="(T,)",
                               dtype_kind="int").tolist()
        elif isinstance(ids, str) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise TypeError("decode espera ids enteros (un tensor 1-D o "
                            f"una lista de int); se recibió "
                            f"{describe(ids)}")
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"ids fuera del vocabulario [0, "
                             f"{self.vocab_size}): {bad[:5]}")
        return "".join(self.chars[i] for i in ids)


def train_val_split(data: Tensor, train_fraction: float = 0.9
                    ) -> tuple[Tensor, Tensor]:
    """Primer 90 % para entrenar, último 10 % para validar (sin barajar:
    la validación es texto que el modelo nunca vio, como en el curso
    público del que viene el ejercicio, así las cifras se comparan)."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(
            f"train_fraction debe estar en (0, 1); vale {train_fraction}")
    check_tensor(data, "data", ndim=1, shape="(N,)")
    n = int(train_fraction * len(data))
    if n == 0 or n == len(data):
        raise ValueError(f"con {len(data)} tokens y train_fraction="
                         f"{train_fraction} una de las dos partes queda "
                         "vacía; se necesitan más datos")
    return data[:n], data[n:]
