"""La celda de instalación de Colab, probada en un entorno virtual nuevo.

Reproduce lo que pasa en Colab: un entorno donde PyTorch ya está instalado
(aquí, la misma versión fijada en requirements.txt) y nada más del libro.
Sobre él se ejecuta el ``%pip install`` de la celda de configuración de
los cuadernos, tal cual, salvo la URL: en vez de GitHub usa este
repositorio (``git+file://``, es decir, su último *commit*). El resto de
dependencias llega en su versión más reciente, no en la fijada: así se ve
a tiempo si una versión nueva de ``transformers`` o de ``numpy`` rompe el
libro. Después importa ``course_lib`` y hace una prueba rápida de cada
capítulo: todos los módulos importan, la atención del capítulo 1 coincide
con la de PyTorch y cada ejercicio da por buena su propia solución.

Necesita acceso a PyPI y tarda unos minutos: no entra en ``make unit``;
se ejecuta con ``make test-colab`` (``pytest -m colab``).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
import venv
from pathlib import Path

import pytest

from tools.maintenance import setup_source

pytestmark = pytest.mark.colab

ROOT = Path(__file__).resolve().parent.parent
INSTALL_TIMEOUT_S = 900

SMOKE = r'''
"""Prueba rápida de course_lib instalado como en Colab."""
import importlib
import json
import math
import pkgutil
import sys
import traceback

import torch

import course_lib

# Todos los módulos, sin excepciones: las herramientas de mantenimiento
# (y sus dependencias, nbformat, nbclient y PyYAML) viven en tools/, fuera
# del paquete.
report = {"course_lib": course_lib.__file__, "modules": [], "checks": [],
          "exercises": [], "errors": []}


def fail(what, exc):
    line = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    report["errors"].append(f"{what}: {line}")


for info in pkgutil.walk_packages(course_lib.__path__, "course_lib."):
    try:
        importlib.import_module(info.name)
        report["modules"].append(info.name)
    except Exception as exc:
        fail(f"import {info.name}", exc)

# Capítulo 1: la atención y la atención multi-cabeza frente a PyTorch.
try:
    import torch.nn.functional as F

    from course_lib.attention import (
        MultiHeadAttention,
        causal_mask,
        scaled_dot_product_attention,
    )

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 4, 7, 8, generator=g) for _ in range(3))
    mask = causal_mask(7)
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    diff = (out - ref).abs().max().item()
    assert diff < 1e-5, f"atención: diferencia {diff:.2e} con PyTorch"
    report["checks"].append(f"scaled_dot_product_attention: {diff:.1e}")

    torch.manual_seed(0)
    mha = MultiHeadAttention(32, 4).eval()
    x = torch.randn(2, 5, 32, generator=g)
    ref_mha = mha.to_torch().eval()
    with torch.no_grad():
        ours = mha(x, mask=causal_mask(5))
        theirs, _ = ref_mha(x, x, x, attn_mask=~causal_mask(5),
                            need_weights=False)
    diff = (ours - theirs).abs().max().item()
    assert ours.shape == (2, 5, 32), tuple(ours.shape)
    assert diff < 1e-5, f"MultiHeadAttention: diferencia {diff:.2e}"
    report["checks"].append(f"MultiHeadAttention: {diff:.1e}")
except Exception as exc:
    fail("capítulo 1", exc)

# Capítulo 2: el Transformer codificador-decodificador y su tarea.
try:
    from course_lib.numbers_es import (
        SRC_VOCAB,
        TGT_VOCAB,
        encode_sources,
        number_to_words,
    )
    from course_lib.transformer import Transformer, TransformerConfig

    assert number_to_words(1987) == "mil novecientos ochenta y siete"
    torch.manual_seed(0)
    config = TransformerConfig.preset(
        "cpu", src_vocab_size=len(SRC_VOCAB), tgt_vocab_size=len(TGT_VOCAB))
    seq2seq = Transformer(config).eval()
    with torch.no_grad():
        out = seq2seq.greedy_decode(encode_sources([7, 1987]), max_len=6)
    assert out.shape == (2, 7), tuple(out.shape)
    report["checks"].append("Transformer.greedy_decode: (2, 7)")
except Exception as exc:
    fail("capítulo 2", exc)

# Capítulo 3: BERT (el vocabulario del libro viaja con el paquete).
try:
    from course_lib import bert_data
    from course_lib.bert import BertConfig, BertForPreTraining

    tok = bert_data.quijote_wordpiece()
    assert tok.get_vocab_size() == 4000, tok.get_vocab_size()
    enc = tok.encode("En un lugar de la Mancha", "no quiero acordarme")
    ids = torch.tensor([enc.ids])
    masked, labels = bert_data.mask_tokens(
        ids, mask_token_id=4, vocab_size=4000,
        special_token_ids=[0, 1, 2, 3, 4],
        generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    bert = BertForPreTraining(BertConfig.preset(
        "cpu", vocab_size=4000, max_position_embeddings=64)).eval()
    with torch.no_grad():
        out = bert(masked, torch.tensor([enc.type_ids]))
    assert out[0].shape == (1, len(enc.ids), 4000), tuple(out[0].shape)
    assert out[1].shape == (1, 2), tuple(out[1].shape)
    report["checks"].append(f"BERT: {len(enc.ids)} tokens")
except Exception as exc:
    fail("capítulo 3", exc)

# Capítulos 3 y 4: los corpus viajan con el paquete (sin red ni variables).
try:
    from course_lib.data import load_text

    for name, chars in (("moliere.txt", 1_687_290),
                        ("quijote.txt", 2_071_776)):
        assert len(load_text(name)) == chars, name
    report["checks"].append("corpus: moliere.txt y quijote.txt")
except Exception as exc:
    fail("corpus", exc)

# Capítulo 4: GPT (pérdida inicial ≈ ln V y generación reproducible).
try:
    from course_lib.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    gpt = GPT(GPTConfig.preset("cpu", vocab_size=85)).eval()
    idx = torch.randint(0, 85, (2, 16), generator=g)
    with torch.no_grad():
        _, loss = gpt(idx[:, :-1], idx[:, 1:])
    assert abs(loss.item() - math.log(85)) < 0.5, loss.item()
    samples = [gpt.generate(idx[:, :4], 8,
                            generator=torch.Generator().manual_seed(1))
               for _ in range(2)]
    assert torch.equal(samples[0], samples[1])
    report["checks"].append(f"GPT: pérdida inicial {loss.item():.2f}")
except Exception as exc:
    fail("capítulo 4", exc)

# Capítulo 5: ViT (parches y logits).
try:
    from course_lib.patches import patchify
    from course_lib.vit import ViT, ViTConfig

    torch.manual_seed(0)
    vit = ViT(ViTConfig(image_size=8, patch_size=2, num_channels=1,
                        hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=64,
                        num_labels=10)).eval()
    digits = torch.rand(3, 1, 8, 8, generator=g)
    assert patchify(digits, 2).shape == (3, 16, 4)
    with torch.no_grad():
        logits = vit(digits)
    assert logits.shape == (3, 10), tuple(logits.shape)
    report["checks"].append("ViT: (3, 10)")
except Exception as exc:
    fail("capítulo 5", exc)

# Capítulo 6: MAE (tapa el 75 % y reconstruye cada parche).
try:
    from course_lib.mae import MAE, MAEConfig

    torch.manual_seed(0)
    mae = MAE(MAEConfig()).eval()
    digits = torch.rand(3, 1, 8, 8)
    with torch.no_grad():
        out = mae(digits, generator=torch.Generator().manual_seed(0))
    assert out.is_masked.float().mean().item() == 0.75
    assert out.pred.shape == (3, 16, 4), tuple(out.pred.shape)
    report["checks"].append(f"MAE: pérdida {out.loss.item():.2f}")
except Exception as exc:
    fail("capítulo 6", exc)

# Capítulo 7: CLIP (pérdida contrastiva y zero-shot sobre figuras).
try:
    from course_lib import shapes
    from course_lib.clip import CLIP, contrastive_loss, zero_shot_classify

    torch.manual_seed(0)
    clip = CLIP().eval()
    data = shapes.make_caption_data(4, seed=0, image_size=48)
    ids, _ = shapes.WordTokenizer()(data.captions)
    with torch.no_grad():
        logits, _ = clip(data.images, ids)
        probs = zero_shot_classify(clip, data.images,
                                   ["un círculo", "una cruz"], ["{}"])
    assert logits.shape == (4, 4) and probs.shape == (4, 2)
    loss = contrastive_loss(logits).item()
    assert abs(loss - math.log(4)) < 1.0, loss
    report["checks"].append(f"CLIP: pérdida inicial {loss:.2f}")
except Exception as exc:
    fail("capítulo 7", exc)

# Capítulo 8: fusión por atención cruzada (logits sí/no y pesos T×N).
try:
    from course_lib import shapes
    from course_lib.fusion import FusionConfig
    from course_lib.fusion_qa import CrossAttentionFusion

    torch.manual_seed(0)
    fusion = CrossAttentionFusion(FusionConfig()).eval()
    qa = shapes.make_qa_data(4, seed=0, image_size=48)
    ids, lengths = shapes.WordTokenizer()(qa.questions)
    with torch.no_grad():
        logits, weights = fusion(qa.images, ids, lengths,
                                 return_weights=True)
    assert logits.shape == (4, 2), tuple(logits.shape)
    assert weights[0].shape[-1] == 9, tuple(weights[0].shape)
    report["checks"].append("fusión: (4, 2)")
except Exception as exc:
    fail("capítulo 8", exc)

# Cada módulo de ejercicios capNN: cada ejercicio acepta su solución.
import course_lib.exercises as exercises_pkg
from course_lib.exercises import Exercise

for info in sorted(pkgutil.iter_modules(exercises_pkg.__path__),
                   key=lambda i: i.name):
    if not info.name.startswith("cap"):
        continue
    try:
        module = importlib.import_module(f"course_lib.exercises.{info.name}")
    except Exception as exc:
        fail(f"import course_lib.exercises.{info.name}", exc)
        continue
    found = [e for e in vars(module).values() if isinstance(e, Exercise)]
    if not found:
        report["errors"].append(f"{info.name}: no define ejercicios")
    for ex in found:
        try:
            result = ex.evaluate(ex.reference)
        except Exception as exc:
            fail(f"{info.name}.{ex.name}", exc)
            continue
        label = f"{info.name}.{ex.name}"
        report["exercises"].append(label)
        if not result.ok:
            report["errors"].append(f"{label}: {result.message}")

print("SMOKE_REPORT=" + json.dumps(report, ensure_ascii=False))
'''


def _pinned(name: str) -> str:
    """La línea ``name==versión`` de requirements.txt."""
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(name)}==\S+", text, re.M | re.I)
    assert match, f"requirements.txt no fija {name}"
    return match[0]


def setup_cell_pip_args(url: str) -> list[str]:
    """Los argumentos del ``%pip install`` de la celda de configuración,
    con ``REPO`` sustituido por ``url``."""
    source = setup_source(url)
    repo = re.search(r'^REPO = "([^"]+)"', source, re.M)
    line = re.search(r"^\s*%pip install (.+)$", source, re.M)
    assert repo and line, f"celda de configuración inesperada:\n{source}"
    return shlex.split(line[1].replace("{REPO}", repo[1]))


def _run(args: list[str], *, cwd: Path, env: dict[str, str],
         what: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=INSTALL_TIMEOUT_S)
    assert proc.returncode == 0, (
        f"{what} falló (código {proc.returncode}):\n$ {shlex.join(args)}\n"
        f"{(proc.stdout + proc.stderr)[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def colab_env(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Un entorno virtual nuevo con torch y luego la celda de instalación."""
    if shutil.which("git") is None:
        pytest.fail("Hace falta git para instalar desde git+file://",
                    pytrace=False)
    if not (ROOT / ".git").exists():
        pytest.fail(f"{ROOT} no es un repositorio git", pytrace=False)
    tmp = tmp_path_factory.mktemp("colab")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    venv.create(tmp / "venv", with_pip=True)
    python = str(tmp / "venv" / "bin" / "python")
    times = {}

    start = time.perf_counter()
    # --no-compile: sin precompilar a bytecode los miles de .py de torch y
    # compañía; no cambia qué se instala y ahorra buena parte del tiempo.
    pip_install = [python, "-m", "pip", "install", "--no-compile"]
    _run([*pip_install, "-q", _pinned("torch")],
         cwd=tmp, env=env, what="instalar torch (como el de Colab)")
    times["torch"] = time.perf_counter() - start

    start = time.perf_counter()
    args = setup_cell_pip_args(f"file://{ROOT}")
    _run([*pip_install, *args], cwd=tmp, env=env,
         what="la celda de configuración (%pip install)")
    times["course_lib"] = time.perf_counter() - start

    freeze = _run([python, "-m", "pip", "freeze"], cwd=tmp, env=env,
                  what="pip freeze").stdout
    return {"python": python, "tmp": tmp, "env": env, "times": times,
            "freeze": freeze}


