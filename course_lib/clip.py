"""CLIP: un codificador de imágenes y uno de texto en un espacio común,
entrenados con la pérdida contrastiva simétrica.

Libro: capítulo 7, «CLIP y la clasificación *zero-shot*».
Artículo: Radford et al. (2021), §2.3 (pérdida, figura 3) y §3.1
(*zero-shot*, plantillas y ensamblado de *prompts*).

Flujo: imagen (B, 3, S, S) → normalización por canal (como hace
``CLIPImageProcessor``) → ViT del capítulo 5 → resumen (la media de
los parches en el modelo del libro; el token de clase en los CLIP de
OpenAI) → ``visual_projection``; texto (B, T) → Transformer causal →
estado del token ``<eos>`` → ``text_projection``. Los dos vectores se
normalizan (norma L2 = 1) y sus productos escalares, multiplicados por
``exp(logit_scale)`` (la inversa de la temperatura), son los *logits*.

Nombres de parámetros: el codificador de texto usa las claves de
``transformers.CLIPTextModel`` (``embeddings.token_embedding``,
``encoder.layers.N.self_attn.q_proj``, ``mlp.fc1``, ``final_layer_norm``);
el de imágenes es el ``ViT`` del capítulo 5 (claves de HF ViT), y
``CLIP_VISION_RENAMES`` traduce las de la torre de imágenes de CLIP.
``CLIP.from_hf`` copia un ``transformers.CLIPModel`` entero.

Pasa de 400 líneas a propósito: el modelo, su pérdida, su uso
(recuperación, clasificación *zero-shot*) y su receta de entrenamiento se
leen juntos en el capítulo 7, en ese orden, y no los usa nadie más.
"""

# Notación: B lote · T tokens de texto · D anchura de un codificador
#           E dimensión del espacio común · K clases · P plantillas

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.attention import MultiHeadAttention, causal_mask
from course_lib.layers import ACTIVATIONS, make_activation
from course_lib.patches import check_images
from course_lib.shapes import SHAPES_MEAN, SHAPES_STD, WordTokenizer
from course_lib.training import History, fit, warmup_min_cosine
from course_lib.utils import (
    check_config,
    check_hf_family,
    check_ids,
    check_int,
    check_tensor,
    check_texts,
)
from course_lib.vit import ViT, ViTConfig, init_weights


def contrastive_loss(logits_per_image: Tensor) -> Tensor:
    """Pérdida contrastiva simétrica (InfoNCE en los dos sentidos).

    logits_per_image: (B, B); la fila i compara la imagen i con los B
    textos y la pareja correcta está en la diagonal. Es la media de la
    entropía cruzada imagen→texto (filas) y texto→imagen (columnas).
    """
    if not isinstance(logits_per_image, Tensor):
        raise TypeError("logits_per_image debe ser un torch.Tensor (B, B); "
                        f"se recibió {type(logits_per_image).__name__}")
    if (logits_per_image.dim() != 2
            or logits_per_image.size(0) != logits_per_image.size(1)):
        raise ValueError("logits_per_image debe ser una matriz cuadrada "
                         "(B, B), una fila por imagen y una columna por "
                         f"texto; se recibió {tuple(logits_per_image.shape)}")
    if not logits_per_image.is_floating_point():
        raise TypeError("logits_per_image debe ser flotante; se recibió "
                        f"dtype={logits_per_image.dtype}")
    labels = torch.arange(logits_per_image.size(0),
                          device=logits_per_image.device)  # (B,)
    loss_images = F.cross_entropy(logits_per_image, labels)
    loss_texts = F.cross_entropy(logits_per_image.T, labels)
    return (loss_images + loss_texts) / 2


# --- codificador de texto ---------------------------------------------

@dataclass(frozen=True)
class CLIPTextConfig:
    """Codificador de texto; nombres de ``transformers.CLIPTextConfig``."""

    vocab_size: int = 65                # WordTokenizer de course_lib.shapes
    max_position_embeddings: int = 24   # T máximo
    hidden_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    intermediate_size: int = 128
    layer_norm_eps: float = 1e-5        # CLIP: 1e-5
    hidden_act: str = "quick_gelu"      # CLIP usa QuickGELU
    eos_token_id: int = 3               # se agrupa en el primer <eos>

    def __post_init__(self) -> None:
        check_config(
            self, positive=("vocab_size", "max_position_embeddings",
                            "hidden_size", "num_hidden_layers",
                            "num_attention_heads", "intermediate_size"),
            choices={"hidden_act": ACTIVATIONS},
            multiples=[("hidden_size", "num_attention_heads")])
        if not 0 <= check_int(self.eos_token_id, "eos_token_id",
                              minimum=0) < self.vocab_size:
            raise ValueError(f"eos_token_id={self.eos_token_id} debe estar "
                             f"en el vocabulario [0, {self.vocab_size})")


