"""course_lib: la biblioteca del libro «Transformers desde cero».

Un módulo por concepto; los cuadernos explican y ejecutan, aquí vive el
código que merece reutilizarse:

- ``utils``: semillas, dispositivo, *preset* y cronómetro.
- ``data``: corpus con URL fijada y SHA-256, caché y copia local.
- ``hub``: acceso opcional a *checkpoints* preentrenados, sin colgarse.
- ``attention``: atención escalada, máscaras, multi-cabeza, posiciones.
- ``viz``: mapas de atención estáticos (matplotlib).
- ``toy_tasks`` y ``train``: tareas sintéticas y un bucle de entrenamiento.
- ``exercises``: comprobadores de los ejercicios de cada capítulo.
- ``maintenance``: celda de configuración y reejecución de cuadernos.
"""

__version__ = "0.1.0"
