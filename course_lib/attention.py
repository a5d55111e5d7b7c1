"""Atención escalada, máscaras, atención multi-cabeza y posiciones.

Libro: capítulo 1, «Atención desde cero».
Artículo: Vaswani et al. (2017), §3.2 (atención) y §3.5 (posiciones).

Convención de máscaras de todo el libro: booleanas, True = «puede
atender», difundibles (*broadcast*) a (B, H, Tq, Tk), como en
``F.scaled_dot_product_attention``. Ojo: ``nn.MultiheadAttention`` usa la
convención contraria (True = bloqueado).
"""

# Notación: B lote · T tokens · C canales · H cabezas · D = C // H
#           Tq consultas (queries) · Tk claves (keys)

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.utils import check_int, check_tensor


def _check_float(name: str, x: object) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{name} debe ser un torch.Tensor; se recibió {type(x).__name__}"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{name} debe ser de tipo flotante (float32, float64…); "
            f"se recibió dtype={x.dtype}"
        )
    return x


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    *,
    dropout_p: float = 0.0,
    fused: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """softmax(Q·Kᵀ/√D)·V.  q: (..., Tq, D); k: (..., Tk, D); v: (..., Tk, Dv).

    mask: booleana, difundible a (..., Tq, Tk); True = «puede atender».
    Devuelve ``(salida, pesos)``: salida (..., Tq, Dv) y pesos (..., Tq, Tk)
    (la distribución tras el softmax, antes del *dropout*). Con
    ``fused=True`` usa ``F.scaled_dot_product_attention`` y los pesos son
    ``None`` (el núcleo fusionado no los materializa).

    Caso límite: una fila de consulta con la máscara entera en False no
    tiene a quién atender y su salida es NaN (0/0 en el softmax).
    """
    _check_float("q", q)
    _check_float("k", k)
    _check_float("v", v)
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise ValueError(
            "q, k y v necesitan al menos 2 dimensiones (..., T, D); se "
            f"recibieron {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(
            f"q, k y v deben tener el mismo dtype; se recibieron {q.dtype}, "
            f"{k.dtype}, {v.dtype}"
        )
    if q.size(-1) != k.size(-1):
        raise ValueError(
            "la última dimensión de q y k debe coincidir (D); se recibieron "
            f"q {tuple(q.shape)} y k {tuple(k.shape)}"
        )
    if k.size(-2) != v.size(-2):
        raise ValueError(
            "k y v deben tener el mismo número de posiciones Tk; se "
            f"recibieron k {tuple(k.shape)} y v {tuple(v.shape)}"
        )
    scores_shape = (*q.shape[:-1], k.size(-2))  # (..., Tq, Tk)
    if mask is not None:
        if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
            got = mask.dtype if isinstance(mask, Tensor) else type(mask)
            raise TypeError(
                "la máscara debe ser un tensor booleano (True = puede "
                f"atender); se recibió {got}"
            )
        try:
            torch.broadcast_shapes(mask.shape, scores_shape)
        except RuntimeError:
            raise ValueError(
                f"la máscara {tuple(mask.shape)} no se puede difundir a la "
                f"forma de las puntuaciones {scores_shape} (..., Tq, Tk)"
            ) from None
    if fused:
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout_p
        )
        return out, None

    d = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (..., Tq, Tk)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)  # (..., Tq, Tk), cada fila suma 1
    attended = weights
    if dropout_p > 0.0:
        attended = F.dropout(weights, p=dropout_p)
    return attended @ v, weights  # (..., Tq, Dv)


def causal_mask(T: int, *, device: torch.device | str | None = None) -> Tensor:
    """Máscara causal (T, T): la posición i puede atender a j ≤ i.

    >>> causal_mask(3).int()
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)
    """
    if not isinstance(T, int) or isinstance(T, bool) or T < 1:
        raise ValueError(f"T debe ser un entero >= 1; se recibió {T!r}")
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(lengths: Tensor, T: int) -> Tensor:
    """Máscara de relleno (B, 1, 1, T): True en las T primeras posiciones
    reales de cada secuencia, False en el relleno (*padding*).

    lengths: (B,) enteros entre 1 y T. La forma (B, 1, 1, T) se difunde
    sobre cabezas y consultas: ninguna consulta atiende al relleno.
    """
    check_tensor(lengths, "lengths", ndim=1, shape="(B,)", dtype_kind="int")
    check_int(T, "T")
    # El rango, solo en la CPU: sin sincronizar la GPU (utils.check_range).
    if lengths.device.type == "cpu" and lengths.numel() and (
            lengths.min() < 1 or lengths.max() > T):
        raise ValueError(
            f"cada longitud debe estar entre 1 y T={T}; se recibió "
            f"{lengths.tolist()}"
        )
    positions = torch.arange(T, device=lengths.device)  # (T,)
    mask = positions[None, :] < lengths[:, None]  # (B, T)
    return mask[:, None, None, :]  # (B, 1, 1, T)


