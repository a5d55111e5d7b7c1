"""Masked Autoencoders (MAE): tapar la mayoría de los parches y
reconstruirlos.

Libro: capítulo 6, «Masked Autoencoders».
Artículo: He et al. (2022), §3 (enmascarado aleatorio, codificador solo
sobre parches visibles, decodificador ligero, MSE en los parches tapados).

Un método por paso del artículo: ``random_masking`` → ``forward_encoder``
→ ``forward_decoder`` → ``forward_loss``. El codificador es el
``ViTModel`` del capítulo 5; los nombres de los parámetros son los de los
*checkpoints* de ``ViTMAEForPreTraining`` de Hugging Face.

Ojo con la convención: ``is_masked`` es True donde el parche está
**tapado** (no lo ve el codificador). No es una máscara de atención.
"""

# Notación: B lote · N parches · K = int(N·(1 − r)) visibles · r proporción
#           tapada · D dim. del codificador · Dd dim. del decodificador
#           P lado del parche · C canales

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn

from course_lib.images import random_shift
from course_lib.patches import check_images, patchify, unpatchify
from course_lib.training import fit, warmup_cosine
from course_lib.utils import (
    check_hf_family,
    check_int,
    check_tensor,
    describe,
)
from course_lib.vit import (
    ViTConfig,
    ViTLayer,
    ViTModel,
    checkpoint_key,
    init_weights,
)


def random_masking(x: Tensor, mask_ratio: float, noise: Tensor | None = None,
                   *, generator: torch.Generator | None = None
                   ) -> tuple[Tensor, Tensor, Tensor]:
    """Tapa al azar una fracción ``mask_ratio`` de los N tokens de cada
    ejemplo. x: (B, N, D).

    Se ordena un ruido uniforme (B, N): los K = int(N·(1 − r)) tokens de
    menor ruido se quedan. Devuelve ``(visibles (B, K, D), is_masked (B, N)
    bool con True = tapado, ids_restore (B, N))``. ``ids_restore`` deshace
    la permutación: ``gather(cat[visibles, tapados], ids_restore)`` vuelve
    al orden original. Misma semántica que ``ViTMAE`` de transformers: con
    el mismo ``noise`` se quedan los mismos parches.
    """
    check_tensor(x, "x", ndim=3, shape="(B, N, D)")
    if isinstance(mask_ratio, bool) or not isinstance(
            mask_ratio, (int, float)):
        raise TypeError("mask_ratio debe ser un número en [0, 1); se "
                        f"recibió {describe(mask_ratio)}")
    if not 0.0 <= mask_ratio < 1.0:
        raise ValueError(f"mask_ratio debe estar en [0, 1); vale {mask_ratio}")
    B, N, D = x.shape
    keep = int(N * (1 - mask_ratio))
    if keep < 1:
        raise ValueError(f"con {N} parches y mask_ratio={mask_ratio} no "
                         "quedaría ningún parche visible")
    if noise is None:
        noise = torch.rand(B, N, generator=generator).to(x.device)
    elif check_tensor(noise, "noise", shape=f"{(B, N)}",
                      dtype_kind="float").shape != (B, N):
        raise ValueError(f"noise debe tener forma {(B, N)}; se recibió "
                         f"{tuple(noise.shape)}")
    ids_shuffle = noise.argsort(dim=1)          # (B, N) menor ruido primero
    ids_restore = ids_shuffle.argsort(dim=1)    # (B, N) la permutación inversa
    ids_keep = ids_shuffle[:, :keep]            # (B, K)
    visible = x.gather(1, ids_keep[..., None].expand(-1, -1, D))  # (B, K, D)
    is_masked = torch.ones(B, N, dtype=torch.bool, device=x.device)
    is_masked[:, :keep] = False                 # en orden barajado…
    is_masked = is_masked.gather(1, ids_restore)  # …y devuelto al original
    return visible, is_masked, ids_restore