class CLIPMLP(nn.Module):
    """fc1 → activación → fc2 (claves ``mlp.fc1``, ``mlp.fc2``)."""

    def __init__(self, dim: int, hidden: int, act: str) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.activation_fn = make_activation(act)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.activation_fn(self.fc1(x)))


class CLIPTextLayer(nn.Module):
    """Bloque *pre-norm* con autoatención causal (como GPT-2)."""

    def __init__(self, config: CLIPTextConfig) -> None:
        super().__init__()
        D, eps = config.hidden_size, config.layer_norm_eps
        self.layer_norm1 = nn.LayerNorm(D, eps=eps)
        self.self_attn = MultiHeadAttention(D, config.num_attention_heads)
        self.layer_norm2 = nn.LayerNorm(D, eps=eps)
        self.mlp = CLIPMLP(D, config.intermediate_size, config.hidden_act)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = x + self.self_attn(self.layer_norm1(x), mask=mask)  # (B, T, D)
        return x + self.mlp(self.layer_norm2(x))                # (B, T, D)


class CLIPTextEmbeddings(nn.Module):
    """Token + posición aprendida: (B, T) -> (B, T, D)."""

    def __init__(self, config: CLIPTextConfig) -> None:
        super().__init__()
        D = config.hidden_size
        self.token_embedding = nn.Embedding(config.vocab_size, D)
        self.position_embedding = nn.Embedding(
            config.max_position_embeddings, D)

    def forward(self, input_ids: Tensor) -> Tensor:
        positions = torch.arange(input_ids.size(1), device=input_ids.device)
        return self.token_embedding(input_ids) + self.position_embedding(
            positions)  # (B, T, D)


class CLIPTextEncoder(nn.Module):
    """Pila de ``CLIPTextLayer`` (clave ``encoder.layers``)."""

    def __init__(self, config: CLIPTextConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [CLIPTextLayer(config) for _ in range(config.num_hidden_layers)])


class CLIPTextTransformer(nn.Module):
    """(B, T) ids -> (B, D): el estado final en el primer ``<eos>``.

    La máscara causal hace que el relleno tras ``<eos>`` no influya: el
    token ``<eos>`` solo ve lo anterior. Mismas claves y mismo resultado
    que ``transformers.CLIPTextModel`` (prueba en ``tests/test_clip.py``).
    """

    def __init__(self, config: CLIPTextConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = CLIPTextEmbeddings(config)
        self.encoder = CLIPTextEncoder(config)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size,
                                             eps=config.layer_norm_eps)

    def forward(self, input_ids: Tensor) -> Tensor:
        check_ids(input_ids, self.config.vocab_size, "input_ids")
        T = input_ids.size(1)
        if T > self.config.max_position_embeddings:
            raise ValueError(f"texto de {T} tokens; el máximo es "
                             f"{self.config.max_position_embeddings}")
        is_eos = input_ids == self.config.eos_token_id  # (B, T)
        # Valores, solo en la CPU (sin sincronizar la GPU; utils.check_range).
        if input_ids.device.type == "cpu" and not is_eos.any(dim=1).all():
            raise ValueError("cada texto debe contener el token <eos> (id "
                             f"{self.config.eos_token_id}); usa el "
                             "tokenizador del libro")
        x = self.embeddings(input_ids)                       # (B, T, D)
        mask = causal_mask(T, device=input_ids.device)       # (T, T)
        for layer in self.encoder.layers:
            x = layer(x, mask)
        x = self.final_layer_norm(x)
        eos = is_eos.int().argmax(dim=1)                     # (B,) primero
        return x[torch.arange(x.size(0)), eos]               # (B, D)


# --- el modelo ---------------------------------------------------------

