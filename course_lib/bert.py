"""BERT: codificador bidireccional, cabezas MLM y NSP, y clasificación.

Libro: capítulo 3, «BERT».
Artículo: Devlin et al. (2019), §3 (modelo y preentrenamiento). El
enmascarado del MLM (regla 80/10/10, §3.1) prepara los datos: vive en
``bert_data``.

Normalización *post-LN* como en el Transformer original y en BERT:
``x = LayerNorm(x + subcapa(x))``. GELU exacta (``erf``) y LayerNorm con
eps 1e-12, como los *checkpoints* de Google. Los nombres de los parámetros
son las claves de los *checkpoints* de Hugging Face
(``bert.encoder.layer.0.attention.self.query.weight``…), así que
``from_hf`` carga con ``strict=True`` tras tres arreglos documentados en
``convert_hf_state_dict``.

Máscara de atención de entrada (``attention_mask``): (B, T) con 1 en los
tokens reales y 0 en el relleno, como en ``transformers``; dentro se
convierte a la convención del libro (bool, True = «puede atender»).

Pasa de 400 líneas a propósito: reproduce módulo a módulo el ``BertModel``
de ``transformers`` (sus nombres son las claves de los *checkpoints*), con
las cabezas de preentrenamiento y clasificación y la carga desde HF.
"""

# Notación: B lote · T tokens · C canales · H cabezas · D = C // H
#           V vocabulario · L capas

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.attention import (
    merge_heads,
    scaled_dot_product_attention,
    split_heads,
)
from course_lib.layers import make_activation
from course_lib.utils import (
    check_config,
    check_ids,
    check_int,
    check_range,
    check_tensor,
    describe,
    from_preset,
)

__all__ = [
    "PRESETS", "BertConfig", "BertEmbeddings", "BertLayer",
    "BertModel", "BertForPreTraining", "BertForSequenceClassification",
    "BertOutput", "PreTrainingOutput", "convert_hf_state_dict",
    "from_hf", "init_weights",
]


@dataclass(frozen=True)
class BertConfig:
    """Hiperparámetros de BERT. Los nombres de HF entre paréntesis."""

    vocab_size: int = 4000       # WordPiece entrenado sobre el Quijote
    max_position_embeddings: int = 64       # (max_position_embeddings)
    type_vocab_size: int = 2     # segmentos A y B
    num_hidden_layers: int = 2             # (num_hidden_layers)
    num_attention_heads: int = 4              # (num_attention_heads)
    hidden_size: int = 128            # (hidden_size)
    intermediate_size: int = 512           # (intermediate_size), suele ser 4·C
    dropout: float = 0.1         # (hidden_dropout_prob)
    attention_dropout: float = 0.1    # (attention_probs_dropout_prob)
    layer_norm_eps: float = 1e-12  # BERT: 1e-12, no el 1e-5 de PyTorch
    hidden_act: str = "gelu"    # BERT: GELU exacta («gelu_tanh» = gelu_new)
    pad_token_id: int = 0

    def __post_init__(self) -> None:
        check_config(
            self, positive=("vocab_size", "max_position_embeddings",
                            "type_vocab_size", "num_hidden_layers",
                            "num_attention_heads", "hidden_size",
                            "intermediate_size"),
            fractions=("dropout", "attention_dropout"),
            choices={"hidden_act": ("gelu", "gelu_tanh")},
            multiples=[("hidden_size", "num_attention_heads")])
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"pad_token_id={self.pad_token_id} fuera del "
                             f"vocabulario (V={self.vocab_size})")

    @classmethod
    def preset(cls, name: str, **changes: object) -> BertConfig:
        """Configuración con nombre (``PRESETS``), con cambios opcionales."""
        return from_preset(cls, PRESETS, name, changes)

    @classmethod
    def from_hf_config(cls, hf: object) -> BertConfig:
        """Traduce un ``transformers.BertConfig``; rechaza lo que este
        modelo no implementa (posiciones relativas, otras activaciones)."""
        act = getattr(hf, "hidden_act", "gelu")
        approx = {"gelu": "gelu", "gelu_new": "gelu_tanh",
                  "gelu_pytorch_tanh": "gelu_tanh"}.get(act)
        pos = getattr(hf, "position_embedding_type", "absolute")
        if approx is None or pos != "absolute":
            raise ValueError(
                "solo se admiten hidden_act 'gelu' (o su aproximación "
                "tanh) y posiciones absolutas; el checkpoint usa "
                f"hidden_act={act!r}, position_embedding_type={pos!r}")
        return cls(
            vocab_size=hf.vocab_size,
            max_position_embeddings=hf.max_position_embeddings,
            type_vocab_size=hf.type_vocab_size,
            num_hidden_layers=hf.num_hidden_layers,
            num_attention_heads=hf.num_attention_heads,
            hidden_size=hf.hidden_size,
            intermediate_size=hf.intermediate_size,
            dropout=hf.hidden_dropout_prob,
            attention_dropout=hf.attention_probs_dropout_prob,
            layer_norm_eps=hf.layer_norm_eps, hidden_act=approx,
            pad_token_id=hf.pad_token_id or 0,
        )


