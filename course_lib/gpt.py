"""GPT: un Transformer solo decodificador que predice el siguiente token.

Libro: capítulo 4, «GPT entrenado con Molière».
Artículos: Radford et al. (2019), §2.3 (GPT-2: *pre-norm*, LayerNorm
final); Vaswani et al. (2017), §3.2 (atención causal).

Los nombres de los parámetros son los de los *checkpoints* de GPT-2
(``wte``, ``wpe``, ``h.N.ln_1``, ``attn.c_attn``, ``attn.c_proj``,
``ln_2``, ``mlp.c_fc``, ``mlp.c_proj``, ``ln_f``, ``lm_head``), así que
``GPT.from_hf`` copia los pesos de ``transformers`` con ``strict=True``.
"""

# Notación: B lote · T tokens · C canales (hidden_size) · H cabezas
#           D = C // H
#           V vocabulario

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.attention import (
    causal_mask,
    merge_heads,
    scaled_dot_product_attention,
    split_heads,
)
from course_lib.layers import HF_ACTIVATIONS, make_activation
from course_lib.utils import (
    check_config,
    check_hf_family,
    check_ids,
    check_int,
    check_targets,
    check_tensor,
    describe,
    from_preset,
)


@dataclass(frozen=True)
class GPTConfig:
    """Hiperparámetros del modelo. Presets: ``GPTConfig.preset(nombre)``.

    ``fused=True`` usa el núcleo fusionado de PyTorch para la atención
    (más rápido; mismo resultado, ver pruebas); con ``return_weights``
    siempre se usa el camino de libro de texto, que da los pesos.
    """

    vocab_size: int = 85        # caracteres distintos de moliere.txt
    max_position_embeddings: int = 128       # contexto máximo T
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    hidden_size: int = 128
    dropout: float = 0.0
    bias: bool = True
    layer_norm_eps: float = 1e-5
    hidden_act: str = "gelu_tanh"   # GPT-2: la GELU aproximada con tanh
    fused: bool = True

    def __post_init__(self) -> None:
        check_config(
            self, positive=("vocab_size", "max_position_embeddings",
                            "num_hidden_layers", "num_attention_heads",
                            "hidden_size"),
            fractions=("dropout",),
            choices={"hidden_act": ("gelu_tanh", "gelu")},
            multiples=[("hidden_size", "num_attention_heads")])

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> GPTConfig:
        """«cpu» (el del cuaderno, medido en 2 núcleos) o «anchor» (el
        modelo de 632k parámetros del curso público, medido en GPU)."""
        return from_preset(cls, GPT_PRESETS, name, overrides)


GPT_PRESETS: dict[str, dict[str, Any]] = {
    "cpu": dict(num_hidden_layers=3, num_attention_heads=4, hidden_size=96,
                max_position_embeddings=64, dropout=0.0),
    "anchor": dict(num_hidden_layers=3, num_attention_heads=4,
                   hidden_size=128, max_position_embeddings=128,
                   dropout=0.2),
}