def split_heads(x: Tensor, n_head: int) -> Tensor:
    """(B, T, C) -> (B, H, T, D) con D = C // H."""
    check_tensor(x, "x", ndim=3, shape="(B, T, C)")
    check_int(n_head, "n_head")
    B, T, C = x.shape
    if C % n_head:
        raise ValueError(f"x {tuple(x.shape)} tiene C={C} canales; C debe "
                         f"ser múltiplo de n_head={n_head}")
    x = x.view(B, T, n_head, C // n_head)  # (B, T, H, D)
    return x.transpose(1, 2)  # (B, H, T, D)


def merge_heads(x: Tensor) -> Tensor:
    """(B, H, T, D) -> (B, T, C): concatena las cabezas."""
    check_tensor(x, "x", ndim=4, shape="(B, H, T, D)")
    B, H, T, D = x.shape
    x = x.transpose(1, 2)  # (B, T, H, D)
    return x.reshape(B, T, H * D)  # (B, T, C)


class MultiHeadAttention(nn.Module):
    """Atención multi-cabeza: proyecta, divide en H cabezas, atiende en
    paralelo, concatena y mezcla con W_O.

    Libro: capítulo 1, «Atención multi-cabeza».
    Artículo: Vaswani et al. (2017), §3.2.2.
    Entrada x: (B, Tq, dim); ``context`` (B, Tk, context_dim) para atención
    cruzada (si es None, autoatención: context = x). Salida: (B, Tq, dim).

    Pesos: ``q_proj``, ``k_proj``, ``v_proj`` (W_Q, W_K, W_V) y
    ``out_proj`` (W_O), ``nn.Linear`` con la forma (salida, entrada).
    ``load_torch_weights`` / ``to_torch`` los copian desde / hacia
    ``nn.MultiheadAttention`` (``in_proj_weight`` = [W_Q; W_K; W_V]
    apiladas en la dimensión 0).
    """

    def __init__(
        self,
        dim: int,
        n_head: int,
        *,
        context_dim: int | None = None,
        dropout: float = 0.0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        check_int(dim, "dim")
        check_int(n_head, "n_head")
        if dim % n_head:
            raise ValueError(
                f"dim={dim} debe ser un múltiplo positivo de n_head={n_head}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout debe estar en [0, 1); vale {dropout}")
        context_dim = dim if context_dim is None else context_dim
        self.dim, self.n_head, self.context_dim = dim, n_head, context_dim
        self.dropout = dropout
        self.q_proj = nn.Linear(dim, dim, bias=bias)
        self.k_proj = nn.Linear(context_dim, dim, bias=bias)
        self.v_proj = nn.Linear(context_dim, dim, bias=bias)
        self.out_proj = nn.Linear(dim, dim, bias=bias)

    def forward(
        self,
        x: Tensor,
        context: Tensor | None = None,
        mask: Tensor | None = None,
        return_weights: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """mask: booleana, difundible a (B, H, Tq, Tk); True = puede atender.

        Con ``return_weights=True`` devuelve también los pesos de atención
        (B, H, Tq, Tk) de cada cabeza.
        """
        _check_float("x", x)
        if x.dim() != 3 or x.size(-1) != self.dim:
            raise ValueError(
                f"x debe tener forma (B, T, {self.dim}); se recibió "
                f"{tuple(x.shape)}"
            )
        ctx = x if context is None else _check_float("context", context)
        if ctx.dim() != 3 or ctx.size(-1) != self.context_dim:
            raise ValueError(
                f"context debe tener forma (B, Tk, {self.context_dim}); se "
                f"recibió {tuple(ctx.shape)}"
            )
        if ctx.size(0) != x.size(0):
            raise ValueError(
                f"x y context deben tener el mismo lote B; se recibieron "
                f"{x.size(0)} y {ctx.size(0)}"
            )
        q = split_heads(self.q_proj(x), self.n_head)  # (B, H, Tq, D)
        k = split_heads(self.k_proj(ctx), self.n_head)  # (B, H, Tk, D)
        v = split_heads(self.v_proj(ctx), self.n_head)  # (B, H, Tk, D)
        p = self.dropout if self.training else 0.0
        out, weights = scaled_dot_product_attention(
            q, k, v, mask, dropout_p=p
        )
        out = self.out_proj(merge_heads(out))  # (B, Tq, dim)
        return (out, weights) if return_weights else out

    @torch.no_grad()
    def load_torch_weights(self, ref: nn.MultiheadAttention) -> None:
        """Copia los pesos de un ``nn.MultiheadAttention`` equivalente."""
        self._check_compatible(ref)
        if ref._qkv_same_embed_dim:
            wq, wk, wv = ref.in_proj_weight.chunk(3, dim=0)  # (C, C) cada una
        else:
            wq, wk, wv = (
                ref.q_proj_weight, ref.k_proj_weight, ref.v_proj_weight
            )
        for proj, w in zip(
            (self.q_proj, self.k_proj, self.v_proj), (wq, wk, wv), strict=True
        ):
            proj.weight.copy_(w)
        self.out_proj.weight.copy_(ref.out_proj.weight)
        if ref.in_proj_bias is not None:
            bq, bk, bv = ref.in_proj_bias.chunk(3)
            self.q_proj.bias.copy_(bq)
            self.k_proj.bias.copy_(bk)
            self.v_proj.bias.copy_(bv)
            self.out_proj.bias.copy_(ref.out_proj.bias)

    @torch.no_grad()
    def to_torch(self) -> nn.MultiheadAttention:
        """Crea un ``nn.MultiheadAttention(batch_first=True)`` con estos
        mismos pesos (para comparar o para usar el núcleo de PyTorch)."""
        has_bias = self.q_proj.bias is not None
        kdim = None if self.context_dim == self.dim else self.context_dim
        ref = nn.MultiheadAttention(
            self.dim, self.n_head, dropout=self.dropout, bias=has_bias,
            kdim=kdim, vdim=kdim, batch_first=True,
        )
        weights = (self.q_proj.weight, self.k_proj.weight, self.v_proj.weight)
        if ref._qkv_same_embed_dim:
            ref.in_proj_weight.copy_(torch.cat(weights, dim=0))  # (3C, C)
        else:
            ref.q_proj_weight.copy_(weights[0])
            ref.k_proj_weight.copy_(weights[1])
            ref.v_proj_weight.copy_(weights[2])
        ref.out_proj.weight.copy_(self.out_proj.weight)
        if has_bias:
            ref.in_proj_bias.copy_(
                torch.cat(
                    (self.q_proj.bias, self.k_proj.bias, self.v_proj.bias)
                )
            )
            ref.out_proj.bias.copy_(self.out_proj.bias)
        return ref.to(self.q_proj.weight.device)

    def _check_compatible(self, ref: nn.MultiheadAttention) -> None:
        ours = (self.dim, self.n_head, self.context_dim)
        theirs = (ref.embed_dim, ref.num_heads, ref.kdim)
        if ours != theirs or ref.vdim != ref.kdim:
            raise ValueError(
                "nn.MultiheadAttention incompatible: (dim, n_head, "
                f"context_dim) = {ours} frente a {theirs}"
            )
        if (ref.in_proj_bias is None) != (self.q_proj.bias is None):
            raise ValueError("uno de los dos módulos tiene sesgo y el otro no")


def sinusoidal_positions(
    T: int, dim: int, *, base: float = 10000.0
) -> Tensor:
    """Codificación posicional sinusoidal (T, dim), intercalada:

    PE[t, 2i] = sin(t / base^(2i/dim)),  PE[t, 2i+1] = cos(t / base^(2i/dim))

    Artículo: Vaswani et al. (2017), §3.5. ``dim`` debe ser par.
    """
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"T debe ser un entero >= 1; se recibió {T!r}")
    if not isinstance(dim, int) or dim < 2 or dim % 2:
        raise ValueError(
            f"dim debe ser un entero par >= 2; se recibió {dim!r}"
        )
    t = torch.arange(T, dtype=torch.float32)[:, None]  # (T, 1)
    two_i = torch.arange(0, dim, 2, dtype=torch.float32)  # (dim/2,)
    angles = t / base ** (two_i / dim)  # (T, dim/2)
    pe = torch.empty(T, dim)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe
