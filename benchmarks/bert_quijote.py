"""Preentrena el BERT del curso con el Quijote y lo ajusta (capítulo 3).

Uso (desde la raíz del repositorio)::

    .venv/bin/python benchmarks/bert_quijote.py --preset cpu
    .venv/bin/python benchmarks/bert_quijote.py --steps 3200 --store

Preset (``course_lib.bert_training.RECIPES`` y ``BertConfig.preset``):
«cpu» es exactamente el del cuaderno (2 capas, C = 128, 800 pasos de 32
pares). La receta larga, la de los pesos del curso, está en
``course_lib/bert_quijote.py``.

La misma cadena que el cuaderno: tokenizador WordPiece sobre los bloques
de entrenamiento, preentrenamiento MLM + NSP, exactitud MLM en 1000 pares
de prueba frente a «responder siempre el token más frecuente», exactitud
NSP, y ajuste fino «¿1605 o 1615?» del BERT preentrenado y del mismo BERT
desde cero (varias semillas), frente a TF-IDF + regresión logística.
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

from course_lib import bert_data  # noqa: E402
from course_lib.bert import (  # noqa: E402
    BertConfig,
    BertForPreTraining,
    BertForSequenceClassification,
)
from course_lib.bert_data import IGNORE_INDEX, mask_tokens  # noqa: E402
from course_lib.bert_training import (  # noqa: E402
    RECIPES,
    BertRecipe,
    classification_accuracy,
    evaluate_pretraining,
    finetune,
    most_frequent_token,
    pretrain,
)
from course_lib.layers import count_parameters  # noqa: E402
from course_lib.utils import seed_everything  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "bert_quijote.json"
TITLE = "BERT con el Quijote (capítulo 3)"
DESCRIPTION = (
    "`benchmarks/bert_quijote.py`: exactitud MLM en los tokens "
    "enmascarados de 1000 pares de prueba (texto nunca visto) frente a "
    "responder siempre el token más frecuente; NSP (azar 0,5); ajuste fino "
    "«¿1605 o 1615?» en pasajes de 32 palabras de prueba, media ± desv. "
    "típica de las semillas, del BERT preentrenado y del mismo BERT desde "
    "cero, frente a TF-IDF + regresión logística. Cada fila se mide con "
    "`python benchmarks/bert_quijote.py --preset P --store`, en el "
    "dispositivo que indica.")


def passages(text1605: str, text1615: str) -> tuple[list[str], torch.Tensor]:
    """Pasajes de 32 palabras y su etiqueta (0 = 1605, 1 = 1615)."""
    p1 = bert_data.word_chunks(text1605, n_words=32)
    p2 = bert_data.word_chunks(text1615, n_words=32)
    return p1 + p2, torch.tensor([0] * len(p1) + [1] * len(p2))


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device or (
        "cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    changes = {k: v for k, v in (
        ("pretrain_steps", args.steps), ("pretrain_lr", args.lr),
        ("finetune_steps", args.finetune_steps)) if v is not None}
    recipe = BertRecipe.preset(args.preset, **changes)
    load_before = os.getloadavg()
    start = time.perf_counter()

    # Datos y tokenizador (como en el cuaderno).
    part1, part2 = bert_data.quijote_parts()
    train1, test1 = bert_data.split_blocks(part1)
    train2, test2 = bert_data.split_blocks(part2)
    sents_train = (bert_data.split_sentences(train1)
                   + bert_data.split_sentences(train2))
    sents_test = (bert_data.split_sentences(test1)
                  + bert_data.split_sentences(test2))
    # El vocabulario guardado del libro (el entrenador de «tokenizers» no
    # es determinista); con otro tamaño, se entrena uno nuevo.
    tokenizer = bert_data.quijote_wordpiece()
    if tokenizer.get_vocab_size() != recipe.vocab_size:
        tokenizer = bert_data.train_wordpiece(sents_train,
                                              vocab_size=recipe.vocab_size)
    special = bert_data.special_ids(tokenizer)
    special_list = list(special.values())
    ids_train = bert_data.tokenize(tokenizer, sents_train)
    ids_test = bert_data.tokenize(tokenizer, sents_test)
    generator = seed_everything(args.seed)
    config = BertConfig.preset(args.preset,
                               vocab_size=tokenizer.get_vocab_size(),
                               max_position_embeddings=recipe.max_len)
    torch.manual_seed(args.seed)
    model = BertForPreTraining(config).to(device)
    tokens = dict(cls_id=special["[CLS]"], sep_id=special["[SEP]"],
                  pad_id=special["[PAD]"])
    a, b, nsp_train = bert_data.make_nsp_pairs(
        ids_train, n_pairs=recipe.n_pairs, generator=generator)
    data_train = bert_data.build_inputs(a, b, max_len=recipe.max_len,
                                        **tokens)
    a, b, nsp_test = bert_data.make_nsp_pairs(
        ids_test, n_pairs=1000, generator=torch.Generator().manual_seed(1))
    data_test = bert_data.build_inputs(a, b, max_len=recipe.max_len,
                                       **tokens)
    data_train = {k: v.to(device) for k, v in data_train.items()}
    masking = dict(mask_token_id=special["[MASK]"],
                   special_token_ids=special_list)
    prep_s = time.perf_counter() - start

    # Preentrenamiento.
    t0 = time.perf_counter()
    history = pretrain(
        model, data_train, nsp_train, steps=recipe.pretrain_steps,
        batch_size=recipe.pretrain_batch, lr=recipe.pretrain_lr,
        grad_clip=recipe.grad_clip, generator=generator,
        progress=not args.quiet, desc=f"preentrenamiento ({args.preset})",
        evaluate=lambda: _report(evaluate_pretraining(
            model, data_test, nsp_test, **masking), t0),
        eval_every=args.eval_every or max(1, recipe.pretrain_steps // 8),
        **masking)
    if device.type == "cuda":
        torch.cuda.synchronize()
    pretrain_s = time.perf_counter() - t0
    final = evaluate_pretraining(model, data_test, nsp_test, **masking)
    frequent = most_frequent_token(
        {k: v.cpu() for k, v in data_train.items()}, special_list)
    _, labels = _test_labels(data_test, config.vocab_size, masking)
    baseline = (labels == frequent).float().mean().item()

    # Ajuste fino: ¿1605 o 1615?
    texts_train, y_train = passages(train1, train2)
    texts_test, y_test = passages(test1, test2)
    cls_train = bert_data.encode(tokenizer, texts_train,
                                 max_len=recipe.max_len)
    cls_test = bert_data.encode(tokenizer, texts_test,
                                max_len=recipe.max_len)
    t0 = time.perf_counter()
    scores: dict[str, list[float]] = {"pretrained": [], "scratch": []}
    for name in scores:
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            clf = BertForSequenceClassification(config, num_labels=2)
            if name == "pretrained":
                clf.bert.load_state_dict(model.bert.state_dict())
            clf.to(device)
            finetune(clf, cls_train, y_train, steps=recipe.finetune_steps,
                     batch_size=recipe.finetune_batch, lr=recipe.finetune_lr,
                     warmup_fraction=recipe.finetune_warmup,
                     generator=torch.Generator().manual_seed(seed))
            scores[name].append(classification_accuracy(clf, cls_test,
                                                        y_test))
    finetune_s = time.perf_counter() - t0
    tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    reg = LogisticRegression(C=10, max_iter=2000).fit(
        tfidf.fit_transform(texts_train), y_train)
    tfidf_acc = reg.score(tfidf.transform(texts_test), y_test)
    majority = max(y_test.float().mean().item(),
                   1 - y_test.float().mean().item())

    if device.type == "cuda":
        hardware = f"GPU {torch.cuda.get_device_name(device)}"
    else:
        hardware = f"CPU, {torch.get_num_threads()} hilos"
    tail = history.mlm[-50:]
    row = {
        "preset": args.preset if not changes else (
            args.preset + "".join(f" {k}={v}" for k, v in changes.items())),
        "device": hardware,
        "parameters": count_parameters(model),
        "pretrain_steps": recipe.pretrain_steps,
        "pretrain_batch": recipe.pretrain_batch,
        "pretrain_lr": recipe.pretrain_lr,
        "pretrain_s": pretrain_s,
        "mlm_loss_train_last50": sum(tail) / len(tail),
        "mlm_loss_test": final["mlm_loss"],
        "mlm_accuracy": final["mlm_accuracy"],
        "most_frequent_accuracy": baseline,
        "most_frequent_token": tokenizer.id_to_token(frequent),
        "nsp_accuracy": final["nsp_accuracy"],
        "finetune_seeds": args.seeds,
        "finetune_steps": recipe.finetune_steps,
        "pretrained_acc_mean": statistics.mean(scores["pretrained"]),
        "pretrained_acc_std": _std(scores["pretrained"]),
        "scratch_acc_mean": statistics.mean(scores["scratch"]),
        "scratch_acc_std": _std(scores["scratch"]),
        "tfidf_acc": tfidf_acc,
        "majority_acc": majority,
        "wall_s": time.perf_counter() - start,
        "load_1min": load_before[0],
        # Detalle (oculto en la tabla del libro): curva de evaluación y
        # exactitud de cada semilla.
        "curve": {
            "steps": [s for s, _ in history.evals],
            "mlm_accuracy": [e["mlm_accuracy"] for _, e in history.evals],
            "mlm_loss": [e["mlm_loss"] for _, e in history.evals],
            "nsp_accuracy": [e["nsp_accuracy"] for _, e in history.evals],
            "pretrained": scores["pretrained"],
            "scratch": scores["scratch"],
            "prep_s": prep_s, "finetune_s": finetune_s,
        },
    }
    metadata = {
        "title": TITLE,
        "description": DESCRIPTION,
        "benchmark": "bert_quijote",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "loadavg": [list(load_before), list(os.getloadavg())],
    }
    return {"metadata": metadata, "rows": [row]}


def _test_labels(data: dict, vocab_size: int, masking: dict
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Las etiquetas MLM de prueba con el sorteo de
    ``evaluate_pretraining`` (semilla 123): solo las posiciones elegidas."""
    inputs, labels = mask_tokens(
        data["input_ids"], vocab_size=vocab_size,
        generator=torch.Generator().manual_seed(123), **masking)
    return inputs, labels[labels != IGNORE_INDEX]


