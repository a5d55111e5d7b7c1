"""Ejercicios del capítulo 2, «El Transformer completo».

Libro: capítulo 2, sección «Ejercicios». Uso en el cuaderno::

    from course_lib.exercises import cap02 as ej
    ej.desplazar_derecha.check(desplazar_derecha)

Convención de máscaras del libro: booleanas, True = «puede atender».
Las soluciones de referencia son autocontenidas a propósito: no usan
``course_lib.transformer``.
"""

# Notación: B lote · S tokens de la fuente · T tokens del destino
#           V vocabulario

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from course_lib.exercises import Case, Exercise, KnownMistake

__all__ = ["decodificacion_voraz", "desplazar_derecha",
           "mascara_decodificador"]

PAD, BOS, EOS = 0, 1, 2


def _labels(g: torch.Generator, lengths: list[int], T: int,
            V: int = 20) -> torch.Tensor:
    """Etiquetas (B, T): palabras al azar, <eos> y relleno."""
    rows = []
    for n in lengths:
        words = torch.randint(3, V, (n,), generator=g).tolist()
        rows.append(words + [EOS] + [PAD] * (T - n - 1))
    return torch.tensor(rows)


# --- 1. Desplazar a la derecha (teacher forcing) -----------------------

def _desplazar_derecha(etiquetas: torch.Tensor, bos_id: int) -> torch.Tensor:
    """(B, T) -> (B, T): [<bos>, y_1, …, y_{T-1}]."""
    bos = torch.full_like(etiquetas[:, :1], bos_id)     # (B, 1)
    return torch.cat([bos, etiquetas[:, :-1]], dim=1)   # (B, T)


def _shift_roll(etiquetas: torch.Tensor, bos_id: int) -> torch.Tensor:
    return torch.roll(etiquetas, 1, dims=1)


def _shift_left(etiquetas: torch.Tensor, bos_id: int) -> torch.Tensor:
    end = torch.full_like(etiquetas[:, :1], bos_id)
    return torch.cat([etiquetas[:, 1:], end], dim=1)


def _shift_keep_last(etiquetas: torch.Tensor, bos_id: int) -> torch.Tensor:
    bos = torch.full_like(etiquetas[:, :1], bos_id)
    return torch.cat([bos, etiquetas], dim=1)


def _shift_zero(etiquetas: torch.Tensor, bos_id: int) -> torch.Tensor:
    return torch.cat([torch.zeros_like(etiquetas[:, :1]),
                      etiquetas[:, :-1]], dim=1)


desplazar_derecha = Exercise(
    name="desplazar_derecha",
    title="Desplazar el destino a la derecha (teacher forcing)",
    reference=_desplazar_derecha,
    cases=[
        Case("un ejemplo de 4 palabras, T = 6, bos_id = 1",
             lambda g: (_labels(g, [4], 6), BOS)),
        Case("lote de 3 con relleno, T = 8, bos_id = 1",
             lambda g: (_labels(g, [2, 7, 5], 8), BOS)),
        Case("lote de 2 sin relleno, T = 5, bos_id = 7",
             lambda g: (_labels(g, [4, 4], 5), 7)),
    ],
    hints=[
        "La entrada del decodificador en la posición t debe ser la palabra "
        "correcta t − 1; en la posición 0 no hay palabra anterior, así que "
        "va `<bos>`. La forma no cambia: (B, T).",
        "Crea una columna (B, 1) llena de `bos_id` (`torch.full_like` "
        "sobre `etiquetas[:, :1]`) y concaténala (`torch.cat`, `dim=1`) con "
        "todas las columnas de `etiquetas` menos la última.",
    ],
    mistakes=[
        KnownMistake(
            "roll",
            "Parece que usaste `torch.roll`: desplaza, pero la última "
            "columna da la vuelta y aparece al principio. La posición 0 "
            "debe ser `<bos>`.",
            _shift_roll),
        KnownMistake(
            "izquierda",
            "Desplazaste a la izquierda: la entrada en la posición t sería "
            "la palabra t + 1, es decir, la respuesta que el modelo debe "
            "predecir. Hay que desplazar a la derecha.",
            _shift_left),
        KnownMistake(
            "sin_recortar",
            "Pusiste `<bos>` delante pero no quitaste la última columna: la "
            "salida debe tener la misma forma (B, T) que las etiquetas.",
            _shift_keep_last),
        KnownMistake(
            "sin_bos",
            "La primera columna es 0 (el relleno) en lugar de `bos_id`: el "
            "decodificador necesita la señal de inicio `<bos>`.",
            _shift_zero),
    ],
)


# --- 2. La máscara del decodificador ----------------------------------

