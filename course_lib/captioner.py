"""Un subtitulador pequeño: imagen -> descripción en castellano, palabra a
palabra (la fusión codificador-decodificador).

Libro: capítulo 8, «Fusión multimodal» (y el decodificador del
Transformer, capítulo 2).
Artículo: Vaswani et al. (2017), §3.1 (decodificador con atención
cruzada al codificador).

El codificador es el ``ImageEncoder`` de ``fusion``; el decodificador,
``n_fusion_layer`` capas de autoatención causal y atención cruzada a los
parches. Se entrena con *teacher forcing* y genera por decodificación
voraz.
"""

# Notación: B lote · N parches · T tokens de texto · C canales
#           H cabezas · V vocabulario

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.attention import causal_mask
from course_lib.fusion import (
    CrossAttentionBlock,
    CrossAttentionSpec,
    FusionConfig,
    ImageEncoder,
    check_fusion_inputs,
    fit_fusion,
)
from course_lib.layers import Block
from course_lib.utils import check_examples, check_ids, check_int, check_tensor

# --- el decodificador ----------------------------------------------------

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
        self.embed = nn.Embedding(c.vocab_size, c.hidden_size)
        self.pos = nn.Parameter(
            0.02 * torch.randn(1, c.max_position_embeddings, c.hidden_size))
        self.layers = nn.ModuleList([CaptionDecoderLayer(c.hidden_size,
                                                         c.num_attention_heads)
                                     for _ in range(c.num_fusion_layers)])
        self.norm = nn.LayerNorm(c.hidden_size)
        self.lm_head = nn.Linear(c.hidden_size, c.vocab_size)

    def forward(self, images: Tensor, input_ids: Tensor,
                return_weights: bool = False
                ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Con ``return_weights`` da también los pesos palabra→parche
        (B, H, T, N) de cada capa."""
        check_fusion_inputs(images, input_ids, None, self.config)
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
        for _ in range(min(max_len, self.config.max_position_embeddings) - 1):
            nxt = self(images, ids)[:, -1].argmax(-1)         # (B,)
            nxt = torch.where(done, eos_id, nxt)
            ids = torch.cat([ids, nxt[:, None]], 1)
            done |= nxt == eos_id
            if done.all():
                break
        return ids


# --- entrenamiento -------------------------------------------------------

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
    return fit_fusion(model, batch, loss_fn, steps=steps, lr=lr,
                      progress=progress, desc=desc)