@dataclass
class LayerCache:
    """Las claves y los valores de una capa para los tokens ya vistos:
    (B, H, T_pasado, D) cada uno, o ``None`` antes del primer paso."""

    keys: Tensor | None = None
    values: Tensor | None = None

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Añade las claves y valores (B, H, T, D) de los tokens nuevos y
        devuelve los de toda la secuencia, (B, H, T_pasado + T, D)."""
        if self.keys is not None:
            k = torch.cat([self.keys, k], dim=2)
            v = torch.cat([self.values, v], dim=2)
        self.keys, self.values = k, v
        return k, v


class KVCache:
    """Caché de claves y valores (*KV cache*) para generar token a token.

    Libro: capítulo 4, «Generar deprisa». En un modelo causal, la clave y
    el valor de un token no cambian cuando llegan tokens nuevos (solo
    atienden hacia atrás): se calculan una vez y se guardan. Cada paso de
    la generación procesa entonces **un** token nuevo en vez de todo el
    contexto. ``GPT.forward(idx, cache=...)`` la rellena.
    """

    def __init__(self, num_layers: int) -> None:
        check_int(num_layers, "num_layers")
        self.layers = [LayerCache() for _ in range(num_layers)]

    def __len__(self) -> int:
        """Tokens ya guardados (los mismos en todas las capas)."""
        keys = self.layers[0].keys
        return 0 if keys is None else keys.size(2)


class CausalSelfAttention(nn.Module):
    """Autoatención multi-cabeza causal: el token t solo ve 0..t.

    ``c_attn`` proyecta a la vez Q, K y V (C -> 3C, en ese orden, como
    GPT-2); ``c_proj`` es W_O. Escala 1/√D (dimensión de la cabeza, no
    del modelo). Entrada y salida: (B, T, C).
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.num_attention_heads
        self.n_embd = config.hidden_size
        self.dropout, self.fused = config.dropout, config.fused
        self.c_attn = nn.Linear(config.hidden_size, 3 * config.hidden_size,
                                bias=config.bias)
        self.c_proj = nn.Linear(config.hidden_size, config.hidden_size,
                                bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        # Búfer no persistente: el state_dict solo guarda parámetros.
        self.register_buffer("causal",
                             causal_mask(config.max_position_embeddings),
                             persistent=False)

    def forward(self, x: Tensor, return_weights: bool = False,
                cache: LayerCache | None = None
                ) -> tuple[Tensor, Tensor | None]:
        """Devuelve ``(salida (B, T, C), pesos (B, H, T, S) o None)``.

        Sin caché, S = T. Con ``cache`` (los S − T tokens anteriores ya
        procesados), las consultas son solo las de los T tokens nuevos y
        las claves y valores, los de los S tokens.
        """
        T = x.size(1)
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # 3 × (B, T, C)
        q = split_heads(q, self.n_head)  # (B, H, T, D)
        k = split_heads(k, self.n_head)  # (B, H, T, D)
        v = split_heads(v, self.n_head)  # (B, H, T, D)
        if cache is not None:
            k, v = cache.append(k, v)    # (B, H, S, D): pasado + nuevos
        S = k.size(2)
        p = self.dropout if self.training else 0.0
        # El token nuevo i está en la posición S − T + i: ve hasta ella.
        out, weights = scaled_dot_product_attention(
            q, k, v, self.causal[S - T:S, :S], dropout_p=p,
            fused=self.fused and not return_weights,
        )  # (B, H, T, D)
        out = self.resid_dropout(self.c_proj(merge_heads(out)))  # (B, T, C)
        return out, weights


class MLP(nn.Module):
    """Red *feed-forward* por token: C -> 4C -> GELU -> C."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.hidden_size, 4 * config.hidden_size,
                              bias=config.bias)
        self.gelu = make_activation(config.hidden_act)
        self.c_proj = nn.Linear(4 * config.hidden_size, config.hidden_size,
                                bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """Bloque *pre-norm* de GPT-2: x + Atención(LN(x)); x + MLP(LN(x))."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps,
                                 bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps,
                                 bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: Tensor, return_weights: bool = False,
                cache: LayerCache | None = None
                ) -> tuple[Tensor, Tensor | None]:
        attended, weights = self.attn(self.ln_1(x), return_weights, cache)
        x = x + attended                 # conexión residual
        x = x + self.mlp(self.ln_2(x))   # (B, T, C)
        return x, weights


