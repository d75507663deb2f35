"""CaptioningTransformer: the notebook's scores (via PyTorch, tests/data/attention_reference.npz), the loss
against its definition, greedy sampling, the solver, checkpoints and the overfitting check."""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from npnet.data.coco import load_coco_data, make_synthetic_coco
from npnet.errors import NpnetValueError
from npnet.models.transformer import CaptioningTransformer
from npnet.solver import CaptioningSolver
from gradcheck.numeric import rel_error
from conftest import require_data
from test_attention import REF, _replay  # the notebook's reference values, loaded on first use

TINY = {"<NULL>": 0, "cat": 2, "dog": 3}  # the course's test vocabulary
WORDS = {"<NULL>": 0, "<START>": 1, "<END>": 2, "cat": 3, "dog": 4, "sat": 5}


def _course_model():
    """The notebook's scores check: every parameter linspace(-1.4, 1.3) in PyTorch's parameter order."""
    model = CaptioningTransformer(TINY, input_dim=20, wordvec_dim=30, num_heads=2, num_layers=2, max_length=30,
                                  dtype=np.float64)
    shapes = [tuple(int(s) for s in shape.split(",")) for shape in REF["scores_param_shapes"]]
    assert [v.shape for v in model.params.values()] == shapes  # same order and layouts as PyTorch's
    for name, value in model.params.items():
        model.params[name] = np.linspace(-1.4, 1.3, num=value.size).reshape(value.shape)
    N, D, T, V = 4, 20, 3, 3
    return model, np.linspace(-1.5, 0.3, num=N * D).reshape(N, D), (np.arange(N * T) % V).reshape(N, T)


def test_scores_reproduce_pytorch_in_eval_mode():
    model, features, captions = _course_model()
    scores = model.forward(features, captions)
    assert rel_error(scores, REF["scores_eval"]) < 1e-10  # the course's model in PyTorch, eval mode, float64


def test_scores_reproduce_the_notebook(monkeypatch):
    # The notebook's scores come from training mode: npnet's layers replay its 13 dropout masks in call order.
    model, features, captions = _course_model()
    queue = _replay(monkeypatch, [REF[f"scores_dropout{i:02d}"] for i in range(13)])
    scores, _ = model._forward(features, captions, train=True)
    assert not queue
    assert rel_error(scores, REF["scores_published"]) < 1e-3  # the notebook's tolerance


def test_parameter_names_follow_the_course_state_dict():
    # seeded: output.weight has only 6 x 8 values, whose std misses 0.02 +- 0.005 in about 1 draw of 100
    model = CaptioningTransformer(WORDS, input_dim=4, wordvec_dim=8, num_heads=2, num_layers=1, dim_feedforward=16,
                                  rng=0)
    names = list(model.params)
    assert names[:3] == ["visual_projection.weight", "visual_projection.bias", "embedding.weight"]
    assert "transformer.layers.0.multihead_attn.query.weight" in names and names[-1] == "output.bias"
    assert model.params["transformer.layers.0.linear1.weight"].shape == (16, 8)
    assert model.params["embedding.weight"].dtype == np.float32
    assert abs(model.params["output.weight"].std() - 0.02) < 0.005


def _loss_by_definition(model, features, captions):
    """The temporal softmax loss of the forward scores, written out."""
    scores = model.forward(features, captions[:, :-1])
    target = captions[:, 1:]
    log_p = scores - scores.max(-1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_p, target[..., None], -1)[..., 0]
    return -(picked * (target != 0)).sum() / len(captions)


def test_loss_without_dropout_is_the_temporal_softmax_of_forward():
    rng = np.random.default_rng(0)
    model = CaptioningTransformer(WORDS, input_dim=4, wordvec_dim=8, num_heads=2, num_layers=2, dim_feedforward=16,
                                  dropout=0.0, dtype=np.float64, rng=1)
    for name, value in model.params.items():
        model.params[name] = value + 0.5 * rng.standard_normal(value.shape)
    features, captions = rng.standard_normal((3, 4)), np.array([[1, 3, 5, 2, 0], [1, 4, 2, 0, 0], [1, 3, 3, 4, 2]])
    loss, grads = model.loss(features, captions)
    assert np.isclose(loss, _loss_by_definition(model, features, captions), rtol=1e-12)
    assert set(grads) == set(model.params) and all(grads[k].shape == v.shape for k, v in model.params.items())


def test_dropout_makes_the_loss_random_only_in_training():
    rng = np.random.default_rng(1)
    model = CaptioningTransformer(WORDS, input_dim=4, wordvec_dim=8, num_heads=2, num_layers=1, dim_feedforward=16,
                                  dropout=0.3, dtype=np.float64, rng=2)
    features, captions = rng.standard_normal((2, 4)), np.array([[1, 3, 5, 2], [1, 4, 2, 0]])
    assert model.loss(features, captions)[0] != model.loss(features, captions)[0]
    assert np.array_equal(model.forward(features, captions), model.forward(features, captions))


