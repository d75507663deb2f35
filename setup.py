from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="npnet",
    version="0.1.0",
    description="A pure-NumPy deep-learning teaching framework with hand-written backprop",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["npnet", "npnet.*", "gradcheck", "gradcheck.*"]),
    # the embedded offline copies (SqueezeNet 1.1 fp16-rounded, MNIST 5k) with their provenance
    package_data={"npnet": ["data/*.json", "data/embedded/*/*.npz", "data/embedded/*/PROVENANCE.md"]},
    install_requires=[
        "numpy>=1.23",
        "scipy>=1.9",
        "numba>=0.57",
        "matplotlib>=3.6",
        "pillow>=9.0",
        "h5py>=3.7",
        "pooch>=1.6",
        "tqdm>=4.60",
        # holds BLAS at one thread while npnet.parallel runs the parts of a batch on both cores
        "threadpoolctl>=3.1",
        "nbformat>=5.7",  # course releases write each exercise as a notebook
    ],
    # nbclient + ipykernel: the tests run a released notebook top to bottom in a headless kernel;
    # hypothesis: property-based tests of the argument checks;
    # tsne: scikit-learn for npnet.vis.activations.tsne (optional, everything else is NumPy)
    extras_require={"test": ["pytest>=7", "nbclient>=0.7", "ipykernel>=6", "hypothesis>=6"],
                    "tsne": ["scikit-learn>=1.1"]},
    entry_points={"console_scripts": ["npnet=npnet.cli:main"]},
)
