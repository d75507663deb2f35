"""The course loop's proof: for every assignment (a) the untouched release scores 0 on every item,
(b) the release with the instructor's blocks put back scores full marks, and (c) realistic planted
mistakes each lose exactly the points of the item they are in, with the diagnosis named.

Graders run with ``isolation="submission"`` (one subprocess per submission) to keep the suite fast;
the per-item isolation itself is tested in test_course_isolation.py.
"""

import re

import pytest

from npnet.course import manifest, markers
from npnet.course.grade import Grader
from npnet.course.release import build_release, source_root

ROOT = source_root()
GRADERS = {}


def grader(name):
    if name not in GRADERS:
        GRADERS[name] = Grader(manifest.load(name), isolation="submission", timeout=120)
    return GRADERS[name]


@pytest.fixture(scope="module", autouse=True)
def _close_graders():
    yield
    for g in GRADERS.values():
        g.close()
    GRADERS.clear()


@pytest.mark.parametrize("seed", [2])
def test_the_solution_gets_full_marks_on_other_grading_seeds(seed):
    """The instructor's layers, graded by the real grader with other grading seeds (seed 1 is graded
    above; seeds 1-20 of every assignment are run in-process below, the grader's setup being slow)."""
    a = manifest.load("layers")
    with Grader(a, seed=seed, isolation="submission", timeout=120) as g:
        result = g.grade(ROOT)
    assert result.score == a.max_score, (seed, result.table())


@pytest.mark.parametrize("name", manifest.names())
def test_every_item_runs_the_same_on_20_seeds(name, tmp_path):
    """Every item, in this process, seeds 1-20: the solution computes every part, and a second run on the
    inputs saved and loaded as the grader passes them (an .npz) gives the same outputs to the item's
    tolerance (what the grader compares), so the solution gets full marks on each of these seeds.
    classifiers' training item (a pass/fail verdict on a 5-epoch training) is left to the round trip
    above, which grades it with the real grader."""
    import numpy as np

    from npnet._io import read_npz
    from npnet.course.diagnose import rel_error
    a = manifest.load(name)
    path = tmp_path / "inputs.npz"
    for seed in range(1, 21):
        for k, item in enumerate(a.items):
            if (name, item.name) == ("classifiers", "training"):
                continue
            inputs = item.inputs(np.random.default_rng([seed, k]))
            np.savez(path, **{n: np.asarray(v) for n, v in inputs.items()})
            first, second = {}, {}
            item.run({n: np.copy(v) for n, v in inputs.items()}, first)
            item.run(read_npz(path), second)
            assert set(item.points) <= set(first) and set(first) == set(second), (seed, item.name)
            for part in item.points:
                assert rel_error(second[part], first[part]) <= item.rtol, (seed, item.name, part)


@pytest.mark.parametrize("name", manifest.names())
def test_untouched_release_scores_zero_and_restored_release_full_marks(name, tmp_path):
    a = manifest.load(name)
    release = tmp_path / "release"
    build_release(a, release)
    untouched = grader(name).grade(release)
    assert untouched.max_score == a.max_score > 0
    for item in untouched.items:
        assert item.score == 0, item.output
        assert "not implemented yet" in item.output, item.output

    for path in a.submit:
        restored = markers.fill_stubs((release / path).read_text(), (ROOT / path).read_text(), path)
        (release / path).write_text(restored)
    assert not any(markers.STUB_SIGNATURE in (release / p).read_text() for p in a.submit)
    full = grader(name).grade(release)
    assert [(i.name, i.score) for i in full.items] == [(i.name, i.max_score) for i in a.items], full.table()
    assert full.notes == []


def planted(tmp_path, a, edits):
    """A submission folder: the instructor's files with ``edits`` {path: [(old, new), ...]} applied."""
    sub = tmp_path / "submission"
    for path in a.submit:
        text = (ROOT / path).read_text()
        for old, new in edits.get(path, []):
            assert text.count(old) == 1, f"{path}: planted edit must match once: {old!r}"
            text = text.replace(old, new)
        (sub / path).parent.mkdir(parents=True, exist_ok=True)
        (sub / path).write_text(text)
    return sub


