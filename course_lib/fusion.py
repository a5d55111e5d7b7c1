"""Piezas de la fusión multimodal: la capa de atención cruzada, el cuello
de botella latente (Perceiver), los codificadores de cada modalidad, la
receta de entrenamiento, la supervisión de la atención y el diagnóstico
del colapso.

Libro: capítulo 8, «Fusión multimodal».
Artículos: Jaegle et al. (2021), §2 (Perceiver); Alayrac et al. (2022),
§2.3 (atención cruzada con compuerta *tanh*, Flamingo); Kamath et al.
(2021), §2.2 (MDETR: alinear palabras y regiones).

Los modelos del capítulo se construyen con estas piezas: los seis
clasificadores de preguntas (una estrategia de fusión cada uno) están en
``fusion_qa`` y el subtitulador codificador-decodificador en
``captioner``. Los codificadores de cada modalidad son iguales en todos:
solo cambia cómo y dónde se mezclan.
"""

# Notación: B lote · N tokens de imagen · T tokens de texto · C canales
#           H cabezas · M latentes · A respuestas · V vocabulario

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from course_lib.attention import (
    MultiHeadAttention,
    merge_heads,
    padding_mask,
    scaled_dot_product_attention,
    split_heads,
)
from course_lib.layers import MLP, Block
from course_lib.patches import PatchEmbedding, check_images
from course_lib.shapes import SHAPES_MEAN, SHAPES_STD
from course_lib.training import fit, warmup_min_cosine
from course_lib.utils import check_config, check_ids, check_int, check_tensor

# --- capas que mezclan: atención cruzada y cuello de botella ----------

@dataclass(frozen=True)
class CrossAttentionSpec:
    """Decisiones de diseño de una capa de atención cruzada (la ablación
    del capítulo 8). Por defecto, la variante «completa»."""

    norm_inputs: bool = True     # LayerNorm sobre consultas y contexto
    residual: bool = True        # salida = x + atención(x, contexto)
    shared_proj: bool = False    # una sola W para Q, K y V
    n_head: int = 4
    ffn: bool = True             # subcapa MLP (con su residual) detrás
    gated: bool = False          # x + tanh(α)·atención, α = 0 al inicio
    dropout: float = 0.0

    def __post_init__(self) -> None:
        check_int(self.n_head, "n_head")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout debe estar en [0, 1); vale "
                             f"{self.dropout}")


