"""El Transformer codificador-decodificador completo.

Libro: capítulo 2, «El Transformer completo».
Artículo: Vaswani et al. (2017), §3.1 (arquitectura), §3.3 (red
*feed-forward*), §3.4 (*embeddings* por √C) y §3.5 (posiciones).

Los nombres de los parámetros de cada capa son los de
``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer``
(``self_attn``, ``multihead_attn``, ``linear1``, ``linear2``, ``norm1``,
``norm2``, ``norm3``): ``load_torch_weights`` y ``to_torch`` copian los
pesos en los dos sentidos. La atención es la de ``course_lib.attention``
(``q_proj``/``k_proj``/``v_proj``/``out_proj``; la de PyTorch apila las
tres primeras en ``in_proj_weight``).

Máscaras: booleanas, True = «puede atender» (las de PyTorch, al revés).

Pasa de 400 líneas a propósito: es el modelo completo del artículo, de
las capas a la decodificación voraz, con la copia de pesos desde y hacia
``torch.nn.Transformer`` al lado de cada capa que la necesita.
"""

# Notación: B lote · S tokens de la fuente · T tokens del destino
#           C canales (dim) · H cabezas · F canales ocultos (ffn_dim)
#           V vocabulario

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.attention import (
    MultiHeadAttention,
    causal_mask,
    sinusoidal_positions,
)
from course_lib.training import fit, random_batches, warmup_times_cosine
from course_lib.utils import (
    check_config,
    check_examples,
    check_ids,
    check_int,
    check_targets,
    check_tensor,
    from_preset,
)

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class _Layer(nn.Module):
    """Lo común a las dos capas: la red *feed-forward* por token,
    F(x) = linear2(act(linear1(x))), y la copia de pesos con PyTorch."""

    _norms: tuple[str, ...] = ()
    _attns: tuple[str, ...] = ()

    def __init__(self, dim: int, n_head: int, ffn_dim: int, dropout: float,
                 activation: str, norm_first: bool, ln_eps: float) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activación desconocida {activation!r}; se "
                             f"esperaba una de {tuple(_ACTIVATIONS)}")
        self.dim, self.n_head, self.ffn_dim = dim, n_head, ffn_dim
        self.p, self.activation = dropout, activation
        self.norm_first, self.ln_eps = norm_first, ln_eps

    def _add_feed_forward(self) -> None:
        """Crea la *feed-forward* y, por cada subcapa (``_norms``), su
        LayerNorm y su *dropout*: ``norm1``, ``dropout1``… con los nombres
        de PyTorch. Se llama tras crear las atenciones, en el orden de
        PyTorch (así se sortean los pesos iniciales en el mismo orden)."""
        C, F_, p = self.dim, self.ffn_dim, self.p
        self.linear1 = nn.Linear(C, F_)
        self.dropout = nn.Dropout(p)
        self.linear2 = nn.Linear(F_, C)
        for i in range(1, len(self._norms) + 1):
            setattr(self, f"norm{i}", nn.LayerNorm(C, eps=self.ln_eps))
        for i in range(1, len(self._norms) + 1):
            setattr(self, f"dropout{i}", nn.Dropout(p))

    def _ff(self, x: Tensor) -> Tensor:
        h = _ACTIVATIONS[self.activation](self.linear1(x))  # (B, T, F)
        return self.linear2(self.dropout(h))  # (B, T, C)

    def _kwargs(self) -> dict[str, Any]:
        return dict(d_model=self.dim, nhead=self.n_head,
                    dim_feedforward=self.ffn_dim, dropout=self.p,
                    activation=self.activation, layer_norm_eps=self.ln_eps,
                    batch_first=True, norm_first=self.norm_first)

    @torch.no_grad()
    def load_torch_weights(self, ref: nn.Module) -> None:
        """Copia los pesos de la capa equivalente de PyTorch."""
        ours = (self.dim, self.n_head, self.ffn_dim, self.norm_first,
                self.ln_eps)
        theirs = (ref.self_attn.embed_dim, ref.self_attn.num_heads,
                  ref.linear1.out_features, ref.norm_first, ref.norm1.eps)
        if ours != theirs:
            raise ValueError(
                "capa de PyTorch incompatible: (dim, n_head, ffn_dim, "
                f"norm_first, ln_eps) = {ours} frente a {theirs}"
            )
        for name in self._attns:
            getattr(self, name).load_torch_weights(getattr(ref, name))
        for name in ("linear1", "linear2", *self._norms):
            getattr(self, name).load_state_dict(
                getattr(ref, name).state_dict(), strict=True)

    @torch.no_grad()
    def to_torch(self) -> nn.Module:
        """La capa de PyTorch (``batch_first=True``) con estos pesos."""
        cls = (nn.TransformerDecoderLayer if "multihead_attn" in self._attns
               else nn.TransformerEncoderLayer)
        ref = cls(**self._kwargs())
        for name in self._attns:
            getattr(ref, name).load_state_dict(
                getattr(self, name).to_torch().state_dict())
        for name in ("linear1", "linear2", *self._norms):
            getattr(ref, name).load_state_dict(getattr(self, name)
                                               .state_dict())
        return ref.to(self.linear1.weight.device).train(self.training)


