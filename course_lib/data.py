"""Corpus del libro: URL fijada, SHA-256, caché y copia local.

Libro: introducción, «Cómo ejecutar el libro».

Cada corpus está en un registro (``REGISTRY``) con una URL que nombra un
*commit*, de modo que su contenido no cambia, y su SHA-256. ``fetch(name)``
busca el archivo en este orden:

1. ``$COURSE_LIB_DATA_DIR/<name>``: una copia local (la del profesor o la
   de la CI). Se usa si su SHA-256 es el esperado; si no lo es, error.
2. La caché: el argumento ``cache_dir``, si no ``$COURSE_LIB_CACHE_DIR``,
   si no ``~/.cache/course_lib``. Una copia con el SHA-256 correcto se
   reutiliza sin red; una copia dañada se borra y se descarga de nuevo.
3. La red: se descarga a un archivo temporal de la caché, se calcula el
   SHA-256 mientras llega y solo si coincide se renombra (``os.replace``,
   atómico) al nombre final. Ante cualquier fallo se borra el temporal y
   se lanza ``DataError`` explicando qué descargar a mano y dónde ponerlo.

Con ``COURSE_LIB_OFFLINE=1`` nunca se usa la red: sin copia local ni en la
caché, el error llega al instante.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import HTTPResponse
from pathlib import Path

__all__ = [
    "REGISTRY",
    "DataError",
    "DataSource",
    "default_cache_dir",
    "fetch",
    "load_text",
    "sha256_file",
]


@dataclass(frozen=True)
class DataSource:
    """Un archivo de datos: nombre, URL fijada y SHA-256 esperado."""

    name: str
    url: str
    sha256: str
    description: str
    size: int | None = None  # bytes; solo informativo


REGISTRY: dict[str, DataSource] = {
    source.name: source
    for source in (
        DataSource(
            name="moliere.txt",
            url="https://raw.githubusercontent.com/SimonThomine/"
            "CoursDeepLearning/aa8ec3d5d44a157884f08c544c3f760d73d5eff0/"
            "fr/07_Transformers/moliere.txt",
            sha256="9589b888061b947f572349272728147e"
            "6de1c34887a1298c92563e7cb1f10d28",
            description="Obras de Molière (francés), solo diálogo: "
            "1 687 290 caracteres, 85 distintos. Corpus del GPT.",
            size=1_723_219,
        ),
        DataSource(
            name="quijote.txt",
            url="https://raw.githubusercontent.com/javiermoralh/"
            "transformer_from_scratch/"
            "7587c33618cfc2783ee9a2c08d77cbd9c637b39a/data/quijote.txt",
            sha256="885581163e95c870e8661ff25249ba1d"
            "30206eee032e2006b3138b89ad55d9b7",
            description="Don Quijote de la Mancha (las dos partes): "
            "2 071 776 caracteres, 91 distintos. Corpus de BERT.",
            size=2_128_718,
        ),
    )
}


class DataError(RuntimeError):
    """No se pudo obtener un archivo de datos verificado."""


def sha256_file(path: str | Path) -> str:
    """SHA-256 (en hexadecimal) del archivo, leído por bloques."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """``$COURSE_LIB_CACHE_DIR`` si está definida; si no, la caché común."""
    folder = os.environ.get("COURSE_LIB_CACHE_DIR")
    if folder:
        return Path(folder).expanduser()
    return Path.home() / ".cache" / "course_lib"


def fetch(
    name: str,
    *,
    cache_dir: str | Path | None = None,
    timeout: float = 4.0,
    url: str | None = None,
) -> Path:
    """Devuelve la ruta de un archivo del registro con el SHA-256 correcto.

    Orden de búsqueda: ``COURSE_LIB_DATA_DIR``, caché, red (véase el
    docstring del módulo). ``timeout`` acota en segundos la espera a la
    red (DNS incluido) y cada lectura. ``url`` sustituye a la del registro
    (un espejo, o un servidor local en los tests); el SHA-256 exigido
    sigue siendo el del registro.
    """
    if name not in REGISTRY:
        raise ValueError(
            f"archivo de datos desconocido {name!r}; los conocidos son: "
            f"{', '.join(sorted(REGISTRY))}"
        )
    if not timeout > 0:
        raise ValueError(f"timeout debe ser > 0; se recibió {timeout!r}")
    source = REGISTRY[name]
    url = url or source.url

    # 1. Copia local puesta a mano: si está, tiene que ser la buena.
    data_dir = os.environ.get("COURSE_LIB_DATA_DIR")
    if data_dir:
        local = Path(data_dir).expanduser() / source.name
        if local.is_file():
            got = sha256_file(local)
            if got != source.sha256:
                raise DataError(
                    f"La copia local {local} (COURSE_LIB_DATA_DIR) no es "
                    f"la esperada: checksum SHA-256 esperado "
                    f"{source.sha256}, obtenido {got}. Sustitúyela por el "
                    f"archivo de {url}, o bórrala (o quita la variable) "
                    "para que se descargue."
                )
            return local

    # 2. Caché: se reutiliza la copia verificada; la dañada se descarta.
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = folder.expanduser() / source.name
    if target.is_file():
        if sha256_file(target) == source.sha256:
            return target
        target.unlink()

    # 3. Red.
    if os.environ.get("COURSE_LIB_OFFLINE", "").lower() in ("1", "true"):
        reason = "COURSE_LIB_OFFLINE=1 prohíbe usar la red"
        raise DataError(_advice(source, url, target, reason))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _download(url, target, source.sha256, timeout)
    except (OSError, ValueError) as exc:
        reason = _reason(exc, timeout)
        raise DataError(_advice(source, url, target, reason)) from exc
    return target


def load_text(
    name: str,
    *,
    cache_dir: str | Path | None = None,
    timeout: float = 4.0,
    url: str | None = None,
) -> str:
    """``fetch`` y lectura del archivo como texto UTF-8."""
    path = fetch(name, cache_dir=cache_dir, timeout=timeout, url=url)
    return path.read_text(encoding="utf-8")


def _open(url: str, timeout: float) -> HTTPResponse:
    """``urlopen`` con un plazo total de ``timeout`` segundos.

    El timeout del socket no cubre la resolución DNS, que sin red puede
    tardar decenas de segundos: se abre la conexión en un hilo aparte y se
    espera como mucho ``timeout``. Si vence, el hilo (daemon) se abandona.
    """
    responses: list[HTTPResponse] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            responses.append(urllib.request.urlopen(url, timeout=timeout))
        except BaseException as exc:  # se relanza en el hilo principal
            errors.append(exc)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"sin respuesta en {timeout:g} s")
    if errors:
        raise errors[0]
    return responses[0]


def _download(url: str, target: Path, sha256: str, timeout: float) -> None:
    """Descarga ``url`` en ``target`` de forma atómica y verificada.

    Se escribe en un temporal de la misma carpeta (``os.replace`` solo es
    atómico dentro de un mismo sistema de archivos) y se borra si algo
    falla: nunca queda un archivo a medias.
    """
    with _open(url, timeout) as response:
        fd, tmp = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part"
        )
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                while chunk := response.read(1 << 16):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != sha256:
                raise ValueError(
                    f"el checksum SHA-256 no coincide: esperado {sha256}, "
                    f"obtenido {digest.hexdigest()}"
                )
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise


def _reason(exc: BaseException, timeout: float) -> str:
    """Explica en una frase por qué falló la descarga."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"el servidor respondió HTTP {exc.code} ({exc.reason})"
    cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(cause, TimeoutError):
        return f"sin respuesta en {timeout:g} s (¿sin conexión?)"
    if isinstance(exc, urllib.error.URLError) or isinstance(
        cause, ConnectionError
    ):
        return f"sin conexión ({cause})"
    return str(exc)  # checksum, permisos de la carpeta…


def _advice(source: DataSource, url: str, target: Path, reason: str) -> str:
    """Mensaje de error: qué pasó, qué descargar a mano y dónde ponerlo."""
    lines = [
        f"No se pudo obtener «{source.name}»: {reason}.",
        f"Descárgalo a mano desde\n  {url}",
        f"y guárdalo como\n  {target}",
        "o en la carpeta a la que apunte la variable de entorno "
        "COURSE_LIB_DATA_DIR.",
        f"Su SHA-256 debe ser {source.sha256}.",
    ]
    data_dir = os.environ.get("COURSE_LIB_DATA_DIR")
    if data_dir and not Path(data_dir).expanduser().is_dir():
        lines.append(f"Ojo: COURSE_LIB_DATA_DIR={data_dir} no existe.")
    elif data_dir:
        lines.append(
            f"Ojo: COURSE_LIB_DATA_DIR={data_dir} no contiene «{source.name}»."
        )
    return "\n".join(lines)
