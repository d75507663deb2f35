"""npnet: a pure-NumPy deep-learning teaching framework with hand-written backprop."""
# The one place npnet's version is written: setup.py reads this line, `npnet --version` prints it.
__version__ = "0.1.0"
