"""Assignment ``gans``: the vanilla and least-squares GAN losses with their gradients, the four networks
(CS231n assignment 3, GAN notebook) and the alternating training step.

The losses are graded on seeded logits, so grading needs no data (the public test compares them with
the course's ``gan-checks.npz`` through the data lookup). A network is graded by what a student can get
right without copying the instructor's random initialisation: its parameter count, its output shape and
its state_dict key names. The training step is graded on a tiny seeded D and G with Wasserstein losses
(Arjovsky et al. 2017) passed in as the loss functions, so a mistake in the graded losses costs nothing
here, and plain SGD with learning rate 1, so each parameter's update is minus its gradient (Adam's first
step is about ``lr * sign(gradient)`` and would hide a wrongly scaled gradient).
"""
import numpy as np

from npnet import nn
from npnet.course.assignments._configs import Config, configured
from npnet.course.manifest import Assignment, Item
from npnet.models import gan, minimax
from npnet.optim import Optimizer

BATCH = 5  # images per graded batch


def _logits(rng):
    return {"real": 2 * rng.standard_normal((BATCH, 1)), "fake": 2 * rng.standard_normal((BATCH, 1))}


def _saturated(rng):
    """Logits of magnitude 40 to 1000, both signs: log(sigmoid) and log(1 - sigmoid) written naively give
    -inf or NaN; the loss must be computed from the logits."""
    def draw():
        return rng.choice([-1.0, 1.0], (BATCH, 1)) * rng.uniform(40, 1000, (BATCH, 1))
    return {"real": draw(), "fake": draw()}


def _networks(rng):
    return {"seed": int(rng.integers(1000)), "noise_dim": int(rng.integers(3, 9))}


def _step(rng):
    return {"real": rng.uniform(-1, 1, (BATCH, 6)), "seed": int(rng.integers(1000))}


def _bce_run(inputs, out):
    out["d_loss"], out["d_dreal"], out["d_dfake"] = gan.discriminator_loss(inputs["real"], inputs["fake"])
    out["g_loss"], out["g_dfake"] = gan.generator_loss(inputs["fake"])


def _ls_run(inputs, out):
    out["d_loss"], out["d_dreal"], out["d_dfake"] = gan.ls_discriminator_loss(inputs["real"], inputs["fake"])
    out["g_loss"], out["g_dfake"] = gan.ls_generator_loss(inputs["fake"])


def _key_codes(model):
    """The state_dict key names, one per line, as character codes (the grader compares arrays)."""
    return np.frombuffer("\n".join(model.state_dict()).encode(), dtype=np.uint8)


def _network_parts(out, tag, model, x):
    out[f"{tag}_params"] = gan.count_params(model)
    out[f"{tag}_shape"] = np.shape(model.forward(x))
    out[f"{tag}_keys"] = _key_codes(model)


def _networks_run(d_name, g_name):
    """A ``run`` grading the networks ``gan.<d_name>`` and ``gan.<g_name>`` (looked up at call time)."""
    def run(inputs, out):
        seed, d = int(inputs["seed"]), int(inputs["noise_dim"])
        rng = np.random.default_rng(seed)
        # G first, in training mode (batch norm on batch statistics); D gets its own images, so a wrong
        # G costs only G's parts
        _network_parts(out, "G", getattr(gan, g_name)(d, seed=seed).train(), gan.sample_noise(2, d, rng))
        _network_parts(out, "D", getattr(gan, d_name)(seed=seed), rng.uniform(-1, 1, (2, gan.IMAGE_DIM)))
    return run


def _wasserstein_d(scores_real, scores_fake):
    n_real, n_fake = len(scores_real), len(scores_fake)
    loss = scores_fake.mean() - scores_real.mean()
    return loss, np.full(scores_real.shape, -1.0 / n_real), np.full(scores_fake.shape, 1.0 / n_fake)


def _wasserstein_g(scores_fake):
    return -scores_fake.mean(), np.full(scores_fake.shape, -1.0 / len(scores_fake))


def _flat_params(model):
    return np.concatenate([np.ravel(p) for _, p in model.named_parameters()])