def test_setup_cell_installs_from_the_repository() -> None:
    args = setup_cell_pip_args("https://example.org/libro")
    assert "git+https://example.org/libro" in args


def test_install_keeps_colab_torch_and_takes_newest_deps(
        colab_env: dict) -> None:
    versions = dict(line.split("==", 1)
                    for line in colab_env["freeze"].splitlines()
                    if "==" in line)
    lowered = {k.lower().replace("_", "-"): v for k, v in versions.items()}
    torch_pin = _pinned("torch").split("==")[1]
    installed = lowered.get("torch", "")
    assert installed.split("+")[0] == torch_pin.split("+")[0], (
        f"la instalación cambió torch: {lowered.get('torch')} en vez del "
        f"preinstalado {torch_pin}")
    line = next((x for x in colab_env["freeze"].splitlines()
                 if x.lower().startswith("course-lib")), "")
    assert "git+file://" in line or " @ " in line, (
        f"course_lib no viene del repositorio: {line!r}")
    shown = ", ".join(f"{k} {lowered[k]}" for k in (
        "numpy", "transformers", "tokenizers", "matplotlib",
        "scikit-learn", "scikit-image") if k in lowered)
    print(f"\nVersiones instaladas: {shown}")
    print(f"Tiempos: {colab_env['times']}")


