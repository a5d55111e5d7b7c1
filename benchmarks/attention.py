"""Atención propia frente a la atención fusionada de PyTorch.

Compara ``course_lib.attention.scaled_dot_product_attention`` por el
camino «de libro» (``fused=False``: puntuaciones, softmax y suma
ponderada, paso a paso) con el camino fusionado (``fused=True``, que
llama a ``F.scaled_dot_product_attention``) para varias longitudes de
secuencia T, sin máscara y con máscara causal. Para cada caso imprime la
diferencia máxima absoluta entre ambas salidas, la mediana de varios
tiempos de cada camino y el cociente propia / fusionada.

Uso::

    python benchmarks/attention.py
    python benchmarks/attention.py --lengths 64 256 1024 --repeats 9
    python benchmarks/attention.py --json resultados.json

Libro: capítulo 1, «Atención desde cero» (el coste O(T²)).
"""

# Notación: B lote · H cabezas · T tokens · D dimensión por cabeza

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import torch

from course_lib.attention import causal_mask, scaled_dot_product_attention

DEFAULT_LENGTHS = (64, 128, 256, 512, 1024, 2048)
MIN_TIME = 0.02  # segundos mínimos de cada medida
DTYPES = {"float32": torch.float32, "float64": torch.float64}

# (clave en el JSON, cabecera de la tabla, formato)
COLUMNS = (
    ("seq_len", "T", "{}"),
    ("causal", "causal", "{}"),
    ("max_abs_diff", "dif. máx.", "{:.2e}"),
    ("textbook_ms", "propia (ms)", "{:.2f}"),
    ("fused_ms", "fusionada (ms)", "{:.2f}"),
    ("ratio", "propia/fusionada", "{:.2f}"),
)


def format_table(
    rows: Sequence[dict], columns: Sequence[tuple[str, str, str]]
) -> str:
    """Tabla de texto alineada: una cabecera, una raya y una fila por
    elemento de ``rows`` (claves y formatos tomados de ``columns``)."""
    header = [title for _, title, _ in columns]
    body = [
        [
            ("sí" if row[key] else "no")
            if isinstance(row[key], bool)
            else fmt.format(row[key])
            for key, _, fmt in columns
        ]
        for row in rows
    ]
    widths = [
        max(len(cells[i]) for cells in [header, *body])
        for i in range(len(header))
    ]
    pairs = zip(header, widths, strict=True)
    lines = ["  ".join(h.rjust(w) for h, w in pairs)]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))
        for cells in body
    ]
    return "\n".join(lines)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _measure(fn: Callable[[], object], number: int,
             device: torch.device) -> float:
    """Segundos por llamada de ``fn()``, promediando ``number`` llamadas."""
    _sync(device)
    start = time.perf_counter()
    for _ in range(number):
        fn()
    _sync(device)
    return (time.perf_counter() - start) / number


def median_seconds(
    fns: Sequence[Callable[[], object]],
    *,
    repeats: int,
    warmup: int,
    device: torch.device,
    min_time: float = MIN_TIME,
) -> list[float]:
    """Mediana de ``repeats`` medidas de cada función de ``fns``.

    Tras ``warmup`` llamadas de calentamiento, cada medida encadena las
    llamadas necesarias para durar al menos ``min_time`` segundos (así
    los casos rápidos no quedan por debajo de la resolución del reloj),
    y las funciones se miden alternadas para que una racha de carga de
    la máquina afecte a todas por igual.
    """
    for fn in fns:
        for _ in range(warmup):
            fn()
    numbers = []
    for fn in fns:
        number = 1
        while _measure(fn, number, device) * number < min_time:
            number *= 2
        numbers.append(number)
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, number, samples in zip(fns, numbers, times, strict=True):
            samples.append(_measure(fn, number, device))
    return [statistics.median(samples) for samples in times]


