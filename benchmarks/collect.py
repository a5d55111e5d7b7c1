"""Reúne las cifras de ``benchmarks/results/*.json`` en una página del libro.

Lee cada JSON de resultados (``{"metadata": {...}, "rows": [...]}``, el
formato que escriben ``attention.py`` y ``notebooks.py``) y genera
``book/_generated/resultados_tabla.md``, que ``book/resultados.md`` incluye
con ``{include}``. Las cifras cambian con cada ``make bench``; la página no
se edita a mano, se vuelve a generar (``make book`` lo hace antes de
construir el sitio).

Un JSON de un banco de pruebas nuevo se muestra sin tocar este archivo:
sus filas salen como tabla, con ``metadata.title`` como título y
``metadata.description`` como texto, si los tiene.

Uso::

    python benchmarks/collect.py            # escribe la página
    python benchmarks/collect.py --check    # 1 si la página está desfasada
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
OUTPUT = ROOT / "book" / "_generated" / "resultados_tabla.md"
TOC = ROOT / "_toc.yml"

# Un número de cuatro cifras con separador de miles («2 048»).
FOUR_DIGITS = re.compile(r"(?<![\d\u202f,])(-?\d)\u202f(\d{3})(?![\d\u202f])")
# Una lista de decimales escrita como texto en el JSON («0.807, 0.842»).
NUMBER_LIST = re.compile(r"^-?\d+\.\d+(, *-?\d+\.\d+)*$")

# Bancos de pruebas conocidos, en el orden en que aparecen en la página:
# nombre → (título, qué mide y con qué orden se reproduce).
KNOWN = {
    "notebooks": (
        "Tiempo de ejecución de cada capítulo",
        "Cada cuaderno se ejecuta de arriba abajo en un kernel nuevo, con "
        "el *preset* «cpu» y sin red, como en la CI "
        "(`python benchmarks/notebooks.py --store`). El pico de memoria "
        "incluye al kernel y a sus procesos hijos.",
    ),
    "attention": (
        "Atención propia frente a la fusionada de PyTorch",
        "La atención «de libro» de `course_lib.attention` (puntuaciones, "
        "*softmax* y suma ponderada, paso a paso) frente a "
        "`F.scaled_dot_product_attention`, para varias longitudes $T$ "
        "(`python benchmarks/attention.py`). «dif. máx.» es la mayor "
        "diferencia absoluta entre ambas salidas; un cociente mayor que 1 "
        "indica que el camino fusionado es más rápido.",
    ),
}

# Columnas conocidas: clave → (cabecera, formato). Las demás claves se
# muestran con su nombre y un formato genérico.
COLUMNS = {
    "notebook": ("capítulo", "{}"),
    "wall_s": ("tiempo (s)", "{:.1f}"),
    "peak_rss_mib": ("pico de memoria (MiB)", "{:.0f}"),
    "within_budget": ("dentro del presupuesto", "{}"),
    "seq_len": ("$T$", "{}"),
    "causal": ("causal", "{}"),
    "max_abs_diff": ("dif. máx.", "{:.1e}"),
    "textbook_ms": ("propia (ms)", "{:.2f}"),
    "fused_ms": ("fusionada (ms)", "{:.2f}"),
    "ratio": ("propia / fusionada", "{:.2f}"),
    "preset": ("*preset*", "`{}`"),     # un nombre del código
    "device": ("dispositivo", "{}"),
    "parameters": ("parámetros", "{:,}"),
    "steps": ("pasos", "{}"),
    "tokens_seen": ("*tokens* vistos", "{:,}"),
    "train_s": ("entrenamiento (s)", "{:.1f}"),
    "tokens_per_s": ("*tokens*/s", "{:,.0f}"),
    "reference_tokens_per_s": ("*tokens*/s del bucle de referencia",
                               "{:,.0f}"),
    "speed_vs_reference": ("velocidad / referencia", "{:.2f}"),
    "hf_tokens_per_s": ("*tokens*/s de GPT2LMHeadModel", "{:,.0f}"),
    "loop_speed_vs_hf": ("velocidad / GPT-2 de HF", "{:.2f}"),
    "train_loss": ("pérdida de entrenamiento", "{:.4f}"),
    "val_loss": ("pérdida de validación", "{:.4f}"),
    "labels": ("etiquetas", "{:,}"),
    "pretrained_mean": ("BERT del curso", "{:.3f}"),
    "pretrained_std": ("± (del curso)", "{:.3f}"),
    "scratch_mean": ("BERT desde cero", "{:.3f}"),
    "scratch_std": ("± (desde cero)", "{:.3f}"),
    "tfidf_mean": ("TF-IDF", "{:.3f}"),
    "tfidf_std": ("± (TF-IDF)", "{:.3f}"),
    "pretrained_probe_mean": ("sonda, BERT del curso", "{:.3f}"),
    "pretrained_probe_std": ("± (sonda, del curso)", "{:.3f}"),
    "scratch_probe_mean": ("sonda, BERT aleatorio", "{:.3f}"),
    "scratch_probe_std": ("± (sonda, aleatorio)", "{:.3f}"),
    "config": ("modelo", "{}"),
    "context": ("contexto", "{}"),
    "batch": ("lote", "{}"),
    "new_tokens": ("*tokens* nuevos", "{}"),
    "same_tokens": ("mismos *tokens*", "{}"),
    "no_cache_tokens_per_s": ("sin caché (*tokens*/s)", "{:,.0f}"),
    "cache_tokens_per_s": ("con caché (*tokens*/s)", "{:,.0f}"),
    "speedup": ("aceleración", "{:.2f}×"),
    # first_paint.py
    "page": ("página", "`{}`"),
    "first_paint_s": ("primera pintura (s)", "{:.2f}"),
    "load_s": ("carga completa (s)", "{:.2f}"),
    "blocked": ("peticiones externas cortadas", "{}"),
    "under_limit": ("por debajo del límite", "{}"),
    # notebooks.py
    "cpu_s": ("tiempo de CPU (s)", "{:.1f}"),
    "slowest_cells": ("celda más lenta", "{}"),
    # bert_quijote.py
    "pretrain_steps": ("pasos de preentrenamiento", "{:,}"),
    "pretrain_batch": ("lote de preentrenamiento", "{}"),
    "pretrain_lr": ("tasa de aprendizaje", "{:g}"),
    "pretrain_s": ("preentrenamiento (s)", "{:.0f}"),
    "mlm_loss_train_last50": ("pérdida MLM, entrenamiento (últimos 50 "
                              "pasos)", "{:.2f}"),
    "mlm_loss_test": ("pérdida MLM, prueba", "{:.2f}"),
    "mlm_accuracy": ("exactitud MLM", "{:.3f}"),
    "most_frequent_accuracy": ("exactitud respondiendo siempre el token "
                               "más frecuente", "{:.3f}"),
    "most_frequent_token": ("token más frecuente", "«{}»"),
    "nsp_accuracy": ("exactitud NSP (azar 0,5)", "{:.3f}"),
    "finetune_seeds": ("semillas del ajuste fino", "{}"),
    "finetune_steps": ("pasos de ajuste fino", "{}"),
    "pretrained_acc": ("ajuste fino, BERT preentrenado", "{:.3f}"),
    "scratch_acc": ("ajuste fino, BERT desde cero", "{:.3f}"),
    "tfidf_acc": ("TF-IDF + regresión logística", "{:.3f}"),
    "majority_acc": ("clase mayoritaria", "{:.3f}"),
    "load_1min": ("carga media", "{:.2f}"),
    # bert_finetune.py
    "tfidf": ("TF-IDF", "{:.3f}"),
    "scratch": ("BERT desde cero", "{:.3f}"),
    "pretrained": ("BERT del curso", "{:.3f}"),
    "scratch_probe": ("sonda, BERT aleatorio", "{:.3f}"),
    "pretrained_probe": ("sonda, BERT del curso", "{:.3f}"),
    # clip_shapes.py
    "forma": ("forma", "{:.3f}"),
    "color": ("color", "{:.3f}"),
    "posición": ("posición", "{:.3f}"),
    "retenidas": ("combinaciones retenidas", "{:.3f}"),
    "ligado": ("ligado", "{:.3f}"),
    "presencia": ("presencia", "{:.3f}"),
    "loss_last50": ("pérdida (últimos 50 pasos)", "{:.3f}"),
    # fusion.py
    "model": ("modelo", "{}"),
    "seed": ("semilla", "{}"),
    "accuracy": ("exactitud", "{:.3f}"),
    "final_loss": ("pérdida final", "{:.3f}"),
    "params": ("parámetros", "{:,}"),
    "acc_existencia": ("exactitud: existencia", "{:.3f}"),
    "acc_color": ("exactitud: color", "{:.3f}"),
    "acc_posición": ("exactitud: posición", "{:.3f}"),
    "acc_relación": ("exactitud: relación", "{:.3f}"),
    "attention_spread": ("dispersión de la atención", "{:.2f}"),
    "collapsed": ("colapsado", "{}"),
    # mae_digits.py, mae_shapes.py, vit_mae.py (ya en castellano)
    "exactitud media": ("exactitud", "{:.3f}"),
}
# Pares media / desviación típica que se muestran en una sola columna,
# «media ± desv.»: sufijos de las claves (o las claves enteras).
MEAN_STD_SUFFIXES = (("_mean", "_std"), ("_media", "_desv"))
MEAN_STD_KEYS = (("exactitud media", "desv. típica"),)
# Con varias medias por fila, el mínimo de las semillas alarga la tabla
# sin cambiar la lectura: se queda en el JSON.
HIDDEN_SUFFIXES = ("_min",)
# Con pocas filas (MAX_ROWS_TO_TRANSPOSE) y más columnas que estas, la
# tabla se traspone (una fila por medida, una columna por fila del JSON):
# se lee mejor que dos o tres filas muy anchas.
MAX_COLUMNS = 5
MAX_ROWS_TO_TRANSPOSE = 3
# Detalles que están en el JSON pero no aportan a la tabla del libro.
HIDDEN = {"cells_s", "kernel_hwm_mib", "error", "curve", "date", "torch"}


class ResultsError(ValueError):
    """Un archivo de resultados que no tiene el formato esperado."""


def toc_pages(toc: Path = TOC) -> list[str]:
    """Las páginas de ``_toc.yml`` (sin extensión) en el orden del índice:
    la raíz, partes, capítulos y secciones."""
    data = yaml.safe_load(toc.read_text(encoding="utf-8")) or {}
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                found.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    if isinstance(data.get("root"), str):
        found.append(data["root"])
    walk(data)
    return list(dict.fromkeys(found))


def toc_files(toc: Path = TOC) -> set[str]:
    """Las páginas de ``_toc.yml`` (sin extensión), partes y secciones."""
    return set(toc_pages(toc))


def load_results(results_dir: Path) -> list[tuple[str, dict]]:
    """(nombre, contenido) de cada JSON, los conocidos primero."""
    loaded = []
    for path in sorted(results_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ResultsError(f"{path} no es un JSON válido: {exc}") from None
        if not isinstance(data, dict) or not isinstance(
                data.get("rows"), list):
            raise ResultsError(
                f"{path} no tiene el formato esperado: un objeto con "
                "«metadata» (objeto) y «rows» (lista de objetos)")
        meta = data.get("metadata") or {}
        loaded.append((str(meta.get("benchmark") or path.stem), data))
    order = list(KNOWN)
    loaded.sort(key=lambda item: (
        order.index(item[0]) if item[0] in order else len(order), item[0]))
    return loaded


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def notebook_title(path: Path) -> str | None:
    """El primer título «# …» del cuaderno, o None si no lo hay."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        for line in source.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return None


