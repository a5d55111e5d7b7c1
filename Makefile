# Transformers desde cero: dos órdenes para empezar, `make book` y
# `make test`. Todo se instala en .venv a partir de requirements.txt.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.instalado
NB ?=
# El kernel «python3» de los cuadernos debe ser el de .venv.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONHASHSEED ?= 0
# OpenMP (PyTorch en CPU) espera activamente a sus hilos. Con la máquina
# libre es lo más rápido (40 pasos de CLIP en 2 núcleos: 4,1 s; en espera
# pasiva, 7,0 s), pero si otro proceso ocupa un núcleo cada paso se vuelve
# decenas de veces más lento (121 s frente a 4,8 s). Si compartes la
# máquina, ejecuta con OMP_WAIT_POLICY=PASSIVE.

.PHONY: setup book test lint unit nbval nbval-portable lab execute execute-all \
	setup-cells soluciones glosario checkpoint bench clean test-site \
	test-colab

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

book: setup
	$(PY) benchmarks/collect.py
	$(VENV)/bin/jupyter-book build . -W --keep-going
	@echo "Sitio listo: abre $(CURDIR)/_build/html/index.html"

lint: setup
	$(VENV)/bin/ruff check .

unit: setup
	$(PY) -m pytest tests -q -m "not site and not colab"

# nbval reejecuta cada cuaderno y compara sus salidas con las guardadas:
# el texto, exacto; los números medidos, con la tolerancia que cada celda
# declara en sus etiquetas (tests/nbval_tolerance.py).
NBVAL := $(PY) -m pytest -q --nbval notebooks -p tests.nbval_tolerance \
	--nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=900

nbval: setup
	$(NBVAL)

# Lo mismo, como en otra máquina: otros núcleos de PyTorch y otro número
# de hilos cambian el orden de redondeo (la CI ejecuta las dos).
nbval-portable: setup
	ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 $(NBVAL)

test: lint unit nbval

lab: setup
	$(VENV)/bin/jupyter lab notebooks

# Herramientas del libro: viven en tools/ (fuera de course_lib) y se
# ejecutan desde la raíz del repositorio.
#
# Reejecuta un cuaderno en un kernel limpio y guarda sus salidas:
#   make execute NB=notebooks/01_atencion.ipynb
execute: setup
	@test -n "$(NB)" || { echo "Uso: make execute NB=notebooks/XX.ipynb"; \
		exit 2; }
	$(PY) -m tools.maintenance execute $(NB)

execute-all: setup
	$(PY) -m tools.maintenance execute notebooks/*.ipynb

setup-cells: setup
	$(PY) -m tools.maintenance stamp notebooks/*.ipynb

# Solución de referencia de cada ejercicio, plegada, tras el ejercicio.
soluciones: setup
	$(PY) -m tools.maintenance solutions notebooks/*.ipynb

# Enlaza al glosario el primer uso de cada término en cada capítulo (solo
# toca la prosa: no hace falta reejecutar).
glosario: setup
	$(PY) -m tools.glossary notebooks/*.ipynb

# El sitio construido, en Chromium sin interfaz (necesita `chromium`).
test-site: book
	$(PY) -m pytest tests/test_site.py -q -m site

# La celda de instalación de Colab en un entorno virtual nuevo (usa PyPI).
test-colab: setup
	$(PY) -m pytest tests/test_colab_install.py -q -m colab

# Rehace desde cero unos pesos del curso con su receta guardada (se
# retoma si se corta): make checkpoint NAME=bert-quijote
checkpoint: setup
	@test -n "$(NAME)" || { echo "Uso: make checkpoint NAME=nombre"; \
		$(PY) -m course_lib.checkpoints list; exit 2; }
	$(PY) -m course_lib.checkpoints train $(NAME)

bench: setup
	$(PY) benchmarks/attention.py --json benchmarks/results/attention.json
	$(PY) benchmarks/notebooks.py --store
	$(PY) benchmarks/collect.py

clean:
	rm -rf _build .pytest_cache .ruff_cache book/_generated
