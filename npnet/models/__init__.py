"""Networks built from ``npnet.nn`` modules and the functional layers."""
from .captioning import CaptioningRNN
from .squeezenet import Fire, SqueezeNet, extract_features, features_from_img, squeezenet1_0, squeezenet1_1

__all__ = ["CaptioningRNN", "Fire", "SqueezeNet", "extract_features", "features_from_img", "squeezenet1_0", "squeezenet1_1"]