def _mascara_decodificador(destino: torch.Tensor,
                           pad_id: int) -> torch.Tensor:
    """(B, T) -> (B, 1, T, T): causal y sin claves de relleno."""
    T = destino.size(1)
    causal = torch.ones(T, T, dtype=torch.bool).tril()   # (T, T)
    claves = (destino != pad_id)[:, None, None, :]       # (B, 1, 1, T)
    return causal & claves                               # (B, 1, T, T)


def _mask_variant(*, causal: str = "tril", pad: str = "keys",
                  invert: bool = False) -> Callable[..., Any]:
    def wrong(destino: torch.Tensor, pad_id: int) -> torch.Tensor:
        B, T = destino.shape
        ones = torch.ones(T, T, dtype=torch.bool)
        tri = {"tril": ones.tril(), "triu": ones.triu(),
               "none": ones}[causal]
        real = destino != pad_id
        keep = {"keys": real[:, None, None, :],
                "queries": real[:, None, :, None],
                "none": torch.ones(B, 1, 1, 1, dtype=torch.bool)}[pad]
        mask = tri & keep
        return ~mask if invert else mask
    return wrong


mascara_decodificador = Exercise(
    name="mascara_decodificador",
    title="La máscara de la autoatención del decodificador",
    reference=_mascara_decodificador,
    cases=[
        Case("lote de 2 con relleno, T = 5, pad_id = 0",
             lambda g: (shift_in(_labels(g, [3, 1], 5)), PAD)),
        Case("lote de 3, T = 7, pad_id = 0",
             lambda g: (shift_in(_labels(g, [6, 2, 4], 7)), PAD)),
        Case("sin relleno, T = 4, pad_id = 0",
             lambda g: (shift_in(_labels(g, [4], 5))[:, :4], PAD)),
    ],
    hints=[
        "Son dos condiciones que deben cumplirse a la vez (`&`): la clave "
        "no está en el futuro de la consulta (máscara causal (T, T)) y la "
        "clave no es relleno (una máscara (B, T) que hay que difundir).",
        "Para difundir la condición de relleno sobre las claves (el último "
        "eje) usa `(destino != pad_id)[:, None, None, :]`, de forma "
        "(B, 1, 1, T); la causal (T, T) se difunde sola a (B, 1, T, T).",
    ],
    mistakes=[
        KnownMistake(
            "solo_causal",
            "Tu máscara es solo causal: falta bloquear las claves de "
            "relleno (`destino != pad_id`).",
            _mask_variant(pad="none")),
        KnownMistake(
            "solo_relleno",
            "Tu máscara solo bloquea el relleno: falta la parte causal, sin "
            "ella el decodificador ve las palabras futuras que debe "
            "predecir.",
            _mask_variant(causal="none")),
        KnownMistake(
            "convencion_pytorch",
            "Tu máscara está invertida: usas la convención de "
            "`nn.Transformer` (True = bloqueado). En este libro True "
            "significa «puede atender».",
            _mask_variant(invert=True)),
        KnownMistake(
            "relleno_en_consultas",
            "Aplicas el relleno a las consultas (filas) en lugar de a las "
            "claves (columnas): usa `[:, None, None, :]`, no "
            "`[:, None, :, None]`.",
            _mask_variant(pad="queries")),
        KnownMistake(
            "triangulo_superior",
            "Tu parte causal es el triángulo superior: la consulta t debe "
            "ver las claves 0..t (triángulo inferior, `tril`).",
            _mask_variant(causal="triu")),
    ],
)


def shift_in(labels: torch.Tensor) -> torch.Tensor:
    """Etiquetas -> entrada del decodificador (para crear los casos)."""
    return _desplazar_derecha(labels, BOS)


# --- 3. Decodificación voraz ------------------------------------------

@dataclass(frozen=True)
class ToyConfig:
    """Los campos de ``TransformerConfig`` que un bucle de decodificación
    puede consultar (``modelo.config.eos_id``…)."""

    src_vocab_size: int = 13
    tgt_vocab_size: int = 12
    max_len: int = 12
    pad_id: int = PAD
    bos_id: int = BOS
    eos_id: int = EOS