def _notebook_cell(value: str, pages: set[str]) -> str:
    """El cuaderno como enlace a su capítulo si está en el índice."""
    name = Path(value).name
    stem = Path(value).with_suffix("").as_posix()
    if stem not in pages:
        return f"`{_escape(name)}`"
    title = notebook_title(ROOT / value) or name
    # Corchetes escapados: el título es texto del enlace.
    title = _escape(title).replace("[", "\\[").replace("]", "\\]")
    return f"[{title}](../{stem}.ipynb)"


def spanish_number(text: str) -> str:
    """Coma decimal y miles con espacio fino, como en el resto del libro:
    ``"63,821.5"`` → ``"63 821,5"``; los números de cuatro cifras van sin
    separar (``"2,048"`` → ``"2048"``)."""
    text = text.replace(",", "\u202f").replace(".", ",")
    return FOUR_DIGITS.sub(r"\1\2", text)


def _slowest_cell(value: Any) -> str | None:
    """«n.º 52 (11,7 s)»: la primera celda de la lista de notebooks.py."""
    if not (isinstance(value, list) and value
            and isinstance(value[0], dict)):
        return None
    first = value[0]
    if not isinstance(first.get("seconds"), (int, float)):
        return None
    seconds = spanish_number(f"{first['seconds']:.1f}")
    return f"n.º {first.get('index', '?')} ({seconds} s)"