class GPT(nn.Module):
    """Modelo de lenguaje GPT: ids (B, T) -> logits (B, T, V).

    Libro: capítulo 4, «El modelo». ``lm_head`` comparte su matriz con
    ``wte`` (*weight tying*): la misma tabla convierte ids en vectores y
    vectores en puntuaciones por token.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.hidden_size)
        self.wpe = nn.Embedding(config.max_position_embeddings,
                                config.hidden_size)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList(Block(config)
                               for _ in range(config.num_hidden_layers))
        self.ln_f = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps,
                                 bias=config.bias)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size,
                                 bias=False)
        self.lm_head.weight = self.wte.weight  # pesos atados
        self.apply(self._init_weights)
        # GPT-2 escala las proyecciones que suman al residuo por
        # 1/√(2·n_layer) para que su varianza no crezca con la profundidad.
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0,
                                0.02 / math.sqrt(2 * config.num_hidden_layers))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, 0.0, 0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def _check_ids(self, idx: object) -> Tensor:
        check_ids(idx, self.config.vocab_size, "idx")
        T = idx.size(1)
        if T < 1 or T > self.config.max_position_embeddings:
            raise ValueError(
                f"la secuencia tiene T={T} tokens; el contexto del modelo "
                f"admite de 1 a max_position_embeddings="
                f"{self.config.max_position_embeddings}")
        return idx

    def forward(
        self,
        idx: Tensor,
        targets: Tensor | None = None,
        *,
        return_weights: bool = False,
        cache: KVCache | None = None,
    ) -> tuple[Tensor, Tensor | None] | tuple[Tensor, Tensor | None,
                                              list[Tensor]]:
        """idx: (B, T) ids; targets: (B, T) el siguiente token de cada
        posición (o None). Devuelve ``(logits (B, T, V), pérdida o None)``
        y, con ``return_weights=True``, también la lista de pesos de
        atención (B, H, T, S), uno por capa.

        Con ``cache`` (una ``KVCache``), ``idx`` son solo los tokens
        **nuevos**: ocupan las posiciones siguientes a las ya guardadas,
        y sus claves y valores se añaden a la caché.
        """
        B, T = self._check_ids(idx).shape
        past = 0
        if cache is not None:
            if not isinstance(cache, KVCache) or len(cache.layers) != len(
                    self.h):
                raise TypeError(
                    f"cache debe ser una KVCache de {len(self.h)} capas; se "
                    f"recibió {describe(cache)}")
            past = len(cache)
            if past + T > self.config.max_position_embeddings:
                raise ValueError(
                    f"la caché ya tiene {past} tokens y llegan {T}: no "
                    f"caben en el contexto de max_position_embeddings="
                    f"{self.config.max_position_embeddings}")
        if targets is not None:
            targets = check_tensor(targets, "targets", shape="(B, T)",
                                   dtype_kind="int")
            if targets.shape != idx.shape:
                raise ValueError(
                    f"targets debe tener la forma de idx {tuple(idx.shape)};"
                    f" se recibió {tuple(targets.shape)}")
        pos = torch.arange(past, past + T, device=idx.device)  # (T,)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, C)
        maps = []
        for i, block in enumerate(self.h):
            x, weights = block(x, return_weights,
                               None if cache is None else cache.layers[i])
            maps.append(weights)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        loss = None
        if targets is not None:
            check_targets(logits, targets, "targets")
            loss = F.cross_entropy(logits.view(B * T, -1),
                                   targets.reshape(B * T))
        return (logits, loss, maps) if return_weights else (logits, loss)

    @torch.no_grad()
    def generate(
        self,
        idx: Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
    ) -> Tensor:
        """Añade ``max_new_tokens`` tokens muestreados a idx (B, T).

        Cada paso mira como mucho los últimos ``max_position_embeddings``
        tokens,
        divide los logits entre ``temperature``, se queda con los ``top_k``
        más probables y/o con el núcleo de probabilidad ``top_p`` y
        muestrea con ``generator`` (reproducible).

        Con ``use_cache`` (por defecto) guarda las claves y valores en una
        ``KVCache`` y cada paso procesa solo el último token: los mismos
        tokens que sin caché, más deprisa. Cuando la secuencia ya no cabe
        en el contexto, la ventana se desplaza y cada token cambia de
        posición: desde ahí se recalcula la ventana entera en cada paso.
        """
        check_int(max_new_tokens, "max_new_tokens", minimum=0)
        self._check_ids(idx[:, -self.config.max_position_embeddings:]
                        if isinstance(idx, Tensor) and idx.dim() == 2
                        else idx)
        was_training = self.training
        self.eval()
        limit = self.config.max_position_embeddings
        cache = None
        for _ in range(max_new_tokens):
            if use_cache and idx.size(1) <= limit:
                if cache is None:                  # el prompt, de una vez
                    cache = KVCache(len(self.h))
                    logits, _ = self(idx, cache=cache)
                else:                              # solo el token nuevo
                    logits, _ = self(idx[:, -1:], cache=cache)
            else:
                # (B, ≤ limit): lo que cabe en el contexto
                logits, _ = self(idx[:, -limit:])
            probs = next_token_probs(logits[:, -1], temperature=temperature,
                                     top_k=top_k, top_p=top_p)  # (B, V)
            nxt = torch.multinomial(probs, 1, generator=generator)  # (B, 1)
            idx = torch.cat((idx, nxt), dim=1)  # (B, T + 1)
        self.train(was_training)
        return idx

    @classmethod
    def from_hf(cls, model: nn.Module, **overrides: Any) -> GPT:
        """Crea un GPT del curso con los pesos de un ``GPT2LMHeadModel``.

        Las claves del *checkpoint* son ``transformer.<nombre>``; GPT-2
        guarda sus capas lineales como ``Conv1D``, con pesos (entrada,
        salida): se trasponen a la forma (salida, entrada) de
        ``nn.Linear``. Carga con ``strict=True``.
        """
        check_hf_family(model, "gpt2", "GPT2LMHeadModel", "GPT.from_hf")
        hf = model.config
        if hf.activation_function not in ("gelu_new", "gelu"):
            raise ValueError("activación no soportada: "
                             f"{hf.activation_function!r}")
        if hf.n_inner not in (None, 4 * hf.n_embd) or getattr(
                hf, "scale_attn_by_inverse_layer_idx", False):
            raise ValueError("configuración de GPT-2 no estándar (n_inner "
                             "o escala de la atención por capa)")
        fields = dict(
            vocab_size=hf.vocab_size,
            max_position_embeddings=hf.n_positions,
            num_hidden_layers=hf.n_layer, num_attention_heads=hf.n_head,
            hidden_size=hf.n_embd, layer_norm_eps=hf.layer_norm_epsilon,
            hidden_act=HF_ACTIVATIONS[hf.activation_function],
        )
        config = GPTConfig(**{**fields, **overrides})
        ours = cls(config)
        transposed = ("attn.c_attn.weight", "attn.c_proj.weight",
                      "mlp.c_fc.weight", "mlp.c_proj.weight")
        state = {}
        for key, value in model.state_dict().items():
            name = key.removeprefix("transformer.")
            if name.endswith((".attn.bias", ".attn.masked_bias")):
                continue   # máscaras guardadas por versiones antiguas
            state[name] = value.t() if name.endswith(transposed) else value
        state.setdefault("lm_head.weight", state["wte.weight"])
        ours.load_state_dict(state, strict=True)
        return ours.to(next(model.parameters()).device)


def next_token_probs(
    logits: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> Tensor:
    """Logits (B, V) -> probabilidades (B, V) para muestrear.

    Libro: capítulo 4, «Generar texto». Temperatura: softmax(logits / τ);
    top-k: solo los k más probables; top-p (*nucleus*): el menor conjunto
    de tokens cuya probabilidad acumulada llega a p.
    """
    check_tensor(logits, "logits", ndim=(1, 2), shape="(B, V)",
                 dtype_kind="float")
    if isinstance(temperature, bool) or not (
            isinstance(temperature, (int, float)) and temperature > 0):
        raise ValueError("temperature debe ser un número > 0; vale "
                         f"{temperature!r}")
    V = logits.size(-1)
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(
            top_k, int) or not 1 <= top_k):
        raise ValueError(f"top_k debe ser un entero >= 1 (o None); vale "
                         f"{top_k!r}")
    if top_p is not None and not (isinstance(top_p, (int, float))
                                  and 0.0 < top_p <= 1.0):
        raise ValueError(f"top_p debe estar en (0, 1] (o None); vale "
                         f"{top_p!r}")
    logits = logits.float() / temperature  # (B, V)
    if top_k is not None and top_k < V:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = logits.softmax(dim=-1)  # (B, V)
    if top_p is not None and top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)  # (B, V)
        # Se descarta un token si los anteriores ya suman top_p o más;
        # el más probable siempre se queda.
        drop = sorted_p.cumsum(dim=-1) - sorted_p >= top_p  # (B, V)
        sorted_p = sorted_p.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    return probs

