"""Enlaces al glosario desde el primer uso de cada término en cada capítulo.

El glosario (``book/glosario.md``) define los términos con la directiva
``{glossary}``. Este módulo busca, cuaderno por cuaderno, la **primera**
aparición de cada término en la prosa y la convierte en un enlace
``{term}`...```; las siguientes se dejan como están. Cada capítulo se enlaza
por separado: el lector puede empezar por cualquiera.

No toca el código, las fórmulas, los enlaces, los roles ya escritos ni los
títulos. Reconoce el plural (``consultas`` enlaza a *consulta*) y la
cursiva de los términos ingleses (``*tokens*`` pasa a ser
``*{term}`tokens <token>`*``).

Uso, desde la raíz del repositorio: ``python -m tools.glossary
notebooks/*.ipynb`` (o ``make glosario``); con ``--check`` no escribe nada
y sale con 1 si algún cuaderno está desfasado. Necesita nbformat, que
instala ``requirements.txt``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "book" / "glosario.md"

# Palabras del glosario demasiado comunes en castellano para enlazarlas a
# ciegas («el valor de la pérdida», «la idea clave»).
SKIP = frozenset({"valor", "clave"})

# Trozos de una línea que nunca se tocan: roles, código, fórmulas, enlaces,
# HTML y direcciones web.
_PROTECTED = re.compile(
    r"\{[\w:.-]+\}`[^`]*`"      # {role}`...`
    r"|``[^`]*``|`[^`]*`"        # código en línea
    r"|\$\$.*?\$\$|\$[^$]+\$"    # fórmulas
    r"|!?\[[^\]]*\]\([^)]*\)"    # enlaces e imágenes
    r"|<[^>]+>"                  # HTML
    r"|https?://\S+"
)


def load_terms(path: Path = GLOSSARY) -> dict[str, str]:
    """Términos del glosario: forma en el texto → destino del enlace.

    La forma es el término sin asteriscos (``embedding``); el destino, lo
    que Sphinx usa como clave (el texto en minúsculas).
    """
    text = path.read_text(encoding="utf-8")
    match = re.search(r"```\{glossary\}\n(.*?)\n```", text, re.S)
    if match is None:
        raise ValueError(f"{path} no contiene un bloque ```{{glossary}}")
    terms = {}
    for line in match.group(1).splitlines():
        if line and not line[0].isspace():
            plain = line.replace("*", "").strip()
            if plain.lower() not in SKIP:
                terms[plain] = plain.lower()
    return terms


def _term_pattern(term: str) -> re.Pattern[str]:
    words = r"\s+".join(re.escape(w) for w in term.split())
    # Cursiva o negrita opcional y equilibrada; plural en -s o -es.
    return re.compile(
        rf"(?<![\w*-])(\*{{0,3}})({words})(s|es)?(\1)(?![\w*-])", re.I)


def _link(match: re.Match[str], target: str) -> str:
    star, base, plural, _ = match.groups()
    shown = base + (plural or "")
    inner = shown if shown == target else f"{shown} <{target}>"
    return f"{star}{{term}}`{inner}`{star}"


def link_text(text: str, terms: dict[str, str], seen: set[str]) -> str:
    """Enlaza en ``text`` la primera aparición de cada término no visto.

    ``seen`` (los destinos ya enlazados en el capítulo) se actualiza. Los
    términos largos van primero: «atención cruzada» antes que «atención».
    """
    for role in re.findall(r"\{term\}`([^`]*)`", text):
        target = re.search(r"<([^>]*)>$", role)
        seen.add((target.group(1) if target else role).strip().lower())
    # Pila de bloques abiertos: (marca, tipo). Una directiva ```{x} tiene
    # prosa dentro; un bloque de código o de fórmulas, no.
    out: list[str] = []
    fence: list[tuple[str, str]] = []
    for line in text.split("\n"):
        stripped = line.strip()
        marker = re.match(r"(`{3,}|~{3,})(.*)", stripped)
        if marker:
            if fence and fence[-1][0] == marker[1] and not marker[2].strip():
                fence.pop()
            else:
                kind = "directiva" if marker[2].startswith("{") else "código"
                fence.append((marker[1], kind))
            out.append(line)
            continue
        if stripped == "$$":
            if fence and fence[-1][1] == "fórmula":
                fence.pop()
            else:
                fence.append(("$$", "fórmula"))
            out.append(line)
            continue
        skip = (
            (fence and fence[-1][1] != "directiva")
            or stripped.startswith(("#", ":"))
        )
        out.append(line if skip else _link_line(line, terms, seen))
    return "\n".join(out)


def _link_line(line: str, terms: dict[str, str], seen: set[str]) -> str:
    # Se reemplazan los trozos protegidos (y los enlaces nuevos) por marcas
    # para que ningún término se busque dentro de ellos.
    kept: list[str] = []

    def keep(text: str) -> str:
        kept.append(text)
        return f"\x00{len(kept) - 1}\x00"

    line = _PROTECTED.sub(lambda m: keep(m.group(0)), line)
    for term in sorted(terms, key=len, reverse=True):
        target = terms[term]
        if target in seen:
            continue
        match = _term_pattern(term).search(line)
        if match is None:
            continue
        seen.add(target)
        line = (line[: match.start()] + keep(_link(match, target))
                + line[match.end():])
    return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], line)


def link_notebook(path: Path, terms: dict[str, str] | None = None,
                  write: bool = True) -> bool:
    """Enlaza los primeros usos en un cuaderno; True si algo cambió."""
    terms = load_terms() if terms is None else terms
    nb = nbformat.read(path, as_version=4)
    seen: set[str] = set()
    changed = False
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        new = link_text(cell.source, terms, seen)
        if new != cell.source:
            cell.source, changed = new, True
    if changed and write:
        nbformat.write(nb, path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true",
                        help="no escribe; sale con 1 si hay cambios")
    args = parser.parse_args(argv)
    terms = load_terms()
    stale = []
    for path in args.notebooks:
        if link_notebook(path, terms, write=not args.check):
            stale.append(path)
            print(f"{path}: {'desfasado' if args.check else 'enlazado'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
