"""``npnet data list | fetch``: what npnet knows, where it looks, what is present, what it fetches."""
import pytest

from npnet.cli import main


@pytest.fixture
def course_folder(monkeypatch, tmp_path):
    """NPNET_DATA with only styles/tubingen.jpg in it, an empty cache, no weights anywhere."""
    data = tmp_path / "data"
    (data / "styles").mkdir(parents=True)
    (data / "styles" / "tubingen.jpg").write_bytes(b"not really a jpeg")
    monkeypatch.setenv("NPNET_DATA", str(data))
    monkeypatch.setenv("NPNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NPNET_OFFLINE", "1")
    monkeypatch.delenv("NPNET_WEIGHTS", raising=False)
    import npnet.data.lookup as lookup
    monkeypatch.setattr(lookup, "repo_weights_dir", lambda: None)
    monkeypatch.setattr(lookup, "embedded_dir", lambda: None)
    return data


def test_list_shows_where_each_file_is_and_how_to_get_the_rest(course_folder, tmp_path, capsys):
    listing = tmp_path / "out" / "data.txt"
    assert main(["data", "list", "-o", str(listing)]) == 0
    out = capsys.readouterr().out
    lines = {line.split(":")[0].strip(): line for line in out.splitlines() if line.startswith("  ")}
    assert f"present: {course_folder / 'styles' / 'tubingen.jpg'}" in lines["styles/tubingen.jpg"]
    assert "missing (downloadable)" in lines["styles/starry_night.jpg"]
    assert "no public URL" in lines["images/kitten.jpg"] and "$NPNET_DATA/images/kitten.jpg" in lines["images/kitten.jpg"]
    assert "missing (downloadable from https://download.pytorch.org" in lines["weights/squeezenet1_1.npz"]
    assert out.splitlines()[0] == f"data folders: NPNET_DATA={course_folder}, then the user cache {tmp_path / 'cache'}"
    assert listing.read_text() == out


def test_fetch_reports_each_file_in_one_line(course_folder, capsys):
    assert main(["data", "fetch", "styles/tubingen.jpg"]) == 0
    assert capsys.readouterr().out == f"styles/tubingen.jpg: {course_folder / 'styles' / 'tubingen.jpg'}\n"
    # offline: the downloadable one is not fetched, the other has no URL; each says so on one line
    assert main(["data", "fetch", "images/kitten.jpg", "imagenet"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].startswith("images/kitten.jpg: not fetched: find_data: could not find 'images/kitten.jpg'")
    assert "there is no official URL" in out[0] and "To get it: set NPNET_DATA" in out[0]
    assert out[1].startswith("imagenet/imagenet_val_25.npz: not fetched:") and "NPNET_OFFLINE is set" in out[1]


def test_fetch_selects_folders_and_weights(course_folder, capsys):
    from npnet.data.commands import _selected

    assert _selected(["styles"]) == [("data", f"styles/{n}.jpg") for n in
                                     ("tubingen", "starry_night", "the_scream", "composition_vii", "muse")]
    assert _selected(["weights"]) == [("weights", "squeezenet1_1.npz")]
    everything = _selected([])
    assert everything[0] == ("weights", "squeezenet1_1.npz") and ("data", "coco/coco_captioning.zip") in everything
    assert main(["data", "list", "styles"]) == 1
    assert "list takes no NAME" in capsys.readouterr().err


def test_not_found_errors_have_a_one_line_summary(course_folder):
    from npnet.data.lookup import find_data
    from npnet.errors import DataNotFoundError, one_line

    with pytest.raises(DataNotFoundError) as info:
        find_data("images/kitten.jpg")
    full, line = str(info.value), one_line(info.value)
    assert full.count("\n") >= 3 and "Looked in:" in full  # the full list, for a person reading the error
    assert "\n" not in line and line.startswith("find_data: could not find 'images/kitten.jpg' (2 places searched;")
    assert line.endswith("To get it: set NPNET_DATA to a folder that holds images/kitten.jpg.")
    assert one_line(ValueError("two\nlines")) == "two lines"


def test_list_says_which_copy_of_the_weights_is_used(course_folder, weights_path, monkeypatch, tmp_path, capsys):
    import numpy as np

    import npnet.data.lookup as lookup
    from npnet.weights import COPY_LABELS, load_npz_weights

    def listing():
        assert main(["data", "list"]) == 0
        return {line.split(":")[0].strip(): line for line in capsys.readouterr().out.splitlines()}

    monkeypatch.setattr(lookup, "embedded_dir", lambda: weights_path.parents[1])  # npnet's real copies
    lines = listing()
    assert f"present: {weights_path} ({COPY_LABELS['fp16']}); the exact file is downloadable from " \
           f"https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth" in lines["weights/squeezenet1_1.npz"]
    mnist = weights_path.parents[1] / "mnist" / "mnist_5k.npz"
    assert lines["mnist/mnist_5k.npz"].endswith(f"present: {mnist} (the copy embedded in npnet)")
    arrays = load_npz_weights(weights_path)
    arrays["classifier.1.bias"][0] += 1e-3  # not the fp16-rounded numbers any more
    np.savez(tmp_path / "squeezenet1_1.npz", **arrays)
    monkeypatch.setenv("NPNET_WEIGHTS", str(tmp_path))
    line = listing()["weights/squeezenet1_1.npz"]
    assert line.endswith(f"present: {tmp_path / 'squeezenet1_1.npz'} ({COPY_LABELS['exact']})")