# assignment -> list of (file edits, {item: {lost part: words the diagnosis must contain (or "")}})
MISTAKES = {
    "layers": [
        ({"npnet/layers/conv.py": [
            # conv dw transposed (fast conv)
            ("        dw = _sum_outer(d, cols).reshape(w.shape)",
             "        dw = _sum_outer(d, cols).reshape(w.shape).transpose(1, 0, 2, 3)"),
            # a naive conv whose db is never written
            ("    dx = dxp[:, :, pad:pad + H, pad:pad + W]\n    db = None if b is None else dout.sum(axis=(0, 2, 3))",
             "    dx = dxp[:, :, pad:pad + H, pad:pad + W]\n    db = None if b is None else np.zeros(F)")],
          "npnet/layers/pool.py": [
            # max pooling routing the gradient to every tie
            ("                    i, j = divmod(int(np.argmax(x[n, c, h0:h1, w0:w1])), w1 - w0)\n"
             "                    dx[n, c, h0 + i, w0 + j] += dout[n, c, oh, ow]",
             "                    win = x[n, c, h0:h1, w0:w1]\n"
             "                    dx[n, c, h0:h1, w0:w1] += (win == win.max()) * dout[n, c, oh, ow]")],
          "npnet/layers/activations.py": [
            # inverted dropout without 1/p
            ("    mask = (uniform(*x.shape) < p).astype(x.dtype) / x.dtype.type(p)",
             "    mask = (uniform(*x.shape) < p).astype(x.dtype)"),
            # ReLU backward that forgets the mask
            ("        passes = x > 0\n", "        passes = np.ones_like(x, dtype=bool)\n")],
          "npnet/layers/affine.py": [
            # a backward returning dx of the wrong sign
            ("    dx = (dout @ w.T).reshape(x.shape)", "    dx = -(dout @ w.T).reshape(x.shape)")],
          "npnet/layers/norm.py": [
            # dgamma per sample: the sum over the batch is missing
            ("    dgamma = (dout * xhat).sum(axis=axes)", "    dgamma = dout * xhat")]},
         {"conv_fast": {"dw": "transposed"}, "conv_naive": {"db": "exactly zero"},
          "max_pool_naive": {"dx [2x2 window, stride 2*ties]": "exactly 0: a mask / condition",
                             "dx [3x*ties]": ""},  # overlapping windows: ties add up, no clean diagnosis
          "dropout": {"out [train*": "1/p scaling of inverted dropout is missing", "dx [train*": "1/p scaling"},
          "relu": {"dx [standard*": "equals the upstream gradient"}, "affine": {"dx": "sign is flipped"},
          "batchnorm": {"dgamma [t*, (N, 4)*": "missing sum over the batch",
                        "dgamma [train, spatial*": "missing sum over axes (0, 2, 3)"}}),
        ({"npnet/layers/affine.py": [("    db = dout.sum(axis=0)", "    db = dout.mean(axis=0)")]},
         {"affine": {"db": "an extra 1/N"}}),
        # issue 22's four bugs that once got full marks: each now costs the configurations it breaks
        ({"npnet/layers/pool.py": [
            # max-pool backward with the window size as the stride
            ("                h0, h1 = _span(oh, stride, pad, kh, H)", "                h0, h1 = _span(oh, kh, pad, kh, H)"),
            ("                    w0, w1 = _span(ow, stride, pad, kw, W)",
             "                    w0, w1 = _span(ow, kw, pad, kw, W)")],
          "npnet/layers/norm.py": [
            # running_var updated with the standard deviation
            ("(1 - momentum) * var.reshape(d)", "(1 - momentum) * np.sqrt(var).reshape(d)"),
            # test mode normalising with the batch's own statistics
            ("        inv_std = 1 / np.sqrt(running[\"running_var\"].reshape(view) + eps)\n"
             "        xhat = (x - running[\"running_mean\"].reshape(view)) * inv_std\n",
             "        xhat, _, _, inv_std = _normalize(x, axes, eps)\n")],
          "npnet/layers/activations.py": [
            # dropout's test mode scaling by p
            ("        return x.copy(), (None, x.shape, x.dtype)", "        return x * p, (None, x.shape, x.dtype)")]},
         {"max_pool_naive": {"dx [3x2 window, stride 1*": "", "dx [3x3 window, stride 2*": "",
                             "dx [2x2 window, stride 3*": ""},
          "batchnorm": {"running_var [train*": "", "out [test*": "the batch's own mean and variance",
                        "dx [test*": "", "dgamma [test*": ""},
          "dropout": {"out [test*": "test mode scales by p"}}),
    ],
    "network_visualization": [
        ({"npnet/layers/activations.py": [
            # guided ReLU with the wrong condition
            ("        passes = (x > 0) & (dout > 0)", "        passes = (x > 0) | (dout > 0)")],
          "npnet/vis/saliency.py": [
            # Grad-CAM without its final ReLU
            ("    cam = np.maximum((weights * A).sum(axis=1), 0)", "    cam = (weights * A).sum(axis=1)")]},
         {"guided_backprop": {"relu_guided": "too loose", "gradient": ""},
          "grad_cam": {"cam": "exactly 0: a mask / condition"}}),
    ],
    "style_transfer": [
        ({"npnet/style/losses.py": [
            # Gram matrix not normalised
            ("    gram = np.matmul(flat, flat.transpose(0, 2, 1)) * F.dtype.type(scale)",
             "    gram = np.matmul(flat, flat.transpose(0, 2, 1))"),
            # TV loss missing the horizontal direction
            ("    loss = w * (np.sum(dv * dv, dtype=np.float64) + np.sum(dh * dh, dtype=np.float64))",
             "    loss = w * np.sum(dv * dv, dtype=np.float64)"),
            ("    dx[:, :, :, 1:] += (2 * w) * dh\n    dx[:, :, :, :-1] -= (2 * w) * dh\n", ""),
            # the content gradient without the 2 of the square
            ("    dF = (2 * w) * diff", "    dF = w * diff")],
          "npnet/layers/norm.py": [
            # the optional part: conditional instance norm's dx without each sample's gamma
            ("    dx = _normalize_backward(dout * gamma[:, :, None, None], xhat, inv_std, (2, 3))",
             "    dx = _normalize_backward(dout, xhat, inv_std, (2, 3))")]},
         {"gram_and_style": {"gram": "not divided by C*H*W", "style_loss": "", "style_grads": ""},
          "tv_loss": {"loss": "", "grad": ""}, "content_loss": {"grad": "is 2*w*d"},
          "optional_conditional_instance_norm": {"dx": ""}}),
    ],
    "rnn_captioning": [
        ({"npnet/layers/rnn.py": [
            # LSTM gates in the wrong order
            ("    ifo = sigmoid(a[:, :3 * H])\n    i, f, o = ifo[:, :H], ifo[:, H:2 * H], ifo[:, 2 * H:]",
             "    ifo = sigmoid(a[:, :3 * H])\n    f, i, o = ifo[:, :H], ifo[:, H:2 * H], ifo[:, 2 * H:]")],
          "npnet/layers/losses.py": [
            # softmax gradient without 1/N
            ("        dx[rows, y] -= 1\n        dx /= n\n", "        dx[rows, y] -= 1\n")]},
         {"lstm": "all", "softmax_loss": {"dx": "missing 1/N"},
          # saturated gates pass no gradient, so swapping i and f shows only in h, c and dprev_c there
          "lstm_saturated": {"h": "", "c": "", "dprev_c": ""}}),
    ],
    "transformer_captioning": [
        ({"npnet/layers/attention.py": [
            # the feed-forward backward without the ReLU's gate
            ("    da = relu_backward(dhidden, relu_cache)\n", "    da = dhidden\n")]},
         {"feedforward": {"dx": "", "dW1": "", "db1": ""}, "decoder_layer": {"dtgt": "", "dmemory": "", "grads": ""},
          "captioning_loss": {"grads": ""}}),
    ],
    "self_supervised": [
        ({"npnet/models/simclr.py": [
            # the loss's gradient without the chain rule's 1/tau
            ("    dunit = (dscores + dscores.T) @ unit / tau\n", "    dunit = (dscores + dscores.T) @ unit\n"),
            # the cosine similarity divided by |z_i|^2 instead of |z_i| |z_j|
            ("    norm_dot_product = float(z_i @ z_j / (np.linalg.norm(z_i) * np.linalg.norm(z_j)))",
             "    norm_dot_product = float(z_i @ z_j / np.linalg.norm(z_i) ** 2)")]},
         {"simclr_loss_vectorized": {"dleft": "", "dright": ""}, "sim": "all", "simclr_loss_naive": "all"}),
    ],
    "conv_as_matrix": [
        ({"npnet/linalg.py": [
            # the stride forgotten in the matrix of a strided convolution
            ("                    h, x = oh * stride - pad + i, ow * stride - pad + j",
             "                    h, x = oh - pad + i, ow - pad + j")]},
         {"conv_matrix": {"conv_matrix": ""}}),
    ],
    "gans": [
        ({"npnet/models/gan.py": [
            # the generator loss with the fake label
            ("    loss, dfake = bce_with_logits(logits_fake, np.ones_like(logits_fake))",
             "    loss, dfake = bce_with_logits(logits_fake, np.zeros_like(logits_fake))"),
            # the least-squares discriminator loss without its 1/2
            ("    loss = 0.5 * (loss_real + loss_fake)\n    dreal, dfake = 0.5 * dreal, 0.5 * dfake\n",
             "    loss = loss_real + loss_fake\n"),
            # a discriminator whose last layer has no bias: one parameter of 267,009 missing
            ("                         nn.Linear(256, 1, rng=rng))",
             "                         nn.Linear(256, 1, bias=False, rng=rng))"),
            # the DCGAN generator without its last batch norm
            ("nn.ReLU(),\n                         nn.BatchNorm2d(64),\n", "nn.ReLU(),\n"),
            # the discriminator step letting its gradient flow into G, which it then updates (and so
            # generating its fake batch with G's caches, outside nn.no_grad)
            ("    with nn.no_grad():  # nothing flows back into G in this step: keep none of its caches\n"
             "        fake = G.forward(sample_noise(n, d, rng))\n",
             "    fake = G.forward(sample_noise(n, d, rng))\n"),
            ("    D.backward(np.concatenate([dreal, dfake]), input_grad=False)  # images are data here: no dx\n"
             "    D_solver.step()\n",
             "    G.backward(D.backward(np.concatenate([dreal, dfake]))[n:])\n    D_solver.step()\n"
             "    G_solver.step()\n")]},
         {"bce_losses": {"g_loss": "", "g_dfake": ""},
          "ls_losses": {"d_loss": "1/2 of the least-squares loss is missing", "d_dreal": "1/2", "d_dfake": "1/2"},
          "fc_networks": {"D_params": "", "D_keys": ""}, "dc_networks": {"G_params": "", "G_keys": ""},
          "gan_step": {"g_loss": "", "G_update": ""}}),
    ],
    "problem_set": [
        ({"npnet/linalg.py": [
            # Q1.1: the stride forgotten in the matrix of a strided convolution
            ("                    h, x = oh * stride - pad + i, ow * stride - pad + j",
             "                    h, x = oh - pad + i, ow - pad + j"),
            # Q1.3: the sub-pixel filters interleaved without the flip of a transposed convolution
            ("    flipped = w.reshape(O, r, r, C, k, k)[..., ::-1, ::-1]  # [o, i, j, c, k-1-a, k-1-b]",
             "    flipped = w.reshape(O, r, r, C, k, k)")],
          "npnet/relu_networks.py": [
            # Q2: the bias subtracted instead of added (AND and OR come out wrong, and so XOR's layers)
            ("    return (X @ w + b >= 0).astype(int)", "    return (X @ w - b >= 0).astype(int)"),
            # Q3: the local bias taken as f(x) itself, without subtracting w.x
            ("    b = out.reshape(m) - w.reshape(m, -1) @ x.ravel()", "    b = out.reshape(m)"),
            # Q4: the pattern changes counted, not the pieces (one short)
            ("    return 1 + _count_changes(activation_pattern(model, X))",
             "    return _count_changes(activation_pattern(model, X))")]},
         {"q1_1_conv_matrix": "all", "q1_3_subpixel": {"transposed": ""}, "q2_threshold_units": "all",
          "q2_xor": {"xor_network": ""}, "q3_local_linear": {"b": ""},
          "q4_linear_regions": {"folds": "", "composition": ""}}),
    ],
    "understanding": [
        ({"npnet/vis/activations.py": [
            # the receptive field growing by k - 1 at every layer, whatever the stride below
            ("        size += (k - 1) * jump\n", "        size += k - 1\n"),
            # cosine distance with the database rows left unnormalised
            ("        dn = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), np.finfo(float).tiny)",
             "        dn = d")],
          "npnet/vis/attribution.py": [
            # occlusion recording the score's rise instead of its drop
            ("                    drops[i, start:start + len(chunk)] = base[i] - scores[:, y[i]]",
             "                    drops[i, start:start + len(chunk)] = scores[:, y[i]] - base[i]"),
            # integrated gradients without the (x - baseline) factor
            ("    attributions = (X - b) * path_grad", "    attributions = path_grad.copy()")],
          "npnet/vis/neurons.py": [
            # the channel's mean objective with the gradient of its sum
            ("        dA[0, channel] = 1.0 / (A.shape[2] * A.shape[3])", "        dA[0, channel] = 1.0")],
          "npnet/style/dream.py": [
            # a DeepDream step of the raw gradient, not normalised by its mean size
            ("    step = step_size / max(float(np.abs(g).mean()), 1e-12)", "    step = step_size")]},
         {"receptive_field": {"fields": "", "tiny_net": ""}, "max_activating_patches": {"patches": ""},
          "nearest_neighbours": {"cosine": ""}, "occlusion": {"score": ""}, "integrated_gradients": "all",
          "unit_ascent": {"objective_gradient": "", "unit_objective": ""}, "deepdream_step": {"image": ""}}),
    ],
    "classifiers": [
        ({"npnet/layers/losses.py": [
            # the naive SVM gradient without the correct class's -1 per active margin
            ("                dx[i, y[i]] -= 1 / n\n", ""),
            # the naive softmax loss summed over the batch, not averaged
            ("    loss /= n\n", "")],
          "npnet/models/classifiers.py": [
            # the two-layer net's L2 penalty on W1 only
            ('        loss += _l2(self.reg, p, grads, ("W1", "W2"))', '        loss += _l2(self.reg, p, grads, ("W1",))'),
            # the dropout mask not applied on the way back
            ("            if self.use_dropout:\n                dh = dropout_backward(dh, drop_cache)\n", ""),
            # the convnet's L2 penalty without W3
            ('        loss += _l2(self.reg, p, grads, ("W1", "W2", "W3"))',
             '        loss += _l2(self.reg, p, grads, ("W1", "W2"))')],
          "npnet/optim.py": [
            # momentum that climbs the loss: the velocity adds the gradient (and training fails)
            ('    v = config["momentum"] * v - config["learning_rate"] * dw',
             '    v = config["momentum"] * v + config["learning_rate"] * dw'),
            # RMSProp's running average without its (1 - decay_rate)
            ('    cache = config["decay_rate"] * cache + (1 - config["decay_rate"]) * dw * dw',
             '    cache = config["decay_rate"] * cache + dw * dw')]},
         {"svm_naive": {"dx": ""}, "softmax_naive": {"loss": ""}, "two_layer_net": {"loss": "", "grads": ""},
          "fc_net_dropout": {"grads": ""}, "three_layer_convnet": {"loss": "", "grads": ""},
          "update_rules": {"sgd_momentum": "", "rmsprop": ""}, "training": {"held_out_accuracy": ""}}),
    ],
}

