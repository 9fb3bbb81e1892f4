"""The model builder: shapes, heads, cuDNN-eligible LSTM, masked pooling, serialization."""

import numpy as np
import pytest

import keras
from textrecipes.models.classifiers import build_lstm_classifier
from textrecipes.models.layers import HashedBigrams, MaskedPooling


@pytest.mark.parametrize("task,labels,shape,activation", [
    ("binary", 2, (None, 1), "sigmoid"), ("multiclass", 4, (None, 4), "softmax"), ("multilabel", 3, (None, 3), "sigmoid"),
])
def test_heads(task, labels, shape, activation):
    model = build_lstm_classifier(50, labels, task=task, embedding_dim=8, units=4)
    assert model.output_shape == shape
    head = model.get_layer("probabilities")
    assert head.activation.__name__ == activation and head.dtype_policy.name == "float32"


def test_lstm_stays_on_the_cudnn_path_and_embedding_masks():
    model = build_lstm_classifier(50, 2, embedding_dim=8, units=4)
    lstm = model.get_layer("bilstm").forward_layer
    assert lstm.recurrent_dropout == 0 and lstm.activation.__name__ == "tanh"
    assert lstm.recurrent_activation.__name__ == "sigmoid" and not lstm.unroll and lstm.use_bias
    assert model.get_layer("embedding").mask_zero


def test_masked_pooling_ignores_padding():
    x = np.array([[[1.0, -5.0], [3.0, -1.0], [0.0, 0.0]]], "float32")
    mask = np.array([[True, True, False]])
    out = MaskedPooling()(x, mask=mask).numpy()
    assert out.tolist() == [[2.0, -3.0, 3.0, -1.0]]  # padding's 0 does not win the max


def test_sqrtn_pooling_divides_the_masked_sum_by_the_root_of_the_count():
    x = np.array([[[1.0], [3.0], [5.0], [0.0]]], "float32")
    mask = np.array([[True, True, False, False]])
    np.testing.assert_allclose(MaskedPooling(("sqrtn",))(x, mask=mask).numpy(), [[4.0 / np.sqrt(2.0)]], rtol=1e-6)
    with pytest.raises(ValueError, match="sqrtn"):
        MaskedPooling(("sum",))


def test_sqrtn_keeps_the_ngram_branch_heard_on_long_texts():
    """With a mean, the branch's output over a long text shrinks like 1/sqrt(n); with sqrt-n it does not."""
    rng = np.random.default_rng(0)
    short, long = rng.integers(1, 5000, (64, 10)), rng.integers(1, 5000, (64, 1000))

    def branch_scale(pooling, ids):
        model = build_lstm_classifier(5000, 2, embedding_dim=8, units=4, ngram_buckets=4096, ngram_pooling=pooling)
        branch = keras.Model(model.input, model.get_layer("bigram_mean").output)
        return float(np.std(branch(ids, training=False)))

    mean_ratio = branch_scale("mean", long) / branch_scale("mean", short)
    sqrtn_ratio = branch_scale("sqrtn", long) / branch_scale("sqrtn", short)
    assert mean_ratio < 0.2 and 0.7 < sqrtn_ratio < 1.4, (mean_ratio, sqrtn_ratio)
    with pytest.raises(ValueError, match="ngram_pooling"):
        build_lstm_classifier(10, 2, ngram_pooling="max")


def test_padding_does_not_change_predictions():
    model = build_lstm_classifier(50, 2, embedding_dim=8, units=4, ngram_buckets=64, ngram_dim=4)
    short = model(np.array([[5, 6, 7]]), training=False).numpy()
    padded = model(np.array([[5, 6, 7, 0, 0, 0]]), training=False).numpy()
    np.testing.assert_allclose(short, padded, atol=1e-6)


def test_hashed_bigrams_are_in_range_and_zero_on_padding():
    ids = np.array([[2, 3, 4, 0, 0], [19999, 19998, 0, 0, 0]])
    out = HashedBigrams(100)(ids).numpy()
    assert out.shape == (2, 4)
    assert (out[0, :2] > 0).all() and (out[0, 2:] == 0).all() and out[1, 0] > 0 and (out[1, 1:] == 0).all()
    assert out.max() <= 100


def test_hashed_words_and_bigrams_share_one_table_and_skip_padding():
    ids = np.array([[2, 3, 4, 0, 0]])
    out = HashedBigrams(100, words=True)(ids).numpy()
    assert out.shape == (1, 9)  # 5 word slots, then 4 bigram slots
    assert (out[0, :3] > 0).all() and (out[0, 3:5] == 0).all()
    assert (out[0, 5:7] > 0).all() and (out[0, 7:] == 0).all() and out.max() <= 100
    assert len(set(out[0, :3].tolist())) == 3


def test_rnn_length_limits_what_the_lstm_reads_and_the_ngram_branch_sees_the_rest():
    short, long = np.array([[5, 6, 7, 0, 0]]), np.array([[5, 6, 7, 8, 9]])
    lstm_only = build_lstm_classifier(50, 2, embedding_dim=8, units=4, ngram_buckets=0, rnn_length=3)
    np.testing.assert_allclose(lstm_only(short, training=False), lstm_only(long, training=False), atol=1e-6)
    both = build_lstm_classifier(50, 2, embedding_dim=8, units=4, ngram_buckets=64, ngram_words=True, rnn_length=3)
    assert not np.allclose(both(short, training=False), both(long, training=False), atol=1e-6)
    # right padding still changes nothing, one-token texts keep a token for the LSTM
    np.testing.assert_allclose(both(np.array([[5, 0, 0, 0]]), training=False), both(np.array([[5]]), training=False),
                               atol=1e-6)
    with pytest.raises(ValueError, match="rnn_length"):
        build_lstm_classifier(10, 2, rnn_length=-1)


def test_bad_arguments():
    with pytest.raises(ValueError, match="pooling"):
        build_lstm_classifier(10, 2, pooling="avg")
    with pytest.raises(ValueError, match="dropout"):
        build_lstm_classifier(10, 2, dropout=-0.1)
    with pytest.raises(ValueError, match="task"):
        build_lstm_classifier(10, 2, task="regression")


@pytest.mark.parametrize("options", [{}, {"ngram_words": True, "rnn_length": 2}])
def test_model_saves_and_reloads_in_safe_mode(tmp_path, options):
    model = build_lstm_classifier(50, 3, task="multiclass", embedding_dim=8, units=4, ngram_buckets=64, **options)
    x = np.array([[5, 6, 7, 0]])
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(model(x).numpy(), again(x).numpy(), atol=1e-6)


def test_seeded_builds_are_identical():
    a = build_lstm_classifier(50, 2, embedding_dim=8, units=4, seed=7)
    b = build_lstm_classifier(50, 2, embedding_dim=8, units=4, seed=7)
    c = build_lstm_classifier(50, 2, embedding_dim=8, units=4, seed=8)
    assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))
    assert not all(np.array_equal(x, y) for x, y in zip(a.get_weights(), c.get_weights()))