def _step_run(inputs, out):
    rng = np.random.default_rng(int(inputs["seed"]))
    D = nn.Sequential(nn.Linear(6, 5, dtype=np.float64, rng=rng), nn.LeakyReLU(gan.LEAK),
                      nn.Linear(5, 1, dtype=np.float64, rng=rng)).train()
    G = nn.Sequential(nn.Linear(3, 5, dtype=np.float64, rng=rng), nn.ReLU(),
                      nn.Linear(5, 6, dtype=np.float64, rng=rng), nn.Tanh()).train()
    d_before, g_before = _flat_params(D), _flat_params(G)
    d_loss, g_loss = gan.gan_step(D, G, Optimizer(D, "sgd", {"learning_rate": 1.0}),
                                  Optimizer(G, "sgd", {"learning_rate": 1.0}), inputs["real"],
                                  _wasserstein_d, _wasserstein_g, rng)
    out["d_loss"], out["g_loss"] = d_loss, g_loss
    out["D_update"] = _flat_params(D) - d_before
    out["G_update"] = _flat_params(G) - g_before


def _ls_factors(inputs):
    return {2.0: "the 1/2 of the least-squares loss is missing"}


# a network part must be exact (rtol=0): a missing bias can be 1 parameter in millions
NETWORK_POINTS = {f"{net}_{what}": 1 for net in ("D", "G") for what in ("params", "shape", "keys")}

def _minimax(rng):
    return {"x0": float(rng.uniform(-2, 2)), "y0": float(rng.uniform(-2, 2)), "step": float(rng.choice([0.5, 1.0]))}


def _minimax_run(inputs, out):
    out["y"], out["x"] = minimax.alternating_minimax(float(inputs["x0"]), float(inputs["y0"]), steps=6,
                                                     step_size=float(inputs["step"]))


ASSIGNMENT = Assignment(
    name="gans",
    requires=("layers", "network_visualization"),  # its networks backpropagate through relu_backward
    title="GANs: vanilla and least-squares losses, the fully connected and DCGAN networks, the training step",
    strip={
        "npnet/models/gan.py": ("discriminator", "generator", "dc_discriminator", "dc_generator",
                                "discriminator_loss", "generator_loss", "ls_discriminator_loss",
                                "ls_generator_loss", "gan_step"),
        "npnet/models/minimax.py": ("alternating_minimax",),
    },
    exercises=("gans",),
    public_tests=("test_gan_public.py",),
    gradcheck=("gan",),
    items=(
        # The notebook's inline min-max question, from other starting points and step sizes too.
        Item("minimax", {"y": 1, "x": 1}, _minimax, _minimax_run, ("alternating_minimax",)),
        configured("bce_losses", [Config(label, inputs, _bce_run, {"d_loss": 1, "d_dreal": 1, "d_dfake": 1, "g_loss": 1,
                                                                  "g_dfake": 1})
                                  for label, inputs in (("logits ~ 2", _logits),
                                                        ("logits of magnitude 40 to 1000", _saturated))],
                   ("discriminator_loss", "generator_loss"), batch="real"),
        Item("ls_losses", {"d_loss": 1, "d_dreal": 1, "d_dfake": 1, "g_loss": 1, "g_dfake": 1}, _logits, _ls_run,
             ("ls_discriminator_loss", "ls_generator_loss"), batch="real", factors=_ls_factors),
        Item("fc_networks", NETWORK_POINTS, _networks, _networks_run("discriminator", "generator"),
             ("discriminator", "generator"), rtol=0),
        Item("dc_networks", NETWORK_POINTS, _networks, _networks_run("dc_discriminator", "dc_generator"),
             ("dc_discriminator", "dc_generator"), rtol=0),
        # the generator step runs in float32 (sample_noise's dtype), so a correct step computed in
        # another order differs from the reference in the 7th digit
        Item("gan_step", {"d_loss": 1, "D_update": 2, "g_loss": 1, "G_update": 2}, _step, _step_run, ("gan_step",),
             rtol=1e-4),
    ),
)
