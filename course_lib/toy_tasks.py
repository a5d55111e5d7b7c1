"""Tareas sintéticas pequeñas donde el orden importa.

Libro: capítulo 1, «Un experimento: ¿hace falta la atención?».

La tarea del puntero: el primer *token* dice una posición p y la
respuesta es el símbolo que hay en la posición p. Una bolsa de palabras
(que ignora el orden) no puede resolverla; una capa de atención con
posiciones, sí: la consulta del puntero aprende a buscar la clave de la
posición p.
"""

# Notación: B lote · T tokens · C canales · S símbolos · V vocabulario

from __future__ import annotations

import torch
from torch import Tensor, nn

from course_lib.attention import MultiHeadAttention, sinusoidal_positions
from course_lib.utils import check_ids, check_int


def make_pointer_task(
    n: int, seq_len: int = 12, n_symbols: int = 10,
    *, generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Genera ``n`` ejemplos de la tarea del puntero.

    x: (n, seq_len) enteros. x[:, 0] es el puntero: la posición
    p ∈ [1, seq_len) codificada como el token ``n_symbols + p - 1``;
    x[:, 1:] son símbolos en [0, n_symbols). y: (n,) = x[i, p_i].
    Vocabulario total: ``n_symbols + seq_len - 1``.
    """
    for name, value, low in (("n", n, 1), ("seq_len", seq_len, 2),
                             ("n_symbols", n_symbols, 2)):
        check_int(value, name, minimum=low)
    symbols = torch.randint(0, n_symbols, (n, seq_len - 1),
                            generator=generator)  # (n, T-1)
    p = torch.randint(1, seq_len, (n,), generator=generator)  # (n,)
    pointer = (n_symbols + p - 1)[:, None]  # (n, 1)
    x = torch.cat([pointer, symbols], dim=1)  # (n, T)
    y = x[torch.arange(n), p]  # (n,)
    return x, y


class BagOfWordsClassifier(nn.Module):
    """Media de los *embeddings* y un MLP: ignora el orden por diseño."""

    def __init__(self, vocab_size: int, n_classes: int, *, dim: int = 64,
                 hidden: int = 128) -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size),
                            ("n_classes", n_classes), ("dim", dim),
                            ("hidden", hidden)):
            check_int(value, name)
        self.embed = nn.Embedding(vocab_size, dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, n_classes)
        )

    def forward(self, x: Tensor) -> Tensor:
        check_ids(x, self.embed.num_embeddings, "x")
        bag = self.embed(x).mean(dim=1)  # (B, C): el orden desaparece
        return self.mlp(bag)  # (B, n_classes)


class PointerAttentionClassifier(nn.Module):
    """*Embeddings* + posiciones sinusoidales + una capa de atención cuya
    única consulta es el primer token; la salida se clasifica."""

    def __init__(self, vocab_size: int, n_classes: int, seq_len: int, *,
                 dim: int = 64, n_head: int = 1) -> None:
        super().__init__()
        check_int(vocab_size, "vocab_size")
        check_int(n_classes, "n_classes")
        self.embed = nn.Embedding(vocab_size, dim)
        self.register_buffer(
            "positions", sinusoidal_positions(seq_len, dim), persistent=False
        )
        self.attn = MultiHeadAttention(dim=dim, n_head=n_head)
        self.head = nn.Linear(dim, n_classes)

    def forward(
        self, x: Tensor, return_weights: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        check_ids(x, self.embed.num_embeddings, "x")
        if x.size(1) > self.positions.size(0):
            raise ValueError(
                f"secuencia de {x.size(1)} tokens; el modelo admite como "
                f"máximo {self.positions.size(0)}"
            )
        h = self.embed(x) + self.positions[: x.size(1)]  # (B, T, C)
        query = h[:, :1]  # (B, 1, C): solo el puntero pregunta
        out, weights = self.attn(query, context=h, return_weights=True)
        logits = self.head(out[:, 0])  # (B, n_classes)
        return (logits, weights) if return_weights else logits