class EncoderLayer(_Layer):
    """Autoatención + *feed-forward*, cada una con residual y LayerNorm.

    Post-norm (artículo): x = LN(x + Sub(x)). Pre-norm (GPT-2, ViT…):
    x = x + Sub(LN(x)). Entrada y salida: (B, S, C).
    """

    _norms, _attns = ("norm1", "norm2"), ("self_attn",)

    def __init__(self, dim: int, n_head: int, *, ffn_dim: int,
                 dropout: float = 0.0, activation: str = "relu",
                 norm_first: bool = False, ln_eps: float = 1e-5) -> None:
        super().__init__(dim, n_head, ffn_dim, dropout, activation,
                         norm_first, ln_eps)
        self.self_attn = MultiHeadAttention(dim, n_head, dropout=dropout)
        self._add_feed_forward()

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """mask: difundible a (B, H, S, S), p. ej. de relleno (B, 1, 1, S)."""
        sa = lambda h: self.dropout1(self.self_attn(h, mask=mask))
        ff = lambda h: self.dropout2(self._ff(h))
        if self.norm_first:
            x = x + sa(self.norm1(x))
            return x + ff(self.norm2(x))
        x = self.norm1(x + sa(x))
        return self.norm2(x + ff(x))  # (B, S, C)


class DecoderLayer(_Layer):
    """Autoatención enmascarada, atención cruzada (Q del decodificador;
    K y V de la memoria, la salida del codificador) y *feed-forward*.

    Entrada x (B, T, C) y memoria (B, S, C). Salida (B, T, C) y, con
    ``return_weights=True``, los pesos cruzados (B, H, T, S).
    """

    _norms = ("norm1", "norm2", "norm3")
    _attns = ("self_attn", "multihead_attn")

    def __init__(self, dim: int, n_head: int, *, ffn_dim: int,
                 dropout: float = 0.0, activation: str = "relu",
                 norm_first: bool = False, ln_eps: float = 1e-5) -> None:
        super().__init__(dim, n_head, ffn_dim, dropout, activation,
                         norm_first, ln_eps)
        self.self_attn = MultiHeadAttention(dim, n_head, dropout=dropout)
        self.multihead_attn = MultiHeadAttention(dim, n_head,
                                                 dropout=dropout)
        self._add_feed_forward()

    def forward(
        self, x: Tensor, memory: Tensor, self_mask: Tensor | None = None,
        memory_mask: Tensor | None = None, return_weights: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """self_mask: difundible a (B, H, T, T) (causal y relleno);
        memory_mask: difundible a (B, H, T, S) (relleno de la fuente)."""
        weights: list[Tensor] = []

        def cross(h: Tensor) -> Tensor:
            out, w = self.multihead_attn(h, memory, memory_mask,
                                         return_weights=True)
            weights.append(w)  # (B, H, T, S)
            return self.dropout2(out)

        sa = lambda h: self.dropout1(self.self_attn(h, mask=self_mask))
        ff = lambda h: self.dropout3(self._ff(h))
        if self.norm_first:
            x = x + sa(self.norm1(x))
            x = x + cross(self.norm2(x))
            x = x + ff(self.norm3(x))
        else:
            x = self.norm1(x + sa(x))
            x = self.norm2(x + cross(x))
            x = self.norm3(x + ff(x))  # (B, T, C)
        return (x, weights[0]) if return_weights else x


@dataclass(frozen=True)
class TransformerConfig:
    """Hiperparámetros. Presets: ``TransformerConfig.preset(nombre)``."""

    src_vocab_size: int = 13    # 10 cifras + <pad>, <bos>, <eos>
    tgt_vocab_size: int = 56    # palabras de los números + especiales
    hidden_size: int = 64               # C (d_model en el artículo)
    num_attention_heads: int = 4
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2
    intermediate_size: int = 256          # F (d_ff); el artículo usa 4·C
    max_position_embeddings: int = 16  # longitud máx. de fuente y destino
    dropout: float = 0.0
    hidden_act: str = "relu"    # la del artículo
    norm_first: bool = False    # False: post-norm (2017); True: pre-norm
    layer_norm_eps: float = 1e-5
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2

    def __post_init__(self) -> None:
        check_config(
            self, positive=("src_vocab_size", "tgt_vocab_size",
                            "hidden_size", "num_attention_heads",
                            "num_encoder_layers", "num_decoder_layers",
                            "intermediate_size", "max_position_embeddings"),
            fractions=("dropout",),
            choices={"hidden_act": tuple(_ACTIVATIONS)},
            multiples=[("hidden_size", "num_attention_heads")])
        if self.hidden_size % 2:    # las posiciones van en pares sen/cos
            raise ValueError(f"hidden_size={self.hidden_size} debe ser par")
        for name in ("pad_id", "bos_id", "eos_id"):
            value = check_int(getattr(self, name), name, minimum=0)
            if value >= min(self.src_vocab_size, self.tgt_vocab_size):
                raise ValueError(
                    f"{name}={value} debe estar en los dos vocabularios "
                    f"(src_vocab_size={self.src_vocab_size}, "
                    f"tgt_vocab_size={self.tgt_vocab_size})")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> TransformerConfig:
        """«cpu»: el del cuaderno, medido en 2 núcleos."""
        return from_preset(cls, TRANSFORMER_PRESETS, name, overrides)


TRANSFORMER_PRESETS: dict[str, dict[str, Any]] = {
    "cpu": dict(hidden_size=64, num_attention_heads=4, num_encoder_layers=2,
                num_decoder_layers=2, intermediate_size=128),
}


def shift_right(labels: Tensor, bos_id: int) -> Tensor:
    """Entrada del decodificador con *teacher forcing*: (B, T) ->
    (B, T) = [<bos>, y_1, …, y_{T-1}]. En el paso t el decodificador ve
    las palabras correctas anteriores y debe predecir ``labels[:, t]``."""
    check_tensor(labels, "labels", ndim=2, shape="(B, T)", dtype_kind="int")
    check_int(bos_id, "bos_id", minimum=0)
    bos = torch.full_like(labels[:, :1], bos_id)  # (B, 1)
    return torch.cat([bos, labels[:, :-1]], dim=1)  # (B, T)


def decoder_mask(tgt: Tensor, pad_id: int) -> Tensor:
    """(B, 1, T, T): causal (la consulta t ve las claves ≤ t) y sin
    claves de relleno. True = puede atender."""
    check_tensor(tgt, "tgt", ndim=2, shape="(B, T)", dtype_kind="int")
    T = tgt.size(1)
    keys = (tgt != pad_id)[:, None, None, :]  # (B, 1, 1, T)
    return causal_mask(T, device=tgt.device) & keys  # (B, 1, T, T)


class Transformer(nn.Module):
    """Codificador-decodificador: fuente (B, S) y destino desplazado
    (B, T) -> logits (B, T, V) sobre el vocabulario de destino.

    Libro: capítulo 2, «Teoría: las piezas y sus formas». La softmax va en la
    pérdida (``F.cross_entropy``) o en la decodificación.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = c = config
        layer = dict(ffn_dim=c.intermediate_size, dropout=c.dropout,
                     activation=c.hidden_act, norm_first=c.norm_first,
                     ln_eps=c.layer_norm_eps)
        self.src_embed = nn.Embedding(c.src_vocab_size, c.hidden_size)
        self.tgt_embed = nn.Embedding(c.tgt_vocab_size, c.hidden_size)
        self.register_buffer("positions", sinusoidal_positions(
            c.max_position_embeddings, c.hidden_size),
            persistent=False)   # (max_position_embeddings, C)
        self.embed_dropout = nn.Dropout(c.dropout)
        self.encoder_layers = nn.ModuleList(
            EncoderLayer(c.hidden_size, c.num_attention_heads, **layer)
            for _ in range(c.num_encoder_layers))
        self.decoder_layers = nn.ModuleList(
            DecoderLayer(c.hidden_size, c.num_attention_heads, **layer)
            for _ in range(c.num_decoder_layers))
        # Con pre-norm la corriente residual sale sin normalizar: hace
        # falta una LayerNorm final (con post-norm ya está normalizada).
        norm = (lambda: nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)) if (
            c.norm_first) else nn.Identity
        self.encoder_norm, self.decoder_norm = norm(), norm()
        self.lm_head = nn.Linear(c.hidden_size, c.tgt_vocab_size)

    def _check_ids(self, ids: object, name: str) -> Tensor:
        """Valida la fuente o el destino: enteros (B, T) en el vocabulario
        y 1 <= T <= max_len. Una vez por llamada pública."""
        c = self.config
        V = c.src_vocab_size if name == "src" else c.tgt_vocab_size
        ids = check_ids(ids, V, name)
        if not 1 <= ids.size(1) <= c.max_position_embeddings:
            raise ValueError(f"{name} tiene {ids.size(1)} tokens; el modelo "
                             "admite de 1 a max_position_embeddings="
                             f"{c.max_position_embeddings}")
        return ids

    def _embed(self, ids: Tensor, table: nn.Embedding) -> Tensor:
        T = ids.size(1)
        x = table(ids) * math.sqrt(self.config.hidden_size)  # (B, T, C), §3.4
        return self.embed_dropout(x + self.positions[:T])

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor]:
        """src (B, S) -> memoria (B, S, C) y su máscara (B, 1, 1, S)."""
        self._check_ids(src, "src")
        src_mask = (src != self.config.pad_id)[:, None, None, :]
        x = self._embed(src, self.src_embed)
        for layer in self.encoder_layers:
            x = layer(x, src_mask)
        return self.encoder_norm(x), src_mask

    def decode(
        self, tgt: Tensor, memory: Tensor, src_mask: Tensor,
        return_weights: bool = False,
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """tgt (B, T) -> logits (B, T, V); con ``return_weights``, también
        los pesos cruzados de cada capa, (B, H, T, S)."""
        self._check_ids(tgt, "tgt")
        check_tensor(memory, "memory", ndim=3, shape="(B, S, C)",
                     dtype_kind="float")
        if memory.size(0) != tgt.size(0):
            raise ValueError(f"tgt y memory deben tener el mismo lote B; se "
                             f"recibieron {tgt.size(0)} y {memory.size(0)}")
        return self._decode(tgt, memory, src_mask, return_weights)

    def _decode(
        self, tgt: Tensor, memory: Tensor, src_mask: Tensor,
        return_weights: bool = False,
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        self_mask = decoder_mask(tgt, self.config.pad_id)  # (B, 1, T, T)
        x = self._embed(tgt, self.tgt_embed)
        maps = []
        for layer in self.decoder_layers:
            x, w = layer(x, memory, self_mask, src_mask, return_weights=True)
            maps.append(w)
        logits = self.lm_head(self.decoder_norm(x))  # (B, T, V)
        return (logits, maps) if return_weights else logits

    def forward(self, src: Tensor, tgt: Tensor) -> Tensor:
        """src (B, S); tgt (B, T) que empieza por <bos>. -> (B, T, V)."""
        self._check_ids(tgt, "tgt")
        if self._check_ids(src, "src").size(0) != tgt.size(0):
            raise ValueError(f"src y tgt deben tener el mismo lote B; se "
                             f"recibieron {src.size(0)} y {tgt.size(0)}")
        memory, src_mask = self.encode(src)
        return self._decode(tgt, memory, src_mask)

    @torch.no_grad()
    def greedy_decode(
        self, src: Tensor, max_len: int, return_weights: bool = False,
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Decodificación voraz: en cada paso, el token más probable.

        Devuelve (B, 1 + L) ids que empiezan por <bos>, con L ≤ max_len;
        tras <eos> cada fila se rellena con <eos> y se para cuando todas
        terminan. Con ``return_weights``, los pesos cruzados del último
        paso (uno por capa, (B, H, L, S)).
        """
        if not isinstance(max_len, int) or not (
                1 <= max_len < self.config.max_position_embeddings):
            raise ValueError(f"max_len debe estar entre 1 y "
                             f"{self.config.max_position_embeddings - 1}; "
                             f"vale {max_len!r}")
        c = self.config
        was_training = self.training
        self.eval()
        memory, src_mask = self.encode(src)
        out = torch.full((src.size(0), 1), c.bos_id, device=src.device)
        done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            logits = self._decode(out, memory, src_mask)  # (B, t, V)
            nxt = logits[:, -1].argmax(dim=-1)  # (B,)
            nxt = nxt.masked_fill(done, c.eos_id)
            out = torch.cat([out, nxt[:, None]], dim=1)  # (B, t + 1)
            done |= nxt == c.eos_id
            if done.all():
                break
        maps = None
        if return_weights:   # pesos de los pasos que dieron cada token
            _, maps = self._decode(out[:, :-1], memory, src_mask, True)
        self.train(was_training)
        return out if maps is None else (out, maps)


def sequence_loss(logits: Tensor, labels: Tensor, pad_id: int) -> Tensor:
    """Entropía cruzada media por token, sin contar el relleno.
    logits (B, T, V); labels (B, T)."""
    check_tensor(logits, "logits", ndim=3, shape="(B, T, V)",
                 dtype_kind="float")
    check_targets(logits, labels, "labels", ignore_index=pad_id)
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(),
                           ignore_index=pad_id)