class CrossAttentionBlock(nn.Module):
    """``x`` (consultas, B, Tq, C) atiende a ``context`` (B, Tk, C).

    Con ``norm_inputs=False, residual=False, ffn=False`` y proyecciones
    separadas es exactamente ``nn.MultiheadAttention(x, context,
    context)`` (probado en ``tests/test_fusion.py``). ``mask``: booleana
    difundible a (B, H, Tq, Tk), True = «puede atender».
    """

    def __init__(self, dim: int, spec: CrossAttentionSpec | None = None
                 ) -> None:
        super().__init__()
        spec = spec or CrossAttentionSpec()
        if dim % spec.n_head:
            raise ValueError(f"dim={dim} no es múltiplo de n_head="
                             f"{spec.n_head}")
        self.spec = spec
        self.norm_q = nn.LayerNorm(dim) if spec.norm_inputs else nn.Identity()
        self.norm_kv = (nn.LayerNorm(dim) if spec.norm_inputs
                        else nn.Identity())
        if spec.shared_proj:
            self.proj = nn.Linear(dim, dim)       # la misma para Q, K y V
            self.out_proj = nn.Linear(dim, dim)
        else:
            self.attn = MultiHeadAttention(dim, spec.n_head,
                                           dropout=spec.dropout)
        self.dropout = nn.Dropout(spec.dropout)
        if spec.gated:
            self.attn_gate = nn.Parameter(torch.zeros(1))
            self.ffn_gate = nn.Parameter(torch.zeros(1))
        if spec.ffn:
            self.norm_ffn = nn.LayerNorm(dim)
            self.mlp = MLP(dim, dropout=spec.dropout)

    def _attend(self, q_in: Tensor, kv_in: Tensor, mask: Tensor | None
                ) -> tuple[Tensor, Tensor]:
        if not self.spec.shared_proj:
            return self.attn(q_in, context=kv_in, mask=mask,
                             return_weights=True)
        H = self.spec.n_head
        q = split_heads(self.proj(q_in), H)               # (B, H, Tq, D)
        kv = split_heads(self.proj(kv_in), H)             # (B, H, Tk, D)
        out, weights = scaled_dot_product_attention(q, kv, kv, mask)
        return self.out_proj(merge_heads(out)), weights   # (B, Tq, C)

    def forward(self, x: Tensor, context: Tensor, mask: Tensor | None = None,
                return_weights: bool = False
                ) -> Tensor | tuple[Tensor, Tensor]:
        """Devuelve (B, Tq, C) y, si se piden, los pesos (B, H, Tq, Tk)."""
        check_tensor(x, "x", ndim=3, shape="(B, Tq, C)", dtype_kind="float")
        check_tensor(context, "context", ndim=3, shape="(B, Tk, C)",
                     dtype_kind="float")
        if x.dim() != 3 or context.dim() != 3 or x.size(-1) != context.size(
                -1) or x.size(0) != context.size(0):
            raise ValueError("x (B, Tq, C) y context (B, Tk, C) deben "
                             "compartir B y C; se recibieron "
                             f"{tuple(x.shape)} y {tuple(context.shape)}")
        out, weights = self._attend(self.norm_q(x), self.norm_kv(context),
                                    mask)
        out = self.dropout(out)
        if self.spec.gated:
            out = torch.tanh(self.attn_gate) * out
        h = x + out if self.spec.residual else out
        if self.spec.ffn:
            f = self.mlp(self.norm_ffn(h))
            h = h + (torch.tanh(self.ffn_gate) * f if self.spec.gated else f)
        return (h, weights) if return_weights else h


class PerceiverBottleneck(nn.Module):
    """M latentes aprendidos leen N entradas por atención cruzada (coste
    O(N·M)) y se procesan entre sí (O(M²)), nunca O(N²).

    Artículo: Jaegle et al. (2021), §2.1. Entrada (B, N, C) y máscara
    opcional (B, 1, 1, N); salida (B, M, C).
    """

    def __init__(self, dim: int, n_latents: int, *, n_head: int = 4,
                 n_layer: int = 1) -> None:
        super().__init__()
        check_int(dim, "dim")
        check_int(n_latents, "n_latents")
        check_int(n_layer, "n_layer")
        self.latents = nn.Parameter(0.02 * torch.randn(1, n_latents, dim))
        spec = CrossAttentionSpec(n_head=n_head)
        self.cross = nn.ModuleList([CrossAttentionBlock(dim, spec)
                                    for _ in range(n_layer)])
        self.blocks = nn.ModuleList([Block(dim, n_head)
                                     for _ in range(n_layer)])

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        z = self.latents.expand(x.size(0), -1, -1)            # (B, M, C)
        for cross, block in zip(self.cross, self.blocks, strict=True):
            z = block(cross(z, x, mask))                      # (B, M, C)
        return z


# --- codificadores de cada modalidad -----------------------------------

