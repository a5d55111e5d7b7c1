"""Tests de course_lib.data: la descarga real contra un servidor local.

Nada sale a la red: un ``http.server`` en 127.0.0.1 sirve un archivo
pequeño y cuenta las peticiones; un puerto sin nadie escuchando simula el
servidor caído, y un socket que acepta y nunca responde, el que se cuelga.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from course_lib import data
from course_lib.data import (
    DataError,
    DataSource,
    default_cache_dir,
    fetch,
    load_text,
    sha256_file,
)

# Se lee al importar, antes de que el fixture `entorno` limpie la variable:
# la CI la apunta a ../shared/data, donde están los corpus reales.
SHARED_DATA_DIR = os.environ.get("COURSE_LIB_DATA_DIR")

NAME = "mini.txt"
PAYLOAD = "¡Hola, señor Quijote!\n".encode() * 500
EXPECTED_TEXT = {  # caracteres y caracteres distintos de cada corpus
    "moliere.txt": (1_687_290, 85),
    "quijote.txt": (2_071_776, 91),
}


class LocalServer:
    """Servidor HTTP en 127.0.0.1 que sirve `routes` y cuenta peticiones.

    La ruta ``/stall`` envía la mitad del cuerpo y se queda callada.
    """

    def __init__(self) -> None:
        self.routes: dict[str, bytes] = {}
        self.hits = 0
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                if self.path == "/stall":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(PAYLOAD)))
                    self.end_headers()
                    self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
                    self.wfile.flush()
                    outer.release.wait(10)
                    return
                body = outer.routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass  # sin ruido en la salida de pytest

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.01,), daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture(autouse=True)
def entorno(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Entorno limpio: caché en tmp_path, sin copia local, sin proxy."""
    monkeypatch.delenv("COURSE_LIB_DATA_DIR", raising=False)
    monkeypatch.delenv("COURSE_LIB_OFFLINE", raising=False)
    monkeypatch.setenv("COURSE_LIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("no_proxy", "*")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    srv = LocalServer()
    yield srv
    srv.close()


@pytest.fixture
def source(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> DataSource:
    """Registra `mini.txt`, servido por el servidor local."""
    server.routes["/" + NAME] = PAYLOAD
    src = DataSource(
        name=NAME,
        url=f"{server.url}/{NAME}",
        sha256=hashlib.sha256(PAYLOAD).hexdigest(),
        description="Archivo de prueba.",
        size=len(PAYLOAD),
    )
    monkeypatch.setitem(data.REGISTRY, NAME, src)
    return src


def leftovers(folder: Path) -> list[str]:
    """Lo que queda en la carpeta, temporales ocultos incluidos."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def free_port() -> int:
    """Un puerto en el que no escucha nadie."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(PAYLOAD)
    assert sha256_file(path) == hashlib.sha256(PAYLOAD).hexdigest()


def test_download_verified_cached_and_reused(
    server: LocalServer, source: DataSource, cache: Path
) -> None:
    path = fetch(NAME)
    assert path == cache / NAME
    assert path.read_bytes() == PAYLOAD
    assert leftovers(cache) == [NAME]  # ningún temporal
    assert server.hits == 1
    assert fetch(NAME) == path  # segunda vez: de la caché, sin red
    assert server.hits == 1


def test_load_text_reads_utf8(source: DataSource) -> None:
    assert load_text(NAME) == PAYLOAD.decode("utf-8")


def test_cache_dir_argument_beats_env(
    source: DataSource, tmp_path: Path, cache: Path
) -> None:
    path = fetch(NAME, cache_dir=tmp_path / "otra")
    assert path == tmp_path / "otra" / NAME
    assert leftovers(cache) == []


def test_default_cache_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("COURSE_LIB_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "course_lib"


def test_url_override(server: LocalServer, source: DataSource) -> None:
    server.routes["/espejo/" + NAME] = PAYLOAD
    path = fetch(NAME, url=f"{server.url}/espejo/{NAME}")
    assert path.read_bytes() == PAYLOAD


def test_corrupted_download_leaves_nothing(
    server: LocalServer, source: DataSource, cache: Path
) -> None:
    bad = b"esto no es el archivo"
    server.routes["/" + NAME] = bad
    with pytest.raises(DataError) as info:
        fetch(NAME)
    msg = str(info.value)
    assert "checksum SHA-256 no coincide" in msg
    assert source.sha256 in msg
    assert hashlib.sha256(bad).hexdigest() in msg
    assert source.url in msg
    assert str(cache / NAME) in msg
    assert leftovers(cache) == []


def test_server_down_fails_fast(source: DataSource, cache: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/{NAME}"
    start = time.monotonic()
    with pytest.raises(DataError, match="sin conexión") as info:
        fetch(NAME, url=url)
    assert time.monotonic() - start < 5
    assert url in str(info.value)
    assert "COURSE_LIB_DATA_DIR" in str(info.value)
    assert leftovers(cache) == []


@pytest.mark.parametrize("timeout", [1.0, None], ids=["1s", "defecto"])
def test_hanging_server_times_out(
    source: DataSource, cache: Path, timeout: float | None
) -> None:
    # Escucha pero nunca acepta: el kernel completa la conexión y la
    # petición se queda esperando una respuesta que no llega.
    with socket.create_server(("127.0.0.1", 0)) as hung:
        url = f"http://127.0.0.1:{hung.getsockname()[1]}/{NAME}"
        kwargs = {} if timeout is None else {"timeout": timeout}
        start = time.monotonic()
        with pytest.raises(DataError, match="sin respuesta"):
            fetch(NAME, url=url, **kwargs)
        elapsed = time.monotonic() - start
    assert elapsed < (timeout or 4.0) + 0.9
    assert elapsed < 5
    assert leftovers(cache) == []


def test_slow_dns_is_bounded(
    source: DataSource, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # El timeout del socket no cubre el DNS: simulamos uno que no responde.
    release = threading.Event()

    def stuck_getaddrinfo(*args: object, **kwargs: object) -> list[object]:
        release.wait(10)
        raise socket.gaierror("DNS simulado")

    monkeypatch.setattr(socket, "getaddrinfo", stuck_getaddrinfo)
    start = time.monotonic()
    try:
        with pytest.raises(DataError, match="sin respuesta"):
            fetch(NAME, url=f"http://ejemplo.invalid/{NAME}", timeout=0.5)
    finally:
        release.set()  # libera el hilo abandonado
    assert time.monotonic() - start < 1.5
    assert leftovers(cache) == []


def test_stalled_body_leaves_no_partial_file(
    server: LocalServer, source: DataSource, cache: Path
) -> None:
    start = time.monotonic()
    with pytest.raises(DataError, match="sin respuesta"):
        fetch(NAME, url=f"{server.url}/stall", timeout=1.0)
    assert time.monotonic() - start < 2.5
    assert leftovers(cache) == []


def test_http_404(
    server: LocalServer, source: DataSource, cache: Path
) -> None:
    url = f"{server.url}/no-existe.txt"
    with pytest.raises(DataError, match="HTTP 404") as info:
        fetch(NAME, url=url)
    assert url in str(info.value)
    assert leftovers(cache) == []


def test_data_dir_copy_is_preferred(
    server: LocalServer,
    source: DataSource,
    cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local = tmp_path / "profe"
    local.mkdir()
    (local / NAME).write_bytes(PAYLOAD)
    monkeypatch.setenv("COURSE_LIB_DATA_DIR", str(local))
    assert fetch(NAME) == local / NAME
    assert server.hits == 0
    assert leftovers(cache) == []


def test_data_dir_wrong_copy_is_an_error(
    server: LocalServer,
    source: DataSource,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local = tmp_path / "profe"
    local.mkdir()
    (local / NAME).write_bytes(b"copia equivocada")
    monkeypatch.setenv("COURSE_LIB_DATA_DIR", str(local))
    with pytest.raises(DataError) as info:
        fetch(NAME)
    msg = str(info.value)
    assert str(local / NAME) in msg
    assert "COURSE_LIB_DATA_DIR" in msg and "checksum SHA-256" in msg
    assert source.sha256 in msg
    assert hashlib.sha256(b"copia equivocada").hexdigest() in msg
    assert server.hits == 0


def test_data_dir_missing_falls_through(
    server: LocalServer,
    source: DataSource,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = tmp_path / "no-existe"
    monkeypatch.setenv("COURSE_LIB_DATA_DIR", str(missing))
    assert fetch(NAME).read_bytes() == PAYLOAD  # se descarga igualmente
    # Si además falla la descarga, el mensaje menciona la carpeta ausente.
    with pytest.raises(DataError, match="no existe") as info:
        fetch(NAME, cache_dir=tmp_path / "otra", url=f"{server.url}/x")
    assert str(missing) in str(info.value)


def test_corrupted_cache_is_replaced(
    server: LocalServer, source: DataSource, cache: Path
) -> None:
    cache.mkdir()
    (cache / NAME).write_bytes(b"copia truncada")
    assert fetch(NAME).read_bytes() == PAYLOAD
    assert server.hits == 1
    assert leftovers(cache) == [NAME]


def test_offline_fails_at_once(
    server: LocalServer,
    source: DataSource,
    cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COURSE_LIB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(DataError, match="COURSE_LIB_OFFLINE") as info:
        fetch(NAME)
    assert time.monotonic() - start < 0.5
    msg = str(info.value)
    assert source.url in msg
    assert str(cache / NAME) in msg
    assert "COURSE_LIB_DATA_DIR" in msg
    assert server.hits == 0


def test_offline_still_uses_cache(
    server: LocalServer,
    source: DataSource,
    cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fetch(NAME)
    monkeypatch.setenv("COURSE_LIB_OFFLINE", "1")
    assert fetch(NAME) == cache / NAME
    assert server.hits == 1


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="moliere.txt.*quijote.txt"):
        fetch("shakespeare.txt")
    with pytest.raises(ValueError, match="desconocido"):
        load_text("shakespeare.txt")


def test_timeout_must_be_positive(source: DataSource) -> None:
    with pytest.raises(ValueError, match="timeout"):
        fetch(NAME, timeout=0)


@pytest.mark.parametrize("name", sorted(EXPECTED_TEXT))
def test_registry_entry(
    name: str, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    """Registro bien formado; con COURSE_LIB_DATA_DIR, el corpus real."""
    src = data.REGISTRY[name]
    assert src.name == name
    assert re.fullmatch(r"[0-9a-f]{64}", src.sha256)
    # La URL nombra un commit: su contenido no puede cambiar.
    assert re.match(r"https://[^/]+/.*/[0-9a-f]{40}/.*" + name + "$", src.url)
    assert src.description
    if SHARED_DATA_DIR is None:
        return  # sin copia local no hay corpus que comprobar (ni red)
    monkeypatch.setenv("COURSE_LIB_DATA_DIR", SHARED_DATA_DIR)
    assert fetch(name) == Path(SHARED_DATA_DIR) / name
    assert fetch(name).stat().st_size == src.size
    text = load_text(name)
    assert (len(text), len(set(text))) == EXPECTED_TEXT[name]
    assert leftovers(cache) == []
