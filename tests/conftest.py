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

*Fixtures* comunes: configuraciones y modelos diminutos (ancho 32,
2 capas, 4 cabezas), al estilo de las pruebas de ``transformers``, para
que cada archivo de pruebas no copie los suyos. Cada modelo se crea
nuevo en cada prueba, con ``torch.manual_seed(0)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

from course_lib.attention import MultiHeadAttention
from course_lib.gpt import GPT, GPTConfig
from course_lib.transformer import Transformer, TransformerConfig

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


# --- configuraciones y modelos diminutos ---------------------------------

@pytest.fixture
def tiny_gpt_config() -> GPTConfig:
    """GPT diminuto: V = 11, T ≤ 16, 2 capas, 4 cabezas, C = 32."""
    return GPTConfig(vocab_size=11, max_position_embeddings=16,
                     num_hidden_layers=2, num_attention_heads=4,
                     hidden_size=32)


@pytest.fixture
def tiny_gpt(tiny_gpt_config: GPTConfig) -> GPT:
    """Un ``GPT`` con ``tiny_gpt_config``, recién creado (modo train)."""
    torch.manual_seed(0)
    return GPT(tiny_gpt_config)


@pytest.fixture
def hf_tiny_gpt2() -> nn.Module:
    """``GPT2LMHeadModel`` aleatorio de ``transformers``, creado desde su
    configuración (sin descargas): V = 50, T ≤ 32, 2 capas, 4 cabezas,
    C = 32, en modo eval.

    Sesgos y LayerNorm no triviales, para que las pruebas los vean. Sin
    token de fin (``eos_token_id=None``): ``generate`` no se detiene antes
    de tiempo."""
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(
        vocab_size=50, n_positions=32, n_embd=32, n_layer=2, n_head=4,
        bos_token_id=0, eos_token_id=None, pad_token_id=0,
        initializer_range=0.2,
    )
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "ln_" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model


@pytest.fixture
def tiny_transformer_config() -> TransformerConfig:
    """Transformer diminuto: vocabularios 13 → 20, C = 32, 4 cabezas,
    F = 64, 2 + 2 capas, secuencias de hasta 12 tokens."""
    return TransformerConfig(src_vocab_size=13, tgt_vocab_size=20,
                             hidden_size=32, num_attention_heads=4,
                             intermediate_size=64,
                             max_position_embeddings=12)


@pytest.fixture
def make_tiny_transformer(
        tiny_transformer_config: TransformerConfig,
) -> Callable[..., Transformer]:
    """Fábrica: ``make_tiny_transformer(norm_first=True, ...)`` da un
    ``Transformer`` en modo eval con ``tiny_transformer_config`` y esos
    cambios."""
    def make(**overrides: Any) -> Transformer:
        torch.manual_seed(0)
        config = dataclasses.replace(tiny_transformer_config, **overrides)
        return Transformer(config).eval()
    return make


@pytest.fixture
def tiny_mha() -> MultiHeadAttention:
    """``MultiHeadAttention(dim=32, n_head=4)`` en modo eval."""
    torch.manual_seed(0)
    return MultiHeadAttention(dim=32, n_head=4).eval()


@pytest.fixture(scope="session")
def course_checkpoint() -> Callable[[str], Any]:
    """Fábrica: ``course_checkpoint("bert-quijote")`` carga (una vez por
    sesión) los pesos del curso con ese nombre, o falla si el paquete no
    los trae."""
    from course_lib import checkpoints

    loaded: dict[str, Any] = {}

    def load(name: str) -> Any:
        if name not in checkpoints.available():
            pytest.fail(f"faltan los pesos de «{name}» en el paquete")
        if name not in loaded:
            loaded[name] = checkpoints.load(name)
        return loaded[name]
    return load
