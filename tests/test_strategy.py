"""The model-strategy layer: the "auto" settings and the private interface."""

import pickle

import numpy as np
import pytest
import torch

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr._neural import (
    ENCODER_DEFAULTS,
    STRATEGIES,
    NeuralStrategy,
    TransformerStrategy,
    resolve_settings,
)
from sklearn_zlpr._strategy import ModelStrategy


def _params(**overrides):
    return {**ZLPRClassifier(device="cpu").get_params(deep=False), **overrides}


@pytest.mark.parametrize("n_train", [100, 9_000, 90_000])
def test_auto_settings_of_the_mlp_encoders(n_train):
    for encoder in ("embedding_bag", "dense"):
        s = resolve_settings(_params(), encoder, n_train)
        assert s["hidden_layer_sizes"] == (256,)
        assert s["batch_size"] == min(256, max(32, n_train // 100))
        assert s["lr_scheduler"] is None and s["max_grad_norm"] is None
        assert s["amp_dtype"] is None and s["device"] == "cpu"
        # Lazy Adam on the embedding table only, and only for Adam-type optimizers.
        assert s["sparse_gradients"] is (encoder == "embedding_bag")
    sgd = resolve_settings(_params(optimizer="sgd"), "embedding_bag", n_train)
    assert sgd["sparse_gradients"] is False


def test_auto_settings_of_the_transformer_encoder():
    s = resolve_settings(_params(), "transformer", 5_000)
    assert s["hidden_layer_sizes"] == () and s["batch_size"] == 32
    assert s["max_grad_norm"] == 1.0 and s["sparse_gradients"] is False
    # Warm-up + linear decay over max_epochs x ceil(n_train / 32) steps.
    schedule = s["lr_scheduler"].params["lr_lambda"]
    assert schedule.total_steps == 30 * int(np.ceil(5_000 / 32))
    assert schedule.warmup_steps == round(0.1 * schedule.total_steps)
    # bfloat16 autocast needs a GPU that has it; never on the CPU.
    assert s["amp_dtype"] is None


def test_explicit_values_win_over_auto():
    s = resolve_settings(
        _params(
            hidden_layer_sizes=(8, 4),
            batch_size=7,
            lr_scheduler=None,
            max_grad_norm=2.0,
            sparse_gradients=False,
        ),
        "transformer",
        5_000,
    )
    assert s["hidden_layer_sizes"] == (8, 4) and s["batch_size"] == 7
    assert s["lr_scheduler"] is None and s["max_grad_norm"] == 2.0
    assert set(ENCODER_DEFAULTS) == {"embedding_bag", "dense", "transformer"}


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"sparse_gradients": True, "optimizer": "sgd"}, "sparse_gradients=True needs"),
        ({"max_grad_norm": 1.0}, "max_grad_norm clips"),
        ({"hidden_layer_sizes": (3, 0)}, "hidden_layer_sizes must be"),
        ({"lr_scheduler": "NoSuchLR"}, "lr_scheduler='NoSuchLR'"),
        (
            {"lr_scheduler": "warmup_linear", "lr_scheduler_params": {"x": 1}},
            "warmup_fraction",
        ),
    ],
)
def test_bad_combinations_are_refused_before_building(overrides, match):
    with pytest.raises(ValueError, match=match):
        resolve_settings(_params(**overrides), "embedding_bag", 1_000)


def test_the_interface_is_abstract():
    strategy = ModelStrategy({}, "dense")
    for call in (
        lambda: strategy.check_params(None, None, n_train=1),
        lambda: strategy.fit(
            None, None, None, criterion=None, validation=None, rule=None, seed=0
        ),
        lambda: strategy.partial_fit(
            None, None, None, criterion=None, rule=None, seed=0
        ),
        lambda: strategy.raw_scores(None),
    ):
        with pytest.raises(NotImplementedError):
            call()
    assert strategy.fitted_attributes() == {}


def test_a_fitted_strategy_keeps_no_training_data(multilabel_data):
    X, Y = multilabel_data
    clf = ZLPRClassifier(max_epochs=2, random_state=0, device="cpu").fit(X, Y)
    model = clf._model
    assert type(model) is NeuralStrategy and model.net_ is clf.net_
    assert model.net_.train_split is None
    # Pickled, the strategy holds weights and settings, not the 600 x 200 rows.
    blob = pickle.dumps(model)
    assert X.data.tobytes()[:64] not in blob
    restored = pickle.loads(blob)
    np.testing.assert_array_equal(
        restored.raw_scores(X[:5].astype(np.float32)), clf.decision_function(X[:5])
    )
    assert restored.settings_["device"] == "cpu"
    assert isinstance(restored.net_.module_, torch.nn.Module)


def test_each_encoder_gets_its_strategy(multilabel_data, tiny_bert_dir):
    X, Y = multilabel_data
    params = {"max_epochs": 1, "random_state": 0, "device": "cpu"}
    assert type(ZLPRClassifier(**params).fit(X, Y)._model) is NeuralStrategy
    texts = ["w1 w2 w3", "w4 w5", "w6 w1 w2", "w3 w3 w7"] * 5
    clf = ZLPRClassifier(transformer_model=str(tiny_bert_dir), **params)
    clf.fit(texts, Y[:20])
    assert clf.encoder_ == "transformer"
    assert type(clf._model) is TransformerStrategy
    # The tokenizer is a fitted attribute of the estimator, from the strategy.
    assert clf.tokenizer_ is clf._model.tokenizer_
    assert STRATEGIES == {
        "embedding_bag": NeuralStrategy,
        "dense": NeuralStrategy,
        "transformer": TransformerStrategy,
    }