class ModeloDeJuguete(nn.Module):
    """Un «Transformer» de mentira para probar la decodificación: la
    puntuación del token siguiente depende de la fuente, del último
    token y de la posición, a través de tablas aleatorias fijas.
    ``modelo(fuente (B, S), entrada (B, t)) -> logits (B, t, V)``.

    Es un ``nn.Module`` con la interfaz del ``Transformer`` del capítulo
    (``eval()``, ``parameters()``, ``to()``, ``config``, ``encode`` y
    ``decode``), así que el código que funciona con él funciona aquí."""

    def __init__(self, seed: int, V: int = 12) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        table = torch.randn(V, 12, V, generator=g)     # (V, posición, V)
        src_bias = torch.randn(10, V, generator=g)
        table[:, 3:, EOS] += 1.5   # que acabe terminando
        self.config = ToyConfig(tgt_vocab_size=V)
        self.table = nn.Parameter(table)
        self.src_bias = nn.Parameter(src_bias)

    def encode(self, fuente: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """fuente (B, S) -> «memoria» (B, S, V) y su máscara (B, 1, 1, S)."""
        mascara = (fuente != self.config.pad_id)[:, None, None, :]
        return self.src_bias[fuente % 10], mascara

    def decode(self, entrada: torch.Tensor, memoria: torch.Tensor,
               mascara: torch.Tensor) -> torch.Tensor:
        """entrada (B, t) -> logits (B, t, V)."""
        pos = torch.arange(entrada.size(1), device=entrada.device)
        logits = self.table[entrada, pos]                 # (B, t, V)
        return logits + memoria.sum(1)[:, None, :]

    def forward(self, fuente: torch.Tensor,
                entrada: torch.Tensor) -> torch.Tensor:
        return self.decode(entrada, *self.encode(fuente))

    def __repr__(self) -> str:
        return "ModeloDeJuguete()"


def _decodificacion_voraz(modelo: torch.nn.Module, fuente: torch.Tensor,
                          bos_id: int, eos_id: int,
                          max_len: int) -> torch.Tensor:
    """(B, S) -> (B, 1 + max_len): <bos> y max_len tokens; tras <eos>,
    cada fila se rellena con <eos>."""
    B = fuente.size(0)
    salida = torch.full((B, 1), bos_id, dtype=torch.long)   # (B, 1)
    terminada = torch.zeros(B, dtype=torch.bool)            # (B,)
    for _ in range(max_len):
        logits = modelo(fuente, salida)                     # (B, t, V)
        siguiente = logits[:, -1].argmax(dim=-1)            # (B,)
        siguiente = torch.where(terminada, eos_id, siguiente)
        salida = torch.cat([salida, siguiente[:, None]], dim=1)
        terminada = terminada | (siguiente == eos_id)
    return salida


def _greedy_variant(*, position: int = -1, force_eos: bool = True,
                    bos: bool = True) -> Callable[..., Any]:
    def wrong(modelo: Any, fuente: torch.Tensor, bos_id: int, eos_id: int,
              max_len: int) -> torch.Tensor:
        B = fuente.size(0)
        out = torch.full((B, 1), bos_id if bos else 0, dtype=torch.long)
        done = torch.zeros(B, dtype=torch.bool)
        for _ in range(max_len):
            nxt = modelo(fuente, out)[:, position].argmax(-1)
            if force_eos:
                nxt = torch.where(done, eos_id, nxt)
            out = torch.cat([out, nxt[:, None]], dim=1)
            done = done | (nxt == eos_id)
        return out
    return wrong


def _toy_case(seed: int, B: int, max_len: int) -> Callable[..., Any]:
    def make(g: torch.Generator) -> tuple[Any, ...]:
        fuente = torch.randint(3, 13, (B, 6), generator=g)
        return ModeloDeJuguete(seed), fuente, BOS, EOS, max_len
    return make


decodificacion_voraz = Exercise(
    name="decodificacion_voraz",
    title="Decodificación voraz",
    reference=_decodificacion_voraz,
    cases=[Case(f"modelo de juguete, lote de {B}, max_len = {L}",
                _toy_case(s, B, L))
           for s, B, L in ((0, 1, 6), (1, 4, 8), (2, 8, 10))],
    hints=[
        "Empieza con una salida (B, 1) llena de `bos_id`. En cada uno de "
        "los `max_len` pasos llama a `modelo(fuente, salida)`, quédate con "
        "los logits de la **última** posición, `logits[:, -1]`, y elige el "
        "token más probable con `argmax(dim=-1)`.",
        "Añade el token con `torch.cat` (dim=1). Lleva un vector booleano "
        "`terminada` (B,): una fila que ya produjo `eos_id` debe seguir "
        "recibiendo `eos_id` (`torch.where`), diga lo que diga el modelo.",
    ],
    mistakes=[
        KnownMistake(
            "primera_posicion",
            "Tomas los logits de la primera posición (`logits[:, 0]`): el "
            "token siguiente lo predice la última, `logits[:, -1]`.",
            _greedy_variant(position=0)),
        KnownMistake(
            "sin_eos",
            "Las filas que ya terminaron siguen generando: después de "
            "`eos_id`, cada fila debe rellenarse con `eos_id`.",
            _greedy_variant(force_eos=False)),
        KnownMistake(
            "sin_bos",
            "La salida no empieza por `bos_id`: el decodificador necesita "
            "la señal de inicio.",
            _greedy_variant(bos=False)),
    ],
    imports=("import torch",),
    time_limit=5.0,
)
