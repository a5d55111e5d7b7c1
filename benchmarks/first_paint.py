"""Primera pintura de cada página del sitio, sin red: ¿se ve en < 1 s?

Uso (desde la raíz del repositorio, tras ``make book``)::

    .venv/bin/python benchmarks/first_paint.py
    .venv/bin/python benchmarks/first_paint.py --store   # lo guarda

Sirve ``_build/html`` (o ``--site``) en 127.0.0.1 y abre cada página del
índice en Chromium sin interfaz, con **todas las peticiones a otros
servidores cortadas**, como en un aula sin internet. De cada página toma,
con la API ``performance`` del navegador, la primera pintura con
contenido (*first contentful paint*), el fin de la carga y cuántas
peticiones externas se cortaron. Cada página se abre ``--repeats`` veces
con la caché vacía; la tabla da la mediana. Un recurso de una CDN síncrono
en ``<head>`` (como el ``require.js`` de los widgets) retrasa la pintura
hasta que su petición falla: eso es lo que mide este banco.

``--store`` escribe ``results/first_paint.json``. Sale con 1 si alguna
página pasa de ``--limit`` segundos (1 por defecto). El objetivo de tiempo
vive aquí, no en ``tests/test_site.py``, que comprueba en cambio que
ninguna página pida nada a otro servidor.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.attention import format_table  # noqa: E402
from benchmarks.collect import toc_pages  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "first_paint.json"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
COLUMNS = (
    ("page", "página", "{}"),
    ("first_paint_s", "primera pintura (s)", "{:.3f}"),
    ("load_s", "carga completa (s)", "{:.3f}"),
    ("blocked", "peticiones externas cortadas", "{}"),
    ("under_limit", "por debajo del límite", "{}"),
)
PAINT_JS = """() => {
  const p = performance.getEntriesByName('first-contentful-paint')[0];
  const n = performance.getEntriesByType('navigation')[0];
  return {paint: p ? p.startTime / 1000 : null,
          load: n ? n.loadEventEnd / 1000 : null};
}"""


def pages(book: Path = ROOT) -> list[str]:
    """Las páginas del índice (``_toc.yml``), en orden, como rutas HTML."""
    return [f"{n.removesuffix('.md').removesuffix('.ipynb')}.html"
            for n in toc_pages(book / "_toc.yml")]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def measure(site: Path, rels: list[str], repeats: int, limit: float,
            browser: object = None) -> list[dict]:
    """Mediana de la primera pintura y de la carga de cada página.

    ``browser``: un Chromium de Playwright ya abierto (el de las pruebas
    del sitio); si no se da, se abre uno."""
    handler = functools.partial(_Quiet, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        if browser is not None:
            return [_page(browser, base, rel, repeats, limit)
                    for rel in rels]
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            own = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox"])
            rows = [_page(own, base, rel, repeats, limit) for rel in rels]
            own.close()
            return rows
    finally:
        server.shutdown()


def _page(browser: object, base: str, rel: str, repeats: int,
          limit: float) -> dict:
    """Abre ``rel`` ``repeats`` veces, cada una con la caché vacía."""
    paints, loads, blocked = [], [], set()
    for _ in range(repeats):
        context = browser.new_context()

        def route(r: object) -> None:
            host = urlsplit(r.request.url).hostname
            if host in ("127.0.0.1", None):
                r.continue_()
            else:
                blocked.add(r.request.url)
                r.abort("internetdisconnected")

        context.route("**/*", route)
        page = context.new_page()
        page.goto(base + rel, wait_until="load", timeout=60_000)
        times = page.evaluate(PAINT_JS)
        paints.append(times["paint"])
        loads.append(times["load"])
        context.close()
    if None in paints:
        raise RuntimeError(f"{rel}: el navegador no dio la primera pintura")
    paint = statistics.median(paints)
    return {"page": rel, "first_paint_s": round(paint, 3),
            "load_s": round(statistics.median(loads), 3),
            "blocked": len(blocked),
            "under_limit": "sí" if paint < limit else "no"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=float, default=1.0,
                        help="segundos de primera pintura aceptables")
    parser.add_argument("--store", action="store_true",
                        help=f"guarda el resultado en {RESULTS.name}")
    parser.add_argument("--json", type=Path, default=None,
                        help="escribe el resultado en esta ruta")
    args = parser.parse_args(argv)
    if args.repeats < 1 or not args.limit > 0:
        parser.error("--repeats debe ser >= 1 y --limit > 0")
    if not (args.site / "index.html").is_file():
        parser.error(f"no hay sitio en {args.site}: ejecuta antes "
                     "`make book`")
    load_before = os.getloadavg()
    start = time.perf_counter()
    rows = measure(args.site, pages(), args.repeats, args.limit)
    print(format_table(rows, COLUMNS))
    result = {
        "metadata": {
            "title": "Primera pintura del sitio sin red",
            "description": (
                "`benchmarks/first_paint.py`: cada página del índice en "
                "Chromium sin interfaz, con las peticiones a otros "
                "servidores cortadas; «primera pintura» es el *first "
                "contentful paint* del navegador (mediana de "
                f"{args.repeats} apertura"
                f"{'s' if args.repeats != 1 else ''} con la caché vacía). "
                f"Límite: {args.limit:g} s."),
            "benchmark": "first_paint",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "repeats": args.repeats,
            "limit_s": args.limit,
            "wall_s": round(time.perf_counter() - start, 1),
            "loadavg": [list(load_before), list(os.getloadavg())],
        },
        "rows": rows,
    }
    for path in ([RESULTS] if args.store else []) + (
            [args.json] if args.json else []):
        path.write_text(json.dumps(result, indent=2, ensure_ascii=False)
                        + "\n", encoding="utf-8")
        print(f"guardado en {path}")
    slow = [r["page"] for r in rows if r["under_limit"] == "no"]
    if slow:
        sys.exit(f"primera pintura de más de {args.limit:g} s: "
                 + ", ".join(slow))


if __name__ == "__main__":
    main()