def train_seq2seq(
    model: Transformer,
    src: Tensor,
    labels: Tensor,
    *,
    steps: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    warmup: int = 100,
    generator: torch.Generator | None = None,
    progress: bool = True,
    desc: str = "entrenando",
) -> list[float]:
    """Entrena con *teacher forcing* y entropía cruzada; devuelve la
    pérdida de cada paso.

    Adam con calentamiento lineal de ``warmup`` pasos y después
    decaimiento coseno hasta 0 (el artículo, §5.3, calienta y luego
    decae como 1/√paso). ``generator`` fija el orden de los lotes.
    """
    c = model.config
    check_ids(src, c.src_vocab_size, "src")
    check_ids(labels, c.tgt_vocab_size, "labels")
    check_examples(src=src, labels=labels)
    check_int(steps, "steps")
    check_int(batch_size, "batch_size")
    check_int(warmup, "warmup", minimum=0)

    def loss_fn(model: Transformer, batch: tuple[Tensor, Tensor]) -> Tensor:
        src, y = batch                                  # (B, S), (B, T)
        logits = model(src, shift_right(y, c.bos_id))   # (B, T, V)
        return sequence_loss(logits, y, c.pad_id)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr,
                                 betas=(0.9, 0.98))
    return fit(model, optimizer,
               random_batches(src, labels, batch_size=batch_size,
                              generator=generator),
               loss_fn, steps=steps,
               schedule=partial(warmup_times_cosine, lr=lr, steps=steps,
                                warmup=warmup),
               progress=progress, desc=desc).loss
