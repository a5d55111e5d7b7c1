"""Ejercicios del capítulo 3, «BERT».

Libro: capítulo 3, sección «Ejercicios». Uso en el cuaderno::

    from course_lib.exercises import cap03 as ej
    ej.enmascarar.check(enmascarar)

Las soluciones de referencia son autocontenidas a propósito: no usan
``course_lib.bert``. Las pruebas comprueban que coinciden con él.
"""

# Notación: B lote · T tokens · C canales · K clases

from __future__ import annotations

import torch

from course_lib.exercises import Case, Exercise, KnownMistake

__all__ = ["cabeza_clasificacion", "enmascarar", "mascara_relleno"]

_MASK_ID = 4          # [MASK] en el tokenizador del capítulo
_PAD_ID = 0           # [PAD]
_N_SPECIAL = 5        # [PAD] [UNK] [CLS] [SEP] [MASK] = ids 0..4
_VOCAB = 50


# --- 1. La regla 80/10/10 ----------------------------------------------

def _enmascarar(ids: torch.Tensor, u_eleccion: torch.Tensor,
                u_tipo: torch.Tensor, aleatorios: torch.Tensor,
                es_especial: torch.Tensor, id_mask: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Regla del MLM con el azar ya sorteado; devuelve (entradas,
    etiquetas)."""
    elegidos = (u_eleccion < 0.15) & ~es_especial     # 15 % de los normales
    etiquetas = torch.where(elegidos, ids, -100)      # pérdida solo aquí
    a_mask = elegidos & (u_tipo < 0.8)                # 80 % -> [MASK]
    a_azar = elegidos & (u_tipo >= 0.8) & (u_tipo < 0.9)  # 10 % -> azar
    entradas = torch.where(a_mask, id_mask, ids)      # 10 % sin cambio
    entradas = torch.where(a_azar, aleatorios, entradas)
    return entradas, etiquetas


def _masking_variant(*, mask_all: bool = False, label_all: bool = False,
                     specials: bool = False, ignore: int = -100,
                     labels_from_input: bool = False):
    def wrong(ids, u_eleccion, u_tipo, aleatorios, es_especial, id_mask):
        elegidos = u_eleccion < 0.15
        if not specials:
            elegidos = elegidos & ~es_especial
        if mask_all:
            entradas = torch.where(elegidos, id_mask, ids)
        else:
            entradas = torch.where(elegidos & (u_tipo < 0.8), id_mask, ids)
            azar = elegidos & (u_tipo >= 0.8) & (u_tipo < 0.9)
            entradas = torch.where(azar, aleatorios, entradas)
        fuente = entradas if labels_from_input else ids
        etiquetas = fuente.clone() if label_all else torch.where(
            elegidos, fuente, ignore)
        return entradas, etiquetas
    return wrong


def _masking_case(B: int, T: int, pad: int):
    def make(g: torch.Generator) -> tuple:
        ids = torch.randint(_N_SPECIAL, _VOCAB, (B, T), generator=g)
        ids[:, 0] = 2                                  # [CLS]
        ids[:, T - 1 - pad] = 3                        # [SEP]
        if pad:
            ids[:, T - pad:] = _PAD_ID
        u_eleccion = torch.rand(B, T, generator=g) * 0.4
        u_tipo = torch.rand(B, T, generator=g)
        aleatorios = torch.randint(_N_SPECIAL, _VOCAB, (B, T), generator=g)
        es_especial = ids < _N_SPECIAL
        return ids, u_eleccion, u_tipo, aleatorios, es_especial, _MASK_ID
    return make


enmascarar = Exercise(
    name="enmascarar",
    title="La regla 80/10/10 del MLM",
    reference=_enmascarar,
    cases=[
        Case(f"lote ({B}, {T}) con {pad} posiciones de relleno",
             _masking_case(B, T, pad))
        for B, T, pad in ((4, 12, 0), (3, 16, 4), (8, 10, 2))
    ],
    output_names=("entradas", "etiquetas"),
    hints=[
        "Primero decide qué posiciones se eligen: las que tienen "
        "`u_eleccion < 0.15` y no son especiales (`~es_especial`). Las "
        "etiquetas son el id original allí y -100 en el resto "
        "(`torch.where`).",
        "Entre las elegidas, `u_tipo` reparte: < 0.8 -> `id_mask`; entre "
        "0.8 y 0.9 -> el token de `aleatorios`; el resto se queda igual. "
        "Construye `entradas` con dos `torch.where` encadenados, sin "
        "modificar `ids`.",
    ],
    mistakes=[
        KnownMistake(
            "todo_a_mask",
            "Cambias por [MASK] todas las posiciones elegidas: falta la "
            "regla 80/10/10 (10 % token al azar, 10 % sin cambio), que "
            "evita que el modelo solo aprenda a mirar los [MASK].",
            _masking_variant(mask_all=True)),
        KnownMistake(
            "especiales",
            "Eliges también tokens especiales ([CLS], [SEP], [PAD]): no "
            "tiene sentido predecirlos. Excluye `es_especial`.",
            _masking_variant(specials=True)),
        KnownMistake(
            "etiquetas_en_todo",
            "Tus etiquetas tienen el id original en todas las posiciones: "
            "la pérdida del MLM solo cuenta las elegidas; las demás llevan "
            "-100 (el `ignore_index` de `F.cross_entropy`).",
            _masking_variant(label_all=True)),
        KnownMistake(
            "etiqueta_cero",
            "Usas 0 en las posiciones sin pérdida, pero 0 es el id de "
            "[PAD]: la entropía cruzada lo tomaría como una clase. Usa "
            "-100.",
            _masking_variant(ignore=0)),
        KnownMistake(
            "etiquetas_de_entrada",
            "Tus etiquetas salen de las entradas ya enmascaradas (serían "
            "[MASK]): la etiqueta es el token original de `ids`.",
            _masking_variant(labels_from_input=True)),
    ],
)


# --- 2. Máscara de atención para el relleno ----------------------------

def _mascara_relleno(ids: torch.Tensor, id_pad: int) -> torch.Tensor:
    """(B, T) ids -> (B, 1, 1, T) bool; True = token real (se puede
    atender)."""
    reales = ids != id_pad                       # (B, T)
    return reales[:, None, None, :]              # (B, 1, 1, T)


def _pad_case(lengths: tuple[int, ...], T: int, pad_id: int):
    def make(g: torch.Generator) -> tuple:
        ids = torch.randint(5, _VOCAB, (len(lengths), T), generator=g)
        for row, n in enumerate(lengths):
            ids[row, n:] = pad_id
        return ids, pad_id
    return make


mascara_relleno = Exercise(
    name="mascara_relleno",
    title="La máscara de atención para el relleno",
    reference=_mascara_relleno,
    cases=[
        Case("longitudes (5, 3) en T = 5, [PAD] = 0",
             _pad_case((5, 3), 5, 0)),
        Case("longitudes (2, 7, 4) en T = 7, [PAD] = 0",
             _pad_case((2, 7, 4), 7, 0)),
        Case("longitudes (6, 1) en T = 6, [PAD] = 1",
             _pad_case((6, 1), 6, 1)),
    ],
    hints=[
        "Un token es real si su id no es `id_pad`: la comparación da un "
        "tensor booleano (B, T) con True donde se puede atender.",
        "Las puntuaciones tienen forma (B, H, Tq, Tk) y el relleno son "
        "*claves*: añade ejes para llegar a (B, 1, 1, T), p. ej. con "
        "`[:, None, None, :]`.",
    ],
    mistakes=[
        KnownMistake(
            "invertida",
            "Tu máscara está invertida: en el libro True = «puede "
            "atender», así que True va en los tokens reales y False en el "
            "relleno.",
            lambda ids, id_pad: (ids == id_pad)[:, None, None, :]),
        KnownMistake(
            "eje_consultas",
            "Pusiste el eje de tokens en las consultas, (B, 1, T, 1): así "
            "el relleno sigue siendo visible como clave. Debe ser "
            "(B, 1, 1, T).",
            lambda ids, id_pad: (ids != id_pad)[:, None, :, None]),
        KnownMistake(
            "sin_ejes",
            "Devuelves (B, T): al difundirse contra (B, H, T, T) el eje B "
            "se alinearía con las consultas. Añade los ejes de cabezas y "
            "consultas: (B, 1, 1, T).",
            lambda ids, id_pad: ids != id_pad),
        KnownMistake(
            "dtype",
            "Los valores están bien, pero la máscara debe ser booleana "
            "(`torch.bool`), no 0/1 numérico: `masked_fill` y "
            "`F.scaled_dot_product_attention` la interpretan distinto.",
            lambda ids, id_pad: (ids != id_pad).long()[:, None, None, :]),
    ],
)


# --- 3. Cabeza de clasificación sobre [CLS] -----------------------------

def _cabeza_clasificacion(h: torch.Tensor, W_pool: torch.Tensor,
                          b_pool: torch.Tensor, W_cls: torch.Tensor,
                          b_cls: torch.Tensor) -> torch.Tensor:
    """h (B, T, C) -> logits (B, K): tanh del *pooler* sobre [CLS] y una
    capa lineal. Pesos con la forma de nn.Linear: (salida, entrada)."""
    cls = h[:, 0]                                    # (B, C): el [CLS]
    agrupado = torch.tanh(cls @ W_pool.T + b_pool)   # (B, C)
    return agrupado @ W_cls.T + b_cls                # (B, K)


def _head_variant(*, pool: str = "cls", act: str = "tanh",
                  transpose: bool = True):
    def wrong(h, W_pool, b_pool, W_cls, b_cls):
        x = {"cls": h[:, 0], "mean": h.mean(1), "last": h[:, -1]}[pool]
        x = x @ (W_pool.T if transpose else W_pool) + b_pool
        x = {"tanh": torch.tanh, "none": lambda t: t}[act](x)
        return x @ W_cls.T + b_cls
    return wrong


def _head_case(B: int, T: int, C: int, K: int):
    def make(g: torch.Generator) -> tuple:
        return (torch.randn(B, T, C, generator=g),
                torch.randn(C, C, generator=g) / C ** 0.5,
                torch.randn(C, generator=g) * 0.1,
                torch.randn(K, C, generator=g) / C ** 0.5,
                torch.randn(K, generator=g) * 0.1)
    return make


cabeza_clasificacion = Exercise(
    name="cabeza_clasificacion",
    title="La cabeza de clasificación sobre [CLS]",
    reference=_cabeza_clasificacion,
    cases=[
        Case(f"h ({B}, {T}, {C}), {K} clases", _head_case(B, T, C, K))
        for B, T, C, K in ((2, 5, 8, 3), (4, 7, 16, 2), (1, 3, 4, 5))
    ],
    hints=[
        "BERT resume la secuencia en el estado de la primera posición, "
        "[CLS]: `h[:, 0]` tiene forma (B, C).",
        "El *pooler* es una capa lineal seguida de tanh; los pesos tienen "
        "la forma de `nn.Linear`, (salida, entrada), así que se "
        "multiplica por su traspuesta: `x @ W.T + b`. Después, otra capa "
        "lineal a K clases, sin activación.",
    ],
    mistakes=[
        KnownMistake(
            "media",
            "Promedias todos los tokens: BERT usa el estado de [CLS] (la "
            "posición 0), que el preentrenamiento NSP prepara para "
            "resumir la secuencia.",
            _head_variant(pool="mean")),
        KnownMistake(
            "ultimo",
            "Tomas el último token (como haría un GPT): en BERT el resumen "
            "está en [CLS], la posición 0.",
            _head_variant(pool="last")),
        KnownMistake(
            "sin_tanh",
            "Falta la tanh del *pooler*: `tanh(cls @ W_pool.T + b_pool)`.",
            _head_variant(act="none")),
        KnownMistake(
            "sin_trasponer",
            "Multiplicas por `W_pool` sin trasponer: los pesos de "
            "`nn.Linear` son (salida, entrada), así que va `W_pool.T`. Con "
            "una matriz cuadrada la forma no avisa del error.",
            _head_variant(transpose=False)),
    ],
)