CASES = [(name, k) for name, cases in MISTAKES.items() for k in range(len(cases))]


def expand_parts(lost, parts):
    """``{part: words}`` for every part of ``parts`` a key of ``lost`` names: the part itself, all its
    configurations (``"dx"`` is ``"dx [...]"`` of every configuration), or a ``*`` pattern of them
    (``"dx [train*"``)."""
    out = {}
    for key, words in lost.items():
        pattern = re.compile(re.escape(key).replace(r"\*", ".*") + r"( \[.*\])?")
        hits = [p for p in parts if pattern.fullmatch(p)]
        assert hits, f"{key!r} names no part of {sorted(parts)}"
        out.update({p: words for p in hits})
    return out


@pytest.mark.parametrize("name,k", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_planted_mistakes_lose_exactly_their_items_points(name, k, tmp_path):
    a = manifest.load(name)
    edits, expected = MISTAKES[name][k]
    result = grader(name).grade(planted(tmp_path, a, edits))
    lost_total = 0
    for item in result.items:
        spec = a.item(item.name)
        lost = expected.get(item.name, {})
        if lost == "all":
            lost = {part: "" for part in spec.points}
        lost = expand_parts(lost, spec.points)
        want = spec.max_score - sum(spec.points[p] for p in lost)
        assert item.score == want, f"{item.name}: {item.score} != {want}\n{item.output}"
        lost_total += spec.max_score - want
        for part, words in lost.items():
            line = next(line for line in item.lines if line.startswith(f"{part} (0/"))
            assert words in line, line
            assert "Diagnosis" in line or not words
    assert result.score == a.max_score - lost_total
    assert len([m for cases in MISTAKES.values() for _, e in cases for m in e]) >= 12
