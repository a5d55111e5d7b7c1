"""Vision Transformer (ViT): una imagen como secuencia de parches.

Libro: capítulo 5, «Vision Transformer».
Artículo: Dosovitskiy et al. (2021), §3.1, ecuaciones (1)–(4).

Flujo de datos: imagen (B, C, H, W) → parches P×P proyectados a D
(``PatchEmbedding``) → token de clase delante + posiciones aprendidas
(``ViTEmbeddings``) → L bloques *pre-norm* (``ViTLayer``) → LayerNorm
final → cabeza lineal sobre el token de clase (``ViT``).

Los nombres de los parámetros son los de los *checkpoints* de Hugging Face
(``vit.embeddings.cls_token``, ``vit.encoder.layer.0.attention.attention.
query``…), así que un ``model.safetensors`` de ``ViTForImageClassification``
se carga con ``load_state_dict(..., strict=True)`` sin renombrar nada.
"""

# Notación: B lote · C canales de la imagen · H, W alto y ancho · P lado
#           del parche · N = (H/P)·(W/P) parches · T = N + 1 tokens
#           D dimensión oculta · h cabezas · d = D // h

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch import Tensor, nn

from course_lib.attention import (
    merge_heads,
    scaled_dot_product_attention,
    split_heads,
)
from course_lib.layers import ACTIVATIONS, make_activation
from course_lib.utils import check_hf_family, check_int, check_tensor

POOLINGS = ("cls", "mean")


# --- parches -----------------------------------------------------------

def check_images(images: object, *, patch_size: int | None = None,
                 num_channels: int | None = None,
                 image_size: int | None = None) -> Tensor:
    """Valida un lote de imágenes (B, C, H, W) flotante; errores en español."""
    if not isinstance(images, Tensor):
        raise TypeError("las imágenes deben ser un torch.Tensor (B, C, H, W);"
                        f" se recibió {type(images).__name__}")
    if images.dim() != 4:
        raise ValueError("las imágenes deben tener forma (B, C, H, W); se "
                         f"recibió la forma {tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError("las imágenes deben ser de tipo flotante; se "
                        f"recibió dtype={images.dtype}")
    B, C, H, W = images.shape
    if patch_size is not None:
        check_int(patch_size, "patch_size")
    if num_channels is not None and C != num_channels:
        raise ValueError(f"se esperaban {num_channels} canales y la imagen "
                         f"tiene {C} (forma {tuple(images.shape)})")
    if image_size is not None and (H, W) != (image_size, image_size):
        raise ValueError(f"el modelo espera imágenes de {image_size}×"
                         f"{image_size} y se recibió {H}×{W}")
    if patch_size is not None and (H % patch_size or W % patch_size):
        raise ValueError(f"el alto y el ancho ({H}×{W}) deben ser múltiplos "
                         f"del lado del parche P={patch_size}")
    return images


