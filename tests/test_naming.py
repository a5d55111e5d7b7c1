"""Un nombre por concepto en las configuraciones de ``course_lib``.

Todas las configuraciones de modelos usan los nombres canónicos de
Hugging Face (los que cualquier configuración de ``transformers`` acepta,
también la de GPT-2 por su ``attribute_map``): ``hidden_size``,
``num_hidden_layers``, ``num_attention_heads``, ``intermediate_size``,
``max_position_embeddings``, ``layer_norm_eps`` y ``hidden_act``. Los
nombres que tuvieron antes (de nanoGPT, del artículo, de PyTorch) no
vuelven. Ningún preset sin medir («gpu») llega al lector.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import pytest

import course_lib
from course_lib.layers import ACTIVATIONS

RETIRED = {
    "n_embd": "hidden_size", "dim": "hidden_size",
    "n_layer": "num_hidden_layers", "n_head": "num_attention_heads",
    "n_inner": "intermediate_size", "ffn_dim": "intermediate_size",
    "block_size": "max_position_embeddings",
    "max_position": "max_position_embeddings",
    "ln_eps": "layer_norm_eps", "gelu_approx": "hidden_act",
    "activation": "hidden_act", "attn_dropout": "attention_dropout",
    "n_encoder_layers": "num_encoder_layers",
    "n_decoder_layers": "num_decoder_layers",
}


def _config_classes() -> list[type]:
    found = {}
    for info in pkgutil.iter_modules(course_lib.__path__):
        module = importlib.import_module(f"course_lib.{info.name}")
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and dataclasses.is_dataclass(obj)
                    and obj.__module__ == module.__name__
                    and name.endswith("Config")):
                found[f"{module.__name__}.{name}"] = obj
    return [found[k] for k in sorted(found)]


CONFIGS = _config_classes()


def test_the_model_configs_are_found() -> None:
    names = {c.__name__ for c in CONFIGS}
    assert {"GPTConfig", "BertConfig", "TransformerConfig", "ViTConfig",
            "CLIPTextConfig", "FusionConfig", "MAEConfig"} <= names


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.__name__)
def test_config_fields_use_one_name_per_concept(config: type) -> None:
    fields = {f.name for f in dataclasses.fields(config)}
    old = {name: RETIRED[name] for name in fields & set(RETIRED)}
    assert not old, f"{config.__name__}: renombra {old}"


@pytest.mark.parametrize(
    "config", [c for c in CONFIGS
               if "hidden_act" in {f.name for f in dataclasses.fields(c)}],
    ids=lambda c: c.__name__)
def test_activations_come_from_the_one_registry(config: type) -> None:
    default = next(f.default for f in dataclasses.fields(config)
                   if f.name == "hidden_act")
    assert default in ACTIVATIONS


@pytest.mark.parametrize(
    "config", [c for c in CONFIGS if hasattr(c, "preset")],
    ids=lambda c: c.__name__)
def test_no_unmeasured_gpu_preset(config: type) -> None:
    with pytest.raises(ValueError, match="preset desconocido 'gpu'"):
        config.preset("gpu")


def test_models_return_attention_weights_under_one_name() -> None:
    for info in pkgutil.iter_modules(course_lib.__path__):
        module = importlib.import_module(f"course_lib.{info.name}")
        for name, obj in vars(module).items():
            if not (inspect.isclass(obj) and obj.__module__ == module.__name__
                    and hasattr(obj, "forward")):
                continue
            params = inspect.signature(obj.forward).parameters
            assert "return_attentions" not in params, f"{name}.forward"
