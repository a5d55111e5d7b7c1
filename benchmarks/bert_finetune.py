"""Ajuste fino con pocas etiquetas: ¿cuánto aporta el BERT del curso?

Uso (desde la raíz del repositorio)::

    .venv/bin/python benchmarks/bert_finetune.py --task parte --store
    .venv/bin/python benchmarks/bert_finetune.py --task alterado --swaps 4

Dos tareas con pasajes de 20 palabras del Quijote: «parte» (¿de 1605 o
de 1615?) y «alterado» (``course_lib.bert_tasks``: ¿está como lo escribió
Cervantes o con ``--swaps`` pares de palabras intercambiados?). Para cada
número de etiquetas (32, 64, …, todas) y cada semilla se sortea un
subconjunto equilibrado de los pasajes de entrenamiento y se comparan,
en todos los pasajes de los bloques de prueba (1839, nunca vistos), con
las mismas etiquetas:

- TF-IDF (palabras y pares de palabras) + regresión logística;
- el BERT de «bert-quijote» con pesos aleatorios (desde cero) y el BERT
  de los pesos del curso, cada uno de dos maneras:
  - **ajuste fino**: se entrenan todos sus parámetros con la misma receta
    (pasos, lote, tasa, calendario): solo cambia el punto de partida;
  - **sonda lineal**: el codificador congelado da un vector por pasaje
    (``bert_training.mean_pooled_features``) y encima se ajusta una
    regresión logística (``training.linear_probe``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib import bert_data, checkpoints  # noqa: E402
from course_lib.bert import BertForSequenceClassification  # noqa: E402
from course_lib.bert_tasks import balanced_subset, swap_task  # noqa: E402
from course_lib.bert_training import (  # noqa: E402
    classification_accuracy,
    finetune,
    mean_pooled_features,
)
from course_lib.training import linear_probe  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TASKS = {
    "alterado": "¿pasaje original o con palabras intercambiadas?",
    "parte": "¿pasaje de la primera parte (1605) o de la segunda (1615)?",
}
DESCRIPTION = (
    "`benchmarks/bert_finetune.py --task {task}`: {question} Exactitud en "
    "los {n_test} pasajes de 20 palabras de los bloques de prueba, media ± "
    "desv. típica de 3 semillas, con N etiquetas de entrenamiento: TF-IDF + "
    "regresión logística y el BERT del curso desde cero (pesos "
    "aleatorios) y con los pesos «bert-quijote», cada uno con ajuste "
    "fino (la misma receta) y con una sonda lineal sobre la media de su "
    "última capa (codificador congelado).")
METHODS = ("tfidf", "scratch", "pretrained", "scratch_probe",
           "pretrained_probe")
SIZES = (32, 64, 128, 256, 512, 2048, None)   # None: todas


def task_data(task: str, n_words: int = 20, n_test: int | None = None,
              n_swaps: int = 1
              ) -> tuple[list[str], torch.Tensor, list[str], torch.Tensor]:
    """Pasajes de entrenamiento y de prueba y sus etiquetas: «alterado»
    (original o con palabras intercambiadas) o «parte» (1605 o 1615).
    Todos los de prueba, o los ``n_test`` primeros."""
    train, test, y_train, y_test = [], [], [], []
    for label, part in enumerate(bert_data.quijote_parts()):
        part_train, part_test = bert_data.split_blocks(part)
        chunks = bert_data.word_chunks(part_train, n_words=n_words)
        train += chunks
        y_train += [label] * len(chunks)
        chunks = bert_data.word_chunks(part_test, n_words=n_words)
        test += chunks
        y_test += [label] * len(chunks)
    if task == "parte":
        order = torch.randperm(len(test),
                               generator=torch.Generator().manual_seed(1))
        test = [test[i] for i in order.tolist()]
        return (train, torch.tensor(y_train), test[:n_test],
                torch.tensor(y_test)[order][:n_test])
    x_train, y_train = swap_task(train, n_swaps=n_swaps, seed=0)
    x_test, y_test = swap_task(test, n_swaps=n_swaps, seed=1)
    return x_train, y_train, x_test[:n_test], y_test[:n_test]


def tfidf_accuracy(x_train: list[str], y_train: torch.Tensor,
                   x_test: list[str], y_test: torch.Tensor) -> float:
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    features = vectorizer.fit_transform(x_train)
    model = LogisticRegression(C=10, max_iter=2000).fit(features, y_train)
    return float(model.score(vectorizer.transform(x_test), y_test))


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    start = time.perf_counter()
    ck = checkpoints.load("bert-quijote")
    tokenizer, config = ck.tokenizer, ck.model.config
    x_train, y_train, x_test, y_test = task_data(args.task,
                                                 n_swaps=args.swaps)
    encode = lambda texts: bert_data.encode(tokenizer, texts,  # noqa: E731
                                            max_len=args.max_len)
    test_inputs = encode(x_test)
    pretrained_test = mean_pooled_features(ck.model, test_inputs)
    pretrained_train = mean_pooled_features(ck.model, encode(x_train))
    rows = []
    for n in args.sizes:
        scores: dict[str, list[float]] = {m: [] for m in METHODS}
        for seed in range(args.seeds):
            idx = balanced_subset(y_train, n, seed)
            texts = [x_train[i] for i in idx.tolist()]
            labels = y_train[idx]
            scores["tfidf"].append(
                tfidf_accuracy(texts, labels, x_test, y_test))
            scores["pretrained_probe"].append(linear_probe(
                pretrained_train[idx], labels, pretrained_test, y_test))
            inputs = encode(texts)
            for name in ("scratch", "pretrained"):
                torch.manual_seed(seed)
                model = BertForSequenceClassification(config, num_labels=2)
                if name == "pretrained":
                    model.bert.load_state_dict(ck.model.bert.state_dict())
                else:   # la sonda sobre el mismo codificador aleatorio
                    scores["scratch_probe"].append(linear_probe(
                        mean_pooled_features(model, inputs), labels,
                        mean_pooled_features(model, test_inputs), y_test))
                finetune(model, inputs, labels, steps=args.steps,
                         batch_size=args.batch_size, lr=args.lr,
                         warmup_fraction=0.1,
                         generator=torch.Generator().manual_seed(seed))
                scores[name].append(classification_accuracy(
                    model, test_inputs, y_test))
        row = {"labels": len(y_train) if n is None else n}
        for name, values in scores.items():
            row[f"{name}_mean"] = statistics.mean(values)
            row[f"{name}_std"] = (statistics.stdev(values)
                                   if len(values) > 1 else 0.0)
        row["curve"] = scores
        rows.append(row)
        print(f"N = {row['labels']:>6}: " + "  ".join(
            f"{k} {row[k + '_mean']:.3f} ± {row[k + '_std']:.3f}"
            for k in scores), flush=True)
    metadata = {
        "title": f"Ajuste fino de BERT con pocas etiquetas: {args.task} "
                 "(capítulo 3)",
        "description": DESCRIPTION.format(task=args.task,
                                          question=TASKS[args.task],
                                          n_test=len(y_test)),
        "test_passages": len(y_test),
        "benchmark": "bert_finetune",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "checkpoint_sha256": ck.card["sha256"],
        "task": args.task,
        "swaps": args.swaps,
        "recipe": {"steps": args.steps, "batch_size": args.batch_size,
                   "lr": args.lr, "warmup_fraction": 0.1,
                   "max_len": args.max_len, "seeds": args.seeds},
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "wall_s": round(time.perf_counter() - start, 1),
        "loadavg": [list(load_before), list(os.getloadavg())],
    }
    return {"metadata": metadata, "rows": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--max-len", type=int, default=48)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sizes", type=lambda t: [
        None if x == "todas" else int(x) for x in t.split(",")],
        default=list(SIZES), help="p. ej. 32,128,512,todas")
    parser.add_argument("--task", choices=tuple(TASKS),
                        default="alterado")
    parser.add_argument("--swaps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--store", action="store_true",
                        help="guarda el resultado en "
                        "results/bert_finetune_<tarea>.json")
    args = parser.parse_args(argv)
    result = run(args)
    if args.store:
        path = RESULTS / f"bert_finetune_{args.task}.json"
        path.write_text(json.dumps(result, indent=2, ensure_ascii=False)
                        + "\n", encoding="utf-8")
        print(f"guardado en {path}")


if __name__ == "__main__":
    main()
