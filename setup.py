import re
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# What `npnet course` copies into a release besides the packages: with these inside the wheel (under
# npnet/_course/), an installed npnet releases and grades exactly as a checkout does.
COURSE_FILES = ["setup.py", "pyproject.toml", "README.md", ".gitignore", "exercises/*.py", "tests/*.py"]


class BuildWithCourseFiles(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "npnet" / "_course"
        for pattern in COURSE_FILES:
            for source in sorted(HERE.glob(pattern)):
                dest = target / source.relative_to(HERE)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(source.read_bytes())


def _version():
    """``npnet.__version__``, read from npnet/__init__.py without importing npnet (whose dependencies
    may not be installed yet): the one place the version is written."""
    text = Path(__file__).with_name("npnet").joinpath("__init__.py").read_text(encoding="utf-8")
    return re.search(r'^__version__ = "([^"]+)"$', text, re.M).group(1)


DOCS = ["sphinx>=7", "myst-parser>=2"]

setup(
    name="npnet",
    version=_version(),
    description="A pure-NumPy deep-learning teaching framework with hand-written backprop",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    # the Python and NumPy versions npnet supports (README, "Two commands"); CI runs one of them
    python_requires=">=3.10",
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Intended Audience :: Education",
        "Intended Audience :: Science/Research",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
    packages=find_packages(include=["npnet", "npnet.*", "gradcheck", "gradcheck.*"]),
    # the embedded offline copies (SqueezeNet 1.1 fp16-rounded, MNIST 5k) with their provenance
    package_data={"npnet": ["data/*.json", "data/embedded/*/*.npz", "data/embedded/*/PROVENANCE.md"]},
    install_requires=[
        "numpy>=1.24,<3",  # 1.23 builds ragged arrays instead of refusing them
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
        # `npnet course gradescope` builds the release's wheel (bdist_wheel is built in from 70.1 on)
        "setuptools>=70.1",
    ],
    # nbclient + ipykernel: the tests run a released notebook top to bottom in a headless kernel;
    # hypothesis: property-based tests of the argument checks;
    # docs: Sphinx (autodoc + napoleon) and MyST for the API reference in docs/, which tests/test_docs.py
    # builds with warnings as errors, so the test extra has it too;
    # tsne: scikit-learn for npnet.vis.activations.tsne (optional, everything else is NumPy)
    extras_require={"test": ["pytest>=7", "nbclient>=0.7", "ipykernel>=6", "hypothesis>=6", *DOCS],
                    "docs": DOCS,
                    "tsne": ["scikit-learn>=1.1"]},
    entry_points={"console_scripts": ["npnet=npnet.cli:main"]},
    cmdclass={"build_py": BuildWithCourseFiles},
)
