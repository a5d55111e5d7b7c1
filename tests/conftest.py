"""Configuración común de las pruebas.

Marcas propias:

- ``site``: abre el sitio construido en Chromium (``make test-site``,
  que antes construye el libro).
- ``colab``: instala el paquete como la celda de Colab en un entorno
  virtual nuevo (``make test-colab``; necesita PyPI y unos minutos).

Sin ``-m``, ``pytest`` no las ejecuta (las deja fuera de la selección y lo
dice al final de la recolección): así un ``pytest`` rápido no instala nada
ni necesita el sitio. Para ejecutarlas, ``pytest -m site`` o
``pytest -m colab``.
"""

from __future__ import annotations

import pytest

OPT_IN = {
    "site": "prueba el sitio construido (_build/html) en Chromium",
    "colab": "instala el paquete como la celda de Colab, en un entorno nuevo",
}
_DESELECTED = pytest.StashKey[int]()


def pytest_configure(config: pytest.Config) -> None:
    for name, description in OPT_IN.items():
        config.addinivalue_line("markers", f"{name}: {description}")


def pytest_collection_modifyitems(config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    if config.getoption("markexpr"):
        return  # quien pasa -m decide qué se ejecuta
    opt_in = [item for item in items
              if any(item.get_closest_marker(m) for m in OPT_IN)]
    if opt_in:
        skip = {id(item) for item in opt_in}
        items[:] = [item for item in items if id(item) not in skip]
        config.hook.pytest_deselected(items=opt_in)
        config.stash[_DESELECTED] = len(opt_in)


def pytest_report_collectionfinish(config: pytest.Config) -> str | None:
    count = config.stash.get(_DESELECTED, 0)
    if not count:
        return None
    return (f"{count} pruebas de las marcas {', '.join(OPT_IN)} quedan "
            "fuera sin -m: ejecútalas con `make test-site` / "
            "`make test-colab` (pytest -m site / -m colab)")


@pytest.fixture(autouse=True)
def _fresh_exercises() -> None:
    """Cada prueba empieza con los ejercicios sin resultado ni pistas
    dadas: ``hint()`` recuerda cuál dio la última vez."""
    import importlib
    import pkgutil

    import course_lib.exercises as package
    from course_lib.exercises import Exercise

    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Exercise):
                value.last_result = None
                value._next_hint = 0