@torch.no_grad()
def bench_case(
    seq_len: int,
    *,
    causal: bool,
    batch: int,
    heads: int,
    head_dim: int,
    dtype: torch.dtype,
    device: torch.device,
    repeats: int,
    warmup: int,
    min_time: float,
    generator: torch.Generator,
) -> dict:
    """Mide un caso (T, con o sin máscara causal) y devuelve su fila."""
    shape = (batch, heads, seq_len, head_dim)  # (B, H, T, D)
    q, k, v = (
        torch.randn(shape, generator=generator, dtype=dtype).to(device)
        for _ in range(3)
    )
    mask = causal_mask(seq_len, device=device) if causal else None  # (T, T)

    def textbook() -> torch.Tensor:
        return scaled_dot_product_attention(q, k, v, mask)[0]

    def fused() -> torch.Tensor:
        return scaled_dot_product_attention(q, k, v, mask, fused=True)[0]

    diff = (textbook() - fused()).abs().max().item()  # (B, H, T, D) -> ()
    textbook_s, fused_s = median_seconds(
        [textbook, fused], repeats=repeats, warmup=warmup,
        device=device, min_time=min_time,
    )
    return {
        "seq_len": seq_len,
        "causal": causal,
        "max_abs_diff": diff,
        "textbook_ms": textbook_s * 1e3,
        "fused_ms": fused_s * 1e3,
        "ratio": textbook_s / fused_s,
    }


def metadata(args: argparse.Namespace, device: torch.device) -> dict:
    """Condiciones de la medida: versiones, máquina, carga y opciones."""
    return {
        "benchmark": "attention",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "loadavg": list(os.getloadavg()),
        "batch": args.batch,
        "heads": args.heads,
        "head_dim": args.head_dim,
        "dtype": args.dtype,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "min_time_s": args.min_time,
        "seed": args.seed,
    }


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"se esperaba un entero >= 1; se recibió {text!r}"
        )
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"se esperaba un entero >= 0; se recibió {text!r}"
        )
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--lengths", type=_positive, nargs="+", default=list(DEFAULT_LENGTHS),
        metavar="T", help="longitudes de secuencia (por defecto: %(default)s)",
    )
    parser.add_argument("-B", "--batch", type=_positive, default=1,
                        help="tamaño del lote B (por defecto: %(default)s)")
    parser.add_argument("-H", "--heads", type=_positive, default=4,
                        help="número de cabezas H (por defecto: %(default)s)")
    parser.add_argument("-D", "--head-dim", type=_positive, default=64,
                        help="dimensión por cabeza D (por defecto: "
                        "%(default)s)")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None,
                        help="por defecto, cuda si hay GPU y si no cpu")
    parser.add_argument("--repeats", type=_positive, default=5,
                        help="medidas por caso; se informa la mediana "
                        "(por defecto: %(default)s)")
    parser.add_argument("--warmup", type=_non_negative, default=1,
                        help="llamadas de calentamiento sin medir "
                        "(por defecto: %(default)s)")
    parser.add_argument("--min-time", type=float, default=MIN_TIME,
                        metavar="S", help="segundos mínimos de cada medida "
                        "(por defecto: %(default)s)")
    parser.add_argument("--threads", type=_positive, default=None,
                        help="hilos de torch (por defecto, los de torch: "
                        f"{torch.get_num_threads()})")
    parser.add_argument("--seed", type=_non_negative, default=0)
    parser.add_argument("--json", type=Path, default=None, metavar="RUTA",
                        help="escribe también las cifras en JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Ejecuta el banco de pruebas; devuelve el código de salida."""
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: se pidió --device cuda pero no hay GPU disponible",
              file=sys.stderr)
        return 2
    device = torch.device(
        args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    )
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    meta = metadata(args, device)
    print(
        f"Atención propia vs fusionada · B={args.batch} H={args.heads} "
        f"D={args.head_dim} · {args.dtype} · {device} · "
        f"{meta['threads']} hilos · torch {meta['torch']}\n"
        f"Mediana de {args.repeats} medidas (cada una ≥ {args.min_time} s) "
        f"tras {args.warmup} de calentamiento · carga media "
        f"{meta['loadavg'][0]:.2f}\n",
        flush=True,
    )
    generator = torch.Generator().manual_seed(args.seed)
    rows = [
        bench_case(
            seq_len, causal=causal, batch=args.batch, heads=args.heads,
            head_dim=args.head_dim, dtype=DTYPES[args.dtype], device=device,
            repeats=args.repeats, warmup=args.warmup,
            min_time=args.min_time, generator=generator,
        )
        for seq_len in args.lengths
        for causal in (False, True)
    ]
    print(format_table(rows, COLUMNS))
    print(
        "\npropia/fusionada > 1: el camino fusionado es más rápido."
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"metadata": meta, "rows": rows}
        args.json.write_text(
            json.dumps(payload, indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        print(f"Cifras en JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
