"""Ejercicios del capítulo 6, «Masked Autoencoders».

Libro: capítulo 6, sección «Ejercicios». Uso en el cuaderno::

    from course_lib.exercises import cap06 as ej
    ej.enmascarar.check(enmascarar)

Convención del capítulo: ``tapado`` (``is_masked`` en ``course_lib.mae``)
es True donde el parche está **oculto** al codificador. Las soluciones
de referencia son autocontenidas: no usan ``course_lib.mae``.
"""

# Notación: B lote · N parches · K visibles · D canales por parche

from __future__ import annotations

import torch

from course_lib.exercises import Case, Exercise, KnownMistake

__all__ = ["enmascarar", "normalizar_parches", "perdida_mae"]

_IMPORTS = ("import torch",)


# --- 1. Enmascarado aleatorio ------------------------------------------

def _enmascarar(x: torch.Tensor, proporcion: float,
                ruido: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """x (B, N, D), ruido (B, N) -> (visibles (B, K, D), tapado (B, N)
    bool, ids_restaurar (B, N)), con K = int(N · (1 - proporcion))."""
    B, N, D = x.shape
    K = int(N * (1 - proporcion))
    ids_barajar = ruido.argsort(dim=1)          # menor ruido = se queda
    ids_restaurar = ids_barajar.argsort(dim=1)  # permutación inversa
    ids_quedan = ids_barajar[:, :K]             # (B, K)
    visibles = x.gather(1, ids_quedan.unsqueeze(-1).expand(-1, -1, D))
    tapado = torch.ones(B, N, dtype=torch.bool)
    tapado[:, :K] = False                       # orden barajado…
    tapado = tapado.gather(1, ids_restaurar)    # …al orden original
    return visibles, tapado, ids_restaurar


def _masking_variant(*, keep: str = "low", restore: str = "inverse",
                     mask: str = "ok"):
    def wrong(x: torch.Tensor, proporcion: float, ruido: torch.Tensor):
        B, N, D = x.shape
        K = int(N * (1 - proporcion))
        ids_shuffle = ruido.argsort(dim=1, descending=keep == "high")
        ids_restore = ids_shuffle.argsort(dim=1)
        visible = x.gather(1, ids_shuffle[:, :K, None].expand(-1, -1, D))
        masked = torch.ones(B, N, dtype=torch.bool)
        masked[:, :K] = False
        if mask != "shuffled":
            masked = masked.gather(1, ids_restore)
        if mask == "inverted":
            masked = ~masked
        return visible, masked, (ids_shuffle if restore == "shuffle"
                                 else ids_restore)
    return wrong


def _masking_case(B: int, N: int, D: int, ratio: float):
    def make(g: torch.Generator) -> tuple:
        return (torch.randn(B, N, D, generator=g), ratio,
                torch.rand(B, N, generator=g))
    return make


enmascarar = Exercise(
    name="enmascarar",
    title="Enmascarado aleatorio de MAE",
    reference=_enmascarar,
    cases=[Case(f"x ({B}, {N}, {D}), proporción {r}",
                _masking_case(B, N, D, r))
           for B, N, D, r in ((2, 8, 3, 0.5), (3, 16, 4, 0.75),
                              (1, 10, 2, 0.25))],
    output_names=("visibles", "tapado", "ids_restaurar"),
    imports=_IMPORTS,
    hints=[
        "Ordena el ruido de cada ejemplo con `argsort(dim=1)`: los K "
        "primeros índices son los parches que se quedan. `argsort` de esa "
        "permutación es su inversa, `ids_restaurar`.",
        "Para sacar los visibles usa `gather` en el eje 1 con los índices "
        "ampliados a (B, K, D). La máscara se construye en el orden "
        "barajado (K False y el resto True) y se devuelve al orden "
        "original con `gather(1, ids_restaurar)`.",
    ],
    mistakes=[
        KnownMistake(
            "mascara_invertida",
            "Tu `tapado` está al revés: True significa que el parche está "
            "oculto (no lo ve el codificador).",
            _masking_variant(mask="inverted")),
        KnownMistake(
            "ruido_alto",
            "Te quedas con los parches de **mayor** ruido: en MAE (y en "
            "transformers) se quedan los de menor ruido, los primeros de "
            "`argsort` ascendente.",
            _masking_variant(keep="high")),
        KnownMistake(
            "sin_invertir",
            "Devuelves la permutación `ids_barajar` en lugar de su "
            "inversa: `ids_restaurar = ids_barajar.argsort(dim=1)`.",
            _masking_variant(restore="shuffle")),
        KnownMistake(
            "mascara_barajada",
            "Tu `tapado` está en el orden barajado: hay que devolverlo al "
            "orden original de los parches con `gather(1, ids_restaurar)`.",
            _masking_variant(mask="shuffled")),
    ],
)


# --- 2. Pérdida solo en los parches tapados ------------------------------

def _perdida_mae(objetivo: torch.Tensor, prediccion: torch.Tensor,
                 tapado: torch.Tensor) -> torch.Tensor:
    """MSE por parche (media sobre D), promediada sobre los tapados."""
    por_parche = ((prediccion - objetivo) ** 2).mean(dim=-1)   # (B, N)
    pesos = tapado.float()
    return (por_parche * pesos).sum() / pesos.sum()


def _loss_all(objetivo, prediccion, tapado):
    return ((prediccion - objetivo) ** 2).mean()


def _loss_visible(objetivo, prediccion, tapado):
    per = ((prediccion - objetivo) ** 2).mean(-1)
    return per[~tapado].mean()


def _loss_wrong_count(objetivo, prediccion, tapado):
    per = ((prediccion - objetivo) ** 2).mean(-1)
    return (per * tapado.float()).sum() / tapado.numel()


def _loss_sum_pixels(objetivo, prediccion, tapado):
    per = ((prediccion - objetivo) ** 2).sum(-1)
    return per[tapado].mean()


def _loss_case(B: int, N: int, D: int):
    def make(g: torch.Generator) -> tuple:
        tapado = torch.rand(B, N, generator=g) < 0.6
        tapado[:, 0] = True
        tapado[:, 1] = False
        return (torch.randn(B, N, D, generator=g),
                torch.randn(B, N, D, generator=g), tapado)
    return make


perdida_mae = Exercise(
    name="perdida_mae",
    title="Pérdida de MAE en los parches tapados",
    reference=_perdida_mae,
    cases=[Case(f"parches ({B}, {N}, {D})", _loss_case(B, N, D))
           for B, N, D in ((2, 8, 4), (3, 16, 12), (1, 5, 3))],
    imports=_IMPORTS,
    hints=[
        "Calcula primero el error cuadrático medio **de cada parche** "
        "(media sobre el último eje): un tensor (B, N).",
        "Después promedia solo donde `tapado` es True: suma los errores "
        "multiplicados por la máscara (como float) y divide entre el "
        "número de parches tapados.",
    ],
    mistakes=[
        KnownMistake(
            "todos_los_parches",
            "Promedias el error sobre todos los parches: en MAE los "
            "visibles no cuentan (el codificador ya los vio; copiarlos no "
            "enseña nada).",
            _loss_all),
        KnownMistake(
            "solo_visibles",
            "Promedias sobre los parches visibles: la pérdida va en los "
            "tapados (`tapado == True`).",
            _loss_visible),
        KnownMistake(
            "divisor",
            "Sumas bien los tapados pero divides entre el número total de "
            "parches: divide entre el número de parches tapados.",
            _loss_wrong_count),
        KnownMistake(
            "suma_pixeles",
            "Sumas el error sobre los píxeles de cada parche: el artículo "
            "usa la media (MSE) por parche.",
            _loss_sum_pixels),
    ],
)


# --- 3. Píxeles normalizados por parche ----------------------------------

def _normalizar_parches(objetivo: torch.Tensor) -> torch.Tensor:
    """(B, N, D): cada parche con media 0 y varianza 1 (eps 1e-6)."""
    media = objetivo.mean(dim=-1, keepdim=True)
    var = objetivo.var(dim=-1, keepdim=True)       # insesgada, como MAE
    return (objetivo - media) / (var + 1e-6) ** 0.5


normalizar_parches = Exercise(
    name="normalizar_parches",
    title="Objetivo con píxeles normalizados",
    reference=_normalizar_parches,
    cases=[Case(f"objetivo ({B}, {N}, {D})",
                lambda g, B=B, N=N, D=D: (torch.rand(B, N, D, generator=g)
                                          * 3 + 1,))
           for B, N, D in ((2, 4, 4), (1, 16, 12), (3, 5, 8))],
    imports=_IMPORTS,
    hints=[
        "Cada parche se normaliza con **su** media y **su** varianza: "
        "calcúlalas sobre el último eje con `keepdim=True`.",
        "Divide entre √(var + 1e-6), como el código de MAE, y usa la "
        "varianza por defecto de PyTorch (`.var()`, insesgada).",
    ],
    mistakes=[
        KnownMistake(
            "eje_equivocado",
            "Normalizas sobre el eje de parches (`dim=1`): cada parche se "
            "normaliza con sus propios píxeles (`dim=-1`).",
            lambda o: (o - o.mean(1, keepdim=True))
            / (o.var(1, keepdim=True) + 1e-6) ** 0.5),
        KnownMistake(
            "sin_raiz",
            "Divides entre la varianza en lugar de entre la desviación "
            "típica (su raíz).",
            lambda o: (o - o.mean(-1, keepdim=True))
            / (o.var(-1, keepdim=True) + 1e-6)),
        KnownMistake(
            "solo_media",
            "Solo restas la media: falta dividir entre la desviación "
            "típica de cada parche.",
            lambda o: o - o.mean(-1, keepdim=True)),
        KnownMistake(
            "varianza_sesgada",
            "Usas la varianza sesgada (dividida entre D): MAE usa la de "
            "PyTorch por defecto, `.var()`, que divide entre D − 1.",
            lambda o: (o - o.mean(-1, keepdim=True))
            / (o.var(-1, keepdim=True, unbiased=False) + 1e-6) ** 0.5),
    ],
    atol=1e-4,
    rtol=1e-4,
)
