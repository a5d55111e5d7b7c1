"""Entrena el GPT del curso con Molière y mide pérdida y velocidad.

Uso (desde la raíz del repositorio)::

    .venv/bin/python benchmarks/gpt_moliere.py --preset cpu
    .venv/bin/python benchmarks/gpt_moliere.py --preset anchor --json r.json

Presets: «cpu» (el del cuaderno del capítulo 4), «anchor» (el GPT de
632k parámetros del curso público: 3 capas, 128 dimensiones, 4 cabezas,
contexto 128, lote 64, *dropout* 0,2, 5000 pasos; allí llegó a 1,4835
nats/carácter en validación con AdamW 3e-4 constante).

Imprime parámetros, tokens vistos, tiempo, tokens/s y pérdidas de
entrenamiento y validación (esta, sobre el 10 % final entero del texto).
Además mide los tokens/s de un bucle de referencia mínimo (mismo modelo y
lote, AdamW sin calendario, sin recorte de gradiente ni evaluación): si
``train_lm`` se vuelve mucho más lento que él, hay una regresión.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib.char_tokenizer import (  # noqa: E402
    CharTokenizer,
    train_val_split,
)
from course_lib.data import load_text  # noqa: E402
from course_lib.gpt import GPT, GPTConfig  # noqa: E402
from course_lib.layers import count_parameters  # noqa: E402
from course_lib.lm_training import (  # noqa: E402
    LMTrainConfig,
    evaluate_loss,
    get_batch,
    train_lm,
)

PRESETS = ("cpu", "anchor")


def hf_reference(config: GPTConfig) -> torch.nn.Module:
    """El ``GPT2LMHeadModel`` de ``transformers`` con la misma
    configuración (mismas capas, anchura, cabezas, contexto y *dropout*)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    p = config.dropout
    return GPT2LMHeadModel(GPT2Config(
        vocab_size=config.vocab_size,
        n_positions=config.max_position_embeddings,
        n_embd=config.hidden_size, n_layer=config.num_hidden_layers,
        n_head=config.num_attention_heads, activation_function="gelu_new",
        resid_pdrop=p, embd_pdrop=p, attn_pdrop=p,
        layer_norm_epsilon=config.layer_norm_eps, bos_token_id=0,
        eos_token_id=0))


def loop_seconds(model: torch.nn.Module, recipe: LMTrainConfig,
                 train: torch.Tensor, steps: int, device: torch.device,
                 seed: int) -> float:
    """Segundos de ``steps`` pasos de un bucle mínimo (lote, adelante,
    entropía cruzada, atrás, AdamW), tras 3 pasos de calentamiento. El
    mismo bucle para los dos modelos: solo cambia el modelo."""
    model = model.to(device).train()
    T = model.config.max_position_embeddings if hasattr(
        model.config, "max_position_embeddings") else model.config.n_positions
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr)
    generator = torch.Generator().manual_seed(seed)
    warmup = 3
    for step in range(warmup + steps):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        x, y = get_batch(train, T, recipe.batch_size, generator=generator,
                         device=device)
        out = model(x)
        logits = out[0] if isinstance(out, tuple) else out.logits  # (B,T,V)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def reference_tokens_per_second(
    config: GPTConfig, recipe: LMTrainConfig, train: torch.Tensor,
    steps: int, device: torch.device, seed: int, rounds: int = 3,
) -> tuple[float, float]:
    """*Tokens*/s del bucle mínimo con nuestro ``GPT`` y con el
    ``GPT2LMHeadModel`` de la misma configuración, medidos en rondas
    alternas (una racha de carga afecta a los dos) y con la mejor ronda
    de cada uno."""
    torch.manual_seed(seed)
    models = {"ours": GPT(config), "hf": hf_reference(config)}
    best = {name: float("inf") for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            best[name] = min(best[name], loop_seconds(
                model, recipe, train, steps, device, seed))
    tokens = steps * recipe.batch_size * config.max_position_embeddings
    return tokens / best["ours"], tokens / best["hf"]


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device or (
        "cuda" if torch.cuda.is_available() else "cpu"))
    if args.threads:
        torch.set_num_threads(args.threads)
    text = load_text("moliere.txt")
    tokenizer = CharTokenizer.from_text(text)
    train, val = train_val_split(tokenizer.encode(text))
    config = GPTConfig.preset(args.preset, vocab_size=tokenizer.vocab_size)
    overrides = {"steps": args.steps} if args.steps else {}
    recipe = LMTrainConfig.preset(args.preset, **overrides)
    load_before = os.getloadavg()

    torch.manual_seed(args.seed)
    model = GPT(config).to(device)
    start = time.perf_counter()
    history = train_lm(model, train, val, recipe,
                       generator=torch.Generator().manual_seed(args.seed),
                       progress=not args.quiet,
                       desc=f"preset {args.preset}")
    wall = time.perf_counter() - start
    val_loss = evaluate_loss(model, val, config.max_position_embeddings,
                             max_tokens=args.val_tokens)
    train_loss = evaluate_loss(model, train, config.max_position_embeddings,
                               max_tokens=args.val_tokens or len(val))
    ref, hf = reference_tokens_per_second(config, recipe, train,
                                          args.ref_steps, device, args.seed)
    ours = history.tokens_seen / history.seconds
    if device.type == "cuda":
        hardware = f"GPU {torch.cuda.get_device_name(device)}"
    else:
        hardware = f"CPU, {torch.get_num_threads()} hilos"
    row = {
        "preset": args.preset,
        "device": hardware,
        "parameters": count_parameters(model),
        "steps": recipe.steps,
        "tokens_seen": history.tokens_seen,
        "wall_s": wall,
        "train_s": history.seconds,
        "tokens_per_s": ours,
        "reference_tokens_per_s": ref,
        "speed_vs_reference": ours / ref,
        "hf_tokens_per_s": hf,
        "loop_speed_vs_hf": ref / hf,
        "train_loss": train_loss,
        "val_loss": val_loss,
        # Curva de evaluación periódica (sobre un trozo de cada partición):
        # dice dónde empieza el sobreajuste de un preset.
        "curve": {"steps": list(history.eval_steps),
                  "train_loss": list(history.train_loss),
                  "val_loss": list(history.val_loss)},
    }
    metadata = {
        "title": "GPT con Molière (capítulo 4)",
        "description": (
            "`benchmarks/gpt_moliere.py`: pérdidas en nats/carácter; la de "
            "validación, sobre el 10 % final del texto. «tokens/s» cuenta "
            "solo los pasos de entrenamiento; la referencia es un bucle "
            "mínimo sobre el mismo modelo, y ese mismo bucle con el "
            "`GPT2LMHeadModel` de `transformers` de la misma configuración "
            "da «velocidad / GPT-2 de HF» (rondas alternas, la mejor de "
            "cada uno). Cada fila se mide con "
            "`python benchmarks/gpt_moliere.py --preset P --store`, en el "
            "dispositivo que indica."),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "loadavg": [list(load_before), list(os.getloadavg())],
        "model": {k: getattr(config, k) for k in (
            "num_hidden_layers", "num_attention_heads", "hidden_size",
            "max_position_embeddings", "dropout")},
        "recipe": {k: getattr(recipe, k) for k in (
            "steps", "batch_size", "lr", "min_lr", "warmup_steps",
            "schedule", "weight_decay")},
    }
    return {"metadata": metadata, "rows": [row]}