@dataclass(frozen=True)
class FusionConfig:
    """Tamaños comunes a todos los modelos de fusión del capítulo 8."""

    vocab_size: int = 65          # WordTokenizer de course_lib.shapes
    max_position_embeddings: int = 24             # T máximo
    # 48 px y parches de 16: cada parche es una celda de la rejilla 3 × 3
    # de ``shapes`` y cada figura cae entera en un parche (con 32 px y
    # parches de 8 se parte entre 2-4 parches y la forma casi no se
    # aprende; véase el capítulo 7).
    image_size: int = 48
    patch_size: int = 16          # N = (48/16)² = 9 tokens de imagen
    image_mean: tuple[float, ...] = SHAPES_MEAN   # por canal (cap. 7)
    image_std: tuple[float, ...] = SHAPES_STD
    hidden_size: int = 64                 # C
    num_attention_heads: int = 4
    num_hidden_layers: int = 1              # bloques propios de cada modalidad
    num_fusion_layers: int = 2       # bloques que mezclan las modalidades
    n_answers: int = 2            # A: «no», «sí»
    dropout: float = 0.0
    # Posiciones de los parches: «2d» = una fila más una columna
    # aprendidas (fila r, columna c: e_r + e_c), «1d» = una por parche.
    # Con «2d», «arriba» es la misma dirección en las tres columnas y las
    # preguntas de posición y de relación salen de la meseta (medido en
    # el capítulo 8); con «1d» y 0,02 no salían.
    image_positions: str = "2d"
    image_position_std: float = 0.5   # desviación inicial de esas posiciones
    # Bloques residuales x + MLP(LN(x)) aplicados a cada parche por
    # separado, antes de las posiciones y sin mezclar parches: rasgos no
    # lineales de la figura de cada celda («estrella», con cualquier
    # color). Una proyección lineal del parche no basta para que una
    # palabra de la pregunta encuentre su figura (medido en el cap. 8).
    patch_mlp_layers: int = 0
    cross: CrossAttentionSpec = field(default_factory=CrossAttentionSpec)

    def __post_init__(self) -> None:
        check_config(
            self, positive=("vocab_size", "max_position_embeddings",
                            "image_size", "patch_size", "hidden_size",
                            "num_attention_heads", "n_answers"),
            multiples=[("hidden_size", "num_attention_heads"),
                       ("image_size", "patch_size")])
        for name in ("num_hidden_layers", "num_fusion_layers",
                     "patch_mlp_layers"):
            check_int(getattr(self, name), name, minimum=0)
        if len(self.image_mean) != 3 or len(self.image_std) != 3:
            raise ValueError("image_mean e image_std necesitan 3 valores "
                             "(uno por canal RGB); se recibieron "
                             f"{len(self.image_mean)} y "
                             f"{len(self.image_std)}")
        if min(self.image_std) <= 0:
            raise ValueError("image_std debe ser positiva; se recibió "
                             f"{self.image_std}")
        if self.image_positions not in ("1d", "2d"):
            raise ValueError("image_positions debe ser «1d» o «2d»; se "
                             f"recibió {self.image_positions!r}")
        if not self.image_position_std > 0:
            raise ValueError("image_position_std debe ser positiva; se "
                             f"recibió {self.image_position_std}")

    @property
    def grid_size(self) -> int:
        return self.image_size // self.patch_size

    @property
    def n_patches(self) -> int:
        return self.grid_size ** 2


