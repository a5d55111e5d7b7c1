"""¿Qué necesita el CLIP pequeño para ver la forma y la posición? Estudio
del cap. 7.

Entrena el CLIP del capítulo 7 (``course_lib.clip``) con las figuras de
``course_lib.shapes`` en varias variantes y semillas, y mide la
clasificación *zero-shot* de la forma (5 clases, azar 0,2), del color
(6 clases), de la posición (9 clases, azar 0,11) y de las combinaciones
forma-color que nunca vio (30 clases posibles, 5 retenidas), y el ligado
de atributos en escenas de dos figuras (``shapes.make_binding_data``):
«ligado», la fracción de escenas en que la frase correcta gana a la de
los colores cambiados de figura; «presencia», la fracción en que gana a
la que nombra un color que no está (azar 0,5 en las dos).

- «libro»: la receta del cuaderno (48 px, parches de 16 = una celda de
  la rejilla 3 × 3 por parche, píxeles normalizados por canal, resumen
  por la media de los parches, posiciones iniciales de desviación 0,5, un
  ViT de anchura 128, la mitad de las imágenes en gris con una frase que
  no nombra el color y decaimiento de pesos 0,1);
- «ViT de 64», «25 % en gris», «decaimiento 0,05»: la del libro sin una
  de las tres piezas con las que compone en cada semilla del estudio;
  «sin las tres piezas»: la receta que el libro usaba antes;
- «sin grises», «posiciones de 0,02», «token de clase»: la del libro sin
  una de esas piezas;
- «receta del capítulo 5»: token de clase, posiciones de 0,02, sin
  grises, ViT de 64 y decaimiento 0,05;
- «sin normalizar»: los píxeles en [0, 1] tal cual;
- «32 px, parches de 8»: la figura cae partida entre 2-4 parches.

Cada semilla cambia los pesos iniciales y el orden de los lotes (los
datos son los mismos). No cabe en los 3 minutos del cuaderno, que
muestra la tabla guardada::

    python benchmarks/clip_shapes.py --store          # 3 semillas, CPU

Cada trabajo usa un hilo de PyTorch; ``--workers`` procesos en paralelo.
Escribe ``benchmarks/results/clip_shapes.json`` (``--json`` para otra
ruta): ``metadata`` + ``rows`` con valores escalares.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "clip_shapes.json"
# La receta del cuaderno (preset «cpu»).
RECIPE = dict(n_train=8000, steps=1000, batch_size=128, lr=2e-3,
              greyscale=0.5, weight_decay=0.1)
# Cambios sobre la receta del libro: «data» va a make_caption_data,
# «recipe» a train_clip, «vision» al ViTConfig y lo demás al CLIPConfig.
_VIT_64 = dict(hidden_size=64, intermediate_size=128)
VARIANTS: dict[str, dict] = {
    "libro": {},
    "ViT de 64": dict(vision=_VIT_64),
    "25 % en gris": dict(data=dict(greyscale=0.25)),
    "decaimiento 0,05": dict(recipe=dict(weight_decay=0.05)),
    "sin las tres piezas": dict(vision=_VIT_64, data=dict(greyscale=0.25),
                                recipe=dict(weight_decay=0.05)),
    "sin grises": dict(data=dict(greyscale=0.0)),
    "posiciones de 0,02": dict(vision_position_std=0.02),
    "token de clase": dict(vision=dict(pooling="cls")),
    "receta del capítulo 5": dict(data=dict(greyscale=0.0),
                                  vision_position_std=0.02,
                                  vision=dict(pooling="cls", **_VIT_64),
                                  recipe=dict(weight_decay=0.05)),
    "sin normalizar": dict(image_mean=(0.0, 0.0, 0.0),
                           image_std=(1.0, 1.0, 1.0)),
    "32 px, parches de 8": dict(vision=dict(image_size=32, patch_size=8)),
}
TEMPLATES = ["{}", "hay {}"]
METRICS = ("forma", "color", "posición", "retenidas", "ligado",
           "presencia")


def run_one(variant: str, seed: int, recipe: dict) -> dict:
    import dataclasses

    import torch

    torch.set_num_threads(1)
    from course_lib import shapes
    from course_lib.clip import (
        CLIP,
        CLIPConfig,
        encode_images,
        encode_texts,
        train_clip,
    )
    from course_lib.clip import zero_shot_classify as classify

    changes = dict(VARIANTS[variant])
    recipe = {**recipe, **changes.pop("recipe", {})}
    data = {"greyscale": recipe["greyscale"], **changes.pop("data", {})}
    config = CLIPConfig()
    vision = dataclasses.replace(config.vision, **changes.pop("vision", {}))
    config = dataclasses.replace(config, vision=vision, **changes)
    S = vision.image_size
    train = shapes.make_caption_data(recipe["n_train"], seed=1, image_size=S,
                                     **data)
    test = shapes.make_caption_data(1000, seed=2, image_size=S)
    held = shapes.make_caption_data(500, seed=3, held_out="only",
                                    image_size=S)
    pairs = shapes.make_binding_data(500, seed=4, image_size=S)
    torch.manual_seed(seed)
    model = CLIP(config)
    start = time.perf_counter()
    history = train_clip(model, train.images, train.captions,
                         steps=recipe["steps"],
                         batch_size=recipe["batch_size"], lr=recipe["lr"],
                         weight_decay=recipe["weight_decay"],
                         generator=torch.Generator().manual_seed(seed),
                         progress=False)
    train_s = time.perf_counter() - start
    shape_names = [shapes.noun_phrase(s) for s in shapes.SHAPE_NAMES]
    colour_names = [shapes.noun_phrase(None, c) for c in shapes.COLOUR_NAMES]
    position_names = [f"una figura {p}" for p in shapes.POSITIONS]
    combos = [(s, c) for s in shapes.SHAPE_NAMES for c in shapes.COLOUR_NAMES]
    combo_names = [shapes.noun_phrase(s, c) for s, c in combos]
    target = torch.tensor([combos.index((shapes.SHAPE_NAMES[s],
                                         shapes.COLOUR_NAMES[c]))
                           for s, c in zip(held.shape.tolist(),
                                           held.colour.tolist(),
                                           strict=True)])
    with torch.no_grad():
        def acc(images, names, labels):
            pred = classify(model, images, names, TEMPLATES).argmax(-1)
            return (pred == labels).float().mean().item()

        def wins(other: list[str]) -> float:
            img = encode_images(model, pairs.images)              # (n, E)
            right = (img * encode_texts(model, pairs.captions)).sum(-1)
            wrong = (img * encode_texts(model, other)).sum(-1)
            return (right > wrong).float().mean().item()

        row = {"variant": variant, "seed": seed,
               "forma": acc(test.images, shape_names, test.shape),
               "color": acc(test.images, colour_names, test.colour),
               "posición": acc(test.images, position_names, test.position),
               "retenidas": acc(held.images, combo_names, target),
               "ligado": wins(pairs.swapped),
               "presencia": wins(pairs.absent)}
    row["loss_last50"] = statistics.fmean(history.loss[-50:])
    row["train_s"] = train_s
    return row


def summarise(runs: list[dict]) -> list[dict]:
    rows = []
    for variant in VARIANTS:
        mine = [r for r in runs if r["variant"] == variant]
        if not mine:
            continue
        row = {"variante": variant, "semillas": len(mine)}
        for m in (*METRICS, "loss_last50"):
            values = [r[m] for r in mine]
            row[f"{m}_media"] = statistics.fmean(values)
            row[f"{m}_desv"] = (statistics.stdev(values)
                                if len(values) > 1 else 0.0)
            row[f"{m}_min"] = min(values)
        row["train_s_media"] = statistics.fmean(r["train_s"] for r in mine)
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    head = (f"{'variante':<22}{'sem.':>5}"
            + "".join(f"{m:>15}" for m in METRICS)
            + f"{'pérdida':>9}{'s/sem.':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = "".join(f"{r[m + '_media']:>8.3f} ± {r[m + '_desv']:.2f}"
                        for m in METRICS)
        lines.append(f"{r['variante']:<22}{r['semillas']:>5}{cells}"
                     f"{r['loss_last50_media']:>9.2f}"
                     f"{r['train_s_media']:>8.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS),
                        choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=RECIPE["steps"])
    parser.add_argument("--n-train", type=int, default=RECIPE["n_train"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--store", action="store_true",
                        help=f"guarda en {RESULTS.relative_to(Path.cwd())}"
                        if RESULTS.is_relative_to(Path.cwd()) else None)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.n_train < 128 or args.workers < 1:
        parser.error("se necesitan --steps >= 1, --n-train >= 128 y "
                     "--workers >= 1")
    recipe = {**RECIPE, "steps": args.steps, "n_train": args.n_train}
    jobs = [(v, s, recipe) for v in args.variants for s in args.seeds]
    start = time.perf_counter()
    if args.workers == 1:
        runs = [run_one(*job) for job in jobs]
    else:
        with ProcessPoolExecutor(args.workers) as pool:
            runs = list(pool.map(run_one, *zip(*jobs, strict=True)))
    rows = summarise(runs)
    print(table(rows))
    import torch

    metadata = {
        "title": "CLIP con figuras: qué hace falta para ver la forma y la "
                 "posición (capítulo 7)" + (
                     "" if args.seeds == [0, 1, 2] else
                     f", semillas {', '.join(map(str, args.seeds))}"),
        "description": (
            "`benchmarks/clip_shapes.py`: exactitud *zero-shot* (media ± "
            "desv. típica de las semillas) de la forma (azar 0,2), del "
            "color (azar 0,17), de la posición (azar 0,11) y de las "
            "combinaciones forma-color retenidas, y ligado y presencia en "
            "500 escenas de dos figuras (azar 0,5), "
            f"tras {recipe['steps']} pasos de lotes de "
            f"{recipe['batch_size']} con {recipe['n_train']} pares; en CPU, "
            "un hilo por semilla. Regenerar: `python "
            "benchmarks/clip_shapes.py --store`."),
        "benchmark": "clip_shapes", "recipe": recipe,
        "device": f"CPU ({platform.processor() or platform.machine()}), "
                  "1 hilo por semilla",
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "wall_s": time.perf_counter() - start,
        "load_1min": os.getloadavg()[0],
        "runs": runs,
    }
    result = {"metadata": metadata, "rows": rows}
    for path in [args.json] + ([RESULTS] if args.store else []):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result, indent=1, ensure_ascii=False)
                            + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
