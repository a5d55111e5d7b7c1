"""Estrategias de fusión multimodal: tardía, temprana, atención cruzada,
cuello de botella latente (Perceiver) y un subtitulador pequeño.

Libro: capítulo 8, «Fusión multimodal».
Artículos: Jaegle et al. (2021), §2 (Perceiver); Alayrac et al. (2022),
§2.3 (atención cruzada con compuerta *tanh*, Flamingo).

Todos los clasificadores reciben ``(images, input_ids, lengths)`` —
imágenes (B, 3, S, S), preguntas (B, T) del ``WordTokenizer`` y sus
longitudes (B,)— y devuelven *logits* (B, A) sobre las respuestas. Los
codificadores de cada modalidad son iguales en todos: solo cambia cómo y
dónde se mezclan.
"""

# Notación: B lote · N tokens de imagen · T tokens de texto · C canales
#           H cabezas · M latentes · A respuestas · V vocabulario

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.attention import (
    MultiHeadAttention,
    causal_mask,
    merge_heads,
    padding_mask,
    scaled_dot_product_attention,
    split_heads,
)
from course_lib.clip import SHAPES_MEAN, SHAPES_STD
from course_lib.training import fit, warmup_min_cosine
from course_lib.utils import (
    check_examples,
    check_ids,
    check_int,
    check_targets,
    check_tensor,
)
from course_lib.vit import PatchEmbedding, check_images

# --- bloques -----------------------------------------------------------

class MLP(nn.Module):
    """Red *feed-forward* de dos capas con GELU: C -> 4C -> C."""

    def __init__(self, dim: int, *, ratio: int = 4, dropout: float = 0.0
                 ) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, ratio * dim)
        self.fc2 = nn.Linear(ratio * dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.fc2(F.gelu(self.fc1(x))))


class Block(nn.Module):
    """Bloque *pre-norm* de autoatención (ViT, GPT-2) con máscara opcional:
    x = x + MHA(LN(x)); x = x + MLP(LN(x)). Entrada y salida (B, T, C)."""

    def __init__(self, dim: int, n_head: int, *, dropout: float = 0.0
                 ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, n_head, dropout=dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, dropout=dropout)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        x = x + self.attn(self.norm1(x), mask=mask)
        return x + self.mlp(self.norm2(x))


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


# --- codificadores de cada modalidad -----------------------------------

@dataclass(frozen=True)
class FusionConfig:
    """Tamaños comunes a todos los modelos de fusión del capítulo 8."""

    vocab_size: int = 65          # WordTokenizer de course_lib.shapes
    max_len: int = 24             # T máximo
    # 48 px y parches de 16: cada parche es una celda de la rejilla 3 × 3
    # de ``shapes`` y cada figura cae entera en un parche (con 32 px y
    # parches de 8 se parte entre 2-4 parches y la forma casi no se
    # aprende; véase el capítulo 7).
    image_size: int = 48
    patch_size: int = 16          # N = (48/16)² = 9 tokens de imagen
    image_mean: tuple[float, ...] = SHAPES_MEAN   # por canal (cap. 7)
    image_std: tuple[float, ...] = SHAPES_STD
    dim: int = 64                 # C
    n_head: int = 4
    n_layer: int = 1              # bloques propios de cada modalidad
    n_fusion_layer: int = 2       # bloques que mezclan las modalidades
    n_answers: int = 2            # A: «no», «sí»
    dropout: float = 0.0
    cross: CrossAttentionSpec = field(default_factory=CrossAttentionSpec)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "max_len", "image_size", "patch_size",
                     "dim", "n_head", "n_answers"):
            check_int(getattr(self, name), name)
        for name in ("n_layer", "n_fusion_layer"):
            check_int(getattr(self, name), name, minimum=0)
        if self.dim % self.n_head or self.image_size % self.patch_size:
            raise ValueError("dim debe ser múltiplo de n_head e image_size "
                             "múltiplo de patch_size; se recibió "
                             f"dim={self.dim}, n_head={self.n_head}, "
                             f"image_size={self.image_size}, "
                             f"patch_size={self.patch_size}")
        if len(self.image_mean) != 3 or len(self.image_std) != 3:
            raise ValueError("image_mean e image_std necesitan 3 valores "
                             "(uno por canal RGB); se recibieron "
                             f"{len(self.image_mean)} y "
                             f"{len(self.image_std)}")
        if min(self.image_std) <= 0:
            raise ValueError("image_std debe ser positiva; se recibió "
                             f"{self.image_std}")

    @property
    def n_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2