def sincos_2d_positions(grid_size: int, dim: int, *,
                        cls_token: bool = True) -> Tensor:
    """Posiciones senoidales 2-D fijas de MAE: (1 + g², dim) o (g², dim).

    La primera mitad de los canales codifica la columna y la segunda la
    fila, cada una como [sin | cos] con frecuencias 1/10000^(i/(dim/4)),
    en el mismo orden que los pesos publicados de MAE. La fila del token
    de clase es cero.
    """
    check_int(grid_size, "grid_size")
    check_int(dim, "dim")
    if dim % 4:
        raise ValueError(f"dim={dim} debe ser múltiplo de 4")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64)
                            / (dim // 4))                    # (dim/4,)
    rows, cols = torch.meshgrid(torch.arange(grid_size), torch.arange(
        grid_size), indexing="ij")
    parts = []
    for coord in (cols, rows):
        angles = coord.flatten().double()[:, None] * omega   # (g², dim/4)
        parts += [angles.sin(), angles.cos()]
    pos = torch.cat(parts, dim=1).float()                    # (g², dim)
    if cls_token:
        pos = torch.cat([torch.zeros(1, dim), pos])          # (1 + g², dim)
    return pos


def mae_loss(target: Tensor, pred: Tensor, is_masked: Tensor, *,
             norm_pix: bool = False) -> Tensor:
    """MSE por parche, promediada **solo** sobre los parches tapados.

    target, pred: (B, N, P·P·C); is_masked: (B, N) bool. Con ``norm_pix``
    cada parche objetivo se normaliza con su propia media y varianza (§3
    del artículo: mejora las representaciones).

    Sin ningún parche tapado la media no existe (0/0): es un error. Esa
    comprobación lee un valor y solo se hace en la CPU (en la GPU
    sincronizaría cada paso; allí el resultado sería NaN).
    """
    check_tensor(target, "target", ndim=3, shape="(B, N, P·P·C)",
                 dtype_kind="float")
    check_tensor(pred, "pred", ndim=3, shape="(B, N, P·P·C)",
                 dtype_kind="float")
    check_tensor(is_masked, "is_masked", ndim=2, shape="(B, N)",
                 dtype_kind="bool")
    if pred.shape != target.shape or is_masked.shape != target.shape[:2]:
        raise ValueError(
            f"pred {tuple(pred.shape)} debe tener la forma de target "
            f"{tuple(target.shape)} e is_masked {tuple(is_masked.shape)} "
            f"la forma (B, N) = {tuple(target.shape[:2])}")
    if is_masked.device.type == "cpu" and not is_masked.any():
        raise ValueError("is_masked no tapa ningún parche: la pérdida "
                         "se promedia sobre los tapados y no hay ninguno")
    if norm_pix:
        target = normalize_patches(target)
    per_patch = ((pred - target) ** 2).mean(dim=-1)   # (B, N)
    weights = is_masked.to(per_patch.dtype)
    return (per_patch * weights).sum() / weights.sum()


@dataclass(frozen=True)
class MAEConfig:
    """Codificador (un ``ViTConfig`` sin cabeza) + decodificador ligero."""

    encoder: ViTConfig = ViTConfig(num_labels=0)
    decoder_hidden_size: int = 32
    decoder_num_hidden_layers: int = 2
    decoder_num_attention_heads: int = 4
    decoder_intermediate_size: int = 64
    mask_ratio: float = 0.75
    norm_pix_loss: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.mask_ratio < 1.0:
            raise ValueError(f"mask_ratio debe estar en [0, 1); vale "
                             f"{self.mask_ratio}")
        if self.encoder.hidden_size % 4 or self.decoder_hidden_size % 4:
            raise ValueError("las dimensiones del codificador y del "
                             "decodificador deben ser múltiplos de 4 (para "
                             "las posiciones senoidales 2-D)")
        self.decoder_config  # valida el decodificador  # noqa: B018

    @property
    def decoder_config(self) -> ViTConfig:
        return dataclasses.replace(
            self.encoder, hidden_size=self.decoder_hidden_size,
            num_hidden_layers=self.decoder_num_hidden_layers,
            num_attention_heads=self.decoder_num_attention_heads,
            intermediate_size=self.decoder_intermediate_size)

    @classmethod
    def from_hf_config(cls, hf_config: object) -> MAEConfig:
        """Desde un ``transformers.ViTMAEConfig``."""
        encoder = dataclasses.replace(ViTConfig.from_hf_config(hf_config),
                                      num_labels=0)
        names = [f.name for f in dataclasses.fields(cls)][1:]
        return cls(encoder, **{n: getattr(hf_config, n) for n in names})


@dataclass(frozen=True)
class MAEOutput:
    """loss escalar; pred (B, N, P·P·C); is_masked e ids_restore (B, N)."""

    loss: Tensor
    pred: Tensor
    is_masked: Tensor
    ids_restore: Tensor


class MAEDecoder(nn.Module):
    """Decodificador ligero: proyecta a Dd, inserta ``mask_token`` donde
    falta un parche, deshace el barajado, suma sus propias posiciones y
    predice los P·P·C píxeles de cada parche.

    Entrada: latentes (B, 1 + K, D) e ids_restore (B, N).
    Salida: (B, N, P·P·C), sin el token de clase.
    """

    def __init__(self, config: MAEConfig) -> None:
        super().__init__()
        enc, dec = config.encoder, config.decoder_config
        Dd = config.decoder_hidden_size
        self.decoder_embed = nn.Linear(enc.hidden_size, Dd)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, Dd))
        self.decoder_pos_embed = nn.Parameter(
            sincos_2d_positions(enc.grid_size, Dd)[None],
            requires_grad=False)                              # (1, 1 + N, Dd)
        self.decoder_layers = nn.ModuleList(
            [ViTLayer(dec) for _ in range(dec.num_hidden_layers)])
        self.decoder_norm = nn.LayerNorm(Dd, eps=enc.layer_norm_eps)
        self.decoder_pred = nn.Linear(
            Dd, enc.patch_size ** 2 * enc.num_channels)

    def forward(self, latent: Tensor, ids_restore: Tensor) -> Tensor:
        x = self.decoder_embed(latent)                        # (B, 1+K, Dd)
        B, K1, Dd = x.shape
        N = ids_restore.size(1)
        masks = self.mask_token.expand(B, N + 1 - K1, -1)     # (B, N-K, Dd)
        patches = torch.cat([x[:, 1:], masks], dim=1)         # (B, N, Dd)
        patches = patches.gather(
            1, ids_restore[..., None].expand(-1, -1, Dd))     # orden original
        x = torch.cat([x[:, :1], patches], dim=1)             # (B, 1+N, Dd)
        x = x + self.decoder_pos_embed
        for block in self.decoder_layers:
            x, _ = block(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]  # (B, N, PPC)