PRESETS: dict[str, dict[str, Any]] = {
    # Diminuto y sin dropout: se preentrena menos de una época, así que
    # no hay sobreajuste que regularizar (~0,8 M de parámetros).
    "cpu": dict(intermediate_size=256, max_position_embeddings=48,
                dropout=0.0, attention_dropout=0.0),
    "bert-base": dict(vocab_size=30522, max_position_embeddings=512,
                      num_hidden_layers=12, num_attention_heads=12,
                      hidden_size=768, intermediate_size=3072),
}


# --- bloques ----------------------------------------------------------

class BertEmbeddings(nn.Module):
    """Token + posición (aprendida) + segmento, LayerNorm y *dropout*.

    Artículo: Devlin et al. (2019), §3, figura 2. Entrada (B, T) enteros.
    Salida (B, T, C).
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        C = config.hidden_size
        self.word_embeddings = nn.Embedding(config.vocab_size, C)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings,
                                                C)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, C)
        # LayerNorm: el nombre de HF
        self.LayerNorm = nn.LayerNorm(C, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor) -> Tensor:
        T = input_ids.size(1)
        positions = torch.arange(T, device=input_ids.device)  # (T,)
        x = (self.word_embeddings(input_ids)                   # (B, T, C)
             + self.token_type_embeddings(token_type_ids)      # (B, T, C)
             + self.position_embeddings(positions))            # (T, C)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    """Proyecciones Q, K, V (``query``, ``key``, ``value``) y atención
    escalada de ``course_lib.attention`` en H cabezas.

    Entrada (B, T, C) y máscara (B, 1, 1, T). Salida (B, T, C) (cabezas
    concatenadas, sin proyección de salida) y pesos (B, H, T, T).
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        C = config.hidden_size
        self.n_head = config.num_attention_heads
        self.attn_dropout = config.attention_dropout
        self.query = nn.Linear(C, C)
        self.key = nn.Linear(C, C)
        self.value = nn.Linear(C, C)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        q = split_heads(self.query(x), self.n_head)   # (B, H, T, D)
        k = split_heads(self.key(x), self.n_head)     # (B, H, T, D)
        v = split_heads(self.value(x), self.n_head)   # (B, H, T, D)
        p = self.attn_dropout if self.training else 0.0
        out, weights = scaled_dot_product_attention(q, k, v, mask,
                                                    dropout_p=p)
        return merge_heads(out), weights              # (B, T, C)