class ImageEncoder(nn.Module):
    """Normalización por canal + parches (``PatchEmbedding`` del cap. 5)
    + posiciones + bloques: (B, 3, S, S) en [0, 1] -> (B, N, C).

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
        self.patch = PatchEmbedding(3, config.dim, config.patch_size)
        self.pos = nn.Parameter(0.02 * torch.randn(1, config.n_patches,
                                                   config.dim))
        self.blocks = nn.ModuleList(
            [Block(config.dim, config.n_head, dropout=config.dropout)
             for _ in range(config.n_layer)])

    def normalize(self, images: Tensor) -> Tensor:
        """Valida (B, 3, S, S) y normaliza cada canal."""
        check_images(images, patch_size=self.patch_size, num_channels=3,
                     image_size=self.image_size)
        return (images - self.pixel_mean) / self.pixel_std  # (B, 3, S, S)

    def forward(self, images: Tensor) -> Tensor:
        x = self.patch(self.normalize(images)) + self.pos    # (B, N, C)
        for block in self.blocks:
            x = block(x)
        return x


class TextEncoder(nn.Module):
    """Palabras + posiciones + bloques con máscara de relleno:
    (B, T) -> (B, T, C)."""

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(config.vocab_size, config.dim)
        self.pos = nn.Parameter(0.02 * torch.randn(1, config.max_len,
                                                   config.dim))
        self.blocks = nn.ModuleList(
            [Block(config.dim, config.n_head, dropout=config.dropout)
             for _ in range(config.n_layer)])

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


def _check_inputs(images: Tensor, input_ids: Tensor, lengths: Tensor | None,
                  config: FusionConfig) -> None:
    """La entrada pública de cada modelo: tipos, formas y rango de los
    ids (este en la CPU), una vez por llamada."""
    check_tensor(images, "images", ndim=4, shape="(B, 3, S, S)")
    check_ids(input_ids, config.vocab_size, "input_ids")
    if input_ids.size(1) > config.max_len:
        raise ValueError(f"input_ids tiene {input_ids.size(1)} tokens; el "
                         f"máximo es max_len={config.max_len}")
    if lengths is None:
        return
    check_tensor(lengths, "lengths", ndim=1, shape="(B,)", dtype_kind="int")
    if not images.size(0) == input_ids.size(0) == lengths.size(0):
        raise ValueError("images, input_ids y lengths deben tener el mismo "
                         f"lote B; se recibieron {images.size(0)}, "
                         f"{input_ids.size(0)} y {lengths.size(0)}")


# --- clasificadores: una estrategia de fusión cada uno -----------------

class _QAModel(nn.Module):
    """Base común: configuración y cabeza MLP sobre el vector final."""

    def __init__(self, config: FusionConfig | None, head_in: int = 1
                 ) -> None:
        super().__init__()
        self.config = config = config or FusionConfig()
        C = config.dim
        self.head = nn.Sequential(
            nn.LayerNorm(head_in * C), nn.Linear(head_in * C, C), nn.GELU(),
            nn.Linear(C, config.n_answers))

    def _depth(self) -> FusionConfig:
        """La misma profundidad total para los que no mezclan por capas."""
        c = self.config
        return replace(c, n_layer=c.n_layer + c.n_fusion_layer)


class TextOnly(_QAModel):
    """Solo la pregunta: no puede saber qué hay en la imagen."""

    def __init__(self, config: FusionConfig | None = None) -> None:
        super().__init__(config)
        self.text = TextEncoder(self._depth())

    def forward(self, images: Tensor, input_ids: Tensor, lengths: Tensor
                ) -> Tensor:
        _check_inputs(images, input_ids, lengths, self.config)
        t = self.text(input_ids, padding_mask(lengths, input_ids.size(1)))
        return self.head(masked_mean(t, lengths))             # (B, A)


class ImageOnly(_QAModel):
    """Solo la imagen: no sabe qué se le pregunta."""

    def __init__(self, config: FusionConfig | None = None) -> None:
        super().__init__(config)
        self.image = ImageEncoder(self._depth())

    def forward(self, images: Tensor, input_ids: Tensor, lengths: Tensor
                ) -> Tensor:
        _check_inputs(images, input_ids, lengths, self.config)
        return self.head(self.image(images).mean(1))          # (B, A)


class LateFusion(_QAModel):
    """Fusión tardía: cada modalidad se resume en un vector por separado y
    solo se concatenan al final (representación conjunta por
    concatenación)."""

    def __init__(self, config: FusionConfig | None = None) -> None:
        super().__init__(config, head_in=2)
        self.image = ImageEncoder(self._depth())
        self.text = TextEncoder(self._depth())

    def forward(self, images: Tensor, input_ids: Tensor, lengths: Tensor
                ) -> Tensor:
        _check_inputs(images, input_ids, lengths, self.config)
        v = self.image(images).mean(1)                        # (B, C)
        t = masked_mean(self.text(
            input_ids, padding_mask(lengths, input_ids.size(1))), lengths)
        return self.head(torch.cat([v, t], dim=-1))           # (B, A)


class EarlyFusion(_QAModel):
    """Fusión temprana (un solo flujo, como ViLT): [CLS; texto; parches]
    con un *embedding* de modalidad, y todos los bloques son conjuntos."""

    def __init__(self, config: FusionConfig | None = None) -> None:
        super().__init__(config)
        c = self.config
        self.image = ImageEncoder(
            replace(c, n_layer=0))                            # solo parches
        self.text = TextEncoder(replace(c, n_layer=0))
        self.cls = nn.Parameter(0.02 * torch.randn(1, 1, c.dim))
        self.modality = nn.Parameter(0.02 * torch.randn(2, c.dim))
        self.blocks = nn.ModuleList(
            [Block(c.dim, c.n_head, dropout=c.dropout)
             for _ in range(c.n_layer + c.n_fusion_layer)])

    def forward(self, images: Tensor, input_ids: Tensor, lengths: Tensor
                ) -> Tensor:
        _check_inputs(images, input_ids, lengths, self.config)
        B, T = input_ids.shape
        t = self.text(input_ids, None) + self.modality[0]      # (B, T, C)
        v = self.image(images) + self.modality[1]              # (B, N, C)
        x = torch.cat([self.cls.expand(B, -1, -1), t, v], 1)   # (B, L, C)
        keep = torch.ones(B, x.size(1), dtype=torch.bool, device=x.device)
        keep[:, 1:T + 1] = padding_mask(lengths, T)[:, 0, 0]
        mask = keep[:, None, None, :]                          # (B,1,1,L)
        for block in self.blocks:
            x = block(x, mask)
        return self.head(x[:, 0])                              # (B, A)


class CrossAttentionFusion(_QAModel):
    """Fusión por atención cruzada (híbrida): codificadores propios y luego
    ``n_fusion_layer`` capas donde cada palabra de la pregunta atiende a
    los parches (``CrossAttentionBlock``) y después a las demás palabras.
    """

    def __init__(self, config: FusionConfig | None = None) -> None:
        super().__init__(config)
        c = self.config
        self.image = ImageEncoder(c)
        self.text = TextEncoder(c)
        self.cross = nn.ModuleList([CrossAttentionBlock(c.dim, c.cross)
                                    for _ in range(c.n_fusion_layer)])
        self.self_blocks = nn.ModuleList(
            [Block(c.dim, c.n_head, dropout=c.dropout)
             for _ in range(c.n_fusion_layer)])

    def forward(self, images: Tensor, input_ids: Tensor, lengths: Tensor,
                return_weights: bool = False
                ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Con ``return_weights`` devuelve también los pesos texto→imagen
        (B, H, T, N) de cada capa de fusión."""
        _check_inputs(images, input_ids, lengths, self.config)
        mask = padding_mask(lengths, input_ids.size(1))       # (B,1,1,T)
        v = self.image(images)                                # (B, N, C)
        t = self.text(input_ids, mask)                        # (B, T, C)
        weights = []
        for cross, block in zip(self.cross, self.self_blocks, strict=True):
            t, w = cross(t, v, return_weights=True)
            t = block(t, mask)
            weights.append(w)
        logits = self.head(masked_mean(t, lengths))           # (B, A)
        return (logits, weights) if return_weights else logits


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


