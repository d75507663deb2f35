"""A tiny convolutional network with SqueezeNet's interface, for grading the techniques that need a model.

The real SqueezeNet needs downloaded weights and a random one has vanishing scores, so the
network-visualisation and style items use this one: ``features`` = conv-ReLU-maxpool-conv-ReLU
(5 layers), ``classifier`` = 1x1 conv to the classes and a global average pool, He-initialised from a
seed so that scores and gradients are of order 1 and the grader and the student build the same net.
"""
import numpy as np

from npnet import _check
from npnet.nn import Conv2d, GlobalAvgPool2d, MaxPool2d, Module, ReLU, Sequential

LAST = 4  # features[4], the last ReLU: the Grad-CAM layer


class TinyNet(Module):
    """features: conv 3->6 (3x3, pad 1), ReLU, 2x2 max pool, conv 6->8 (3x3, pad 1), ReLU;
    classifier: conv 8->num_classes (1x1), global average pool. Input (N, 3, H, W), H, W >= 2."""

    def __init__(self, num_classes=5, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.num_classes, self.min_size = num_classes, 2
        self.features = Sequential(Conv2d(3, 6, 3, padding=1, dtype=np.float64, rng=rng), ReLU(), MaxPool2d(2),
                                   Conv2d(6, 8, 3, padding=1, dtype=np.float64, rng=rng), ReLU())
        self.classifier = Sequential(Conv2d(8, num_classes, 1, dtype=np.float64, rng=rng), GlobalAvgPool2d())
        for conv in (self.features[0], self.features[3], self.classifier[0]):
            w = conv.params["weight"]
            conv.params["weight"] = rng.standard_normal(w.shape) * np.sqrt(2 / np.prod(w.shape[1:]))
            conv.params["bias"] = 0.1 * rng.standard_normal(w.shape[0])
        self.eval()
        self.requires_grad_(False)

    @property
    def dtype(self):
        return np.dtype(np.float64)

    def check_input(self, fn, X):
        X = _check.float_array(fn, "X", X, ndim=4, layout="(N, 3, H, W)")
        _check.shape(fn, "X", X, (None, 3, None, None))
        return X

    def forward(self, X):
        X = self.check_input("TinyNet.forward", X).astype(np.float64, copy=False)
        return self.classifier.forward(self.features.forward(X)).reshape(X.shape[0], self.num_classes)

    def backward(self, dscores):
        out = self.classifier.outputs[-1]
        return self.features.backward(self.classifier.backward(np.asarray(dscores).reshape(out.shape)))