def _vision_default() -> ViTConfig:
    # 48 px y parches de 16: cada parche es exactamente una celda de la
    # rejilla 3 × 3 de ``shapes``, así que cada figura cae entera en un
    # parche (con 32 px y parches de 8, la figura se parte entre 2-4
    # parches en posiciones variables y la forma casi no se aprende).
    # Resumen por la media de los parches: con el token de clase, CLIP no
    # aprende dónde está la figura (capítulo 7, sección 8). Anchura 128:
    # con 64, la forma de las combinaciones que nunca vio se confunde más
    # (capítulo 7, sección 9; benchmarks/clip_shapes.py).
    return ViTConfig(image_size=48, patch_size=16, num_channels=3,
                     hidden_size=128, num_hidden_layers=2,
                     num_attention_heads=4, intermediate_size=256,
                     num_labels=0, hidden_act="quick_gelu",
                     layer_norm_eps=1e-5, pooling="mean")


# Normalización de las imágenes de los CLIP de OpenAI (CLIPImageProcessor).
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# Claves de la torre de imágenes de CLIP (HF) -> claves del ViT del cap. 5.
CLIP_VISION_RENAMES: tuple[tuple[str, str], ...] = (
    ("embeddings.class_embedding", "embeddings.cls_token"),
    ("embeddings.patch_embedding", "embeddings.patch_embeddings.projection"),
    ("embeddings.position_embedding.weight", "embeddings.position_embeddings"),
    ("pre_layrnorm", "pre_layernorm"),
    ("post_layernorm", "layernorm"),
    ("encoder.layers.", "encoder.layer."),
    ("self_attn.q_proj", "attention.attention.query"),
    ("self_attn.k_proj", "attention.attention.key"),
    ("self_attn.v_proj", "attention.attention.value"),
    ("self_attn.out_proj", "attention.output.dense"),
    ("layer_norm1", "layernorm_before"),
    ("layer_norm2", "layernorm_after"),
    ("mlp.fc1", "intermediate.dense"),
    ("mlp.fc2", "output.dense"),
)


def clip_vision_key(key: str) -> str:
    """La clave de un parámetro de la torre de imágenes de CLIP (sin el
    prefijo ``vision_model.``) en el ``ViTModel`` del capítulo 5."""
    for theirs, ours in CLIP_VISION_RENAMES:
        key = key.replace(theirs, ours)
    return key


@dataclass(frozen=True)
class CLIPConfig:
    """Los dos codificadores, la dimensión común y la temperatura."""

    vision: ViTConfig = field(default_factory=_vision_default)
    text: CLIPTextConfig = field(default_factory=CLIPTextConfig)
    projection_dim: int = 64                         # E
    logit_scale_init: float = math.log(1 / 0.07)     # τ inicial = 0,07
    max_logit_scale: float = 100.0                   # tope de exp(escala)
    learn_logit_scale: bool = True
    image_mean: tuple[float, ...] = SHAPES_MEAN      # por canal
    image_std: tuple[float, ...] = SHAPES_STD
    # Desviación inicial de las posiciones del ViT: del tamaño de la
    # proyección de un parche normalizado, no 0,02 como en el ViT; si no,
    # la posición se pierde frente a los píxeles (capítulo 7, sección 8).
    vision_position_std: float = 0.5

    def __post_init__(self) -> None:
        C = self.vision.num_channels
        if len(self.image_mean) != C or len(self.image_std) != C:
            raise ValueError(f"image_mean e image_std necesitan {C} valores "
                             f"(uno por canal); se recibieron "
                             f"{len(self.image_mean)} y {len(self.image_std)}")
        if min(self.image_std) <= 0:
            raise ValueError("image_std debe ser positiva; se recibió "
                             f"{self.image_std}")
        if self.vision.num_labels:
            raise ValueError("el ViT de CLIP no lleva cabeza: num_labels=0;"
                             f" se recibió {self.vision.num_labels}")
        if (self.projection_dim < 1 or self.max_logit_scale <= 0
                or not self.vision_position_std > 0):
            raise ValueError("projection_dim, max_logit_scale y "
                             "vision_position_std deben ser positivos; se "
                             f"recibieron {self.projection_dim}, "
                             f"{self.max_logit_scale} y "
                             f"{self.vision_position_std}")

    @classmethod
    def from_hf_config(cls, hf_config: object) -> CLIPConfig:
        """Desde un ``transformers.CLIPConfig``. Las imágenes se normalizan
        con la media y la desviación de OpenAI, las de
        ``CLIPImageProcessor`` (el modelo las vio así al entrenarse)."""
        v, t = hf_config.vision_config, hf_config.text_config
        vision = ViTConfig(
            image_size=v.image_size, patch_size=v.patch_size,
            num_channels=v.num_channels, hidden_size=v.hidden_size,
            num_hidden_layers=v.num_hidden_layers,
            num_attention_heads=v.num_attention_heads,
            intermediate_size=v.intermediate_size,
            layer_norm_eps=v.layer_norm_eps, hidden_act=v.hidden_act,
            num_labels=0, patch_bias=False, pre_layernorm=True)
        text = CLIPTextConfig(
            vocab_size=t.vocab_size,
            max_position_embeddings=t.max_position_embeddings,
            hidden_size=t.hidden_size, num_hidden_layers=t.num_hidden_layers,
            num_attention_heads=t.num_attention_heads,
            intermediate_size=t.intermediate_size,
            layer_norm_eps=t.layer_norm_eps, hidden_act=t.hidden_act,
            eos_token_id=t.eos_token_id)
        return cls(vision=vision, text=text,
                   projection_dim=hf_config.projection_dim,
                   logit_scale_init=hf_config.logit_scale_init_value,
                   image_mean=OPENAI_CLIP_MEAN, image_std=OPENAI_CLIP_STD)


