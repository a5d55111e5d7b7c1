"""course_lib: la biblioteca del libro «Transformers desde cero».

Un módulo por concepto; los cuadernos explican y ejecutan, aquí vive el
código que merece reutilizarse. Por capítulos:

- Común: ``utils`` (semillas, dispositivo, *presets*, cronómetro y
  comprobación de entradas), ``training`` (el bucle ``fit``, los
  calendarios de la tasa, la exactitud y la sonda lineal), ``layers``
  (activaciones, recuento de parámetros, MLP y bloque *pre-norm* que
  comparten varios modelos), ``patches`` (imágenes como parches y
  ``PatchEmbedding``),
  ``data`` (los dos corpus, dentro del paquete y verificados),
  ``checkpoints`` (pesos del curso, entrenados por el propio libro),
  ``hub`` (*checkpoints* del Hub, opcionales y sin colgarse), ``viz``
  (mapas de atención estáticos), ``html_views`` (vistas interactivas sin
  *kernel*, que funcionan también en el sitio) y ``exercises``
  (correctores de los ejercicios).
- 1, atención: ``attention`` (atención escalada, máscaras, multi-cabeza,
  posiciones) y ``toy_tasks`` (tareas sintéticas donde el orden importa).
- 2, Transformer: ``transformer`` y ``numbers_es`` (números → palabras).
- 3, BERT: ``bert``, ``bert_data`` (el Quijote, WordPiece, pares NSP,
  enmascarado MLM), ``bert_training`` (preentrenamiento, ajuste fino y
  rasgos para la sonda lineal), ``bert_tasks`` (la tarea «¿pasaje
  alterado?» y los subconjuntos equilibrados de etiquetas) y
  ``bert_quijote`` (la receta de los pesos del curso «bert-quijote»).
- 4, GPT: ``gpt`` (con la caché KV), ``char_tokenizer``, ``lm_training``
  y ``gpt_moliere`` (la receta de los pesos del curso «gpt-moliere»).
- 5 y 6, visión: ``vit``, ``images`` (dígitos y su receta) y ``mae``.
- 7 y 8, multimodal: ``shapes`` (figuras con descripciones y preguntas,
  y la media y la desviación de sus píxeles), ``clip``, ``fusion`` (las
  piezas de la fusión), ``fusion_qa`` (seis estrategias de fusión) y
  ``captioner`` (el subtitulador).

Las herramientas de mantenimiento del libro (celda de Colab, reejecución
de cuadernos, soluciones plegadas, glosario) no son parte del paquete:
viven en ``tools/``, en la raíz del repositorio, y se usan con ``make``.

Un nombre por concepto: todas las configuraciones usan los nombres
canónicos de Hugging Face (``hidden_size``, ``num_hidden_layers``,
``num_attention_heads``, ``intermediate_size``,
``max_position_embeddings``, ``layer_norm_eps``, ``hidden_act``), los que
acepta cualquier configuración de ``transformers``; los pesos de atención
se piden con ``return_weights``; ``Config.from_hf_config`` traduce una
configuración de HF y ``Modelo.from_hf`` (o ``bert.from_hf``) copia sus
pesos; ``layers.count_parameters`` cuenta los parámetros; y cada
``Config.preset(nombre, **cambios)`` pasa por ``utils.from_preset``.
"""

__version__ = "0.1.0"