class PerceiverFusion(_QAModel):
    """Los latentes leen a la vez palabras y parches (fusión a través de
    un cuello de botella de ``n_latents`` vectores)."""

    def __init__(self, config: FusionConfig | None = None, *,
                 n_latents: int = 8) -> None:
        super().__init__(config)
        c = self.config
        self.image = ImageEncoder(c)
        self.text = TextEncoder(c)
        self.modality = nn.Parameter(0.02 * torch.randn(2, c.dim))
        self.bottleneck = PerceiverBottleneck(
            c.dim, n_latents, n_head=c.n_head, n_layer=c.n_fusion_layer)

    def forward(self, images: Tensor, input_ids: Tensor, lengths: Tensor
                ) -> Tensor:
        _check_inputs(images, input_ids, lengths, self.config)
        B, T = input_ids.shape
        mask = padding_mask(lengths, T)                       # (B,1,1,T)
        t = self.text(input_ids, mask) + self.modality[0]     # (B, T, C)
        v = self.image(images) + self.modality[1]             # (B, N, C)
        keep = torch.cat([mask[:, 0, 0], torch.ones(
            B, v.size(1), dtype=torch.bool, device=v.device)], 1)
        z = self.bottleneck(torch.cat([t, v], 1), keep[:, None, None])
        return self.head(z.mean(1))                           # (B, A)


