"""Estudios con varias semillas del capítulo 8 (fusión multimodal).

Dos estudios sobre las preguntas sí/no de ``course_lib.shapes``
(«¿hay un círculo azul?», «¿la estrella es roja?», «¿el cuadrado está
arriba?», «¿el cuadrado está a la izquierda de la cruz?»), con la receta
entera de los pesos del curso ``fusion-figuras``
(``course_lib.fusion_shapes``: preguntas nuevas en cada tramo, currículo
existencia → posición → todas, dos MLP por parche y supervisión de la
atención) y el mismo presupuesto para todos:

- ``compare``: solo texto, solo imagen, fusión tardía, temprana, atención
  cruzada y Perceiver. Todos llevan los MLP por parche; la supervisión de
  la atención solo se puede aplicar a la atención cruzada (los demás no
  tienen pesos texto→imagen que supervisar), que entra dos veces: sin
  supervisar, como las demás, y supervisada, como en los pesos del curso.
- ``ablation``: la receta sin cada una de sus piezas nuevas (supervisión
  de la atención, MLP por parche, recorte del gradiente) y variantes de
  la capa de atención cruzada (LayerNorm de entrada, residual,
  proyecciones compartidas, una cabeza, FFN, compuerta tanh, *dropout*),
  con detección de colapso: una ejecución «colapsa» si responde siempre
  lo mismo o si su atención texto→imagen es casi uniforme
  (``course_lib.fusion.is_collapsed``), diga lo que diga su exactitud.

Imágenes de 48 px con parches de 16 (un parche por celda de la rejilla
3 × 3), píxeles normalizados por canal y posiciones 2-D: los valores por
defecto de ``FusionConfig``. Presupuesto por defecto: el de la receta,
1000 + 2000 + 8000 pasos (``--stage-steps``), lote 64, tasa 1e-3: unos
9 min de CPU por ejecución con un hilo.

Uso (desde la raíz del repositorio)::

    python benchmarks/fusion.py compare --json \
        benchmarks/results/fusion_compare.json
    python benchmarks/fusion.py ablation --json \
        benchmarks/results/fusion_ablation.json

Cada ejecución usa un hilo; para usar dos núcleos, mide por partes
(``--models``, ``--seeds``) en dos procesos y únelas después, sin
entrenar nada, con ``--merge parte1.json parte2.json --json todo.json``.
Dos variantes de la ablación («completa» y «sin supervisión de la
atención») son las mismas ejecuciones que dos modelos de la comparación:
``ablation --from-compare fusion_compare.json --json parte0.json`` las
toma de ella como una parte más.

El JSON sigue el formato común de ``benchmarks/results``:
``{"metadata": {...}, "rows": [...]}``, una fila plana por ejecución; el
resumen por modelo va en ``metadata["summary"]`` y la curva de cada
ejecución (pérdida y exactitud por tipo cada tramo) en ``"runs"``.

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

from course_lib import fusion_shapes, shapes
from course_lib.fusion import (
    CrossAttentionSpec,
    attention_spread,
    is_collapsed,
)
from course_lib.fusion_qa import (
    FUSION_MODELS,
    CrossAttentionFusion,
    predict_qa,
)

# Pérdida de entrenamiento (media de los 50 últimos pasos) a la que se
# considera que una ejecución sigue en la meseta del azar, ln 2 ≈ 0,693:
# ``is_collapsed`` no lo ve si la atención no es uniforme pero su salida
# apenas cuenta (p. ej., la compuerta tanh aún cerrada).
PLATEAU_LOSS = 0.98 * math.log(2)

# Cada variante de la ablación: cambios sobre la receta de los pesos del
# curso (``fusion_shapes.CONFIG``). Las de la capa cambian su
# ``CrossAttentionSpec`` y conservan lo demás.
_LAYER_VARIANTS = {
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
_RECIPE_FUSION = fusion_shapes.CONFIG["fusion"]
ABLATION: dict[str, dict] = {
    "completa": {},
    "sin supervisión de la atención": {"attention_supervision": 0.0},
    "sin MLP por parche": {"fusion": {**_RECIPE_FUSION,
                                      "patch_mlp_layers": 0}},
    "sin recorte del gradiente": {"grad_clip": None},
    **{name: {"fusion": {**_RECIPE_FUSION, "cross": spec}}
       for name, spec in _LAYER_VARIANTS.items()},
}


# El currículo del banco: el de los pesos del curso (los pasos de cada
# etapa se pueden cambiar con --stage-steps).
STAGES = [{"kinds": stage["kinds"]}
          for stage in fusion_shapes.CONFIG["stages"]]


# En la comparación, la atención cruzada entra dos veces: sin supervisar,
# con la misma receta que las demás estrategias (que no tienen pesos
# texto→imagen que supervisar), y con la supervisión de la receta.
UNSUPERVISED = "atención cruzada sin supervisar"


def study_configs(study: str, base: dict) -> dict[str, dict]:
    """La configuración de cada modelo o variante del estudio, en orden."""
    if study == "ablation":
        return {n: {**base, **changes} for n, changes in ABLATION.items()}
    configs = {}
    for name, cls in FUSION_MODELS.items():
        supervised = cls is CrossAttentionFusion
        if supervised:
            configs[UNSUPERVISED] = {**base, "model": name,
                                     "attention_supervision": 0.0}
        configs[name] = {**base, "model": name, "attention_supervision": (
            base["attention_supervision"] if supervised else 0.0)}
    return configs


def stages_for(steps: list[int]) -> list[dict]:
    """El currículo del banco con ``steps`` pasos por etapa."""
    stages = STAGES
    if len(steps) != len(stages):
        raise ValueError(f"--stage-steps necesita {len(stages)} valores "
                         f"(uno por etapa); se recibieron {len(steps)}")
    return [{**stage, "steps": n} for stage, n in zip(stages, steps,
                                                      strict=True)]


def run_one(name: str, config: dict, seed: int, *, n_test: int
            ) -> tuple[dict, list[dict]]:
    """Entrena un modelo con la receta de ``fusion_shapes`` (preguntas
    nuevas en cada tramo, currículo) y una semilla; devuelve su fila."""
    config = {**config, "seed": seed}
    torch.manual_seed(seed)
    model = fusion_shapes.build(config)
    start = time.process_time()
    result = fusion_shapes.train_here(model, config, log=lambda _: None)
    cpu = time.process_time() - start
    data, ids, lengths = fusion_shapes.test_set(n_test)
    acc = fusion_shapes.accuracy_by_kind(model, data, ids, lengths)
    pred = predict_qa(model, data.images, ids, lengths)
    curve = result["curve"]
    row = {"model": name, "seed": seed, "accuracy": acc["total"],
           "final_loss": curve[-1]["train_loss"],
           "params": sum(p.numel() for p in model.parameters()),
           "cpu_s": round(cpu, 1)}
    for kind in shapes.QUESTION_KINDS:
        row[f"acc_{kind}"] = acc[kind]
    weights = None
    row["attention_spread"] = None          # solo en la atención cruzada
    if isinstance(model, CrossAttentionFusion):
        with torch.no_grad():
            _, ws = model(data.images[:256], ids[:256], lengths[:256],
                          return_weights=True)
        weights = ws[0]
        row["attention_spread"] = attention_spread(weights)
    row["collapsed"] = is_collapsed(weights, pred)
    return row, curve


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
    kinds = shapes.QUESTION_KINDS
    head = ("| modelo | exactitud (media ± d.t.) | " + " | ".join(kinds)
            + " | colapsos | en la meseta |\n|"
            + "---|" * (len(kinds) + 4))
    lines = [head]
    for s in summary:
        per_kind = " | ".join(f"{s[f'mean_{k}']:.3f}" for k in kinds)
        lines.append(
            f"| {s['model']} | {s['mean']:.3f} ± {s['std']:.3f} | "
            f"{per_kind} | {s['collapsed']}/{s['n_seeds']} | "
            f"{s['plateau']}/{s['n_seeds']} |")
    return "\n".join(lines)


def _write(path: Path, meta: dict, rows: list[dict], runs: list[dict],
           load_average: list[float] | None = None) -> None:
    """Escribe el estudio; ``load_average``, la carga durante las
    ejecuciones si no es la de ahora (al unir partes)."""
    meta = {**meta, "date": datetime.now(timezone.utc).isoformat(
        timespec="seconds"),
        "load_average": load_average or list(os.getloadavg()),
        "total_cpu_s": round(sum(r["cpu_s"] for r in rows), 1),
        "plateau_loss": PLATEAU_LOSS, "summary": summarise(rows)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"metadata": meta, "rows": rows,
                                "runs": runs},
                               ensure_ascii=False, indent=1) + "\n",
                    encoding="utf-8")


TITLES = {
    "compare": ("Fusión multimodal: qué estrategia responde mejor",
                "Preguntas sí/no sobre figuras (course_lib.shapes, 48 px, "
                "parches de 16, píxeles normalizados, posiciones 2-D), con "
                "la receta de fusion_shapes (preguntas nuevas, currículo, "
                "recorte del gradiente, MLP por parche). La supervisión de "
                "la atención solo cabe en la atención cruzada, la única "
                "con pesos texto→imagen: entra sin ella, como las demás, "
                "y con ella, como los pesos del curso. "
                "Mismo presupuesto para todos los modelos; una fila por "
                "(modelo, semilla). "
                "«collapsed»: responde siempre lo mismo o atención "
                "texto→imagen casi uniforme (is_collapsed)."),
    "ablation": ("Ablación de la capa de atención cruzada",
                 "CrossAttentionFusion con una decisión de diseño cambiada "
                 "cada vez (sin supervisión de la atención, sin MLP por "
                 "parche, o la capa de atención cruzada cambiada), misma "
                 "receta y presupuesto que la comparación; "
                 "una fila por (variante, semilla), con detección de "
                 "colapso (is_collapsed)."),
}


# Lo que debe coincidir para que dos partes de un estudio sean el mismo
# estudio (la receta, la prueba y la máquina).
_SAME_STUDY = ("study", "stages", "batch_size", "lr", "save_every",
               "questions_per_chunk", "n_test", "patch_mlp_layers",
               "attention_supervision", "threads", "torch", "machine")


def merge(paths: list[Path], out: Path) -> list[dict]:
    """Une en ``out`` las partes de un estudio medidas por separado (p.
    ej., dos procesos en paralelo, cada uno con unos modelos o semillas):
    no entrena nada. Las filas se ordenan por semilla y modelo, como si
    se hubieran medido de una vez; devuelve el resumen."""
    parts = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    metas = [part["metadata"] for part in parts]
    for key in _SAME_STUDY:
        values = {json.dumps(m.get(key), sort_keys=True) for m in metas}
        if len(values) > 1:
            raise ValueError(f"no se pueden unir: «{key}» cambia entre "
                             f"las partes ({sorted(values)})")
    rows = [r for part in parts for r in part["rows"]]
    runs = [r for part in parts for r in part["runs"]]
    done = [(r["model"], r["seed"]) for r in rows]
    if len(set(done)) < len(done):
        raise ValueError("no se pueden unir: hay ejecuciones (modelo, "
                         "semilla) repetidas entre las partes")
    order = {name: i for i, name in enumerate(study_configs(
        metas[0]["study"], fusion_shapes.CONFIG))}

    def key(r: dict) -> tuple[int, int]:
        return r["seed"], order[r["model"]]
    rows.sort(key=key)
    runs.sort(key=key)
    title, description = TITLES[metas[0]["study"]]   # los textos de hoy
    meta = {**metas[0], "title": title, "description": description,
            "models": sorted({r["model"] for r in rows},
                                         key=order.__getitem__),
            "seeds": sorted({r["seed"] for r in rows}),
            "parts": [{"file": p.name, "date": m["date"],
                       "load_average": m["load_average"],
                       **({"reused_from": m["reused_from"]}
                          if "reused_from" in m else {})}
                      for p, m in zip(paths, metas, strict=True)]}
    meta.pop("reused_from", None)         # va en la parte que lo tomó
    # la carga mientras se medían (la mayor de las partes), no la de ahora
    load = [max(m["load_average"][i] for m in metas) for i in range(3)]
    _write(out, meta, rows, runs, load_average=load)
    return summarise(rows)


# Dos variantes de la ablación son, con la misma semilla, la misma
# ejecución que dos modelos de la comparación (la misma configuración,
# los mismos datos): se toman de ella en vez de entrenarlas otra vez.
SHARED_WITH_COMPARE = {"atención cruzada": "completa",
                       UNSUPERVISED: "sin supervisión de la atención"}


def ablation_part_from_compare(compare: Path, out: Path) -> list[dict]:
    """Escribe en ``out`` una parte de la ablación con las ejecuciones de
    ``compare`` que son las mismas que dos de sus variantes
    (``SHARED_WITH_COMPARE``), para unirla con ``merge``; no entrena nada.
    Comprueba que las configuraciones siguen siendo idénticas."""
    data = json.loads(compare.read_text(encoding="utf-8"))
    meta = data["metadata"]
    if meta.get("study") != "compare":
        raise ValueError(f"{compare} no es la comparación (study="
                         f"{meta.get('study')!r}); se esperaba «compare»")
    base = {**fusion_shapes.CONFIG, "stages": meta["stages"]}
    ours, theirs = (study_configs("ablation", base),
                    study_configs("compare", base))
    for name, variant in SHARED_WITH_COMPARE.items():
        if theirs[name] != ours[variant]:
            raise ValueError(f"«{name}» de la comparación ya no es la "
                             f"variante «{variant}» de la ablación")
    rows = [{**r, "model": SHARED_WITH_COMPARE[r["model"]]}
            for r in data["rows"] if r["model"] in SHARED_WITH_COMPARE]
    runs = [{**r, "model": SHARED_WITH_COMPARE[r["model"]]}
            for r in data["runs"] if r["model"] in SHARED_WITH_COMPARE]
    title, description = TITLES["ablation"]
    part = {**meta, "study": "ablation", "title": title,
            "description": description,
            "models": list(SHARED_WITH_COMPARE.values()),
            "reused_from": {"file": compare.name, "date": meta["date"]}}
    _write(out, part, rows, runs, load_average=meta["load_average"])
    return summarise(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=("compare", "ablation"))
    parser.add_argument("--merge", type=Path, nargs="+", default=None,
                        metavar="PARTE",
                        help="une estas partes del estudio en --json sin "
                             "entrenar nada")
    parser.add_argument("--from-compare", type=Path, default=None,
                        metavar="COMPARACIÓN",
                        help="(ablación) escribe en --json, sin entrenar, "
                             "la parte que ya mide la comparación")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--stage-steps", type=int, nargs="+",
                        default=[st["steps"] for st in
                                 fusion_shapes.CONFIG["stages"]],
                        help="pasos de cada etapa del currículo")
    parser.add_argument("--save-every", type=int, default=500,
                        help="pasos por tramo (preguntas nuevas)")
    parser.add_argument("--questions-per-chunk", type=int, default=8000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--models", nargs="*", default=None,
                        help="subconjunto de modelos o variantes")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1,
                        help="hilos de PyTorch (1: tiempos comparables)")
    args = parser.parse_args(argv)
    if args.from_compare:
        if args.study != "ablation" or args.json is None:
            parser.error("--from-compare va con «ablation» y --json")
        print(format_summary(ablation_part_from_compare(args.from_compare,
                                                        args.json)))
        return 0
    if args.merge:
        if args.json is None:
            parser.error("--merge necesita --json (dónde escribir)")
        print(format_summary(merge(args.merge, args.json)))
        return 0
    torch.set_num_threads(args.threads)

    base = {**fusion_shapes.CONFIG,
            "stages": stages_for(args.stage_steps),
            "save_every": args.save_every,
            "questions_per_chunk": args.questions_per_chunk,
            "quick_questions": min(400, args.n_test)}
    configs = study_configs(args.study, base)
    if args.models:
        unknown = set(args.models) - set(configs)
        if unknown:
            parser.error(f"desconocidos: {sorted(unknown)}")
        configs = {n: configs[n] for n in args.models}  # en ese orden
    title, description = TITLES[args.study]
    meta = {"title": title, "description": description,
            "study": args.study, "stages": base["stages"],
            "steps": sum(st["steps"] for st in base["stages"]),
            "batch_size": base["batch_size"], "lr": base["lr"],
            "save_every": base["save_every"],
            "patch_mlp_layers": base["fusion"].get("patch_mlp_layers", 0),
            "attention_supervision": base["attention_supervision"],
            "questions_per_chunk": base["questions_per_chunk"],
            "n_test": args.n_test, "question_kinds": shapes.QUESTION_KINDS,
            "models": list(configs),
            "seeds": args.seeds, "torch": torch.__version__,
            "python": sys.version.split()[0],
            "machine": platform.platform(),
            "threads": torch.get_num_threads()}
    rows, runs = [], []
    for seed in args.seeds:        # primero una semilla de cada modelo
        for name, config in configs.items():
            row, curve = run_one(name, config, seed, n_test=args.n_test)
            rows.append(row)
            runs.append({"model": name, "seed": seed, "curve": curve})
            print(f"{name:34} semilla {seed}: exactitud "
                  f"{row['accuracy']:.3f}  colapso={row['collapsed']}  "
                  f"({row['cpu_s']} s de CPU)", flush=True)
            if args.json:   # se guarda tras cada ejecución (parcial)
                _write(args.json, meta, rows, runs)
    print(format_summary(summarise(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
