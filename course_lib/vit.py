"""Vision Transformer (ViT): una imagen como secuencia de parches.

Libro: capítulo 5, «Vision Transformer».
Artículo: Dosovitskiy et al. (2021), §3.1, ecuaciones (1)–(4).

Flujo de datos: imagen (B, C, H, W) → parches P×P proyectados a D
(``patches.PatchEmbedding``) → token de clase delante + posiciones aprendidas
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

from dataclasses import dataclass, fields

import torch
from torch import Tensor, nn

from course_lib.attention import (
    merge_heads,
    scaled_dot_product_attention,
    split_heads,
)
from course_lib.layers import ACTIVATIONS, make_activation
from course_lib.patches import PatchEmbedding, check_images
from course_lib.utils import (
    check_config,
    check_hf_family,
    check_int,
    check_tensor,
    from_preset,
)

POOLINGS = ("cls", "mean")


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
        check_config(
            self, positive=("image_size", "patch_size", "num_channels",
                            "hidden_size", "num_hidden_layers",
                            "num_attention_heads", "intermediate_size"),
            fractions=("dropout", "attention_dropout"),
            choices={"hidden_act": ACTIVATIONS, "pooling": POOLINGS},
            multiples=[("image_size", "patch_size"),
                       ("hidden_size", "num_attention_heads")])
        check_int(self.num_labels, "num_labels", minimum=0)

    @property
    def grid_size(self) -> int:
        return self.image_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid_size ** 2

    @classmethod
    def preset(cls, name: str, **changes: object) -> ViTConfig:
        """Configuración con nombre (``VIT_PRESETS``) y cambios opcionales."""
        return from_preset(cls, VIT_PRESETS, name, changes)

    @classmethod
    def from_hf_config(cls, hf_config: object) -> ViTConfig:
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
                         return_weights: bool = False
                         ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Estados finales normalizados (B, T, D); el token 0 es el de clase.

        Con ``return_weights=True`` devuelve también una lista con los
        pesos (B, h, T, T) de cada capa.
        """
        features, attentions = self.vit(pixel_values)
        return (features, attentions) if return_weights else features

    def pool(self, features: Tensor) -> Tensor:
        """(B, T, D) -> (B, D): el token de clase o la media de parches."""
        check_tensor(features, "features", ndim=3, shape="(B, T, D)",
                     dtype_kind="float")
        if self.config.pooling == "mean":
            return features[:, 1:].mean(dim=1)
        return features[:, 0]

    def forward(self, pixel_values: Tensor, return_weights: bool = False
                ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Logits (B, num_labels); y los pesos por capa si se piden."""
        features, attentions = self.vit(pixel_values)
        logits = self.classifier(self.pool(features))
        return (logits, attentions) if return_weights else logits

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
        config = ViTConfig.from_hf_config(model.config)
        ours = cls(config)
        state = {checkpoint_key(k): v for k, v in model.state_dict().items()}
        ours.load_hf_state_dict(state)
        return ours.eval()


def mean_attention_distance(weights: Tensor, *, grid_size: int,
                            patch_size: int) -> Tensor:
    """Distancia media de atención por cabeza, en píxeles: (B, H, T, T)
    -> (H,).

    Artículo: Dosovitskiy et al. (2021), figura 7 (derecha), y apéndice
    D.7. Para cada parche que pregunta, la distancia en la imagen entre su
    centro y el de cada parche al que atiende, ponderada por el peso de
    atención; luego la media sobre parches y ejemplos. El token de clase
    (posición 0) no está en la imagen: se quita de las consultas y de las
    claves, y los pesos de cada consulta se vuelven a normalizar sobre los
    parches. Una cabeza que mira a su propio parche da 0; una que reparte
    por igual, la distancia media entre parches.
    """
    check_tensor(weights, "weights", ndim=4, shape="(B, H, T, T)",
                 dtype_kind="float")
    check_int(grid_size, "grid_size")
    check_int(patch_size, "patch_size")
    N = grid_size ** 2
    if weights.shape[-2:] != (N + 1, N + 1):
        raise ValueError(
            f"se esperaban pesos (B, H, {N + 1}, {N + 1}): el token de clase "
            f"y {grid_size}×{grid_size} parches; se recibieron "
            f"{tuple(weights.shape)}")
    w = weights[..., 1:, 1:]                                  # (B, H, N, N)
    w = w / w.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    rows, cols = torch.meshgrid(torch.arange(grid_size),
                                torch.arange(grid_size), indexing="ij")
    centres = torch.stack([rows.flatten(), cols.flatten()], dim=1)
    distance = torch.cdist(centres.double(), centres.double()) * patch_size
    per_query = (w.double() * distance.to(w.device)).sum(dim=-1)  # (B,H,N)
    return per_query.mean(dim=(0, 2)).to(weights.dtype)         # (H,)


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


__all__ = [
    "HF_V5_RENAMES", "VIT_PRESETS", "ViT", "ViTConfig", "ViTEmbeddings",
    "ViTEncoder", "ViTLayer", "ViTModel", "checkpoint_key", "init_weights",
    "mean_attention_distance",
]