FUSION_MODELS = {"solo texto": TextOnly, "solo imagen": ImageOnly,
                 "tardía": LateFusion, "temprana": EarlyFusion,
                 "atención cruzada": CrossAttentionFusion,
                 "Perceiver": PerceiverFusion}


# --- entrenamiento y diagnóstico ---------------------------------------

def train_qa(model: nn.Module, images: Tensor, input_ids: Tensor,
             lengths: Tensor, answers: Tensor, *, steps: int,
             batch_size: int = 64, lr: float = 1e-3,
             generator: torch.Generator | None = None,
             progress: bool = True, desc: str = "fusión") -> list[float]:
    """AdamW + entropía cruzada, calentamiento y coseno; devuelve la
    pérdida de cada paso."""
    _check_inputs(images, input_ids, lengths, model.config)
    check_tensor(answers, "answers", ndim=1, shape="(N,)", dtype_kind="int")
    check_examples(images=images, input_ids=input_ids, lengths=lengths,
                   answers=answers)
    check_int(steps, "steps")
    check_int(batch_size, "batch_size")
    def batch(step: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        idx = torch.randint(0, len(images), (batch_size,),
                            generator=generator)
        T = int(lengths[idx].max())     # recorta el relleno que sobra
        return images[idx], input_ids[idx, :T], lengths[idx], answers[idx]

    def loss_fn(model: nn.Module,
                batch: tuple[Tensor, Tensor, Tensor, Tensor]) -> Tensor:
        *inputs, y = batch
        logits = model(*inputs)                                 # (B, A)
        return F.cross_entropy(logits, check_targets(logits, y, "answers"))
    return _fit_fusion(model, batch, loss_fn, steps=steps, lr=lr,
                       progress=progress, desc=desc)


def _fit_fusion(model: nn.Module, batch: Callable[[int], Any],
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


@torch.no_grad()
def predict_qa(model: nn.Module, images: Tensor, input_ids: Tensor,
               lengths: Tensor, *, batch_size: int = 500) -> Tensor:
    """Respuestas predichas (n,) por lotes."""
    _check_inputs(images, input_ids, lengths, model.config)
    check_examples(images=images, input_ids=input_ids, lengths=lengths)
    check_int(batch_size, "batch_size")
    model.eval()
    out = [model(images[i:i + batch_size], input_ids[i:i + batch_size],
                 lengths[i:i + batch_size]).argmax(-1)
           for i in range(0, len(images), batch_size)]
    return torch.cat(out)


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


# --- codificador-decodificador: un subtitulador pequeño ----------------

class CaptionDecoderLayer(nn.Module):
    """Autoatención causal sobre las palabras ya escritas y atención
    cruzada a los parches (el decodificador del Transformer, cap. 2)."""

    def __init__(self, dim: int, n_head: int) -> None:
        super().__init__()
        self.self_block = Block(dim, n_head)
        self.cross = CrossAttentionBlock(dim, CrossAttentionSpec(
            n_head=n_head))

    def forward(self, x: Tensor, context: Tensor, mask: Tensor
                ) -> tuple[Tensor, Tensor]:
        x = self.self_block(x, mask)
        return self.cross(x, context, return_weights=True)


class TinyCaptioner(nn.Module):
    """Imagen -> descripción en castellano, palabra a palabra.

    Codificador: ``ImageEncoder``. Decodificador: ``n_fusion_layer`` capas
    ``CaptionDecoderLayer``. ``forward(images, input_ids)`` da los
    *logits* (B, T, V) de la palabra siguiente en cada posición.
    """

    def __init__(self, config: FusionConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or FusionConfig()
        self.image = ImageEncoder(c)
        self.embed = nn.Embedding(c.vocab_size, c.dim)
        self.pos = nn.Parameter(0.02 * torch.randn(1, c.max_len, c.dim))
        self.layers = nn.ModuleList([CaptionDecoderLayer(c.dim, c.n_head)
                                     for _ in range(c.n_fusion_layer)])
        self.norm = nn.LayerNorm(c.dim)
        self.lm_head = nn.Linear(c.dim, c.vocab_size)

    def forward(self, images: Tensor, input_ids: Tensor,
                return_weights: bool = False
                ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Con ``return_weights`` da también los pesos palabra→parche
        (B, H, T, N) de cada capa."""
        _check_inputs(images, input_ids, None, self.config)
        T = input_ids.size(1)
        if images.size(0) != input_ids.size(0):
            raise ValueError("images e input_ids deben tener el mismo lote "
                             f"B; se recibieron {images.size(0)} y "
                             f"{input_ids.size(0)}")
        v = self.image(images)                                # (B, N, C)
        x = self.embed(input_ids) + self.pos[:, :T]           # (B, T, C)
        mask = causal_mask(T, device=x.device)
        weights = []
        for layer in self.layers:
            x, w = layer(x, v, mask)
            weights.append(w)
        logits = self.lm_head(self.norm(x))                   # (B, T, V)
        return (logits, weights) if return_weights else logits

    def loss(self, images: Tensor, input_ids: Tensor, *, pad_id: int = 0
             ) -> Tensor:
        """Entropía cruzada de la palabra siguiente (*teacher forcing*);
        el relleno no cuenta."""
        check_ids(input_ids, self.config.vocab_size, "input_ids")
        if input_ids.size(1) < 2:
            raise ValueError("input_ids necesita al menos 2 tokens (<bos> y "
                             f"uno que predecir); tiene {input_ids.size(1)}")
        logits = self(images, input_ids[:, :-1])              # (B, T-1, V)
        return F.cross_entropy(logits.flatten(0, 1),
                               input_ids[:, 1:].flatten(),
                               ignore_index=pad_id)

    @torch.no_grad()
    def generate(self, images: Tensor, *, bos_id: int = 2, eos_id: int = 3,
                 max_len: int = 16) -> Tensor:
        """Decodificación voraz (*greedy*): (B, T') empezando por
        ``<bos>``; tras ``<eos>`` se rellena con ``eos_id``."""
        check_tensor(images, "images", ndim=4, shape="(B, 3, S, S)")
        check_int(max_len, "max_len")
        for name, value in (("bos_id", bos_id), ("eos_id", eos_id)):
            if not 0 <= check_int(value, name, minimum=0) < (
                    self.config.vocab_size):
                raise ValueError(f"{name}={value} debe estar en el "
                                 "vocabulario [0, "
                                 f"{self.config.vocab_size})")
        self.eval()
        ids = torch.full((images.size(0), 1), bos_id, device=images.device)
        done = torch.zeros(images.size(0), dtype=torch.bool,
                           device=images.device)
        for _ in range(min(max_len, self.config.max_len) - 1):
            nxt = self(images, ids)[:, -1].argmax(-1)         # (B,)
            nxt = torch.where(done, eos_id, nxt)
            ids = torch.cat([ids, nxt[:, None]], 1)
            done |= nxt == eos_id
            if done.all():
                break
        return ids


def train_captioner(model: TinyCaptioner, images: Tensor,
                    input_ids: Tensor, *, steps: int, batch_size: int = 64,
                    lr: float = 2e-3,
                    generator: torch.Generator | None = None,
                    progress: bool = True, desc: str = "subtitulador"
                    ) -> list[float]:
    """AdamW sobre lotes aleatorios; devuelve la pérdida de cada paso."""
    check_tensor(images, "images", ndim=4, shape="(n, 3, S, S)")
    check_ids(input_ids, model.config.vocab_size, "input_ids")
    check_examples(images=images, input_ids=input_ids)
    check_int(steps, "steps")
    check_int(batch_size, "batch_size")
    def batch(step: int) -> tuple[Tensor, Tensor]:
        idx = torch.randint(0, len(images), (batch_size,),
                            generator=generator)
        return images[idx], input_ids[idx]

    def loss_fn(model: TinyCaptioner, batch: tuple[Tensor, Tensor]
                ) -> Tensor:
        return model.loss(*batch)
    return _fit_fusion(model, batch, loss_fn, steps=steps, lr=lr,
                       progress=progress, desc=desc)