class MAE(nn.Module):
    """MAE = ``vit`` (codificador ViT, posiciones 2-D fijas) + ``decoder``.

    Libro: capítulo 6. Artículo: He et al. (2022), figura 1.
    """

    def __init__(self, config: MAEConfig) -> None:
        super().__init__()
        self.config = config
        enc = config.encoder
        self.vit = ViTModel(enc)
        self.decoder = MAEDecoder(config)
        self.apply(init_weights)
        pos = self.vit.embeddings.position_embeddings
        pos.requires_grad_(False)                 # fijas, como en el artículo
        with torch.no_grad():
            pos.copy_(sincos_2d_positions(enc.grid_size, enc.hidden_size))
            nn.init.normal_(self.decoder.mask_token, std=0.02)

    def forward_encoder(self, pixel_values: Tensor, mask_ratio: float,
                        noise: Tensor | None = None, *,
                        generator: torch.Generator | None = None
                        ) -> tuple[Tensor, Tensor, Tensor]:
        """Codifica solo los parches visibles: (B, C, H, W) ->
        (latentes (B, 1 + K, D), is_masked (B, N), ids_restore (B, N))."""
        enc = self.config.encoder
        check_images(pixel_values, num_channels=enc.num_channels,
                     image_size=enc.image_size)
        emb = self.vit.embeddings
        pos = emb.position_embeddings                         # (1, 1+N, D)
        x = emb.patch_embeddings(pixel_values) + pos[:, 1:]   # (B, N, D)
        x, is_masked, ids_restore = random_masking(
            x, mask_ratio, noise, generator=generator)        # (B, K, D)
        cls = (emb.cls_token + pos[:, :1]).expand(x.size(0), -1, -1)
        x = torch.cat([cls, x], dim=1)                        # (B, 1+K, D)
        x, _ = self.vit.encoder(x)
        return self.vit.layernorm(x), is_masked, ids_restore

    def forward_decoder(self, latent: Tensor, ids_restore: Tensor) -> Tensor:
        """(B, 1 + K, D) -> predicción de píxeles (B, N, P·P·C)."""
        enc = self.config.encoder
        check_tensor(latent, "latent", ndim=3, shape="(B, 1 + K, D)",
                     dtype_kind="float")
        check_tensor(ids_restore, "ids_restore", ndim=2, shape="(B, N)",
                     dtype_kind="int")
        B, K1, D = latent.shape
        if (D != enc.hidden_size or ids_restore.shape != (
                B, enc.num_patches) or not 1 <= K1 <= enc.num_patches + 1):
            raise ValueError(
                f"se esperaban latent (B, 1 + K, {enc.hidden_size}) con K "
                f"<= N = {enc.num_patches} e ids_restore (B, N); se "
                f"recibieron {tuple(latent.shape)} y "
                f"{tuple(ids_restore.shape)}")
        return self.decoder(latent, ids_restore)

    def forward_loss(self, pixel_values: Tensor, pred: Tensor,
                     is_masked: Tensor) -> Tensor:
        """MSE en los parches tapados (``norm_pix_loss`` según config)."""
        target = patchify(pixel_values, self.config.encoder.patch_size)
        return mae_loss(target, pred, is_masked,
                        norm_pix=self.config.norm_pix_loss)

    def forward(self, pixel_values: Tensor, *,
                mask_ratio: float | None = None, noise: Tensor | None = None,
                generator: torch.Generator | None = None) -> MAEOutput:
        ratio = self.config.mask_ratio if mask_ratio is None else mask_ratio
        latent, is_masked, ids_restore = self.forward_encoder(
            pixel_values, ratio, noise, generator=generator)
        pred = self.decoder(latent, ids_restore)  # ya validado: sin repetir
        loss = self.forward_loss(pixel_values, pred, is_masked)
        return MAEOutput(loss, pred, is_masked, ids_restore)

    @torch.no_grad()
    def features(self, pixel_values: Tensor, *,
                 pooling: str = "mean") -> Tensor:
        """Representación (B, D) de la imagen **entera** (sin tapar nada):
        la media de los parches (``"mean"``) o el token de clase
        (``"cls"``). Es lo que mide una sonda lineal."""
        if pooling not in ("mean", "cls"):
            raise ValueError(f"pooling={pooling!r} desconocido; opciones: "
                             "'mean', 'cls'")
        states, _ = self.vit(pixel_values)                    # (B, 1+N, D)
        return states[:, 1:].mean(dim=1) if pooling == "mean" else states[:, 0]

    def reconstruct(self, pixel_values: Tensor, out: MAEOutput) -> Tensor:
        """Imagen (B, C, H, W) con los parches visibles originales y los
        tapados predichos (deshaciendo ``norm_pix`` con la media y varianza
        reales del parche, solo para visualizar)."""
        if not isinstance(out, MAEOutput):
            raise TypeError("out debe ser la salida de MAE.forward "
                            f"(MAEOutput); se recibió {describe(out)}")
        P = self.config.encoder.patch_size
        target = patchify(pixel_values, P)                    # (B, N, PPC)
        pred = out.pred
        if self.config.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            std = (target.var(dim=-1, keepdim=True) + 1e-6) ** 0.5
            pred = pred * std + mean
        mixed = torch.where(out.is_masked[..., None], pred, target)
        return unpatchify(mixed, P)

    @classmethod
    def from_hf(cls, model: nn.Module) -> MAE:
        """Copia un ``transformers.ViTMAEForPreTraining`` (claves del
        checkpoint, ``strict=True``; ver ``vit.checkpoint_key``)."""
        check_hf_family(model, "vit_mae", "ViTMAEForPreTraining",
                        "MAE.from_hf")
        ours = cls(MAEConfig.from_hf_config(model.config))
        state = {checkpoint_key(k): v for k, v in model.state_dict().items()}
        ours.load_state_dict(state, strict=True)
        return ours.eval()