def format_table(result: dict) -> str:
    row, meta = result["rows"][0], result["metadata"]
    lines = [
        ("preset", row["preset"]),
        ("parámetros", f"{row['parameters']:,}".replace(",", " ")),
        ("pasos", str(row["steps"])),
        ("tokens vistos", f"{row['tokens_seen']:,}".replace(",", " ")),
        ("tiempo de pared (s)", f"{row['wall_s']:.1f}"),
        ("tokens/s (entrenamiento)", f"{row['tokens_per_s']:.0f}"),
        ("tokens/s (bucle de referencia)",
         f"{row['reference_tokens_per_s']:.0f}"),
        ("velocidad / referencia", f"{row['speed_vs_reference']:.2f}"),
        ("tokens/s (GPT2LMHeadModel, mismo bucle)",
         f"{row['hf_tokens_per_s']:.0f}"),
        ("velocidad / GPT-2 de HF", f"{row['loop_speed_vs_hf']:.2f}"),
        ("pérdida de entrenamiento", f"{row['train_loss']:.4f}"),
        ("pérdida de validación", f"{row['val_loss']:.4f}"),
    ]
    width = max(len(k) for k, _ in lines)
    load = " / ".join(f"{x:.1f}" for x in meta["loadavg"][0])
    head = (f"# {meta['title']} · {meta['device']}, {meta['threads']} "
            f"hilos · carga media al empezar {load}")
    return "\n".join([head] + [f"{k:<{width}}  {v}" for k, v in lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=PRESETS, default="cpu")
    parser.add_argument("--steps", type=int, default=None,
                        help="cambia el número de pasos del preset")
    parser.add_argument("--ref-steps", type=int, default=20,
                        help="pasos medidos del bucle de referencia")
    parser.add_argument("--val-tokens", type=int, default=None,
                        help="limita los tokens de la evaluación final")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quiet", action="store_true",
                        help="sin barra de progreso")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--store", action="store_true",
        help="guarda la fila en benchmarks/results/gpt_moliere.json, "
             "sustituyendo la del mismo preset (las demás se conservan)")
    args = parser.parse_args(argv)
    for name in ("steps", "ref_steps", "val_tokens"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} debe ser >= 1")
    result = run(args)
    print(format_table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2,
                                        ensure_ascii=False) + "\n",
                             encoding="utf-8")
    if args.store:
        store(result, RESULTS)
    return 0


RESULTS = Path(__file__).resolve().parent / "results" / "gpt_moliere.json"


def store(result: dict, path: Path) -> None:
    """Añade la fila de ``result`` a ``path``: una fila por preset.

    Cada preset puede medirse en una máquina distinta (el «anchor», en
    GPU); por eso la fila lleva su dispositivo y su fecha.
    """
    row = {**result["rows"][0], "date": result["metadata"]["date"],
           "torch": result["metadata"]["torch"]}
    rows: list[dict] = []
    if path.exists():
        rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
    rows = [r for r in rows if r["preset"] != row["preset"]] + [row]
    rows.sort(key=lambda r: PRESETS.index(r["preset"]))
    meta = {k: result["metadata"][k] for k in ("title", "description")}
    meta["benchmark"] = "gpt_moliere"
    path.write_text(json.dumps({"metadata": meta, "rows": rows}, indent=2,
                               ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
