"""Data sets and the lookup that finds them (``NPNET_DATA`` -> user cache -> official download)."""
from npnet.data.imagenet import imagenet_class_names, load_imagenet_val
from npnet.data.lookup import find_data, find_weights

__all__ = ["find_data", "find_weights", "imagenet_class_names", "load_imagenet_val"]
