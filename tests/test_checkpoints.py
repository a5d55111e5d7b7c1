"""Tests del registro de pesos del curso (``course_lib.checkpoints``).

Con una receta de juguete (una regresión lineal, unos segundos de CPU) en
una carpeta temporal: entrenar escribe pesos y ficha, cargar devuelve el
mismo modelo, un archivo ausente o alterado da un error claro, y un
entrenamiento cortado se retoma hasta los mismos pesos. Al final, los pesos
que de verdad viajan con el paquete: cada uno se carga y sus métricas se
sostienen.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from course_lib import checkpoints
from course_lib.checkpoints import (
    Checkpoint,
    CheckpointError,
    Recipe,
    Run,
)

TRUE_W = torch.tensor([[2.0, -1.0, 0.5]])


def _data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    return x, x @ TRUE_W.T


class Interrupted(Exception):
    """Simula un entrenamiento cortado (Ctrl-C, máquina que se apaga)."""


def _train(model: nn.Module, config: dict, run: Run) -> dict[str, float]:
    opt = torch.optim.SGD(model.parameters(), lr=config["lr"])
    start = 0
    state = run.load_state()
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start = state["step"]
    x, y = _data(64, seed=1)
    for step in range(start, config["steps"]):
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 10 == 0:
            run.save_state(step + 1, model=model.state_dict(),
                           optimizer=opt.state_dict())
        if step + 1 == config.get("stop_at"):
            raise Interrupted
    return _evaluate(model)


def _evaluate(model: nn.Module) -> dict[str, float]:
    x, y = _data(256, seed=2)
    with torch.no_grad():
        return {"mse": nn.functional.mse_loss(model(x), y).item()}


TOY = Recipe(
    name="juguete",
    description="regresión lineal de juguete",
    config={"steps": 60, "lr": 0.1, "seed": 0},
    build=lambda config: nn.Linear(3, 1, bias=False),
    train=_train,
    evaluate=lambda ck: _evaluate(ck.model),
    tolerance={"mse": 1e-4},
)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(checkpoints, "_FOLDER", tmp_path)
    monkeypatch.setitem(checkpoints.REGISTRY, TOY.name, TOY)
    return tmp_path


def _train_quietly(name: str = "juguete", **kwargs) -> Path:
    return checkpoints.train(name, log=lambda _: None, **kwargs)


def test_train_writes_weights_and_a_full_card(folder: Path) -> None:
    weights = _train_quietly(device="cpu")
    assert weights == folder / "juguete.safetensors"
    card = json.loads((folder / "juguete.json").read_text(encoding="utf-8"))
    for key in ("config", "metrics", "quick_metrics", "tolerance", "device",
                "train_seconds", "torch", "sha256", "bytes"):
        assert key in card, key
    assert card["config"] == TOY.config
    assert card["metrics"]["mse"] < 1e-3          # aprendió de verdad
    assert not (folder / "juguete.estado.pt").exists()
    assert checkpoints.available() == ["juguete"]


def test_load_returns_the_trained_model_in_eval_mode(folder: Path) -> None:
    _train_quietly(device="cpu")
    ck = checkpoints.load("juguete")
    assert isinstance(ck, Checkpoint) and not ck.model.training
    assert ck.tokenizer is None
    torch.testing.assert_close(ck.model.weight, TRUE_W, atol=0.03, rtol=0)
    again = checkpoints.load("juguete", device="cpu")
    assert torch.equal(again.model.weight, ck.model.weight)


def _assert_card_holds(name: str) -> None:
    """Carga ``name``, repite su evaluación rápida y exige que cada métrica
    de la ficha se sostenga dentro de la tolerancia de su receta."""
    ck = checkpoints.load(name)
    recipe = checkpoints.REGISTRY[name]
    measured = recipe.evaluate(ck)
    assert ck.card["quick_metrics"], f"{name}: ficha sin métricas rápidas"
    for metric, stored in ck.card["quick_metrics"].items():
        assert abs(measured[metric] - stored) <= recipe.tolerance[metric], (
            name, metric, measured[metric], stored)


def test_quick_metrics_hold_within_tolerance(folder: Path) -> None:
    _train_quietly(device="cpu")
    _assert_card_holds("juguete")


def test_a_card_that_no_longer_holds_is_caught(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Si la receta cambia y el modelo ya no da lo que dice su ficha, la
    comprobación lo detecta (la misma que se aplica a los del paquete)."""
    _train_quietly(device="cpu")
    worse = Recipe(**{**TOY.__dict__,
                      "evaluate": lambda ck: {"mse": 1.0}})
    monkeypatch.setitem(checkpoints.REGISTRY, "juguete", worse)
    with pytest.raises(AssertionError, match="mse"):
        _assert_card_holds("juguete")


