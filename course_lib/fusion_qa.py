"""Seis clasificadores de preguntas sobre una imagen, una estrategia de
fusión cada uno, con su entrenamiento y su predicción.

Libro: capítulo 8, «Fusión multimodal».
Artículos: Jaegle et al. (2021), §2 (Perceiver); Kim et al. (2021)
(ViLT, fusión temprana de un solo flujo).

Todos los clasificadores reciben ``(images, input_ids, lengths)`` —
imágenes (B, 3, S, S), preguntas (B, T) del ``WordTokenizer`` y sus
longitudes (B,)— y devuelven *logits* (B, A) sobre las respuestas. Las
piezas (codificadores, atención cruzada, Perceiver, receta) están en
``fusion``.
"""

# Notación: B lote · N tokens de imagen · T tokens de texto · C canales
#           L = 1 + T + N tokens conjuntos · A respuestas

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.attention import padding_mask
from course_lib.fusion import (
    CrossAttentionBlock,
    FusionConfig,
    ImageEncoder,
    PerceiverBottleneck,
    TextEncoder,
    check_fusion_inputs,
    fit_fusion,
    masked_mean,
)
from course_lib.layers import Block
from course_lib.utils import (
    check_examples,
    check_int,
    check_targets,
    check_tensor,
)

# --- clasificadores: una estrategia de fusión cada uno -----------------

class _QAModel(nn.Module):
    """Base común: configuración y cabeza MLP sobre el vector final."""

    def __init__(self, config: FusionConfig | None, head_in: int = 1
                 ) -> None:
        super().__init__()
        self.config = config = config or FusionConfig()
        C = config.hidden_size
        self.head = nn.Sequential(
            nn.LayerNorm(head_in * C), nn.Linear(head_in * C, C), nn.GELU(),
            nn.Linear(C, config.n_answers))

    def _depth(self) -> FusionConfig:
        """La misma profundidad total para los que no mezclan por capas."""
        c = self.config
        return replace(
            c, num_hidden_layers=c.num_hidden_layers + c.num_fusion_layers)


class TextOnly(_QAModel):
    """Solo la pregunta: no puede saber qué hay en la imagen."""

    def __init__(self, config: FusionConfig | None = None) -> None:
        super().__init__(config)
        self.text = TextEncoder(self._depth())

    def forward(self, images: Tensor, input_ids: Tensor, lengths: Tensor
                ) -> Tensor:
        check_fusion_inputs(images, input_ids, lengths, self.config)
        t = self.text(input_ids, padding_mask(lengths, input_ids.size(1)))
        return self.head(masked_mean(t, lengths))             # (B, A)


class ImageOnly(_QAModel):
    """Solo la imagen: no sabe qué se le pregunta."""

    def __init__(self, config: FusionConfig | None = None) -> None:
        super().__init__(config)
        self.image = ImageEncoder(self._depth())

    def forward(self, images: Tensor, input_ids: Tensor, lengths: Tensor
                ) -> Tensor:
        check_fusion_inputs(images, input_ids, lengths, self.config)
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
        check_fusion_inputs(images, input_ids, lengths, self.config)
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
            replace(c, num_hidden_layers=0))   # solo parches
        self.text = TextEncoder(replace(c, num_hidden_layers=0))
        self.cls = nn.Parameter(0.02 * torch.randn(1, 1, c.hidden_size))
        self.modality = nn.Parameter(0.02 * torch.randn(2, c.hidden_size))
        self.blocks = nn.ModuleList(
            [Block(c.hidden_size, c.num_attention_heads, dropout=c.dropout)
             for _ in range(c.num_hidden_layers + c.num_fusion_layers)])

    def forward(self, images: Tensor, input_ids: Tensor, lengths: Tensor
                ) -> Tensor:
        check_fusion_inputs(images, input_ids, lengths, self.config)
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
        self.cross = nn.ModuleList([CrossAttentionBlock(c.hidden_size, c.cross)
                                    for _ in range(c.num_fusion_layers)])
        self.self_blocks = nn.ModuleList(
            [Block(c.hidden_size, c.num_attention_heads, dropout=c.dropout)
             for _ in range(c.num_fusion_layers)])

    def forward(self, images: Tensor, input_ids: Tensor, lengths: Tensor,
                return_weights: bool = False
                ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Con ``return_weights`` devuelve también los pesos texto→imagen
        (B, H, T, N) de cada capa de fusión."""
        check_fusion_inputs(images, input_ids, lengths, self.config)
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


class PerceiverFusion(_QAModel):
    """Los latentes leen a la vez palabras y parches (fusión a través de
    un cuello de botella de ``n_latents`` vectores)."""

    def __init__(self, config: FusionConfig | None = None, *,
                 n_latents: int = 8) -> None:
        super().__init__(config)
        c = self.config
        self.image = ImageEncoder(c)
        self.text = TextEncoder(c)
        self.modality = nn.Parameter(0.02 * torch.randn(2, c.hidden_size))
        self.bottleneck = PerceiverBottleneck(
            c.hidden_size, n_latents, n_head=c.num_attention_heads,
            n_layer=c.num_fusion_layers)

    def forward(self, images: Tensor, input_ids: Tensor, lengths: Tensor
                ) -> Tensor:
        check_fusion_inputs(images, input_ids, lengths, self.config)
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


# --- entrenamiento y predicción ---------------------------------------

def train_qa(model: nn.Module, images: Tensor, input_ids: Tensor,
             lengths: Tensor, answers: Tensor, *, steps: int,
             batch_size: int = 64, lr: float = 1e-3,
             generator: torch.Generator | None = None,
             progress: bool = True, desc: str = "fusión") -> list[float]:
    """AdamW + entropía cruzada, calentamiento y coseno; devuelve la
    pérdida de cada paso."""
    check_fusion_inputs(images, input_ids, lengths, model.config)
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
    return fit_fusion(model, batch, loss_fn, steps=steps, lr=lr,
                      progress=progress, desc=desc)


@torch.no_grad()
def predict_qa(model: nn.Module, images: Tensor, input_ids: Tensor,
               lengths: Tensor, *, batch_size: int = 500) -> Tensor:
    """Respuestas predichas (n,) por lotes."""
    check_fusion_inputs(images, input_ids, lengths, model.config)
    check_examples(images=images, input_ids=input_ids, lengths=lengths)
    check_int(batch_size, "batch_size")
    model.eval()
    out = [model(images[i:i + batch_size], input_ids[i:i + batch_size],
                 lengths[i:i + batch_size]).argmax(-1)
           for i in range(0, len(images), batch_size)]
    return torch.cat(out)
