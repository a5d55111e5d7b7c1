"""Pruebas propias de los ejercicios del capítulo 2 (el contrato común
está en ``test_exercise_contract.py``)."""

from __future__ import annotations

import torch

from course_lib.exercises import cap02 as ej
from course_lib.transformer import decoder_mask, shift_right


def test_library_versions_pass_the_exercises() -> None:
    # course_lib y las soluciones autocontenidas dicen lo mismo.
    assert ej.mascara_decodificador.evaluate(decoder_mask).ok
    assert ej.desplazar_derecha.evaluate(shift_right).ok


def test_mask_with_float_dtype_is_rejected() -> None:
    result = ej.mascara_decodificador.evaluate(
        lambda d, p: decoder_mask(d, p).float())
    assert not result.ok and "dtype" in result.message


def test_in_place_shift_is_reported() -> None:
    def in_place(etiquetas, bos_id):
        etiquetas[:, 1:] = etiquetas[:, :-1].clone()
        etiquetas[:, 0] = bos_id
        return etiquetas

    result = ej.desplazar_derecha.evaluate(in_place)
    assert not result.ok and "modificó su argumento" in result.message


def test_greedy_with_early_stop_has_wrong_shape_message() -> None:
    def early_stop(modelo, fuente, bos_id, eos_id, max_len):
        out = torch.full((fuente.size(0), 1), bos_id)
        for _ in range(max_len):
            nxt = modelo(fuente, out)[:, -1].argmax(-1)
            out = torch.cat([out, nxt[:, None]], dim=1)
            if (nxt == eos_id).all():
                break
        return out

    result = ej.decodificacion_voraz.evaluate(early_stop)
    assert not result.ok


def test_greedy_reference_works_with_a_course_model(
        make_tiny_transformer) -> None:
    model = make_tiny_transformer()
    src = torch.randint(3, 13, (4, 6))
    with torch.no_grad():
        ours = ej.decodificacion_voraz.reference(model, src, 1, 2, 8)
        lib = model.greedy_decode(src, 8)
    L = lib.size(1)
    assert torch.equal(ours[:, :L], lib)
    assert ours[:, L:].eq(2).all()


# --- el modelo de juguete se comporta como el Transformer del capítulo ----

def test_idiomatic_greedy_with_eval_parameters_and_no_grad_passes() -> None:
    def decodificacion_voraz(modelo, fuente, bos_id, eos_id, max_len):
        assert isinstance(modelo, torch.nn.Module)
        modelo.eval()
        device = next(modelo.parameters()).device
        modelo = modelo.to(device)
        fuente = fuente.to(device)
        B = fuente.size(0)
        with torch.no_grad():
            memoria, mascara = modelo.encode(fuente)   # una sola vez
            salida = torch.full((B, 1), bos_id, device=device)
            terminada = torch.zeros(B, dtype=torch.bool, device=device)
            for _ in range(max_len):
                logits = modelo.decode(salida, memoria, mascara)
                siguiente = logits[:, -1].argmax(-1).masked_fill(
                    terminada, modelo.config.eos_id)
                salida = torch.cat([salida, siguiente[:, None]], dim=1)
                terminada |= siguiente == eos_id
        modelo.train()
        return salida

    result = ej.decodificacion_voraz.evaluate(decodificacion_voraz)
    assert result.ok, result.message

    @torch.no_grad()
    def as_decorator(modelo, fuente, bos_id, eos_id, max_len):
        modelo.eval()
        return ej.decodificacion_voraz.reference(modelo, fuente, bos_id,
                                                 eos_id, max_len)

    assert ej.decodificacion_voraz.evaluate(as_decorator).ok


def test_toy_model_keeps_its_numbers() -> None:
    # Mismas tablas y misma fórmula que antes de ser un nn.Module: los
    # casos (y las salidas guardadas) no cambian.
    model = ej.ModeloDeJuguete(1)
    g = torch.Generator().manual_seed(1)
    table = torch.randn(12, 12, 12, generator=g)
    src_bias = torch.randn(10, 12, generator=g)
    table[:, 3:, ej.EOS] += 1.5
    src = torch.randint(3, 13, (4, 6))
    tgt = torch.randint(0, 12, (4, 5))
    expected = (table[tgt, torch.arange(5)]
                + src_bias[src % 10].sum(1)[:, None, :])
    assert torch.equal(model(src, tgt), expected)
    assert sum(p.numel() for p in model.parameters()) == table.numel() + (
        src_bias.numel())
    assert model.eval() is model and not model.training
