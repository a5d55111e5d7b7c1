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
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
OUTPUT = ROOT / "book" / "_generated" / "resultados_tabla.md"
TOC = ROOT / "_toc.yml"

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
    "preset": ("*preset*", "{}"),
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
}
# Con una sola fila y más columnas que estas, la tabla se traspone
# (medida | valor): se lee mejor que una fila muy ancha.
MAX_COLUMNS = 5
# Detalles que están en el JSON pero no aportan a la tabla del libro.
HIDDEN = {"cells_s", "kernel_hwm_mib", "error", "curve", "date", "torch"}


class ResultsError(ValueError):
    """Un archivo de resultados que no tiene el formato esperado."""


def toc_files(toc: Path = TOC) -> set[str]:
    """Las páginas de ``_toc.yml`` (sin extensión), partes y secciones."""
    data = yaml.safe_load(toc.read_text(encoding="utf-8")) or {}
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                found.add(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    if isinstance(data.get("root"), str):
        found.add(data["root"])
    walk(data)
    return found


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


def format_cell(key: str, value: Any, row: dict, pages: set[str]) -> str:
    """Texto Markdown de una celda de la tabla."""
    if key == "within_budget" and row.get("error"):
        return "error"
    if key == "notebook" and isinstance(value, str):
        return _notebook_cell(value, pages)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "sí" if value else "no"
    fmt = COLUMNS.get(key, ("", "{}"))[1]
    if fmt == "{}" and isinstance(value, float):
        fmt = "{:.3g}"
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    try:
        # Miles separados por un espacio fino, como en el resto del libro.
        text = fmt.format(value)
        if isinstance(value, (int, float)):
            text = text.replace(",", "\u202f")
        return _escape(text)
    except (TypeError, ValueError):
        return _escape(str(value))


def markdown_table(rows: Sequence[dict], pages: set[str]) -> str:
    """Tabla Markdown con las claves de ``rows`` en su orden de aparición."""
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys and k not in HIDDEN]
    if not keys:
        return "*(sin filas)*"
    if len(rows) == 1 and len(keys) > MAX_COLUMNS:
        lines = ["| medida | valor |", "|:---|---:|"]
        lines += [f"| {COLUMNS.get(k, (k, ''))[0]} | "
                  f"{format_cell(k, rows[0].get(k), rows[0], pages)} |"
                  for k in keys]
        return "\n".join(lines)
    header = [COLUMNS.get(k, (k, ""))[0] for k in keys]
    numeric = [all(isinstance(r.get(k), (int, float))
                   and not isinstance(r.get(k), bool)
                   for r in rows if r.get(k) is not None) for k in keys]
    align = ["---:" if n and k != "notebook" else ":---"
             for k, n in zip(keys, numeric, strict=True)]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(align) + "|"]
    for row in rows:
        cells = [format_cell(k, row.get(k), row, pages) for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def conditions(meta: dict) -> str:
    """Una línea con las condiciones de la medida que estén en ``meta``."""
    parts = []
    if meta.get("date"):
        parts.append(f"medido el {str(meta['date'])[:10]}")
    if meta.get("device"):
        parts.append(f"dispositivo {meta['device']}")
    if meta.get("threads"):
        parts.append(f"{meta['threads']} hilos")
    cpus = meta.get("cpu_count") or meta.get("cpus")
    if cpus:
        parts.append(f"{cpus} núcleos")
    for key, label in (("python", "Python"), ("torch", "PyTorch")):
        if meta.get(key):
            parts.append(f"{label} {meta[key]}")
    if meta.get("preset"):
        parts.append(f"*preset* «{meta['preset']}»")
    load = meta.get("loadavg_start") or meta.get("loadavg")
    while isinstance(load, list) and load and isinstance(load[0], list):
        load = load[0]  # [[al empezar], [al terminar]]: la inicial
    if isinstance(load, list) and load:
        try:
            parts.append(f"carga media {float(load[0]):.2f}")
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
                f"({total / 60:.1f} min); el más lento es `{name}`, con "
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
