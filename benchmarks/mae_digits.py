"""¿Ayuda el preentrenamiento MAE? Estudio con varias semillas (cap. 6).

Para cada semilla se preentrena un MAE con los 1 347 dígitos de
entrenamiento **sin etiquetas** (la receta del cuaderno,
``course_lib.mae.pretrain_mae``) y se compara su codificador con el
mismo codificador **sin preentrenar** (pesos aleatorios) con pocas
etiquetas por clase:

- sonda lineal: regresión logística sobre las representaciones
  congeladas (media de los parches, ``MAE.features``);
- ajuste fino (solo con 5 y 20 etiquetas por clase): el ViT entero
  (codificador + cabeza sobre la media de los parches) con la receta del
  capítulo 5 (``train_image_classifier``, tasa 1e-3, lotes de 64).
  Con la misma receta, el ViT del capítulo 5 entrenado desde cero
  (supervisado, con su propia inicialización);
- y, como suelo, la regresión logística sobre los 64 píxeles.

El subconjunto etiquetado cambia con la semilla. Presupuesto en pasos.
No cabe en los 3 minutos del cuaderno, que muestra la tabla guardada::

    python benchmarks/mae_digits.py                  # 3 semillas, CPU
    python benchmarks/mae_digits.py --variants cuaderno "3000 pasos" \
        --seeds 0 1 2 3 4 --workers 10

Con un hilo, cada semilla cuesta unos minutos de CPU (preentrenamiento
de 600 pasos y cuatro entrenamientos de 200 pasos).

Cada trabajo usa un hilo de PyTorch; ``--workers`` procesos en paralelo.
Escribe ``benchmarks/results/mae_digits.json`` (``--json`` para otra
ruta): ``metadata`` + ``rows`` con valores escalares.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "mae_digits.json"
# La receta del cuaderno (preset «cpu») y variantes del preentrenamiento.
PRETRAIN = dict(steps=600, batch_size=128, lr=1.5e-3, mask_ratio=0.75,
                norm_pix=False)
VARIANTS = {
    "cuaderno": {},
    "tapando el 50 %": dict(mask_ratio=0.5),
    "píxeles normalizados": dict(norm_pix=True),
    "3000 pasos": dict(steps=3000),
    "3000 pasos, tapando el 50 %": dict(steps=3000, mask_ratio=0.5),
}
FINETUNE_STEPS = 200
LABELS_PER_CLASS = (5, 20)   # None = las 1 347 (solo sondas)


def run_seed(seed: int, pretrain: dict, finetune_steps: int,
             per_class: tuple) -> list[dict]:
    import torch

    torch.set_num_threads(1)
    from course_lib.images import (
        load_digits_split,
        subset_per_class,
        train_image_classifier,
    )
    from course_lib.mae import MAE, MAEConfig, pretrain_mae
    from course_lib.training import accuracy, linear_probe
    from course_lib.vit import ViT

    data = load_digits_split()
    config = MAEConfig(mask_ratio=pretrain["mask_ratio"],
                       norm_pix_loss=pretrain["norm_pix"])
    torch.manual_seed(seed)
    random_init = MAE(config).eval()
    torch.manual_seed(seed)
    mae = MAE(config)
    t0 = time.perf_counter()
    losses = pretrain_mae(mae, data.x_train, steps=pretrain["steps"],
                          batch_size=pretrain["batch_size"],
                          lr=pretrain["lr"], progress=False,
                          generator=torch.Generator().manual_seed(seed))
    pretrain_s = time.perf_counter() - t0
    encoders = {"MAE": mae, "aleatorio": random_init}
    feats = {name: (m.features(data.x_train), m.features(data.x_test))
             for name, m in encoders.items()}
    y_tr, y_te = data.y_train, data.y_test
    rows = []
    for k in per_class:
        g = torch.Generator().manual_seed(1000 + seed)
        idx = (torch.arange(len(y_tr)) if k is None
               else subset_per_class(data.y_train, k, generator=g))
        n = len(idx)
        res = {"pixeles": linear_probe(data.x_train[idx].flatten(1),
                                       y_tr[idx], data.x_test.flatten(1),
                                       y_te)}
        for name, (f_tr, f_te) in feats.items():
            res[f"{name}_sonda"] = linear_probe(f_tr[idx], y_tr[idx], f_te,
                                                y_te)
        if k is not None:   # con todas las etiquetas: el capítulo 5
            # Ajuste fino del codificador MAE y, con la misma receta, el ViT
            # del capítulo 5 desde cero (su inicialización, con posiciones
            # aprendidas: la del MAE aleatorio, con posiciones senoidales
            # fijas que dominan a los parches, apenas aprende en 200 pasos).
            for name in ("MAE", "supervisado"):
                torch.manual_seed(seed)
                clf = ViT(classifier_config(config.encoder))
                if name == "MAE":
                    clf.vit.load_state_dict(mae.vit.state_dict(), strict=True)
                train_image_classifier(
                    clf, data.x_train[idx], data.y_train[idx],
                    steps=finetune_steps, batch_size=min(64, n), lr=1e-3,
                    generator=torch.Generator().manual_seed(seed),
                    progress=False)
                res[f"{name}_ajuste"] = accuracy(clf, data.x_test, data.y_test)
        for key, value in res.items():
            rows.append(dict(seed=seed, per_class=k or 0, labels=n,
                             method=key, accuracy=value))
    rows.append(dict(seed=seed, per_class=-1, labels=0, method="pérdida",
                     accuracy=float(np.mean(losses[-50:])),
                     pretrain_s=pretrain_s))
    for row in rows:
        row["variant"] = pretrain["name"]
    return rows


def classifier_config(encoder):
    """El codificador del MAE con una cabeza de 10 clases sobre la media
    de los parches (las mismas representaciones que la sonda)."""
    import dataclasses

    return dataclasses.replace(encoder, num_labels=10, pooling="mean")


METHODS = {
    "pixeles": "regresión logística sobre los píxeles",
    "aleatorio_sonda": "codificador aleatorio + sonda lineal",
    "MAE_sonda": "codificador MAE + sonda lineal",
    "supervisado_ajuste": "supervisado desde cero (ViT del capítulo 5)",
    "MAE_ajuste": "codificador MAE + ajuste fino",
}


def summarise(runs: list[dict], variant: str) -> list[dict]:
    runs = [r for r in runs if r["variant"] == variant]
    rows = []
    budgets = sorted({r["per_class"] for r in runs if r["per_class"] >= 0},
                     key=lambda k: k or 10**9)
    for k in budgets:
        for method, label in METHODS.items():
            vals = [r["accuracy"] for r in runs
                    if r["per_class"] == k and r["method"] == method]
            if not vals:
                continue
            n_labels = next(r["labels"] for r in runs
                            if r["per_class"] == k)
            rows.append({
                "preentrenamiento": variant,
                "etiquetas por clase": "todas" if k == 0 else k,
                "etiquetas": n_labels,
                "método": label,
                "exactitud media": round(float(np.mean(vals)), 4),
                "desv. típica": round(float(np.std(vals, ddof=1)), 4),
                "semillas": len(vals),
                "valores": ", ".join(f"{v:.3f}" for v in vals),
            })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=["cuaderno"],
                        choices=list(VARIANTS))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pretrain-steps", type=int, default=None,
                        help="sustituye los pasos de todas las variantes "
                             "(para pruebas rápidas)")
    parser.add_argument("--finetune-steps", type=int, default=FINETUNE_STEPS)
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--device-name", default=platform.processor()
                        or platform.machine(),
                        help="descripción de la máquina para el JSON")
    args = parser.parse_args()
    variants = {}
    for name in args.variants:
        variants[name] = dict(PRETRAIN, **VARIANTS[name], name=name)
        if args.pretrain_steps:
            variants[name]["steps"] = args.pretrain_steps
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(run_seed, s, variants[v], args.finetune_steps,
                               LABELS_PER_CLASS)
                   for v in args.variants for s in args.seeds]
        runs = [row for f in futures for row in f.result()]
    rows = [row for v in args.variants for row in summarise(runs, v)]
    import torch

    losses = {v: round(float(np.mean([r["accuracy"] for r in runs
                                      if r["method"] == "pérdida"
                                      and r["variant"] == v])), 4)
              for v in args.variants}
    metadata = {
        "title": "¿Ayuda el preentrenamiento MAE? Dígitos con pocas "
                 "etiquetas",
        "description": (
            "Exactitud en los 450 dígitos de prueba (media ± desviación "
            f"típica sobre {len(args.seeds)} semillas). Un MAE "
            "preentrenado sin etiquetas con los 1 347 dígitos de "
            "entrenamiento (receta del cuaderno del capítulo 6: "
            f"{PRETRAIN['steps']} pasos, lotes de 128, tapando el 75 %"
            f"; variantes: {', '.join(args.variants)}) frente al mismo "
            "codificador con pesos aleatorios. Sonda lineal = regresión "
            "logística sobre la media de los parches, congelada; ajuste "
            f"fino = {args.finetune_steps} pasos con la receta del "
            "capítulo 5 (lotes de 64, tasa 1e-3), solo con 5 y 20 "
            "etiquetas por clase. "
            "Se regenera con `python benchmarks/mae_digits.py`."),
        "pretrain": PRETRAIN,
        "variants": {v: variants[v] for v in args.variants},
        "finetune_steps": args.finetune_steps,
        "seeds": args.seeds,
        "final_pretrain_loss_mean": losses,
        "device": args.device_name,
        "cpu_count": os.cpu_count(),
        "torch_threads_per_job": 1,
        "workers": args.workers,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "loadavg_start": [round(v, 2) for v in load0],
        "loadavg_end": [round(v, 2) for v in os.getloadavg()],
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"metadata": metadata, "rows": rows},
                                    ensure_ascii=False, indent=1) + "\n")
    for row in rows:
        print(f"{row['preentrenamiento']:<28} "
              f"{row['etiquetas por clase']!s:>6} {row['método']:<50} "
              f"{row['exactitud media']:.3f} ± {row['desv. típica']:.3f}")
    print(f"pérdidas finales: {losses}")
    print(f"-> {args.json} ({metadata['wall_s']} s)")


if __name__ == "__main__":
    main()