def test_interrupted_training_resumes_to_the_same_weights(
    folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory
) -> None:
    whole = tmp_path_factory.mktemp("entero")
    _train_quietly(folder=whole, device="cpu")
    cut = Recipe(**{**TOY.__dict__, "config": {**TOY.config, "stop_at": 35}})
    monkeypatch.setitem(checkpoints.REGISTRY, "juguete", cut)
    with pytest.raises(Interrupted):
        _train_quietly(device="cpu")
    assert (folder / "juguete.estado.pt").is_file()   # paso 30 guardado
    monkeypatch.setitem(checkpoints.REGISTRY, "juguete", TOY)
    _train_quietly(device="cpu")
    resumed = checkpoints.load("juguete").model.weight
    from safetensors.torch import load_file
    reference = load_file(whole / "juguete.safetensors")["weight"]
    torch.testing.assert_close(resumed, reference, rtol=0, atol=1e-6)


def _chunked(folder: Path, stop_after: int | None = None
             ) -> tuple[nn.Module, checkpoints.Progress]:
    """``Run.fit_in_chunks`` con una regresión con ruido en los lotes
    (sembrados por tramo) y una lista ``extra``; se corta, si se pide, tras
    el tramo que termina en ``stop_after``."""
    folder.mkdir(exist_ok=True)
    torch.manual_seed(0)
    model = nn.Linear(3, 1, bias=False)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    run = Run(name="tramos", folder=folder, device=torch.device("cpu"),
              log=lambda text: None)
    notes: list[int] = []

    def batches(first: int, n: int):
        g = torch.Generator().manual_seed(first)

        def batch(step: int):
            x = torch.randn(16, 3, generator=g)
            return x, x @ TRUE_W.T + 0.1 * torch.randn(16, 1, generator=g)
        return batch

    def after_chunk(done: int, part) -> dict | None:
        notes.append(done)
        if done == stop_after:
            raise Interrupted
        return {"step": done, "loss": part.loss[-1]} if done % 20 == 0 \
            else None

    progress = run.fit_in_chunks(
        model, opt, lambda m, b: nn.functional.mse_loss(m(b[0]), b[1]),
        steps=50, every=10, batches=batches, schedule=lambda s: 0.05,
        after_chunk=after_chunk, extra={"notes": notes})
    return model, progress


def test_fit_in_chunks_resumes_to_the_same_weights_and_history(
        tmp_path: Path) -> None:
    whole, done = _chunked(tmp_path / "entero")
    assert [p["step"] for p in done.curve] == [20, 40]
    assert len(done.loss) == 50 and done.extra["notes"] == [10, 20, 30, 40,
                                                            50]
    cut = tmp_path / "cortado"
    with pytest.raises(Interrupted):
        _chunked(cut, stop_after=30)     # el tramo 30 no llega a guardarse
    assert (cut / "tramos.estado.pt").is_file()
    resumed, again = _chunked(cut)
    assert torch.equal(resumed.weight, whole.weight)
    assert again.loss == done.loss and again.curve == done.curve
    assert again.extra["notes"] == done.extra["notes"]


def test_missing_weights_say_how_to_rebuild_them(folder: Path) -> None:
    with pytest.raises(CheckpointError, match="Faltan.*make checkpoint"):
        checkpoints.load("juguete")
    assert checkpoints.available() == []


def test_altered_weights_fail_their_checksum(folder: Path) -> None:
    weights = _train_quietly(device="cpu")
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256 esperado"):
        checkpoints.load("juguete")


@pytest.mark.parametrize("name, error", [
    ("no-existe", ValueError), (None, TypeError), (3, TypeError)])
def test_unknown_names_are_rejected_in_spanish(
    folder: Path, name: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match="modelo del curso"):
        checkpoints.load(name)  # type: ignore[arg-type]


def test_command_line_lists_and_trains(
    folder: Path, capsys: pytest.CaptureFixture
) -> None:
    checkpoints.main(["list"])
    assert "juguete" in capsys.readouterr().out
    checkpoints.main(["train", "juguete", "--device", "cpu"])
    assert (folder / "juguete.safetensors").is_file()


# --- los pesos que viajan con el paquete --------------------------------

PACKAGED = Path(checkpoints.__file__).parent / "resources" / "checkpoints"


def test_packaged_files_are_registered_and_small() -> None:
    """Cada archivo de pesos tiene su receta y su ficha, y caben en el
    presupuesto (≤ 5 MB cada uno, ≤ 25 MB en total)."""
    files = sorted(PACKAGED.glob("*.safetensors")) if PACKAGED.is_dir() else []
    for path in files:
        assert path.stem in checkpoints.REGISTRY, path.name
        assert path.with_suffix(".json").is_file(), path.name
        assert path.stat().st_size <= checkpoints.MAX_BYTES, path.name
    total = sum(p.stat().st_size for p in files)
    assert total <= checkpoints.MAX_TOTAL_BYTES


def test_every_packaged_checkpoint_holds_its_card() -> None:
    """Cada modelo del paquete se carga y sus métricas rápidas se sostienen
    (con la comprobación probada arriba con la receta de juguete); su
    ficha es la receta que está escrita en el código (quien cambie la
    receta tiene que volver a entrenar) y cabe en la hora de presupuesto."""
    assert checkpoints.available(), "el paquete no trae pesos del curso"
    for name in checkpoints.available():
        _assert_card_holds(name)
        card = json.loads((PACKAGED / f"{name}.json").read_text(
            encoding="utf-8"))
        assert card["config"] == checkpoints.REGISTRY[name].config, name
        assert card["train_seconds"] <= 60 * 60, name
