"""Corpus del libro: viajan dentro del paquete, comprimidos y verificados.

Libro: introducción, «Cómo ejecutar el libro».

Los dos textos del libro son de dominio público y, comprimidos con xz,
ocupan 1,1 MB: se instalan con ``course_lib`` (en
``course_lib/resources/``). Así ningún capítulo depende de que un
servidor de terceros siga en pie, y Colab, un portátil nuevo o un aula sin
red no descargan nada más que el paquete.

``load_text(name)`` descomprime el archivo, comprueba el SHA-256 del texto
(el mismo que el del archivo original, anotado en ``REGISTRY``) y lo
devuelve. Un archivo ausente o alterado da ``DataError`` con la causa.
"""

from __future__ import annotations

import hashlib
import lzma
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["REGISTRY", "Corpus", "DataError", "load_text"]


@dataclass(frozen=True)
class Corpus:
    """Un texto del libro: su nombre, su SHA-256 y de dónde viene.

    ``sha256`` es el del texto descomprimido (UTF-8), el mismo que daría
    ``sha256sum`` sobre el archivo original; ``origin`` dice de dónde se
    tomó, solo como referencia: nunca se descarga nada.
    """

    name: str
    sha256: str
    chars: int
    description: str
    origin: str

    @property
    def resource(self) -> str:
        """Nombre del archivo comprimido dentro de ``course_lib/resources``."""
        return f"{self.name}.xz"


REGISTRY: dict[str, Corpus] = {
    corpus.name: corpus
    for corpus in (
        Corpus(
            name="moliere.txt",
            sha256="9589b888061b947f572349272728147e"
            "6de1c34887a1298c92563e7cb1f10d28",
            chars=1_687_290,
            description="Obras de Molière (francés), solo diálogo: 85 "
            "caracteres distintos. Corpus del GPT (capítulo 4).",
            origin="CoursDeepLearning de Simon Thomine, "
            "fr/07_Transformers/moliere.txt (commit aa8ec3d)",
        ),
        Corpus(
            name="quijote.txt",
            sha256="885581163e95c870e8661ff25249ba1d"
            "30206eee032e2006b3138b89ad55d9b7",
            chars=2_071_776,
            description="Don Quijote de la Mancha (las dos partes): 91 "
            "caracteres distintos. Corpus de BERT (capítulo 3).",
            origin="transformer_from_scratch de Javier Moral, "
            "data/quijote.txt (commit 7587c33)",
        ),
    )
}


class DataError(RuntimeError):
    """Un corpus del paquete falta o no es el esperado."""


def load_text(name: str) -> str:
    """Devuelve el corpus ``name`` (p. ej. ``"moliere.txt"``) como texto.

    El SHA-256 se comprueba en cada proceso la primera vez; después el
    texto se reutiliza (descomprimir cuesta ~0,1 s).
    """
    if not isinstance(name, str):
        raise TypeError(
            f"name debe ser el nombre de un corpus (str); recibido "
            f"{type(name).__name__}"
        )
    if name not in REGISTRY:
        raise ValueError(
            f"corpus desconocido {name!r}; los del libro son: "
            f"{', '.join(sorted(REGISTRY))}"
        )
    return _read_verified(name)


# Carpeta de los archivos del paquete (las pruebas la sustituyen).
_RESOURCES = resources.files("course_lib") / "resources"


@cache
def _read_verified(name: str) -> str:
    corpus = REGISTRY[name]
    packaged = _RESOURCES / corpus.resource
    try:
        raw = lzma.decompress(packaged.read_bytes())
    except FileNotFoundError as exc:
        raise DataError(
            f"Falta {corpus.resource} en course_lib/resources: la "
            "instalación del paquete está incompleta. Reinstálalo "
            "(pip install -e . desde el repositorio)."
        ) from exc
    except lzma.LZMAError as exc:
        raise DataError(
            f"{corpus.resource} está dañado (no es un xz válido: {exc}). "
            "Reinstala el paquete."
        ) from exc
    got = hashlib.sha256(raw).hexdigest()
    if got != corpus.sha256:
        raise DataError(
            f"{corpus.resource} no es el corpus esperado: SHA-256 esperado "
            f"{corpus.sha256}, obtenido {got}. Reinstala el paquete."
        )
    return raw.decode("utf-8")
