"""Herramientas de mantenimiento del libro (no las usa el lector).

No forman parte de ``course_lib``: el paquete instalable no las incluye
y sus dependencias (nbformat, nbclient, PyYAML) se instalan con
``requirements.txt``, no con ``pyproject.toml``. Se ejecutan desde la raíz
del repositorio, normalmente a través de ``make``:

- ``python -m tools.maintenance stamp|execute|solutions CUADERNO...``:
  celda de configuración de Colab, reejecución y soluciones plegadas
  (``make setup-cells``, ``make execute NB=...``, ``make execute-all``,
  ``make soluciones``).
- ``python -m tools.glossary CUADERNO...``: enlaces al glosario desde el
  primer uso de cada término (``make glosario``).
"""
