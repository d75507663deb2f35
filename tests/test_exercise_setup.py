"""npnet.exercise.exercise_setup: the figures folder, quick mode and the BLAS threads of an exercise run."""
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from npnet.errors import NpnetTypeError, NpnetValueError
from npnet.exercise import exercise_setup


def test_folder_quick_mode_and_threads(tmp_path, monkeypatch):
    monkeypatch.setenv("NPNET_FIGURES", str(tmp_path / "figs"))
    monkeypatch.setenv("NPNET_EXERCISE_QUICK", "1")
    with threadpool_limits(limits=None):  # gives back the caller's thread counts on exit
        out, quick = exercise_setup("self_supervised")
        blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert out == tmp_path / "figs" / "self_supervised" and out.is_dir()
    assert quick is True
    assert blas and set(blas) == {1}
    monkeypatch.setenv("NPNET_EXERCISE_QUICK", "0")
    with threadpool_limits(limits=None):
        assert exercise_setup("self_supervised") == (out, False)  # an existing folder is fine


def test_default_folder_is_figures_under_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("NPNET_FIGURES", raising=False)
    monkeypatch.delenv("NPNET_EXERCISE_QUICK", raising=False)
    monkeypatch.chdir(tmp_path)
    with threadpool_limits(limits=None):
        out, quick = exercise_setup("transformer_captioning")
    assert (tmp_path / out).resolve() == (tmp_path / "figures" / "transformer_captioning").resolve()
    assert quick is False


@pytest.mark.parametrize("name, error", [("", NpnetValueError), ("..", NpnetValueError), ("a/b", NpnetValueError),
                                         (3, NpnetTypeError)])
def test_bad_names_are_refused(name, error, tmp_path, monkeypatch):
    monkeypatch.setenv("NPNET_FIGURES", str(tmp_path))
    with pytest.raises(error, match="exercise_setup: name"):
        exercise_setup(name)
    assert list(tmp_path.iterdir()) == []


def test_bad_thread_count_is_refused():
    with pytest.raises(NpnetValueError, match="blas_threads"):
        exercise_setup("x", blas_threads=0)
