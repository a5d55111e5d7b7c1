"""Generar con caché KV frente a sin ella: mismos tokens, ¿cuánto más rápido?

Uso (desde la raíz del repositorio)::

    .venv/bin/python benchmarks/kv_cache.py
    .venv/bin/python benchmarks/kv_cache.py --store   # results/kv_cache.json

Para cada configuración de GPT (pesos aleatorios: la velocidad no depende
de lo aprendido) y cada tamaño de lote, genera desde un *prompt* de un
token hasta llenar el contexto, con ``GPT.generate(use_cache=True)`` y con
``use_cache=False``, con el mismo generador de números aleatorios.
Comprueba que los tokens son idénticos y mide, alternando los dos
caminos, la mediana de varias repeticiones: tokens generados por segundo
y el cociente (aceleración). Sin caché, el paso t recalcula los t tokens
del contexto, así que el coste total crece como T²; con caché, cada paso
procesa un token.

Libro: capítulo 4, «Generar deprisa: la caché KV».
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.attention import format_table  # noqa: E402
from course_lib.gpt import GPT, GPTConfig  # noqa: E402
from course_lib.gpt_moliere import CONFIG as GPT_MOLIERE  # noqa: E402
from course_lib.layers import count_parameters  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "kv_cache.json"
# nombre -> cambios sobre GPTConfig (vocabulario de Molière, 85)
CONFIGS = {
    "cuaderno (cpu)": dict(num_hidden_layers=3, num_attention_heads=4,
                           hidden_size=96, max_position_embeddings=64),
    # la forma de los pesos del curso (sin dropout: se genera en eval)
    "gpt-moliere": {**GPT_MOLIERE["model"], "dropout": 0.0},
}
COLUMNS = (
    ("config", "modelo", "{}"),
    ("parameters", "parámetros", "{:,}"),
    ("context", "contexto", "{}"),
    ("batch", "lote", "{}"),
    ("new_tokens", "tokens nuevos", "{}"),
    ("same_tokens", "mismos tokens", "{}"),
    ("no_cache_tokens_per_s", "sin caché (tok/s)", "{:,.0f}"),
    ("cache_tokens_per_s", "con caché (tok/s)", "{:,.0f}"),
    ("speedup", "aceleración", "{:.2f}×"),
)


@torch.no_grad()
def bench(name: str, batch: int, *, repeats: int, seed: int) -> dict:
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**CONFIGS[name])).eval()
    T = model.config.max_position_embeddings
    prompt = torch.zeros(batch, 1, dtype=torch.long)   # (B, 1)
    new = T - 1                                        # llena el contexto

    def generate(use_cache: bool) -> torch.Tensor:
        return model.generate(prompt, new, use_cache=use_cache,
                              generator=torch.Generator().manual_seed(seed))

    same = torch.equal(generate(True), generate(False))  # y calentamiento
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(repeats):                  # alternados: la misma carga
        for use_cache in (False, True):
            start = time.perf_counter()
            generate(use_cache)
            times[use_cache].append(time.perf_counter() - start)
    cached, full = (statistics.median(times[c]) for c in (True, False))
    return {"config": name, "parameters": count_parameters(model),
            "context": T, "batch": batch, "new_tokens": new,
            "same_tokens": same,
            "no_cache_tokens_per_s": batch * new / full,
            "cache_tokens_per_s": batch * new / cached,
            "speedup": full / cached}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS),
                        choices=list(CONFIGS))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store", action="store_true",
                        help=f"guarda el resultado en {RESULTS.name}")
    parser.add_argument("--json", type=Path, default=None,
                        help="escribe el resultado en esta ruta")
    args = parser.parse_args(argv)
    if args.repeats < 1 or any(b < 1 for b in args.batches):
        parser.error("--repeats y --batches deben ser enteros >= 1")
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    start = time.perf_counter()
    rows = [bench(name, batch, repeats=args.repeats, seed=args.seed)
            for name in args.configs for batch in args.batches]
    print(format_table(rows, COLUMNS))
    result = {
        "metadata": {
            "title": "Caché KV en la generación (capítulo 4)",
            "description": (
                "`benchmarks/kv_cache.py`: `GPT.generate` desde un token "
                "hasta llenar el contexto, con y sin caché KV (mismo "
                "generador aleatorio; «mismos tokens» comprueba que la "
                "salida es idéntica). Tokens generados por segundo, "
                "mediana de las repeticiones alternadas; aceleración = "
                "tiempo sin caché / tiempo con caché."),
            "benchmark": "kv_cache",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "device": "cpu",
            "threads": torch.get_num_threads(),
            "repeats": args.repeats,
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
    if not all(row["same_tokens"] for row in rows):
        sys.exit("la caché KV cambió los tokens generados")


if __name__ == "__main__":
    main()