def _plain(value: Any) -> str:
    """Una lista o un diccionario, en texto corto (nunca el JSON crudo)."""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, list):
        if all(not isinstance(v, (list, dict)) for v in value):
            return ", ".join(_plain(v) for v in value)
        return f"({len(value)} elementos)"
    if isinstance(value, float):
        return spanish_number(f"{value:.3g}")
    return str(value)


def format_value(key: str, value: Any) -> str:
    """El texto de un valor según el formato de su columna (sin escapar)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "sí" if value else "no"
    if key == "slowest_cells":
        text = _slowest_cell(value)
        if text is not None:
            return text
    if isinstance(value, (list, dict)):
        return _plain(value)
    if isinstance(value, str) and NUMBER_LIST.match(value):
        # «0.807, 0.842» ya escrito en el JSON: coma decimal y punto y coma.
        return "; ".join(spanish_number(v.strip())
                         for v in value.split(","))
    fmt = _column_format(key)
    if fmt == "{}" and isinstance(value, float):
        fmt = "{:.3g}"
    try:
        text = fmt.format(value)
    except (TypeError, ValueError):
        return str(value)
    if isinstance(value, (int, float)):
        text = spanish_number(text)
    return text


def format_cell(key: str, value: Any, row: dict, pages: set[str]) -> str:
    """Texto Markdown de una celda de la tabla."""
    if key == "within_budget" and row.get("error"):
        return "error"
    if key == "notebook" and isinstance(value, str):
        return _notebook_cell(value, pages)
    return _escape(format_value(key, value))


def _base_key(key: str) -> str:
    """La clave sin el sufijo de media (``forma_media`` → ``forma``)."""
    for mean, _ in MEAN_STD_SUFFIXES:
        if key.endswith(mean):
            return key[: -len(mean)]
    return key


def _column_format(key: str) -> str:
    if key in COLUMNS:
        return COLUMNS[key][1]
    return COLUMNS.get(_base_key(key), ("", "{}"))[1]


def column_label(key: str) -> str:
    """La cabecera en castellano de una clave del JSON.

    Las claves sin cabecera conocida se muestran sin guiones bajos.
    """
    if key in COLUMNS:
        return COLUMNS[key][0]
    base = _base_key(key)
    if base in COLUMNS:
        return COLUMNS[base][0]
    return base.replace("_", " ")


def _std_key(key: str, keys: Sequence[str]) -> str | None:
    """La clave de la desviación típica que acompaña a la media ``key``."""
    for mean, std in MEAN_STD_KEYS:
        if key == mean and std in keys:
            return std
    for mean, std in MEAN_STD_SUFFIXES:
        if key.endswith(mean):
            partner = key[: -len(mean)] + std
            if partner in keys:
                return partner
    return None


def table_columns(rows: Sequence[dict]) -> list[tuple[str, str | None]]:
    """(clave, clave de su desviación típica o None), en el orden de
    aparición: cada media con su desviación va en una sola columna."""
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys and k not in HIDDEN]
    merged = {std for k in keys if (std := _std_key(k, keys))}
    columns = []
    for key in keys:
        if key in merged:
            continue
        std = _std_key(key, keys)
        if std is None and merged and key.endswith(HIDDEN_SUFFIXES):
            continue
        columns.append((key, std))
    return columns


def _cell(column: tuple[str, str | None], row: dict,
          pages: set[str]) -> str:
    key, std = column
    text = format_cell(key, row.get(key), row, pages)
    if std is not None and row.get(std) is not None:
        text += " ± " + format_cell(key, row.get(std), row, pages)
    return text


def markdown_table(rows: Sequence[dict], pages: set[str]) -> str:
    """Tabla Markdown con las claves de ``rows`` en su orden de aparición.

    Cada media va con su desviación típica («0,978 ± 0,014»); con pocas
    filas y muchas columnas, la tabla se traspone.
    """
    columns = table_columns(rows)
    if not columns:
        return "*(sin filas)*"
    labels = [column_label(key) for key, _ in columns]
    if len(rows) == 1 and len(columns) > MAX_COLUMNS:
        lines = ["| medida | valor |", "|:---|---:|"]
        lines += [f"| {label} | {_cell(c, rows[0], pages)} |"
                  for label, c in zip(labels, columns, strict=True)]
        return "\n".join(lines)
    if len(rows) <= MAX_ROWS_TO_TRANSPOSE and len(columns) > MAX_COLUMNS:
        # Una columna por fila del JSON, con su primer valor de título.
        names = [_cell(columns[0], row, pages) for row in rows]
        lines = ["| " + " | ".join([labels[0], *names]) + " |",
                 "|:---|" + "---:|" * len(rows)]
        for label, c in zip(labels[1:], columns[1:], strict=True):
            cells = [_cell(c, row, pages) for row in rows]
            lines.append("| " + " | ".join([label, *cells]) + " |")
        return "\n".join(lines)
    numeric = [all(isinstance(r.get(k), (int, float))
                   and not isinstance(r.get(k), bool)
                   for r in rows if r.get(k) is not None)
               for k, _ in columns]
    align = ["---:" if n and k != "notebook" else ":---"
             for (k, _), n in zip(columns, numeric, strict=True)]
    lines = ["| " + " | ".join(labels) + " |",
             "|" + "|".join(align) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_cell(c, row, pages)
                                       for c in columns) + " |")
    return "\n".join(lines)


def conditions(meta: dict) -> str:
    """Una línea con las condiciones de la medida que estén en ``meta``."""
    parts = []
    if meta.get("date"):
        parts.append(f"medido el {str(meta['date'])[:10]}")
    if meta.get("device"):
        parts.append(f"dispositivo {meta['device']}")
    if meta.get("threads"):
        threads = meta["threads"]
        parts.append(f"{threads} hilo" + ("" if threads == 1 else "s"))
    cpus = meta.get("cpu_count") or meta.get("cpus")
    if cpus:
        parts.append(f"{cpus} núcleos")
    for key, label in (("python", "Python"), ("torch", "PyTorch")):
        if meta.get(key):
            parts.append(f"{label} {meta[key]}")
    if meta.get("preset"):
        parts.append(f"*preset* «{meta['preset']}»")
    load = (meta.get("loadavg_start") or meta.get("loadavg")
            or meta.get("load_average"))
    while isinstance(load, list) and load and isinstance(load[0], list):
        load = load[0]  # [[al empezar], [al terminar]]: la inicial
    if isinstance(load, list) and load:
        try:
            parts.append("carga media "
                         + spanish_number(f"{float(load[0]):.2f}"))
        except (TypeError, ValueError):
            pass
    return "; ".join(parts)


def notebooks_summary(rows: Sequence[dict], meta: dict) -> str:
    """Total, capítulo más lento y cuántos caben en el presupuesto."""
    timed = [r for r in rows if isinstance(r.get("wall_s"), (int, float))]
    if not timed:
        return ""
    total = sum(r["wall_s"] for r in timed)
    slowest = max(timed, key=lambda r: r["wall_s"])
    inside = sum(bool(r.get("within_budget")) for r in rows)
    budget = meta.get("budget_s")
    name = Path(str(slowest.get("notebook"))).name
    if len(timed) == 1:
        text = f"Un cuaderno medido: `{name}`, {total:.0f} s."
    else:
        text = (f"En total, {len(timed)} cuadernos en {total:.0f} s "
                f"({spanish_number(f'{total / 60:.1f}')} min); el más "
                f"lento es `{name}`, con "
                f"{slowest['wall_s']:.0f} s.")
    if budget:
        text += (f" Dentro del presupuesto de {float(budget):g} s por "
                 f"cuaderno: {inside} de {len(rows)}.")
    return text


def render(results: Sequence[tuple[str, dict]], pages: set[str]) -> str:
    """El Markdown completo de la página generada."""
    out = ["<!-- Generado por benchmarks/collect.py a partir de "
           "benchmarks/results/*.json. No editar a mano. -->", ""]
    if not results:
        out += ["```{note}",
                "Todavía no hay resultados guardados en "
                "`benchmarks/results/`. Ejecuta `make bench` y vuelve a "
                "construir el libro.",
                "```", ""]
        return "\n".join(out)
    for name, data in results:
        meta = data.get("metadata") or {}
        title, description = KNOWN.get(name, (
            meta.get("title") or f"Banco de pruebas «{name}»",
            meta.get("description") or ""))
        out += [f"## {title}", ""]
        columns = table_columns(data["rows"])
        # La descripción nombra las columnas por su clave («collapsed»):
        # que nombre la cabecera que se ve.
        for key, _ in columns:
            description = description.replace(f"«{key}»",
                                              f"«{column_label(key)}»")
        if description:
            out += [description, ""]
        line = conditions(meta)
        if line:
            out += [f"Condiciones: {line}.", ""]
        if name == "notebooks":
            summary = notebooks_summary(data["rows"], meta)
            if summary:
                out += [summary, ""]
        out += [markdown_table(data["rows"], pages), ""]
        if any(std for _, std in columns):
            out += ["Las cifras «a ± b» son la media y la desviación típica "
                    "de las semillas.", ""]
        errors = [r for r in data["rows"] if r.get("error")]
        if errors:
            out += ["Errores:", ""]
            out += [f"- `{Path(str(r.get('notebook', '?'))).name}`: "
                    f"{_escape(str(r['error']))}" for r in errors]
            out.append("")
    return "\n".join(out)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR,
                        metavar="CARPETA",
                        help="carpeta de los JSON (por defecto: "
                        "benchmarks/results)")
    parser.add_argument("--output", type=Path, default=OUTPUT,
                        metavar="RUTA", help="página generada (por defecto:"
                        " book/_generated/resultados_tabla.md)")
    parser.add_argument("--toc", type=Path, default=TOC, metavar="RUTA",
                        help="índice del libro, para enlazar los capítulos")
    parser.add_argument("--check", action="store_true",
                        help="no escribe nada; termina con 1 si la página "
                        "no coincide con los resultados")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Genera la página; devuelve el código de salida."""
    args = parse_args(argv)
    try:
        text = render(load_results(args.results_dir), toc_files(args.toc))
    except ResultsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    current = (args.output.read_text(encoding="utf-8")
               if args.output.is_file() else None)
    if args.check:
        if current != text:
            print(f"{args.output} está desfasada: ejecuta "
                  "`python benchmarks/collect.py`", file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.output.with_name(args.output.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(args.output)
    print(f"{args.output}: {len(text.splitlines())} líneas")
    return 0


if __name__ == "__main__":
    sys.exit(main())
