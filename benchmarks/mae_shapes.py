"""¿Paga el MAE del curso? Pocas etiquetas, varias semillas (cap. 6).

Con los pesos del curso «mae-figuras» (un MAE preentrenado con un millón
de figuras **sin etiqueta**, ``course_lib.mae_shapes``) y la tarea de
``course_lib.big_shapes`` (¿qué forma hay?, 5 clases), para cada semilla y
cada número de etiquetas por clase se sortea el mismo subconjunto
etiquetado para todos los métodos y se mide la exactitud en las 2000
imágenes de prueba:

- sondas lineales (regresión logística, congelado): sobre los píxeles,
  sobre el codificador **aleatorio** (los pesos iniciales de la receta) y
  sobre el codificador MAE (media de los parches, ``MAE.features``);
- ajuste fino, con la misma receta y el mismo presupuesto
  (``train_image_classifier``: ``--steps`` pasos, tasa ``--lr``, lotes de
  hasta 64, desplazamientos de ±1 píxel, cabeza sobre la media de los
  parches): el ViT con la arquitectura del codificador **desde cero** y el
  ViT que empieza con los pesos del MAE. Se guarda la curva de exactitud
  en prueba de cada ajuste.

El preentrenamiento es uno (los pesos del curso); las semillas cambian las
etiquetas vistas, la cabeza y el orden de los lotes::

    python benchmarks/mae_shapes.py                   # 3 semillas, 5 y 20
    python benchmarks/mae_shapes.py --seeds 0 --per-class 5 --steps 50

Escribe ``benchmarks/results/mae_shapes.json`` (``--json`` para otra
ruta): ``metadata``, ``rows`` (media y desviación por método) y ``runs``
(cada ejecución, con su curva).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "mae_shapes.json"
METHODS = {
    "pixeles": "regresión logística sobre los píxeles",
    "aleatorio_sonda": "codificador aleatorio + sonda lineal",
    "MAE_sonda": "codificador MAE + sonda lineal",
    "cero_ajuste": "ViT desde cero (ajuste supervisado)",
    "MAE_ajuste": "codificador MAE + ajuste fino",
}


def classifier_config(encoder):
    """El codificador con una cabeza de 5 clases sobre la media de los
    parches (las mismas representaciones que mide la sonda)."""
    from course_lib.shapes import SHAPE_NAMES

    return dataclasses.replace(encoder, num_labels=len(SHAPE_NAMES),
                               pooling="mean")


def run_seed(seed: int, per_class: int, *, steps: int, lr: float,
             eval_every: int) -> list[dict]:
    import torch

    from course_lib import checkpoints, mae_shapes
    from course_lib.images import subset_per_class, train_image_classifier
    from course_lib.training import linear_probe
    from course_lib.vit import ViT

    mae = checkpoints.load("mae-figuras").model
    config = mae_shapes.mae_config(mae_shapes.CONFIG)
    torch.manual_seed(mae_shapes.CONFIG["seed"])
    random_init = mae_shapes.build(mae_shapes.CONFIG).eval()
    train, test = mae_shapes.labelled(), mae_shapes.test_set()
    labels = torch.Generator().manual_seed(1000 + seed)
    idx = subset_per_class(train.labels, per_class, generator=labels)
    x, y = train.images[idx], train.labels[idx]
    runs = []

    def record(method: str, accuracy: float, **extra: object) -> None:
        runs.append(dict(seed=seed, per_class=per_class, labels=len(idx),
                         method=method, accuracy=round(accuracy, 4),
                         **extra))

    record("pixeles", linear_probe(x.flatten(1), y, test.images.flatten(1),
                                   test.labels))
    for name, encoder in (("aleatorio", random_init), ("MAE", mae)):
        record(f"{name}_sonda", linear_probe(
            encoder.features(x), y, encoder.features(test.images),
            test.labels))
    for name in ("cero", "MAE"):
        torch.manual_seed(seed)
        clf = ViT(classifier_config(config.encoder))
        if name == "MAE":
            clf.vit.load_state_dict(mae.vit.state_dict(), strict=True)
        tic = time.perf_counter()
        history = train_image_classifier(
            clf, x, y, steps=steps, batch_size=min(64, len(idx)), lr=lr,
            generator=torch.Generator().manual_seed(seed),
            eval_data=(test.images, test.labels), eval_every=eval_every,
            progress=False)
        curve = [[step, round(m["eval_accuracy"], 4)]
                 for step, m in history.evals]
        record(f"{name}_ajuste", curve[-1][1], curve=curve,
               seconds=round(time.perf_counter() - tic, 1))
    return runs


def summarise(runs: list[dict]) -> list[dict]:
    rows = []
    for k in sorted({r["per_class"] for r in runs}):
        for method, label in METHODS.items():
            vals = [r["accuracy"] for r in runs
                    if r["per_class"] == k and r["method"] == method]
            if not vals:
                continue
            rows.append({
                "etiquetas por clase": k,
                "método": label,
                "exactitud media": round(float(np.mean(vals)), 4),
                "desv. típica": round(float(np.std(vals, ddof=1)), 4)
                if len(vals) > 1 else 0.0,
                "semillas": len(vals),
                "valores": ", ".join(f"{v:.3f}" for v in vals),
            })
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--per-class", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--steps", type=int, default=500,
                        help="pasos de cada ajuste fino")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    import torch

    from course_lib import checkpoints, mae_shapes

    if args.threads:
        torch.set_num_threads(args.threads)
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    runs = []
    for k in args.per_class:
        for seed in args.seeds:
            runs += run_seed(seed, k, steps=args.steps, lr=args.lr,
                             eval_every=args.eval_every)
            done = [r for r in runs if r["seed"] == seed
                    and r["per_class"] == k]
            print(f"{k:>3} por clase, semilla {seed}: " + ", ".join(
                f"{r['method']} {r['accuracy']:.3f}" for r in done),
                flush=True)
    rows = summarise(runs)
    card = checkpoints.load("mae-figuras").card
    metadata = {
        "title": "¿Paga el MAE del curso? Figuras con pocas etiquetas",
        "description": (
            "Exactitud en las 2000 imágenes de prueba de «¿qué forma hay?» "
            "(5 clases, azar 0,20; media ± desviación típica sobre "
            f"{len(args.seeds)} semillas, cada una con sus etiquetas). "
            "Preentrenamiento: los pesos del curso «mae-figuras» (un millón "
            "de figuras sin etiqueta). Sonda = regresión logística sobre "
            "rasgos congelados; ajuste fino = "
            f"{args.steps} pasos con la receta del capítulo 5 (tasa "
            f"{args.lr:g}, lotes de hasta 64), la misma para el ViT desde "
            "cero y para el que empieza con el MAE. Se regenera con "
            "`python benchmarks/mae_shapes.py`."),
        "checkpoint_sha256": card["sha256"],
        "finetune_steps": args.steps,
        "lr": args.lr,
        "seeds": args.seeds,
        "per_class": args.per_class,
        "test_images": len(mae_shapes.test_set()),
        "device": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "loadavg_start": [round(v, 2) for v in load0],
        "loadavg_end": [round(v, 2) for v in os.getloadavg()],
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(
        {"metadata": metadata, "rows": rows, "runs": runs},
        ensure_ascii=False, indent=1) + "\n")
    for row in rows:
        print(f"{row['etiquetas por clase']:>3} {row['método']:<45} "
              f"{row['exactitud media']:.3f} ± {row['desv. típica']:.3f}")
    print(f"-> {args.json} ({metadata['wall_s']} s)")


if __name__ == "__main__":
    main()
