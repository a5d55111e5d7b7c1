"""Tests de course_lib.data: los corpus viajan dentro del paquete.

Nada usa la red ni variables de entorno: se leen los archivos xz de
``course_lib/resources`` y, para los fallos, una carpeta temporal con
archivos ausentes, dañados o alterados.
"""

from __future__ import annotations

import lzma
from collections.abc import Iterator
from pathlib import Path

import pytest

from course_lib import data
from course_lib.data import REGISTRY, DataError, load_text

EXPECTED = {  # caracteres y caracteres distintos de cada corpus
    "moliere.txt": (1_687_290, 85),
    "quijote.txt": (2_071_776, 91),
}


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    """Cada prueba lee de nuevo: la caché del proceso no oculta fallos."""
    data._read_verified.cache_clear()
    yield
    data._read_verified.cache_clear()


@pytest.fixture
def resources_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Sustituye la carpeta de recursos del paquete por una temporal."""
    monkeypatch.setattr(data, "_RESOURCES", tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_packaged_corpus_is_the_registered_one(name: str) -> None:
    """El texto empaquetado tiene el tamaño y el alfabeto anunciados."""
    text = load_text(name)
    chars, distinct = EXPECTED[name]
    assert len(text) == chars == REGISTRY[name].chars
    assert len(set(text)) == distinct
    assert REGISTRY[name].description and REGISTRY[name].origin


def test_packaged_files_are_small() -> None:
    """Los dos corpus comprimidos no pasan de 1,5 MB entre los dos."""
    folder = Path(data.__file__).parent / "resources"
    total = sum((folder / c.resource).stat().st_size
                for c in REGISTRY.values())
    assert total < 1_500_000, total


def test_text_is_read_once_per_process() -> None:
    assert load_text("moliere.txt") is load_text("moliere.txt")


def test_missing_file_is_a_clear_error(resources_dir: Path) -> None:
    with pytest.raises(DataError, match="Falta moliere.txt.xz") as info:
        load_text("moliere.txt")
    assert "Reinstálalo" in str(info.value)


def test_damaged_file_is_a_clear_error(resources_dir: Path) -> None:
    (resources_dir / "quijote.txt.xz").write_bytes(b"no es xz")
    with pytest.raises(DataError, match="dañado"):
        load_text("quijote.txt")


def test_altered_text_fails_its_checksum(resources_dir: Path) -> None:
    """Un xz válido con otro texto: el SHA-256 lo delata y lo dice."""
    (resources_dir / "moliere.txt.xz").write_bytes(
        lzma.compress("Le Misanthrope, otra edición\n".encode())
    )
    with pytest.raises(DataError, match="SHA-256 esperado") as info:
        load_text("moliere.txt")
    assert REGISTRY["moliere.txt"].sha256 in str(info.value)


@pytest.mark.parametrize(
    "name, error, match",
    [
        ("shakespeare.txt", ValueError, "corpus desconocido.*moliere.txt"),
        ("", ValueError, "corpus desconocido"),
        (None, TypeError, "debe ser el nombre de un corpus"),
        (Path("moliere.txt"), TypeError, "recibido PosixPath"),
    ],
)
def test_bad_names_are_rejected_in_spanish(
    name: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        load_text(name)  # type: ignore[arg-type]


def test_no_network_code_left() -> None:
    """El módulo ya no descarga: ni urllib ni sockets."""
    source = Path(data.__file__).read_text(encoding="utf-8")
    for forbidden in ("urllib", "socket", "http"):
        assert forbidden not in source, forbidden