class CLIP(nn.Module):
    """Codificadores duales + proyecciones + temperatura aprendida.

    ``forward(images, input_ids)`` devuelve ``logits_per_image`` (B, B):
    fila = imagen, columna = texto; ``logits_per_text`` es su traspuesta.
    """

    def __init__(self, config: CLIPConfig | None = None) -> None:
        super().__init__()
        config = config or CLIPConfig()
        self.config = config
        self.vision_model = ViT(config.vision)
        self.text_model = CLIPTextTransformer(config.text)
        E = config.projection_dim
        self.visual_projection = nn.Linear(config.vision.hidden_size, E,
                                           bias=False)
        self.text_projection = nn.Linear(config.text.hidden_size, E,
                                         bias=False)
        self.text_model.apply(init_weights)
        nn.init.normal_(self.text_model.embeddings.token_embedding.weight,
                        std=0.02)
        nn.init.normal_(self.text_model.embeddings.position_embedding.weight,
                        std=0.01)
        nn.init.normal_(self.vision_model.vit.embeddings.position_embeddings,
                        std=config.vision_position_std)
        self.logit_scale = nn.Parameter(
            torch.tensor(config.logit_scale_init),
            requires_grad=config.learn_logit_scale)
        # Constantes, no parámetros: fuera del state_dict.
        self.register_buffer("pixel_mean", torch.tensor(
            config.image_mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(
            config.image_std).view(1, -1, 1, 1), persistent=False)

    def encode_image(self, images: Tensor, *, normalize: bool = True
                     ) -> Tensor:
        """(B, 3, S, S) en [0, 1] -> (B, E), de norma 1 si ``normalize``."""
        v = self.config.vision
        check_images(images, patch_size=v.patch_size,
                     num_channels=v.num_channels, image_size=v.image_size)
        images = (images - self.pixel_mean) / self.pixel_std    # (B, 3, S, S)
        features = self.vision_model.forward_features(images)  # (B, N+1, D)
        z = self.visual_projection(self.vision_model.pool(features))
        return F.normalize(z, dim=-1) if normalize else z

    def encode_text(self, input_ids: Tensor, *, normalize: bool = True
                    ) -> Tensor:
        """(B, T) -> (B, E), de norma 1 si ``normalize``."""
        z = self.text_projection(self.text_model(input_ids))
        return F.normalize(z, dim=-1) if normalize else z

    def scale(self) -> Tensor:
        """exp(logit_scale) = 1/τ, con tope ``max_logit_scale`` (100)."""
        return self.logit_scale.exp().clamp(max=self.config.max_logit_scale)

    def forward(self, images: Tensor, input_ids: Tensor
                ) -> tuple[Tensor, Tensor]:
        check_tensor(images, "images", ndim=4, shape="(B, 3, S, S)")
        check_tensor(input_ids, "input_ids", ndim=2, shape="(B, T)")
        if images.size(0) != input_ids.size(0):
            raise ValueError("se necesita una imagen por texto; se "
                             f"recibieron {images.size(0)} imágenes y "
                             f"{input_ids.size(0)} textos")
        img = self.encode_image(images)                       # (B, E)
        txt = self.encode_text(input_ids)                     # (B, E)
        logits_per_image = self.scale() * img @ txt.T         # (B, B)
        return logits_per_image, logits_per_image.T

    @classmethod
    def from_hf(cls, model: nn.Module) -> CLIP:
        """Copia un ``transformers.CLIPModel`` entero (``strict=True``).

        El texto tiene las mismas claves; las de la torre de imágenes se
        traducen con ``CLIP_VISION_RENAMES`` y cambian de forma (el token
        de clase (D,) -> (1, 1, D); las posiciones (N+1, D) -> (1, N+1, D)).
        Diferencia con HF: aquí ``encode_image`` recibe píxeles en [0, 1] y
        los normaliza él mismo (con la media y la desviación de OpenAI).
        """
        check_hf_family(model, "clip", "CLIPModel", "CLIP.from_hf")
        ours = cls(CLIPConfig.from_hf_config(model.config))
        target = ours.state_dict()
        state = {}
        for key, value in model.state_dict().items():
            if key.endswith("position_ids"):
                continue   # búfer de versiones antiguas, no un peso
            if key.startswith("vision_model."):
                key = "vision_model.vit." + clip_vision_key(
                    key.removeprefix("vision_model."))
            if key not in target:
                raise ValueError(f"clave inesperada del CLIPModel: {key!r}")
            state[key] = value.reshape(target[key].shape)
        ours.load_state_dict(state, strict=True)
        return ours.to(next(model.parameters()).device).eval()


# --- uso: recuperación y clasificación zero-shot ------------------------

@torch.no_grad()
def encode_texts(model: CLIP, texts: Sequence[str], *,
                 tokenizer: WordTokenizer | None = None,
                 batch_size: int = 512) -> Tensor:
    """Textos -> (n, E) normalizados, por lotes."""
    texts = check_texts(texts, "texts")
    if not texts:
        raise ValueError("texts está vacío: se necesita al menos un texto")
    check_int(batch_size, "batch_size")
    tokenizer = tokenizer or WordTokenizer()
    model.eval()
    device = model.logit_scale.device
    out = [model.encode_text(
               tokenizer(list(texts[i:i + batch_size]))[0].to(device))
           for i in range(0, len(texts), batch_size)]
    return torch.cat(out)


@torch.no_grad()
def encode_images(model: CLIP, images: Tensor, *,
                  batch_size: int = 512) -> Tensor:
    """Imágenes (n, 3, S, S) -> (n, E) normalizadas, por lotes."""
    check_tensor(images, "images", ndim=4, shape="(n, 3, S, S)")
    if len(images) == 0:
        raise ValueError("images está vacío: se necesita al menos una")
    check_int(batch_size, "batch_size")
    model.eval()
    return torch.cat([model.encode_image(images[i:i + batch_size])
                      for i in range(0, len(images), batch_size)])


def recall_at_k(similarity: Tensor, k: int) -> float:
    """Fracción de filas cuya pareja (la diagonal) está entre sus k
    columnas más parecidas. Imagen→texto: ``similarity``; texto→imagen:
    ``similarity.T``."""
    check_tensor(similarity, "similarity", ndim=2, shape="(n, n)")
    check_int(k, "k")
    if similarity.dim() != 2 or similarity.size(0) != similarity.size(1):
        raise ValueError("similarity debe ser cuadrada (n, n); se recibió "
                         f"{tuple(similarity.shape)}")
    if not 1 <= k <= similarity.size(1):
        raise ValueError(f"k debe estar entre 1 y {similarity.size(1)}; "
                         f"se recibió {k}")
    top = similarity.topk(k, dim=1).indices                  # (n, k)
    target = torch.arange(similarity.size(0))[:, None]       # (n, 1)
    return (top == target).any(dim=1).float().mean().item()


@torch.no_grad()
def class_embeddings(model: CLIP, class_names: Sequence[str],
                     templates: Sequence[str], *,
                     tokenizer: WordTokenizer | None = None) -> Tensor:
    """Un vector por clase: la media (renormalizada) de los textos de sus
    P plantillas (*prompt ensembling*, Radford et al. 2021, §3.1.4).
    Devuelve (K, E)."""
    if isinstance(class_names, str) or isinstance(templates, str):
        raise TypeError("class_names y templates deben ser listas de "
                        "textos, no un único str")
    class_names = check_texts(class_names, "class_names")
    templates = check_texts(templates, "templates")
    if not class_names or not templates:
        raise ValueError("se necesitan al menos una clase y una plantilla")
    bad = [t for t in templates if t.count("{}") != 1]
    if bad:
        raise ValueError("cada plantilla debe contener «{}» exactamente "
                         f"una vez (donde va la clase); no lo cumplen {bad}")
    texts = [t.format(c) for c in class_names for t in templates]
    z = encode_texts(model, texts, tokenizer=tokenizer)       # (K·P, E)
    z = z.view(len(class_names), len(templates), -1).mean(1)  # (K, E)
    return F.normalize(z, dim=-1)


@torch.no_grad()
def zero_shot_classify(model: CLIP, images: Tensor,
                       class_names: Sequence[str],
                       templates: Sequence[str] = ("{}",), *,
                       tokenizer: WordTokenizer | None = None) -> Tensor:
    """Clasifica sin entrenar un clasificador: cada clase es un texto.

    Devuelve las probabilidades (B, K) = softmax(escala · imagen·claseᵀ);
    la predicción es ``probs.argmax(-1)``. ``class_names`` son sintagmas
    completos («un triángulo verde») y ``templates`` frases con «{}»
    («hay {}»); con varias plantillas se promedian sus vectores.
    """
    check_tensor(images, "images", ndim=4, shape="(B, 3, S, S)")
    classes = class_embeddings(model, class_names, templates,
                               tokenizer=tokenizer)           # (K, E)
    img = encode_images(model, images)                        # (B, E)
    return (model.scale() * img @ classes.T).softmax(dim=-1)  # (B, K)


# --- entrenamiento -----------------------------------------------------

# Por paso: ``loss`` (la contrastiva), ``lr`` y ``scale`` (la escala
# aprendida de los logits, tras la actualización).
CLIPHistory = History


def train_clip(model: CLIP, images: Tensor, captions: Sequence[str], *,
               steps: int, batch_size: int = 128, lr: float = 2e-3,
               weight_decay: float = 0.05,
               generator: torch.Generator | None = None,
               tokenizer: WordTokenizer | None = None,
               progress: bool = True, desc: str = "CLIP") -> CLIPHistory:
    """Entrena con AdamW y la pérdida contrastiva sobre lotes aleatorios
    sin repetición; tasa de aprendizaje con calentamiento y coseno."""
    check_tensor(images, "images", ndim=4, shape="(n, 3, S, S)")
    captions = check_texts(captions, "captions")
    check_int(steps, "steps")
    check_int(batch_size, "batch_size")
    if len(images) != len(captions):
        raise ValueError(f"hay {len(images)} imágenes y {len(captions)} "
                         "descripciones; deben ser pares")
    if steps < 1 or not 2 <= batch_size <= len(images):
        raise ValueError(f"steps >= 1 y 2 <= batch_size <= {len(images)}; "
                         f"se recibieron {steps} y {batch_size}")
    tokenizer = tokenizer or WordTokenizer()
    ids, _ = tokenizer(list(captions))                        # (n, T)
    decay = [p for n, p in model.named_parameters()
             if p.dim() >= 2 and "embedding" not in n]
    rest = [p for n, p in model.named_parameters()
            if not (p.dim() >= 2 and "embedding" not in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay},
         {"params": rest, "weight_decay": 0.0}], lr=lr)

    def batch(step: int) -> tuple[Tensor, Tensor]:
        # Los índices se sortean en la CPU, donde vive el generador.
        idx = torch.randperm(len(images), generator=generator)[:batch_size]
        return images[idx.to(images.device)], ids[idx]  # (B, 3, S, S), (B, T)

    def loss_fn(model: CLIP, batch: tuple[Tensor, Tensor]) -> Tensor:
        logits, _ = model(*batch)                                # (B, B)
        return contrastive_loss(logits)
    return fit(model, optimizer, batch, loss_fn, steps=steps,
               schedule=partial(warmup_min_cosine, lr=lr, steps=steps,
                                warmup=max(1, steps // 10)),
               monitor=lambda model: {"scale": model.scale().item()},
               progress=progress, desc=desc)