def test_greedy_sample_feeds_back_the_argmax():
    rng = np.random.default_rng(2)
    model = CaptioningTransformer(WORDS, input_dim=4, wordvec_dim=8, num_heads=2, num_layers=2, dim_feedforward=16,
                                  max_length=6, dtype=np.float64, rng=3)
    for name, value in model.params.items():
        model.params[name] = value + rng.standard_normal(value.shape)
    features = rng.standard_normal((4, 4))
    sampled = model.sample(features, max_length=5)
    assert sampled.shape == (4, 5) and sampled.dtype == np.int32
    for i in range(4):  # replay: each word is the argmax given the words before it
        words = [WORDS["<START>"]]
        for t in range(5):
            if words[-1] == WORDS["<END>"]:
                assert sampled[i, t] == WORDS["<NULL>"]
                continue
            best = int(model.forward(features[i:i + 1], np.array([words]))[0, -1].argmax())
            assert sampled[i, t] == best
            words.append(best)
    with pytest.raises(NpnetValueError, match="max_length"):
        model.sample(features, max_length=7)


def test_bad_inputs_are_named():
    model = CaptioningTransformer(WORDS, input_dim=4, wordvec_dim=8, num_heads=2, num_layers=1, dim_feedforward=8,
                                  max_length=4)
    with pytest.raises(NpnetValueError, match="num_heads must divide"):
        CaptioningTransformer(WORDS, input_dim=4, wordvec_dim=8, num_heads=3)
    with pytest.raises(NpnetValueError, match="max_length=4"):
        model.loss(np.zeros((1, 4)), np.ones((1, 6), int))
    with pytest.raises(NpnetValueError, match=r"word indices in \[0, 6\)"):
        model.loss(np.zeros((1, 4)), np.array([[1, 9]]))
    with pytest.raises(NpnetValueError, match="features must have shape"):
        model.loss(np.zeros((1, 5)), np.array([[1, 3]]))


def test_checkpoint_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    data = {"train_captions": np.array([[1, 3, 5, 2], [1, 4, 2, 0]]), "train_image_idxs": np.array([0, 1]),
            "train_features": rng.standard_normal((2, 4)).astype(np.float32), "train_urls": np.array(["a", "b"]),
            "val_captions": np.array([[1, 3, 2, 0]]), "val_image_idxs": np.array([0]),
            "val_features": rng.standard_normal((1, 4)).astype(np.float32), "val_urls": np.array(["c"]),
            "word_to_idx": WORDS, "idx_to_word": {i: w for w, i in WORDS.items()}}
    model = CaptioningTransformer(WORDS, input_dim=4, wordvec_dim=8, num_heads=2, num_layers=1, dim_feedforward=8,
                                  max_length=4, rng=4)
    solver = CaptioningSolver(model, data, num_epochs=2, batch_size=2, verbose=False,
                              checkpoint_name=str(tmp_path / "tf"), rng=np.random.default_rng(0))
    solver.train()
    again = CaptioningTransformer.from_checkpoint(tmp_path / "tf_epoch_2.npz")
    assert again.config() == model.config()
    for name in model.params:
        assert np.array_equal(again.params[name], model.params[name])


@pytest.fixture(scope="module")
def small_coco(tmp_path_factory):
    vocab = require_data("coco/coco2014_vocab.json")
    out = make_synthetic_coco(tmp_path_factory.mktemp("coco"), vocab, num_train=20, num_val=5, num_train_images=20,
                              seed=0)
    return load_coco_data(out)


def test_overfits_a_small_batch(small_coco):
    """The course's sanity check, scaled down to run in seconds: 20 captions, a small model with the
    course's dropout (0.1), 200 Adam steps; the loss (summed over 16 words) falls from ~71 to ~1.4 and
    greedy decoding then reproduces the training captions."""
    model = CaptioningTransformer(small_coco["word_to_idx"], input_dim=512, wordvec_dim=64, num_heads=2,
                                  num_layers=2, max_length=30, dim_feedforward=128, rng=231)
    solver = CaptioningSolver(model, small_coco, update_rule="adam", num_epochs=100, batch_size=10,
                              optim_config={"learning_rate": 5e-3}, verbose=False, rng=np.random.default_rng(0))
    with threadpool_limits(1):  # tiny matrix products: one BLAS thread is many times faster on a busy machine
        solver.train()
    assert solver.loss_history[0] > 60
    assert np.mean(solver.loss_history[-5:]) < 3
    caps = small_coco["train_captions"][:5]
    feats = small_coco["train_features"][small_coco["train_image_idxs"][:5]]
    sampled = model.sample(feats, max_length=16)
    assert (sampled[:, :caps.shape[1] - 1] == caps[:, 1:17]).mean() > 0.9


def test_cli_caption_train_and_sample_a_transformer(tmp_path, capsys):
    from npnet.cli import main
    require_data("coco/coco2014_vocab.json")
    args = ["caption", "train", "--model", "transformer", "--synthetic", "--max-train", "6", "--epochs", "2",
            "--batch-size", "3", "--wordvec", "16", "-o", str(tmp_path), "--quiet"]
    assert main(args) == 0
    assert (tmp_path / "caption_transformer.npz").is_file()
    assert main(["caption", "sample", "--model", "transformer", "--num", "2", "-o", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("sample:") == 2
    assert main(["caption", "sample", "--model", "transformer", "--beam", "2", "-o", str(tmp_path)]) == 1