class AddNorm(nn.Module):
    """Proyección, *dropout*, residual y LayerNorm (post-LN):
    ``LayerNorm(residual + dropout(dense(x)))``. HF lo llama ``…Output``.
    """

    def __init__(self, in_dim: int, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(in_dim, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size,
                                      eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(residual + self.dropout(self.dense(x)))


class BertAttention(nn.Module):
    """Autoatención + AddNorm. Los atributos se llaman ``self`` y
    ``output`` porque así se llaman en el *checkpoint*."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = AddNorm(config.hidden_size, config)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        context, weights = self.self(x, mask)
        return self.output(context, x), weights


class BertIntermediate(nn.Module):
    """Primera mitad de la red *feed-forward*: C -> F y GELU."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = make_activation(config.hidden_act)

    def forward(self, x: Tensor) -> Tensor:
        return self.intermediate_act_fn(self.dense(x))


class BertLayer(nn.Module):
    """Una capa del codificador, post-LN:

    h = LN(x + Atención(x));  salida = LN(h + W₂·GELU(W₁·h)).
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = AddNorm(config.intermediate_size, config)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        h, weights = self.attention(x, mask)               # (B, T, C)
        return self.output(self.intermediate(h), h), weights


class BertEncoder(nn.Module):
    """L capas apiladas (``encoder.layer.N`` en el *checkpoint*)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(
            [BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, x: Tensor, mask: Tensor
                ) -> tuple[Tensor, tuple[Tensor, ...]]:
        all_weights = []
        for layer in self.layer:
            x, weights = layer(x, mask)
            all_weights.append(weights)
        return x, tuple(all_weights)


class BertPooler(nn.Module):
    """El estado de ``[CLS]`` (posición 0) por una capa densa y tanh."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: Tensor) -> Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))        # (B, C)


# --- modelos ----------------------------------------------------------

class BertOutput(NamedTuple):
    last_hidden_state: Tensor        # (B, T, C)
    pooler_output: Tensor            # (B, C)
    attentions: tuple[Tensor, ...]   # L × (B, H, T, T)


class BertModel(nn.Module):
    """El codificador: embeddings, L capas post-LN y *pooler*.

    ``forward(input_ids, token_type_ids=None, attention_mask=None)``:
    todos (B, T); segmentos por defecto 0, máscara por defecto todo 1.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None,
                attention_mask: Tensor | None = None) -> BertOutput:
        token_type_ids, mask = self._check_inputs(
            input_ids, token_type_ids, attention_mask)
        x = self.embeddings(input_ids, token_type_ids)     # (B, T, C)
        x, weights = self.encoder(x, mask)
        return BertOutput(x, self.pooler(x), weights)

    def _check_inputs(self, ids: Tensor, types: Tensor | None,
                      attn: Tensor | None) -> tuple[Tensor, Tensor]:
        """Valida las entradas; devuelve segmentos y máscara (B,1,1,T)."""
        cfg = self.config
        B, T = check_ids(ids, cfg.vocab_size, "input_ids").shape
        if not 1 <= T <= cfg.max_position_embeddings:
            raise ValueError(f"la secuencia tiene T={T} tokens; debe tener "
                             "al menos 1 y como máximo "
                             f"{cfg.max_position_embeddings}")
        if types is None:
            types = torch.zeros_like(ids)
        check_tensor(types, "token_type_ids", shape=f"(B, T) = {(B, T)}",
                     dtype_kind="int")
        check_range(types, 0, cfg.type_vocab_size, "token_type_ids")
        if attn is None:
            attn = torch.ones_like(ids)
        check_tensor(attn, "attention_mask", shape=f"(B, T) = {(B, T)}",
                     dtype_kind="int_or_bool")
        for name, x in (("token_type_ids", types), ("attention_mask", attn)):
            if x.shape != ids.shape:
                raise ValueError(
                    f"{name} debe tener forma (B, T) = {(B, T)}, la de "
                    f"input_ids; se recibió {tuple(x.shape)}")
        # Valores, solo en la CPU (sin sincronizar la GPU): allí una fila
        # de ceros da NaN en el softmax.
        if attn.device.type == "cpu" and not attn.any(dim=-1).all():
            raise ValueError("cada secuencia necesita al menos un token "
                             "real: attention_mask tiene una fila de ceros")
        return types, attn.bool()[:, None, None, :]        # (B, 1, 1, T)


class BertPredictionHeadTransform(nn.Module):
    """Densa C -> C, GELU y LayerNorm antes de decodificar."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size,
                                      eps=config.layer_norm_eps)
        self.transform_act_fn = make_activation(config.hidden_act)

    def forward(self, x: Tensor) -> Tensor:
        x = self.transform_act_fn(self.dense(x))
        return self.LayerNorm(x)


class BertLMPredictionHead(nn.Module):
    """Cabeza MLM: transformación y decodificador atado a los embeddings
    de palabra E (V, C), con su propio sesgo ``bias`` (V,).
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden: Tensor, word_embeddings: Tensor) -> Tensor:
        """hidden (..., C), word_embeddings (V, C) -> logits (..., V)."""
        h = self.transform(hidden)                         # (..., C)
        return F.linear(h, word_embeddings, self.bias)     # h·Eᵀ + b


class BertPreTrainingHeads(nn.Module):
    """``cls`` en el *checkpoint*: MLM (``predictions``) y NSP
    (``seq_relationship``: 0 = B sigue a A, 1 = B es aleatoria)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.predictions = BertLMPredictionHead(config)
        self.seq_relationship = nn.Linear(config.hidden_size, 2)


class PreTrainingOutput(NamedTuple):
    mlm_logits: Tensor               # (B, T, V)
    nsp_logits: Tensor               # (B, 2)
    attentions: tuple[Tensor, ...]   # L × (B, H, T, T)


class BertForPreTraining(nn.Module):
    """BERT con sus dos objetivos de preentrenamiento (MLM y NSP)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.cls = BertPreTrainingHeads(config)
        self.apply(init_weights)

    def mlm_logits(self, hidden: Tensor) -> Tensor:
        """Logits (..., V) para estados (..., C): se puede pasar solo las
        posiciones enmascaradas y ahorrar el 85 % del cálculo."""
        check_tensor(hidden, "hidden", shape="(..., C)", dtype_kind="float")
        if hidden.dim() == 0 or hidden.size(-1) != self.config.hidden_size:
            raise ValueError(f"hidden debe tener forma (..., C) con C = "
                             f"{self.config.hidden_size}; se recibió "
                             f"{tuple(hidden.shape)}")
        return self.cls.predictions(
            hidden, self.bert.embeddings.word_embeddings.weight)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None,
                attention_mask: Tensor | None = None) -> PreTrainingOutput:
        out = self.bert(input_ids, token_type_ids, attention_mask)
        return PreTrainingOutput(
            self.mlm_logits(out.last_hidden_state),
            self.cls.seq_relationship(out.pooler_output), out.attentions)