def _report(evaluation: dict[str, float], t0: float) -> dict[str, float]:
    """Imprime una evaluación periódica (útil si el proceso se corta)."""
    print(f"  [{time.perf_counter() - t0:6.0f} s] MLM: exactitud "
          f"{evaluation['mlm_accuracy']:.3f}, pérdida "
          f"{evaluation['mlm_loss']:.3f} | NSP: "
          f"{evaluation['nsp_accuracy']:.3f}", flush=True)
    return evaluation


def _std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def format_table(result: dict) -> str:
    row = result["rows"][0]
    c = row["curve"]
    lines = [
        ("preset", row["preset"]),
        ("dispositivo", row["device"]),
        ("parámetros", f"{row['parameters']:,}"),
        ("preentrenamiento", f"{row['pretrain_steps']} pasos × "
                             f"{row['pretrain_batch']}, lr "
                             f"{row['pretrain_lr']}, "
                             f"{row['pretrain_s']:.0f} s"),
        ("pérdida MLM (entren., prueba)",
         f"{row['mlm_loss_train_last50']:.3f}, {row['mlm_loss_test']:.3f}"),
        ("exactitud MLM en prueba", f"{row['mlm_accuracy']:.3f}"),
        (f"siempre «{row['most_frequent_token']}»",
         f"{row['most_frequent_accuracy']:.3f}"),
        ("exactitud NSP en prueba", f"{row['nsp_accuracy']:.3f}"),
        ("curva MLM (paso: exactitud)", ", ".join(
            f"{s}: {a:.3f}" for s, a in zip(c["steps"],
                                           c["mlm_accuracy"], strict=True))),
        (f"ajuste preentrenado ({row['finetune_seeds']} sem.)",
         f"{row['pretrained_acc_mean']:.3f} ± "
         f"{row['pretrained_acc_std']:.3f}"),
        ("ajuste desde cero", f"{row['scratch_acc_mean']:.3f} ± "
                              f"{row['scratch_acc_std']:.3f}"),
        ("TF-IDF + reg. logística", f"{row['tfidf_acc']:.3f}"),
        ("clase mayoritaria", f"{row['majority_acc']:.3f}"),
        ("tiempo total (s)", f"{row['wall_s']:.0f}"),
    ]
    width = max(len(k) for k, _ in lines)
    return "\n".join([f"# {TITLE}"]
                     + [f"{k:<{width}}  {v}" for k, v in lines])


