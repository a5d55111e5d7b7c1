"""course_lib importa sin las dependencias de las herramientas del libro.

nbformat, nbclient y PyYAML solo los usan las herramientas de ``tools/``
(celda de Colab, reejecución, soluciones, glosario); ``pyproject.toml`` no
los declara, así que en Colab pueden faltar. La prueba lo comprueba en un
proceso nuevo: los hace imposibles de importar y luego importa cada
módulo de ``course_lib``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCKED = ("nbformat", "nbclient", "yaml")

SCRIPT = r'''
import importlib
import importlib.abc
import json
import pkgutil
import sys

BLOCKED = {blocked!r}


class Blocker(importlib.abc.MetaPathFinder):
    """Hace fallar ``import X`` (y sus submódulos) para X en BLOCKED."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"bloqueado: {{name}}", name=name)
        return None


sys.meta_path.insert(0, Blocker())
report = {{"blocked": [], "modules": [], "errors": []}}
for name in BLOCKED:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        report["blocked"].append(name)

import course_lib


def record(name):
    report["errors"].append(f"{{name}}: {{sys.exc_info()[1]!r}}")


for info in pkgutil.walk_packages(course_lib.__path__, "course_lib.",
                                  onerror=record):
    try:
        importlib.import_module(info.name)
        report["modules"].append(info.name)
    except Exception as exc:
        report["errors"].append(f"{{info.name}}: {{exc!r}}")
print("REPORT=" + json.dumps(report))
'''


def test_course_lib_imports_without_the_tools_dependencies():
    script = SCRIPT.format(blocked=BLOCKED)
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True,
        text=True, timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines()
                if x.startswith("REPORT="))
    report = json.loads(line.removeprefix("REPORT="))
    # El bloqueo funciona: si no, la prueba no probaría nada.
    assert sorted(report["blocked"]) == sorted(BLOCKED)
    assert not report["errors"], (
        "course_lib no debe depender de nbformat, nbclient ni PyYAML "
        "(van en tools/):\n" + "\n".join(report["errors"]))
    assert "course_lib.attention" in report["modules"]
    assert "course_lib.exercises.cap01" in report["modules"]
