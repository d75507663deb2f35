"""Assignment ``self_supervised``: SimCLR's similarity and contrastive (NT-Xent) loss, naive and
vectorised, with the backward pass written out (CS231n assignment 3, Self_Supervised_Learning)."""
import numpy as np

from npnet.course.assignments._configs import Config, configured
from npnet.course.manifest import Assignment, Item
from npnet.models import simclr as S

N, D = 4, 5


def _pairs(tau):
    def inputs(rng):
        return {"left": rng.standard_normal((N, D)), "right": rng.standard_normal((N, D)), "tau": tau}
    return inputs


def _sim(inputs, out):
    out["sim"] = np.array([S.sim(a, b) for a, b in zip(inputs["left"], inputs["right"])])


def _matrices(inputs, out):
    out["sim_matrix"] = S.compute_sim_matrix(np.concatenate([inputs["left"], inputs["right"]]))
    out["positive_pairs"] = S.sim_positive_pairs(inputs["left"], inputs["right"])


def _naive(inputs, out):
    out["loss"] = np.array(S.simclr_loss_naive(inputs["left"], inputs["right"], float(inputs["tau"])))


def _vectorized(inputs, out):
    loss, out["dleft"], out["dright"] = S.simclr_loss_vectorized(inputs["left"], inputs["right"],
                                                                  float(inputs["tau"]))
    out["loss"] = np.array(loss)


def _drawn_pairs(d):
    """Pairs of width ``d`` with a temperature drawn from [0.05, 1) (seeded)."""
    def inputs(rng):
        return {"left": rng.standard_normal((N, d)), "right": rng.standard_normal((N, d)),
                "tau": float(rng.uniform(0.05, 1.0))}
    return inputs


# tau 0.001 puts the scores at +-1000: exp overflows unless each row's maximum is subtracted first
VECTORIZED = [Config(label, inputs, _vectorized, {"loss": 1, "dleft": 1, "dright": 1})
              for label, inputs in (("tau 0.5", _pairs(0.5)), ("tau 0.1", _pairs(0.1)),
                                    ("tau drawn from 0.05 to 1, D 3", _drawn_pairs(3)),
                                    ("tau 0.001 (scores of magnitude 1000)", _pairs(0.001)))]

ASSIGNMENT = Assignment(
    name="self_supervised",
    requires=("layers",),
    title="Self-supervised learning: SimCLR's similarity and contrastive loss, naive and vectorised, with backward",
    strip={"npnet/models/simclr.py": ("sim", "compute_sim_matrix", "sim_positive_pairs", "simclr_loss_naive",
                                      "simclr_loss_vectorized")},
    exercises=("self_supervised",),
    public_tests=("test_simclr.py",),
    gradcheck=("simclr",),
    items=(
        Item("sim", {"sim": 1}, _pairs(0.5), _sim, ("sim",)),
        Item("similarity_matrices", {"sim_matrix": 1, "positive_pairs": 1}, _pairs(0.5), _matrices,
             ("compute_sim_matrix", "sim_positive_pairs")),
        Item("simclr_loss_naive", {"loss": 2}, _pairs(0.5), _naive, ("simclr_loss_naive", "sim")),
        configured("simclr_loss_vectorized", VECTORIZED, ("simclr_loss_vectorized",), batch="left"),
    ),
)