def test_course_lib_smoke_in_fresh_env(colab_env: dict) -> None:
    script = colab_env["tmp"] / "smoke.py"
    script.write_text(SMOKE, encoding="utf-8")
    env = {**colab_env["env"], "HF_HUB_OFFLINE": "1",
           "MPLBACKEND": "Agg"}
    start = time.perf_counter()
    proc = _run([colab_env["python"], str(script)], cwd=colab_env["tmp"],
                env=env, what="la prueba rápida de course_lib")
    seconds = time.perf_counter() - start
    line = next(x for x in proc.stdout.splitlines()
                if x.startswith("SMOKE_REPORT="))
    report = json.loads(line.removeprefix("SMOKE_REPORT="))
    assert "site-packages" in report["course_lib"], (
        f"se importó course_lib desde {report['course_lib']}, no desde el "
        "entorno nuevo")
    assert not report["errors"], (
        "course_lib instalado como en Colab falla:\n  - "
        + "\n  - ".join(report["errors"]))
    assert "course_lib.attention" in report["modules"]
    assert any(e.startswith("cap01.") for e in report["exercises"])
    # una comprobación por capítulo publicado con punto de entrada propio
    for name in ("MultiHeadAttention", "Transformer.greedy_decode", "BERT",
                 "GPT", "ViT", "MAE", "CLIP", "fusión"):
        assert any(c.startswith(name) for c in report["checks"]), name
    print(f"\nMódulos: {len(report['modules'])}; ejercicios: "
          f"{len(report['exercises'])}; {report['checks']}; "
          f"{seconds:.1f} s")