def pretrain_mae(model: MAE, x: Tensor, *, steps: int,
                 batch_size: int = 128, lr: float = 1.5e-3,
                 weight_decay: float = 0.05, warmup: int | None = None,
                 max_shift: int = 1, mask_ratio: float | None = None,
                 generator: torch.Generator | None = None,
                 progress: bool = True, desc: str = "MAE") -> list[float]:
    """Preentrena ``model`` con imágenes **sin etiquetas** x (B, C, H, W).

    Receta del artículo (§A.1) a escala de juguete: AdamW con
    betas (0,9, 0,95), calentamiento lineal (por defecto el 10 % de los
    pasos) y coseno; desplazamientos de ±``max_shift`` píxeles como
    aumento. El presupuesto es un número de pasos. Devuelve la pérdida
    de cada paso.
    """
    check_images(x, num_channels=model.config.encoder.num_channels)
    check_int(steps, "steps")
    check_int(batch_size, "batch_size")
    if warmup is not None:
        check_int(warmup, "warmup", minimum=0)
    if len(x) == 0:
        raise ValueError(f"steps ({steps}) debe ser >= 1 y x no puede "
                         "estar vacío")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95),
                                  weight_decay=weight_decay)
    warmup = max(1, steps // 10) if warmup is None else warmup

    def batch(step: int) -> Tensor:
        idx = torch.randint(0, len(x), (batch_size,), generator=generator)
        return random_shift(x[idx.to(x.device)], max_shift,
                            generator=generator)       # (B, C, H, W)

    def loss_fn(model: MAE, xb: Tensor) -> Tensor:
        return model(xb, mask_ratio=mask_ratio, generator=generator).loss
    return fit(model, optimizer, batch, loss_fn, steps=steps,
               schedule=partial(warmup_cosine, lr=lr, steps=steps,
                                warmup=warmup),
               progress=progress, desc=desc).loss


# --- ¿reconstruye de verdad? dos referencias sin aprendizaje -------------

def inpaint_neighbours(images: Tensor, is_masked: Tensor, patch_size: int,
                       *, iterations: int = 200) -> Tensor:
    """Rellena los parches tapados con lo que dicen sus vecinos visibles.

    images: (B, C, H, W); is_masked: (B, N) con True = tapado. Cada píxel
    tapado se sustituye, una y otra vez, por la media de sus 4 vecinos,
    con los visibles fijos (difusión: converge a la interpolación más
    suave que respeta los bordes visibles). Es la referencia que un MAE
    tiene que batir: si solo «difumina» lo que ve alrededor, no ha
    aprendido nada sobre las formas.
    """
    check_images(images, patch_size=patch_size)
    check_tensor(is_masked, "is_masked", ndim=2, shape="(B, N)",
                 dtype_kind="bool")
    check_int(iterations, "iterations", minimum=0)
    B, C, H, W = images.shape
    g = H // patch_size
    if is_masked.shape != (B, g * g):
        raise ValueError(f"is_masked debe tener forma {(B, g * g)} (un valor "
                         f"por parche); se recibió {tuple(is_masked.shape)}")
    hidden = is_masked.view(B, 1, g, g).to(images.dtype)
    hidden = hidden.repeat_interleave(patch_size, 2).repeat_interleave(
        patch_size, 3)                                       # (B, 1, H, W)
    visible = 1 - hidden
    # arranque: la media de los píxeles visibles de cada imagen y canal
    start = (images * visible).sum((2, 3), keepdim=True) / visible.sum(
        (2, 3), keepdim=True).clamp_min(1)
    x = images * visible + start * hidden
    kernel = torch.tensor([[0, 1, 0], [1, 0, 1], [0, 1, 0]],
                          dtype=images.dtype, device=images.device)
    kernel = kernel.expand(C, 1, 3, 3)
    ones = torch.ones(1, 1, H, W, dtype=images.dtype, device=images.device)
    count = torch.nn.functional.conv2d(ones, kernel[:1], padding=1)
    for _ in range(iterations):
        mean = torch.nn.functional.conv2d(x, kernel, padding=1, groups=C)
        x = images * visible + (mean / count) * hidden       # (B, C, H, W)
    return x


def normalize_patches(patches: Tensor) -> Tensor:
    """Cada parche (…, P·P·C) con su propia media 0 y varianza 1: el
    objetivo de ``mae_loss`` con ``norm_pix``."""
    mean = patches.mean(dim=-1, keepdim=True)
    var = patches.var(dim=-1, keepdim=True)
    return (patches - mean) / (var + 1e-6) ** 0.5