class BertForSequenceClassification(nn.Module):
    """Clasificador sobre ``[CLS]``: *pooler* -> *dropout* -> lineal.

    Devuelve logits (B, num_labels). Claves de HF: ``bert.*`` y
    ``classifier.*``.
    """

    def __init__(self, config: BertConfig, num_labels: int = 2) -> None:
        super().__init__()
        check_int(num_labels, "num_labels")
        self.config, self.num_labels = config, num_labels
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden_size, num_labels)
        self.apply(init_weights)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None,
                attention_mask: Tensor | None = None) -> Tensor:
        pooled = self.bert(input_ids, token_type_ids,
                           attention_mask).pooler_output    # (B, C)
        return self.classifier(self.dropout(pooled))        # (B, labels)


def init_weights(module: nn.Module) -> None:
    """Inicialización de BERT: normal(0, 0,02), sesgos a 0, LN a (1, 0)."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    if isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


# --- pesos de Hugging Face --------------------------------------------

def convert_hf_state_dict(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Claves de un *checkpoint* BERT de HF -> claves de este módulo.

    1. ``LayerNorm.gamma/beta`` (checkpoints antiguos de TF) ->
       ``LayerNorm.weight/bias``.
    2. Se descarta ``embeddings.position_ids`` (índices 0..T-1, no es un
       parámetro: aquí se crean con ``arange``).
    3. ``cls.predictions.decoder.weight/bias`` se descartan tras comprobar
       que están atados a ``word_embeddings`` y a ``cls.predictions.bias``.
    """
    if not isinstance(state, Mapping):
        raise TypeError("state debe ser un state_dict (un diccionario "
                        f"clave -> tensor); se recibió {describe(state)}")
    out: dict[str, Tensor] = {}
    decoder: dict[str, Tensor] = {}
    for key, value in state.items():
        key = key.replace("LayerNorm.gamma", "LayerNorm.weight")
        key = key.replace("LayerNorm.beta", "LayerNorm.bias")
        if key.endswith("embeddings.position_ids"):
            continue
        if key.startswith("cls.predictions.decoder."):
            decoder[key.rsplit(".", 1)[1]] = value
            continue
        out[key] = value
    if "bias" in decoder:
        out.setdefault("cls.predictions.bias", decoder["bias"])
    tied = {"weight": "bert.embeddings.word_embeddings.weight",
            "bias": "cls.predictions.bias"}
    for name, value in decoder.items():
        if tied[name] in out and not torch.equal(value, out[tied[name]]):
            raise ValueError(
                f"cls.predictions.decoder.{name} no está atado a "
                f"{tied[name]}; este modelo solo admite la cabeza MLM atada")
    return out


_FROM_HF = {
    "BertModel": lambda cfg, hf: BertModel(cfg),
    "BertForPreTraining": lambda cfg, hf: BertForPreTraining(cfg),
    "BertForSequenceClassification":
        lambda cfg, hf: BertForSequenceClassification(cfg, hf.num_labels),
}


@torch.no_grad()
def from_hf(model: nn.Module) -> nn.Module:
    """Copia un modelo BERT de ``transformers`` en el equivalente del curso
    (``BertModel``, ``BertForPreTraining`` o
    ``BertForSequenceClassification``), con ``strict=True``.

    Conserva el modo (``train``/``eval``) del original.
    """
    name = type(model).__name__
    if name not in _FROM_HF:
        raise TypeError(f"from_hf admite {sorted(_FROM_HF)}; se recibió "
                        f"{name}")
    config = BertConfig.from_hf_config(model.config)
    ours = _FROM_HF[name](config, model.config)
    ours.load_state_dict(convert_hf_state_dict(model.state_dict()),
                         strict=True)
    return ours.train(model.training)

