"""Estudios con varias semillas de los capítulos 5 (ViT) y 6 (MAE).

No caben en los 3 minutos de un cuaderno; los cuadernos muestran las
tablas guardadas en ``benchmarks/results/``. Para regenerarlas
(presupuesto en pasos, 5 semillas)::

    python benchmarks/vit_mae.py ablation    # ¿qué importó de la receta?
    python benchmarks/vit_mae.py data        # eficiencia de datos
    python benchmarks/vit_mae.py variants    # otras variantes de la receta
    python benchmarks/vit_mae.py all --workers 2
    python benchmarks/vit_mae.py all --device cuda --workers 12

Cada ejecución usa un hilo de PyTorch y se reparten en ``--workers``
procesos. En la CPU son ~2 min por entrenamiento de ViT (unos 100 en
total: hora y media con 2 núcleos); en una GPU, minutos. La versión
guardada se midió en una GPU (``setup.device``); con la misma semilla,
CPU y GPU no dan el mismo número (el orden de las sumas cambia), pero sí
la misma estadística. Escribe ``benchmarks/results/vit_digits.json``
(resumen) y ``vit_digits_runs.jsonl`` (cada ejecución; permite reanudar).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results"
RUNS = RESULTS / "vit_digits_runs.jsonl"
SEEDS = (0, 1, 2, 3, 4)
STEPS = 1500

# La receta del capítulo 5 y las variantes que quitan una pieza cada vez.
RECIPE = dict(lr=2e-3, weight_decay=0.05, schedule=True, max_shift=1,
              label_smoothing=0.1, batch_size=128)
ABLATIONS = {
    "receta completa": ({}, {}),
    "ingenua (Adam 1e-3, nada más)": ({}, dict(
        schedule=False, lr=1e-3, weight_decay=0.0, max_shift=0,
        label_smoothing=0.0)),
    "sin aumento (desplazamientos)": ({}, dict(max_shift=0)),
    "parches 4×4 (N = 4)": (dict(patch_size=4), {}),
}
FRACTIONS = (0.1, 0.25, 1.0)
# Otras variantes probadas al fijar la receta: (config, receta, pasos).
VARIANTS = {
    "tasa 1e-3": ({}, dict(lr=1e-3), STEPS),
    "tasa 3e-3": ({}, dict(lr=3e-3), STEPS),
    "weight decay 0,1": ({}, dict(weight_decay=0.1), STEPS),
    "sin suavizado de etiquetas": ({}, dict(label_smoothing=0.0), STEPS),
    "dropout 0,1": (dict(dropout=0.1), {}, STEPS),
    "desplazamientos ±2": ({}, dict(max_shift=2), STEPS),
    "lotes de 64": ({}, dict(batch_size=64), STEPS),
    "media de parches (sin CLS)": (dict(pooling="mean"), {}, STEPS),
    "2000 pasos": ({}, {}, 2000),
}


def _train(model_name: str, cfg_changes: dict, recipe: dict, seed: int,
           fraction: float = 1.0, steps: int = STEPS,
           device: str = "cpu") -> dict:
    torch.set_num_threads(1)
    from course_lib.images import (
        SmallCNN,
        load_digits_split,
        train_image_classifier,
    )
    from course_lib.training import accuracy
    from course_lib.vit import ViT, ViTConfig

    data = load_digits_split()
    g = torch.Generator().manual_seed(seed)
    x, y = data.x_train, data.y_train
    if fraction < 1.0:
        from sklearn.model_selection import train_test_split

        keep, _ = train_test_split(np.arange(len(y)), train_size=fraction,
                                   random_state=seed, stratify=y.numpy())
        keep = torch.from_numpy(np.sort(keep))
        x, y = x[keep], y[keep]
    start = time.process_time()
    if model_name == "regresión logística":
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(max_iter=2000, C=1.0)
        clf.fit(x.flatten(1).numpy(), y.numpy())
        acc = float(clf.score(data.x_test.flatten(1).numpy(),
                              data.y_test.numpy()))
    else:
        torch.manual_seed(seed)
        model = (SmallCNN() if model_name == "CNN pequeña"
                 else ViT(dataclasses.replace(ViTConfig(), **cfg_changes)))
        model = model.to(device)
        # Los índices y desplazamientos se sortean en la CPU (``g``): la
        # secuencia de lotes es la misma en cualquier dispositivo.
        train_image_classifier(model, x.to(device), y.to(device),
                               steps=steps, generator=g, progress=False,
                               **{**RECIPE, **recipe})
        acc = accuracy(model, data.x_test.to(device),
                       data.y_test.to(device))
    name = (torch.cuda.get_device_name() if device.startswith("cuda")
            else "cpu")
    return dict(model=model_name, seed=seed, fraction=fraction,
                n_train=len(y), accuracy=acc, device=device,
                device_name=name,
                cpu_seconds=round(time.process_time() - start, 1))


def _jobs(which: str) -> list[tuple]:
    jobs = []
    if which in ("ablation", "all"):
        for name, (cfg, recipe) in ABLATIONS.items():
            jobs += [("ablation", name, ("ViT", cfg, recipe, s))
                     for s in SEEDS]
    if which in ("data", "all"):
        for frac in FRACTIONS:
            for model in ("ViT", "CNN pequeña", "regresión logística"):
                jobs += [("data", model, (model, {}, {}, s, frac)
                          if frac < 1.0 else (model, {}, {}, s))
                         for s in SEEDS]
    if which in ("variants", "all"):
        for name, (cfg, recipe, steps) in VARIANTS.items():
            jobs += [("variants", name, ("ViT", cfg, recipe, s, 1.0, steps))
                     for s in SEEDS]
    return jobs


def _device_kwargs(args: tuple, cli: argparse.Namespace) -> dict:
    # La regresión logística es de scikit-learn: siempre en la CPU.
    if args[0] == "regresión logística" or cli.device == "cpu":
        return {}
    return dict(device=cli.device)


def _device_names(rows: object) -> dict[str, str]:
    """Qué dispositivo entrenó las filas resumidas (modelo -> nombre)."""
    names = {}
    for row in rows:
        dev = row.get("device", "cpu")
        names[row["model"]] = row.get("device_name", dev)
    return names


def _summary(rows: list[dict]) -> dict[str, str]:
    accs = np.array([r["accuracy"] for r in rows])
    std = float(accs.std(ddof=1)) if len(accs) > 1 else float("nan")
    return dict(mean=float(accs.mean()), std=std,
                n=len(accs), values=[round(a, 4) for a in accs])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study",
                        choices=("ablation", "data", "variants", "all"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cpu",
                        help="cpu o cuda (solo cambia dónde se entrena)")
    parser.add_argument("--summary-only", action="store_true",
                        help="no entrena: resume lo que ya hay en RUNS")
    args = parser.parse_args(argv)
    jobs = _jobs(args.study)
    out = RESULTS / "vit_digits.json"
    stored = json.loads(out.read_text()) if out.exists() else {}
    # Cada ejecución terminada se añade a RUNS (una línea JSON): si el
    # script se interrumpe, al relanzarlo no repite lo ya medido.
    RESULTS.mkdir(exist_ok=True)
    done = {}
    if RUNS.exists():
        for line in RUNS.read_text(encoding="utf-8").splitlines():
            run = json.loads(line)
            done[run["tag"]] = run["row"]
    results: dict[str, list[dict]] = {}
    with ProcessPoolExecutor(args.workers) as pool:
        # Trabajos idénticos (la receta completa con todos los datos está
        # en los dos estudios) se entrenan una sola vez.
        submitted: dict[str, object] = {}
        for _, _, a in jobs:
            tag = json.dumps(a, sort_keys=True, ensure_ascii=False)
            if (tag not in done and tag not in submitted
                    and not args.summary_only):
                submitted[tag] = pool.submit(_train, *a,
                                             **_device_kwargs(a, args))
        for tag, fut in submitted.items():
            row = fut.result()
            done[tag] = row
            with RUNS.open("a", encoding="utf-8") as f:
                f.write(json.dumps(dict(tag=tag, row=row),
                                   ensure_ascii=False) + "\n")
            print(f"{row['model']:20s} {tag[:60]:60s} {row['accuracy']:.4f}"
                  f" ({row['cpu_seconds']} s CPU)", flush=True)
    for study, key, a in jobs:
        row = done.get(json.dumps(a, sort_keys=True, ensure_ascii=False))
        if row is not None:   # con --summary-only puede faltar alguna
            results.setdefault(f"{study}|{key}", []).append(row)
    if any(k.startswith("ablation|") for k in results):
        stored["ablation"] = {k.split("|", 1)[1]: _summary(v)
                              for k, v in results.items()
                              if k.startswith("ablation|")}
    if any(k.startswith("variants|") for k in results):
        stored["variants"] = {k.split("|", 1)[1]: _summary(v)
                              for k, v in results.items()
                              if k.startswith("variants|")}
    if any(k.startswith("data|") for k in results):
        curve: dict[str, dict[str, dict]] = {}
        for k, rows in results.items():
            if not k.startswith("data|"):
                continue
            for frac in FRACTIONS:
                sel = [r for r in rows if r["fraction"] == frac]
                if not sel:
                    continue
                curve.setdefault(k.split("|", 1)[1], {})[str(frac)] = dict(
                    _summary(sel), n_train=sel[0]["n_train"])
        stored["data_efficiency"] = curve
    stored["setup"] = dict(steps=STEPS, seeds=list(SEEDS), recipe=RECIPE,
                           planned_ablations=list(ABLATIONS),
                           planned_fractions=list(FRACTIONS),
                           torch=torch.__version__,
                           device=_device_names(
                               r for rows in results.values()
                               for r in rows))
    stored.update(results_table(stored))
    out.write_text(json.dumps(stored, indent=1, ensure_ascii=False) + "\n")
    print(f"escrito {out}")


def results_table(stored: dict) -> dict:
    """«metadata» y «rows» planas para la página de resultados del libro
    (``benchmarks/collect.py``); el resto del JSON lo lee el capítulo 5."""
    rows = []
    studies = (("ablación", stored.get("ablation", {})),
               ("una sola variación", stored.get("variants", {})))
    for study, table in studies:
        for name, summary in table.items():
            rows.append({"estudio": study, "variante": name,
                         "ejemplos": 1347,
                         "exactitud media": round(summary["mean"], 4),
                         "desv. típica": round(summary["std"], 4),
                         "semillas": summary["n"]})
    for model, curve in stored.get("data_efficiency", {}).items():
        for summary in curve.values():
            rows.append({"estudio": "eficiencia de datos",
                         "variante": model,
                         "ejemplos": summary["n_train"],
                         "exactitud media": round(summary["mean"], 4),
                         "desv. típica": round(summary["std"], 4),
                         "semillas": summary["n"]})
    devices = stored.get("setup", {}).get("device", {})
    where = ", ".join(f"{k}: {v}" for k, v in devices.items())
    meta = {
        "benchmark": "vit_digits",
        "title": "ViT con los dígitos de scikit-learn (capítulo 5)",
        "description": (
            "Exactitud en la partición de prueba fija (450 dígitos), media "
            "y desviación típica sobre semillas, "
            f"{stored.get('setup', {}).get('steps', '?')} pasos. "
            f"Dispositivos: {where}. Se reproduce con "
            "`python benchmarks/vit_mae.py all [--device cuda]`."),
    }
    return {"metadata": meta, "rows": rows}


if __name__ == "__main__":
    main()