class PatchMLPBlock(nn.Module):
    """``x + MLP(LN(x))`` sobre cada token por separado: la mitad
    *feed-forward* de un ``Block``, sin atención (ningún token ve a otro).
    (B, N, C) -> (B, N, C)."""

    def __init__(self, dim: int, *, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mlp = MLP(dim, dropout=dropout)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.mlp(self.norm(x))


class ImageEncoder(nn.Module):
    """Normalización por canal + parches (``PatchEmbedding`` del cap. 5)
    + ``patch_mlp_layers`` bloques por parche (``PatchMLPBlock``) +
    posiciones + bloques: (B, 3, S, S) en [0, 1] -> (B, N, C).

    Posiciones (``config.image_positions``): «1d», una aprendida por
    parche (``pos``, como ViT); «2d», una por fila (``pos_row``) más una
    por columna (``pos_col``): el parche (r, c) suma ``pos_row[r] +
    pos_col[c]``.

    Los píxeles de ``shapes`` son pequeños (fondo casi negro, media ≈
    0,07): ``(x − media) / d.t.`` los lleva a escala ~1 antes de
    proyectar los parches, como ``CLIP.encode_image`` (cap. 7).
    """

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        self.image_size = config.image_size
        self.patch_size = config.patch_size
        # Constantes, no parámetros: fuera del state_dict.
        self.register_buffer("pixel_mean", torch.tensor(
            config.image_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(
            config.image_std).view(1, 3, 1, 1), persistent=False)
        self.patch = PatchEmbedding(3, config.hidden_size, config.patch_size)
        self.patch_mlps = nn.ModuleList(
            [PatchMLPBlock(config.hidden_size, dropout=config.dropout)
             for _ in range(config.patch_mlp_layers)])
        G, C = config.grid_size, config.hidden_size
        std = config.image_position_std
        if config.image_positions == "2d":
            self.pos_row = nn.Parameter(std * torch.randn(G, 1, C))
            self.pos_col = nn.Parameter(std * torch.randn(1, G, C))
        else:
            self.pos = nn.Parameter(std * torch.randn(1, G * G, C))
        self.blocks = nn.ModuleList(
            [Block(config.hidden_size, config.num_attention_heads,
                   dropout=config.dropout)
             for _ in range(config.num_hidden_layers)])

    def positions(self) -> Tensor:
        """Las posiciones de los N parches, por filas: (1, N, C)."""
        if hasattr(self, "pos"):
            return self.pos
        return (self.pos_row + self.pos_col).flatten(0, 1)[None]

    def normalize(self, images: Tensor) -> Tensor:
        """Valida (B, 3, S, S) y normaliza cada canal."""
        check_images(images, patch_size=self.patch_size, num_channels=3,
                     image_size=self.image_size)
        return (images - self.pixel_mean) / self.pixel_std  # (B, 3, S, S)

    def forward(self, images: Tensor) -> Tensor:
        x = self.patch(self.normalize(images))                # (B, N, C)
        for mlp in self.patch_mlps:
            x = mlp(x)                       # cada parche por su cuenta
        x = x + self.positions()                              # (B, N, C)
        for block in self.blocks:
            x = block(x)
        return x


class TextEncoder(nn.Module):
    """Palabras + posiciones + bloques con máscara de relleno:
    (B, T) -> (B, T, C)."""

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)
        self.pos = nn.Parameter(0.02 * torch.randn(
            1, config.max_position_embeddings, config.hidden_size))
        self.blocks = nn.ModuleList(
            [Block(config.hidden_size, config.num_attention_heads,
                   dropout=config.dropout)
             for _ in range(config.num_hidden_layers)])

    def forward(self, input_ids: Tensor, mask: Tensor) -> Tensor:
        T = input_ids.size(1)
        if T > self.pos.size(1):
            raise ValueError(f"pregunta de {T} tokens; el máximo es "
                             f"{self.pos.size(1)}")
        x = self.embed(input_ids) + self.pos[:, :T]          # (B, T, C)
        for block in self.blocks:
            x = block(x, mask)
        return x


def masked_mean(x: Tensor, lengths: Tensor) -> Tensor:
    """Media de (B, T, C) sobre los ``lengths`` primeros tokens: (B, C)."""
    check_tensor(x, "x", ndim=3, shape="(B, T, C)", dtype_kind="float")
    keep = padding_mask(lengths, x.size(1))[:, 0, 0, :, None]  # (B, T, 1)
    return (x * keep).sum(1) / lengths[:, None].to(x.dtype)


def check_fusion_inputs(images: Tensor, input_ids: Tensor,
                        lengths: Tensor | None, config: FusionConfig
                        ) -> None:
    """La entrada pública de cada modelo: tipos, formas y rango de los
    ids (este en la CPU), una vez por llamada."""
    check_tensor(images, "images", ndim=4, shape="(B, 3, S, S)")
    check_ids(input_ids, config.vocab_size, "input_ids")
    if input_ids.size(1) > config.max_position_embeddings:
        raise ValueError(f"input_ids tiene {input_ids.size(1)} tokens; el "
                         "máximo es max_position_embeddings="
                         f"{config.max_position_embeddings}")
    if lengths is None:
        return
    check_tensor(lengths, "lengths", ndim=1, shape="(B,)", dtype_kind="int")
    if not images.size(0) == input_ids.size(0) == lengths.size(0):
        raise ValueError("images, input_ids y lengths deben tener el mismo "
                         f"lote B; se recibieron {images.size(0)}, "
                         f"{input_ids.size(0)} y {lengths.size(0)}")


# --- entrenamiento y diagnóstico ---------------------------------------

def fit_fusion(model: nn.Module, batch: Callable[[int], Any],
               loss_fn: Callable[[nn.Module, Any], Tensor], *, steps: int,
               lr: float, progress: bool, desc: str) -> list[float]:
    """La receta del capítulo: AdamW (decaimiento 0,01) con rampa del
    10 % y coseno; devuelve la pérdida de cada paso."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr,
                                  weight_decay=0.01)
    return fit(model, optimizer, batch, loss_fn, steps=steps,
               schedule=partial(warmup_min_cosine, lr=lr, steps=steps,
                                warmup=max(1, steps // 10)),
               progress=progress, desc=desc).loss


def attention_supervision_loss(weights: list[Tensor], targets: Tensor
                               ) -> Tensor:
    """Pérdida que enseña a la atención cruzada *dónde* mirar. La idea de
    usar etiquetas que dicen qué región nombra cada palabra viene de
    MDETR (Kamath et al., 2021, §2.2, que alinea cada objeto detectado
    con las palabras que lo nombran); aquí se aplica directamente a los
    pesos de la atención cruzada.

    ``weights``: los pesos texto→imagen (B, H, T, N) de cada capa;
    ``targets`` (B, T): el parche al que debe mirar cada palabra, o −1 si
    esa palabra no se supervisa. Para cada palabra supervisada, −log del
    peso (medio sobre las cabezas) que pone en su parche; media sobre las
    palabras y las capas. Sin ninguna palabra supervisada vale 0.
    """
    check_tensor(targets, "targets", ndim=2, shape="(B, T)",
                 dtype_kind="int")
    if not weights:
        raise ValueError("weights está vacío: se esperaba una lista con "
                         "los pesos (B, H, T, N) de cada capa")
    keep = targets >= 0                                       # (B, T)
    if not keep.any():
        return weights[0].new_zeros(())
    losses = []
    for w in weights:
        check_tensor(w, "weights[i]", ndim=4, shape="(B, H, T, N)",
                     dtype_kind="float")
        if w.shape[0] != targets.shape[0] or w.shape[2] != targets.shape[1]:
            raise ValueError("los pesos (B, H, T, N) y targets (B, T) "
                             "deben compartir B y T; se recibieron "
                             f"{tuple(w.shape)} y {tuple(targets.shape)}")
        mean = w.mean(1)                                      # (B, T, N)
        picked = mean.gather(-1, targets.clamp(min=0)[..., None])[..., 0]
        losses.append(-picked[keep].clamp(min=1e-9).log().mean())
    return torch.stack(losses).mean()


def attention_spread(weights: Tensor) -> float:
    """Media, sobre las filas de consulta, de (peso máximo − peso mínimo).

    0 significa atención uniforme: todas las claves pesan lo mismo y la
    capa no distingue nada (colapso). weights: (..., Tq, Tk).
    """
    check_tensor(weights, "weights", shape="(..., Tq, Tk)",
                 dtype_kind="float")
    if weights.dim() < 2 or weights.numel() == 0:
        raise ValueError("weights debe tener forma (..., Tq, Tk) y no estar "
                         f"vacío; se recibió {tuple(weights.shape)}")
    return (weights.amax(-1) - weights.amin(-1)).mean().item()


def is_collapsed(weights: Tensor | None, predictions: Tensor, *,
                 tol: float = 0.02) -> bool:
    """¿No aprendió? Atención casi uniforme o una sola respuesta siempre."""
    check_tensor(predictions, "predictions", ndim=1, shape="(n,)")
    if len(predictions) == 0:
        raise ValueError("predictions está vacío: no hay nada que juzgar")
    constant = bool((predictions == predictions[0]).all())
    flat = weights is not None and attention_spread(weights) < tol
    return constant or flat
