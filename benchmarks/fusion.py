"""Estudios con varias semillas del capítulo 8 (fusión multimodal).

Dos estudios sobre las preguntas sí/no de ``course_lib.shapes``
(«¿hay un círculo azul?», «¿el cuadrado está a la izquierda de la
cruz?»), con el mismo presupuesto para todos (pasos, lote, tasa):

- ``compare``: solo texto, solo imagen, fusión tardía, temprana, atención
  cruzada y Perceiver.
- ``ablation``: variantes de la capa de atención cruzada (LayerNorm de
  entrada, residual, proyecciones compartidas, una cabeza, FFN, compuerta
  tanh, *dropout*), con detección de colapso: una ejecución «colapsa» si
  responde siempre lo mismo o si su atención texto→imagen es casi
  uniforme (``course_lib.fusion.is_collapsed``), diga lo que diga su
  exactitud.

Imágenes de 48 px con parches de 16 (un parche por celda de la rejilla
3 × 3) y píxeles normalizados por canal: los valores por defecto de
``FusionConfig``. Receta por defecto (la del cuaderno, ~40-50 s de CPU
por modelo con un hilo): 600 pasos, lote 64, tasa 2e-3, 6000 preguntas.

Uso (desde la raíz del repositorio)::

    python benchmarks/fusion.py compare --json \
        benchmarks/results/fusion_compare.json
    python benchmarks/fusion.py ablation --json \
        benchmarks/results/fusion_ablation.json

El JSON sigue el formato común de ``benchmarks/results``:
``{"metadata": {...}, "rows": [...]}``, una fila plana por ejecución; el
resumen por modelo va en ``metadata["summary"]``.

Imprime una fila por ejecución y una tabla final «media ± desviación
típica» por modelo. Libro: capítulo 8, secciones 4 y 5.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from course_lib import shapes
from course_lib.fusion import (
    CrossAttentionSpec,
    FusionConfig,
    attention_spread,
    is_collapsed,
)
from course_lib.fusion_qa import (
    FUSION_MODELS,
    CrossAttentionFusion,
    predict_qa,
    train_qa,
)

# Pérdida de entrenamiento (media de los 50 últimos pasos) a la que se
# considera que una ejecución sigue en la meseta del azar, ln 2 ≈ 0,693:
# ``is_collapsed`` no lo ve si la atención no es uniforme pero su salida
# apenas cuenta (p. ej., la compuerta tanh aún cerrada).
PLATEAU_LOSS = 0.98 * math.log(2)

ABLATION = {
    "completa": CrossAttentionSpec(),
    "sin LayerNorm de entrada": CrossAttentionSpec(norm_inputs=False),
    "sin residual": CrossAttentionSpec(residual=False),
    "proyección compartida": CrossAttentionSpec(shared_proj=True),
    "una cabeza": CrossAttentionSpec(n_head=1),
    "sin FFN": CrossAttentionSpec(ffn=False),
    "compuerta tanh": CrossAttentionSpec(gated=True),
    "dropout 0,1": CrossAttentionSpec(dropout=0.1),
    "mínima (sin LN, residual ni FFN)": CrossAttentionSpec(
        norm_inputs=False, residual=False, ffn=False),
}


def make_data(n_train: int, n_test: int, *, image_size: int = 48
              ) -> dict[str, object]:
    """Datos fijos para todas las ejecuciones (semillas 100 y 101)."""
    tok = shapes.WordTokenizer()
    train = shapes.make_qa_data(n_train, seed=100, image_size=image_size)
    test = shapes.make_qa_data(n_test, seed=101, image_size=image_size)
    return {"train": train, "test": test,
            "train_text": tok(train.questions),
            "test_text": tok(test.questions)}


def run_one(name: str, build, seed: int, data: dict, *, steps: int,
            batch_size: int, lr: float) -> dict:
    """Entrena un modelo con una semilla y devuelve su fila de resultados."""
    torch.manual_seed(seed)
    model = build()
    train, test = data["train"], data["test"]
    ids, lengths = data["train_text"]
    start = time.process_time()
    losses = train_qa(model, train.images, ids, lengths, train.answers,
                      steps=steps, batch_size=batch_size, lr=lr,
                      generator=torch.Generator().manual_seed(seed),
                      progress=False)
    cpu = time.process_time() - start
    t_ids, t_lengths = data["test_text"]
    pred = predict_qa(model, test.images, t_ids, t_lengths)
    hits = (pred == test.answers).float()
    row = {"model": name, "seed": seed, "accuracy": hits.mean().item(),
           "final_loss": statistics.fmean(losses[-50:]),
           "params": sum(p.numel() for p in model.parameters()),
           "cpu_s": round(cpu, 1)}
    for kind in shapes.QUESTION_KINDS:
        idx = [i for i, k in enumerate(test.kinds) if k == kind]
        row[f"acc_{kind}"] = hits[idx].mean().item()
    weights = None
    row["attention_spread"] = None          # solo en la atención cruzada
    if isinstance(model, CrossAttentionFusion):
        with torch.no_grad():
            _, ws = model(test.images[:256], t_ids[:256], t_lengths[:256],
                          return_weights=True)
        weights = ws[0]
        row["attention_spread"] = attention_spread(weights)
    row["collapsed"] = is_collapsed(weights, pred)
    return row


def summarise(rows: list[dict]) -> list[dict]:
    """Media y desviación típica por modelo, en el orden de aparición."""
    names = list(dict.fromkeys(r["model"] for r in rows))
    out = []
    for name in names:
        acc = [r["accuracy"] for r in rows if r["model"] == name]
        entry = {"model": name, "n_seeds": len(acc),
                 "mean": statistics.fmean(acc),
                 "std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
                 "collapsed": sum(r["collapsed"] for r in rows
                                  if r["model"] == name),
                 "plateau": sum(r["final_loss"] >= PLATEAU_LOSS
                                for r in rows if r["model"] == name)}
        for kind in shapes.QUESTION_KINDS:
            entry[f"mean_{kind}"] = statistics.fmean(
                r[f"acc_{kind}"] for r in rows if r["model"] == name)
        out.append(entry)
    return out


def format_summary(summary: list[dict]) -> str:
    head = ("| modelo | exactitud (media ± d.t.) | existencia | color | "
            "relación | colapsos | en la meseta |\n"
            "|---|---|---|---|---|---|---|")
    lines = [head]
    for s in summary:
        lines.append(
            f"| {s['model']} | {s['mean']:.3f} ± {s['std']:.3f} | "
            f"{s['mean_existencia']:.3f} | {s['mean_color']:.3f} | "
            f"{s['mean_relación']:.3f} | {s['collapsed']}/{s['n_seeds']} | "
            f"{s['plateau']}/{s['n_seeds']} |")
    return "\n".join(lines)


def _write(path: Path, meta: dict, rows: list[dict]) -> None:
    meta = {**meta, "date": datetime.now(timezone.utc).isoformat(
        timespec="seconds"), "load_average": os.getloadavg(),
        "total_cpu_s": round(sum(r["cpu_s"] for r in rows), 1),
        "plateau_loss": PLATEAU_LOSS, "summary": summarise(rows)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"metadata": meta, "rows": rows},
                               ensure_ascii=False, indent=1) + "\n",
                    encoding="utf-8")


TITLES = {
    "compare": ("Fusión multimodal: qué estrategia responde mejor",
                "Preguntas sí/no sobre figuras (course_lib.shapes, 48 px, "
                "parches de 16, píxeles normalizados). Mismo presupuesto "
                "para todos los modelos; una fila por (modelo, semilla). "
                "«collapsed»: responde siempre lo mismo o atención "
                "texto→imagen casi uniforme (is_collapsed)."),
    "ablation": ("Ablación de la capa de atención cruzada",
                 "CrossAttentionFusion con una decisión de diseño cambiada "
                 "cada vez, mismo presupuesto y datos que la comparación; "
                 "una fila por (variante, semilla), con detección de "
                 "colapso (is_collapsed)."),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=("compare", "ablation"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--n-train", type=int, default=6000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--models", nargs="*", default=None,
                        help="subconjunto de modelos o variantes")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1,
                        help="hilos de PyTorch (1: tiempos comparables)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    if args.study == "compare":
        builders = {n: (lambda cls=cls: cls()) for n, cls in
                    FUSION_MODELS.items()}
    else:
        builders = {n: (lambda spec=spec: CrossAttentionFusion(
            FusionConfig(cross=spec))) for n, spec in ABLATION.items()}
    if args.models:
        unknown = set(args.models) - set(builders)
        if unknown:
            parser.error(f"desconocidos: {sorted(unknown)}")
        builders = {n: builders[n] for n in args.models}  # en ese orden
    image_size = FusionConfig().image_size
    data = make_data(args.n_train, args.n_test, image_size=image_size)
    title, description = TITLES[args.study]
    meta = {"title": title, "description": description,
            "study": args.study, "steps": args.steps,
            "batch_size": args.batch_size, "lr": args.lr,
            "n_train": args.n_train, "n_test": args.n_test,
            "image_size": image_size,
            "patch_size": FusionConfig().patch_size,
            "models": list(builders),
            "seeds": args.seeds, "torch": torch.__version__,
            "python": sys.version.split()[0],
            "machine": platform.platform(),
            "threads": torch.get_num_threads()}
    rows = []
    for seed in args.seeds:        # primero una semilla de cada modelo
        for name, build in builders.items():
            row = run_one(name, build, seed, data, steps=args.steps,
                          batch_size=args.batch_size, lr=args.lr)
            rows.append(row)
            print(f"{name:34} semilla {seed}: exactitud "
                  f"{row['accuracy']:.3f}  colapso={row['collapsed']}  "
                  f"({row['cpu_s']} s de CPU)", flush=True)
            if args.json:   # se guarda tras cada ejecución (parcial)
                _write(args.json, meta, rows)
    print(format_summary(summarise(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