def store(result: dict, path: Path) -> None:
    """Guarda la fila de ``result`` en ``path``: una fila por preset (la
    del mismo preset se sustituye; las demás se conservan)."""
    row = {**result["rows"][0], "date": result["metadata"]["date"],
           "torch": result["metadata"]["torch"]}
    rows = []
    if path.exists():
        rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
    rows = [r for r in rows if r["preset"] != row["preset"]] + [row]
    order = list(RECIPES)
    rows.sort(key=lambda r: (order.index(r["preset"])
                             if r["preset"] in order else len(order),
                             r["preset"]))
    meta = {"title": TITLE, "description": DESCRIPTION,
            "benchmark": "bert_quijote"}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"metadata": meta, "rows": rows}, indent=1,
                               ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=tuple(RECIPES), default="cpu")
    parser.add_argument("--steps", type=int, default=None,
                        help="cambia los pasos de preentrenamiento")
    parser.add_argument("--lr", type=float, default=None,
                        help="cambia la tasa de preentrenamiento")
    parser.add_argument("--finetune-steps", type=int, default=None)
    parser.add_argument("--seeds", type=int, default=3,
                        help="semillas del ajuste fino (>= 1)")
    parser.add_argument("--eval-every", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None)
    parser.add_argument("--quiet", action="store_true",
                        help="sin barra de progreso")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--store", action="store_true",
                        help=f"guarda la fila en {RESULTS.name}")
    args = parser.parse_args(argv)
    for name in ("steps", "finetune_steps", "eval_every"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} debe ser >= 1")
    if args.seeds < 1:
        parser.error("--seeds debe ser >= 1")
    result = run(args)
    print(format_table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1,
                                        ensure_ascii=False) + "\n",
                             encoding="utf-8")
    if args.store:
        store(result, RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
