"""npnet: a pure-NumPy deep-learning teaching framework with hand-written backprop."""
__version__ = "0.1.0"