def patchify(images: Tensor, patch_size: int) -> Tensor:
    """(B, C, H, W) -> (B, N, P·P·C): parches en orden de lectura.

    Los parches se recorren por filas (de izquierda a derecha, de arriba
    abajo); dentro de cada parche, el orden es (fila, columna, canal), el
    mismo que usa MAE (He et al., 2022) para su objetivo de píxeles.
    """
    check_images(images, patch_size=patch_size)
    B, C, H, W = images.shape
    P = patch_size
    x = images.reshape(B, C, H // P, P, W // P, P)  # (B, C, H/P, P, W/P, P)
    x = x.permute(0, 2, 4, 3, 5, 1)                 # (B, H/P, W/P, P, P, C)
    return x.reshape(B, (H // P) * (W // P), P * P * C)  # (B, N, P·P·C)


def unpatchify(patches: Tensor, patch_size: int, *,
               grid: tuple[int, int] | None = None) -> Tensor:
    """Inversa de ``patchify``: (B, N, P·P·C) -> (B, C, H, W).

    ``grid`` = (H/P, W/P); si se omite, la rejilla es cuadrada (N = g²).
    """
    check_tensor(patches, "patches", ndim=3, shape="(B, N, P·P·C)")
    check_int(patch_size, "patch_size")
    B, N, K = patches.shape
    P = patch_size
    if grid is None:
        g = math.isqrt(N)
        grid = (g, g)
    gh, gw = grid
    if gh * gw != N or K % (P * P):
        raise ValueError(f"{N} parches de tamaño {K} no encajan en una "
                         f"rejilla {gh}×{gw} de parches {P}×{P}")
    C = K // (P * P)
    x = patches.reshape(B, gh, gw, P, P, C)          # (B, H/P, W/P, P, P, C)
    x = x.permute(0, 5, 1, 3, 2, 4)                  # (B, C, H/P, P, W/P, P)
    return x.reshape(B, C, gh * P, gw * P)           # (B, C, H, W)


class PatchEmbedding(nn.Module):
    """Corta la imagen en parches P×P y proyecta cada uno a ``hidden_size``.

    Libro: capítulo 5, «De imágenes a secuencias».
    Artículo: Dosovitskiy et al. (2021), §3.1, ec. (1).
    Entrada: (B, C, H, W), H y W múltiplos de P. Salida: (B, N, D).

    Una ``Conv2d`` con kernel = paso = P es *exactamente* «aplanar cada
    parche y multiplicar por una matriz E»: cada salida de la convolución
    mira un parche distinto sin solaparse. ``as_linear()`` devuelve esa
    ``nn.Linear`` equivalente, que actúa sobre ``patchify(x, P)``:
    E = weight (D, C, P, P) permutado a (D, P, P, C) y aplanado (D, P·P·C).
    """

    def __init__(self, num_channels: int, hidden_size: int, patch_size: int,
                 *, bias: bool = True) -> None:
        super().__init__()
        for name, value in (("num_channels", num_channels),
                            ("hidden_size", hidden_size),
                            ("patch_size", patch_size)):
            check_int(value, name)
        self.num_channels, self.patch_size = num_channels, patch_size
        self.projection = nn.Conv2d(num_channels, hidden_size, bias=bias,
                                    kernel_size=patch_size, stride=patch_size)

    def forward(self, images: Tensor) -> Tensor:
        check_images(images, patch_size=self.patch_size,
                     num_channels=self.num_channels)
        x = self.projection(images)       # (B, D, H/P, W/P)
        return x.flatten(2).transpose(1, 2)  # (B, N, D)

    @torch.no_grad()
    def as_linear(self) -> nn.Linear:
        """La ``nn.Linear`` (P·P·C -> D) equivalente sobre ``patchify``."""
        w = self.projection.weight                  # (D, C, P, P)
        D = w.size(0)
        linear = nn.Linear(w[0].numel(), D,
                           bias=self.projection.bias is not None)
        linear.weight.copy_(w.permute(0, 2, 3, 1).reshape(D, -1))
        if self.projection.bias is not None:
            linear.bias.copy_(self.projection.bias)
        return linear.to(w.device)


# --- configuración -----------------------------------------------------

@dataclass(frozen=True)
class ViTConfig:
    """Hiperparámetros de un ViT. Cambia con ``dataclasses.replace``.

    Los nombres son los de ``transformers.ViTConfig``. Por defecto, el
    modelo pequeño del libro para los dígitos 8×8 de scikit-learn.
    """

    image_size: int = 8               # H = W
    patch_size: int = 2               # P: 16 parches de 2×2
    num_channels: int = 1             # C: escala de grises
    hidden_size: int = 64             # D
    num_hidden_layers: int = 4        # L
    num_attention_heads: int = 4      # h
    intermediate_size: int = 128      # ancho del MLP (HF: 4·D)
    layer_norm_eps: float = 1e-6      # HF ViT: 1e-12
    num_labels: int = 10              # clases (0 = sin cabeza)
    dropout: float = 0.0              # tras embeddings, atención y MLP
    attention_dropout: float = 0.0    # sobre los pesos de atención
    hidden_act: str = "gelu"          # ViT usa la GELU exacta
    qkv_bias: bool = True
    patch_bias: bool = True           # CLIP: sin sesgo en los parches
    pre_layernorm: bool = False       # CLIP: LayerNorm antes del codificador
    pooling: str = "cls"              # "cls" (ViT) o "mean" de los parches

    def __post_init__(self) -> None:
        for name in ("image_size", "patch_size", "num_channels",
                     "hidden_size", "num_hidden_layers",
                     "num_attention_heads", "intermediate_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} debe ser un entero >= 1; vale "
                                 f"{value!r}")
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size={self.image_size} no es múltiplo "
                             f"de patch_size={self.patch_size}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"hidden_size={self.hidden_size} no es múltiplo"
                             f" de num_attention_heads="
                             f"{self.num_attention_heads}")
        if self.num_labels < 0:
            raise ValueError(f"num_labels debe ser >= 0; vale "
                             f"{self.num_labels}")
        for name in ("dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} debe estar en [0, 1); vale "
                                 f"{getattr(self, name)}")
        if self.hidden_act not in ACTIVATIONS:
            raise ValueError(f"hidden_act={self.hidden_act!r} desconocida; "
                             f"opciones: {ACTIVATIONS}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling={self.pooling!r} desconocido; "
                             f"opciones: {POOLINGS}")

    @property
    def grid_size(self) -> int:
        return self.image_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid_size ** 2

    @classmethod
    def preset(cls, name: str, **changes: object) -> ViTConfig:
        """Configuración con nombre (``VIT_PRESETS``) y cambios opcionales."""
        if name not in VIT_PRESETS:
            raise ValueError(f"preset desconocido {name!r}; opciones: "
                             f"{sorted(VIT_PRESETS)}")
        return cls(**{**VIT_PRESETS[name], **changes})

    @classmethod
    def from_hf(cls, hf_config: object) -> ViTConfig:
        """Desde un ``transformers.ViTConfig`` (o ``ViTMAEConfig``)."""
        act = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh"}
        raw = getattr(hf_config, "hidden_act", "gelu")
        names = {f.name for f in fields(cls)} - {
            "dropout", "attention_dropout", "hidden_act", "num_labels",
            "patch_bias", "pre_layernorm", "pooling"}
        kwargs = {n: getattr(hf_config, n) for n in names}
        return cls(**kwargs, hidden_act=act.get(raw, raw),
                   num_labels=getattr(hf_config, "num_labels", 0),
                   dropout=hf_config.hidden_dropout_prob,
                   attention_dropout=hf_config.attention_probs_dropout_prob)


VIT_PRESETS: dict[str, dict[str, object]] = {
    "digits": {},                               # el modelo del capítulo 5
    "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=37),        # para las pruebas
    "vit-base-patch16-224": dict(              # google/vit-base-patch16-224
        image_size=224, patch_size=16, num_channels=3, hidden_size=768,
        num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, layer_norm_eps=1e-12, num_labels=1000),
}


# --- bloques -----------------------------------------------------------

class Dense(nn.Module):
    """Una ``nn.Linear`` guardada como ``.dense``, para que las claves sean
    las de HF (``attention.output.dense``, ``intermediate.dense``…)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.dense = nn.Linear(in_features, out_features)

    def forward(self, x: Tensor) -> Tensor:
        return self.dense(x)


class ViTSelfAttention(nn.Module):
    """Proyecciones ``query``/``key``/``value`` y atención multi-cabeza.

    Entrada (B, T, D); salida (B, T, D) antes de la proyección de salida,
    y los pesos (B, h, T, T). Usa ``scaled_dot_product_attention`` del
    capítulo 1, con escala 1/√d (d = D/h, la dimensión de cada cabeza).
    """

    def __init__(self, hidden_size: int, num_heads: int, *,
                 bias: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.num_heads, self.dropout = num_heads, dropout
        self.query = nn.Linear(hidden_size, hidden_size, bias=bias)
        self.key = nn.Linear(hidden_size, hidden_size, bias=bias)
        self.value = nn.Linear(hidden_size, hidden_size, bias=bias)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        q = split_heads(self.query(x), self.num_heads)  # (B, h, T, d)
        k = split_heads(self.key(x), self.num_heads)    # (B, h, T, d)
        v = split_heads(self.value(x), self.num_heads)  # (B, h, T, d)
        p = self.dropout if self.training else 0.0
        out, weights = scaled_dot_product_attention(q, k, v, dropout_p=p)
        return merge_heads(out), weights  # (B, T, D), (B, h, T, T)


class ViTAttention(nn.Module):
    """Autoatención + proyección de salida W_O (``output.dense``)."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        D = config.hidden_size
        self.attention = ViTSelfAttention(
            D, config.num_attention_heads, bias=config.qkv_bias,
            dropout=config.attention_dropout)
        self.output = Dense(D, D)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out, weights = self.attention(x)
        return self.output(out), weights  # (B, T, D), (B, h, T, T)


class ViTLayer(nn.Module):
    """Bloque *pre-norm* del codificador (ec. 2 y 3 del artículo):

        z' = z + MSA(LN(z)),     z'' = z' + MLP(LN(z'))

    La diferencia con el Transformer original (post-norm, capítulo 2) es
    dónde va LayerNorm: antes de cada subcapa, dejando limpio el camino
    residual. Entrada y salida (B, T, D).
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        D, eps = config.hidden_size, config.layer_norm_eps
        self.layernorm_before = nn.LayerNorm(D, eps=eps)
        self.attention = ViTAttention(config)
        self.layernorm_after = nn.LayerNorm(D, eps=eps)
        self.intermediate = Dense(D, config.intermediate_size)
        self.activation = make_activation(config.hidden_act)
        self.output = Dense(config.intermediate_size, D)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        attended, weights = self.attention(self.layernorm_before(x))
        x = x + self.dropout(attended)                       # (B, T, D)
        h = self.activation(self.intermediate(self.layernorm_after(x)))
        x = x + self.dropout(self.output(h))                 # (B, T, D)
        return x, weights


class ViTEncoder(nn.Module):
    """Pila de L bloques; devuelve también los pesos de cada capa."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(
            [ViTLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        attentions = []
        for block in self.layer:
            x, weights = block(x)
            attentions.append(weights)  # (B, h, T, T) por capa
        return x, attentions


class ViTEmbeddings(nn.Module):
    """z₀ = [x_clase; x¹E; …; xᴺE] + E_pos (ec. 1 del artículo).

    ``cls_token`` (1, 1, D) y ``position_embeddings`` (1, N + 1, D) son
    parámetros aprendidos; la posición 0 corresponde al token de clase.
    Entrada (B, C, H, W); salida (B, T, D) con T = N + 1.
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        D = config.hidden_size
        self.image_size = config.image_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.position_embeddings = nn.Parameter(
            torch.zeros(1, config.num_patches + 1, D))
        self.patch_embeddings = PatchEmbedding(
            config.num_channels, D, config.patch_size, bias=config.patch_bias)
        self.dropout = nn.Dropout(config.dropout)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.position_embeddings, std=0.02)

    def forward(self, images: Tensor) -> Tensor:
        check_images(images, image_size=self.image_size)
        x = self.patch_embeddings(images)                    # (B, N, D)
        cls = self.cls_token.expand(x.size(0), -1, -1)       # (B, 1, D)
        x = torch.cat([cls, x], dim=1)                       # (B, T, D)
        return self.dropout(x + self.position_embeddings)


class ViTModel(nn.Module):
    """Embeddings + codificador + LayerNorm final: (B, C, H, W) -> (B, T, D).

    Es el «tronco» que comparten el clasificador (``ViT``), MAE (capítulo
    6) y el codificador de imágenes de CLIP (capítulo 7).
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = ViTEmbeddings(config)
        if config.pre_layernorm:
            self.pre_layernorm = nn.LayerNorm(config.hidden_size,
                                              eps=config.layer_norm_eps)
        self.encoder = ViTEncoder(config)
        self.layernorm = nn.LayerNorm(config.hidden_size,
                                      eps=config.layer_norm_eps)

    def forward(self, images: Tensor) -> tuple[Tensor, list[Tensor]]:
        x = self.embeddings(images)                          # (B, T, D)
        if self.config.pre_layernorm:
            x = self.pre_layernorm(x)
        x, attentions = self.encoder(x)
        return self.layernorm(x), attentions                 # (B, T, D)


def init_weights(module: nn.Module, *, std: float = 0.02) -> None:
    """Inicialización de ViT/BERT: lineales N(0, std²) sin sesgo,
    LayerNorm en (1, 0). Úsala con ``model.apply(init_weights)``."""
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        nn.init.trunc_normal_(module.weight, std=std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


# --- el modelo ---------------------------------------------------------

class ViT(nn.Module):
    """Clasificador ViT: ``vit`` (tronco) + ``classifier`` (cabeza lineal).

    Libro: capítulo 5. Artículo: Dosovitskiy et al. (2021), ec. (4):
    y = MLP(LN(z_L⁰)), aquí una capa lineal sobre el token de clase
    (``pooling="cls"``) o sobre la media de los parches (``"mean"``).
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.config = config
        self.vit = ViTModel(config)
        D = config.hidden_size
        self.classifier = (nn.Linear(D, config.num_labels)
                           if config.num_labels else nn.Identity())
        self.apply(init_weights)

    def forward_features(self, pixel_values: Tensor,
                         return_attentions: bool = False
                         ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Estados finales normalizados (B, T, D); el token 0 es el de clase.

        Con ``return_attentions=True`` devuelve también una lista con los
        pesos (B, h, T, T) de cada capa.
        """
        features, attentions = self.vit(pixel_values)
        return (features, attentions) if return_attentions else features

    def pool(self, features: Tensor) -> Tensor:
        """(B, T, D) -> (B, D): el token de clase o la media de parches."""
        check_tensor(features, "features", ndim=3, shape="(B, T, D)",
                     dtype_kind="float")
        if self.config.pooling == "mean":
            return features[:, 1:].mean(dim=1)
        return features[:, 0]

    def forward(self, pixel_values: Tensor, return_attentions: bool = False
                ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Logits (B, num_labels); y los pesos por capa si se piden."""
        features, attentions = self.vit(pixel_values)
        logits = self.classifier(self.pool(features))
        return (logits, attentions) if return_attentions else logits

    # --- pesos de Hugging Face ---------------------------------------
    def load_hf_state_dict(self, state_dict: dict[str, Tensor]) -> None:
        """Carga un *state dict* con las claves del checkpoint de HF
        (p. ej., leído de ``model.safetensors``), con ``strict=True``."""
        self.load_state_dict(state_dict, strict=True)

    @classmethod
    def from_hf(cls, model: nn.Module) -> ViT:
        """Copia un ``transformers.ViTForImageClassification``.

        Se parte de las claves del checkpoint. ``transformers`` 5 renombra
        los atributos en memoria (``layers.N.attention.q_proj``…); si el
        modelo los usa, se traducen con ``HF_V5_RENAMES`` a las claves
        guardadas en los archivos. Ninguna matriz se traspone: ``query``…
        son ``nn.Linear`` (salida, entrada) en ambos lados.
        """
        check_hf_family(model, "vit", "ViTForImageClassification",
                        "ViT.from_hf")
        config = ViTConfig.from_hf(model.config)
        ours = cls(config)
        state = {checkpoint_key(k): v for k, v in model.state_dict().items()}
        ours.load_hf_state_dict(state)
        return ours.eval()


# De los atributos de transformers>=5 a las claves de los checkpoints.
HF_V5_RENAMES: tuple[tuple[str, str], ...] = (
    ("vit.layers.", "vit.encoder.layer."),
    (".attention.q_proj.", ".attention.attention.query."),
    (".attention.k_proj.", ".attention.attention.key."),
    (".attention.v_proj.", ".attention.attention.value."),
    (".attention.o_proj.", ".attention.output.dense."),
    (".mlp.fc1.", ".intermediate.dense."),
    (".mlp.fc2.", ".output.dense."),
)


def checkpoint_key(key: str) -> str:
    """Traduce un nombre de atributo de transformers>=5 a su clave en el
    checkpoint (las claves antiguas quedan igual)."""
    for new, old in HF_V5_RENAMES:
        key = key.replace(new, old)
    return key


def num_parameters(model: nn.Module) -> int:
    """Número de parámetros entrenables."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = [
    "HF_V5_RENAMES", "PatchEmbedding", "VIT_PRESETS", "ViT", "ViTConfig",
    "ViTEmbeddings", "ViTEncoder", "ViTLayer", "ViTModel", "check_images",
    "checkpoint_key", "init_weights", "num_parameters",
    "patchify", "unpatchify",
]
