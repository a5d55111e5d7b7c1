"""Pruebas de la tarea del puntero y del bucle de entrenamiento."""

import pytest
import torch

from course_lib.toy_tasks import (
    BagOfWordsClassifier,
    PointerAttentionClassifier,
    make_pointer_task,
)
from course_lib.training import accuracy, train_classifier


def test_pointer_task_labels_follow_the_pointer():
    g = torch.Generator().manual_seed(0)
    x, y = make_pointer_task(500, seq_len=8, n_symbols=5, generator=g)
    assert x.shape == (500, 8) and y.shape == (500,)
    p = x[:, 0] - 5 + 1
    assert p.min() >= 1 and p.max() <= 7
    assert torch.equal(y, x[torch.arange(500), p])
    assert (x[:, 1:] < 5).all() and (y < 5).all()
    x2, y2 = make_pointer_task(
        500, seq_len=8, n_symbols=5, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(x, x2) and torch.equal(y, y2)


def test_pointer_task_bad_args():
    with pytest.raises(ValueError, match="seq_len"):
        make_pointer_task(10, seq_len=1)


def test_bag_of_words_ignores_order():
    torch.manual_seed(0)
    model = BagOfWordsClassifier(20, 4).eval()
    x = torch.randint(0, 20, (3, 6))
    assert torch.allclose(model(x), model(x.flip(1)), atol=1e-6)


def test_attention_model_weights_and_order_sensitivity():
    torch.manual_seed(0)
    model = PointerAttentionClassifier(20, 4, seq_len=6).eval()
    x = torch.randint(0, 20, (3, 6))
    logits, w = model(x, return_weights=True)
    assert logits.shape == (3, 4) and w.shape == (3, 1, 1, 6)
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 1, 1))
    swapped = x.clone()
    swapped[:, 1:] = x[:, 1:].flip(1)
    assert not torch.allclose(model(x), model(swapped))
    with pytest.raises(ValueError, match="máximo 6"):
        model(torch.zeros(1, 7, dtype=torch.long))


def test_attention_learns_pointer_and_bag_of_words_cannot():
    g = torch.Generator().manual_seed(0)
    x, y = make_pointer_task(4000, seq_len=8, n_symbols=6, generator=g)
    xt, yt = make_pointer_task(1000, seq_len=8, n_symbols=6, generator=g)
    vocab = 6 + 7
    torch.manual_seed(0)
    att = PointerAttentionClassifier(vocab, 6, seq_len=8, dim=32)
    hist = train_classifier(att, x, y, steps=300, generator=g,
                            eval_data=(xt, yt), progress=False)
    torch.manual_seed(0)
    bow = BagOfWordsClassifier(vocab, 6, dim=32)
    train_classifier(bow, x, y, steps=300, generator=g, progress=False)
    assert accuracy(att, xt, yt) > 0.95
    assert accuracy(bow, xt, yt) < 0.6
    assert hist.eval_steps[-1] == 300 and len(hist.loss) == 300
    assert hist.loss[-1] < hist.loss[0]


def test_train_classifier_bad_args():
    model = BagOfWordsClassifier(5, 2)
    x = torch.zeros(4, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="mismo número"):
        train_classifier(model, x, torch.zeros(3, dtype=torch.long), steps=1)
    with pytest.raises(ValueError, match="steps"):
        train_classifier(model, x, torch.zeros(4, dtype=torch.long), steps=0)
