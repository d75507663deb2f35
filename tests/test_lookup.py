"""npnet.data.lookup (find_data / find_weights) and npnet.data.imagenet.

Every test points the lookup at temporary folders through the environment; none touches the
network (downloads go to a local HTTP server on 127.0.0.1 or a monkeypatched ``_download``).
"""
import functools
import hashlib
import http.server
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from npnet.data import lookup
from npnet.data.imagenet import imagenet_class_names, load_imagenet_val
from npnet.data.lookup import find_data, find_weights

DATA = Path(__file__).parent / "data"
IMAGENET = "imagenet/imagenet_val_25.npz"


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Empty data folders, cache and repo weights folder, no embedded copies; NPNET_* variables cleared."""
    for var in ("NPNET_DATA", "NPNET_WEIGHTS", "NPNET_CACHE"):
        monkeypatch.delenv(var, raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("NPNET_CACHE", str(cache))
    monkeypatch.setattr(lookup, "repo_weights_dir", lambda: None)
    monkeypatch.setattr(lookup, "embedded_dir", lambda: None)
    return tmp_path


def put(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def no_download(*args):
    raise AssertionError("the lookup tried to download")


# --- find_data ---------------------------------------------------------------------------------

def test_find_data_search_order(env, monkeypatch):
    a, b, cache = env / "a", env / "b", env / "cache"
    monkeypatch.setenv("NPNET_DATA", os.pathsep.join([str(a), str(b)]))
    monkeypatch.setattr(lookup, "_download", no_download)
    put(cache / "styles/x.jpg")
    assert find_data("styles/x.jpg") == cache / "styles/x.jpg"
    put(b / "styles/x.jpg")
    assert find_data("styles/x.jpg") == b / "styles/x.jpg"
    put(a / "styles/x.jpg")
    assert find_data("styles/x.jpg") == a / "styles/x.jpg"


def test_find_data_offline_message_names_each_place(env, monkeypatch):
    a, b = env / "a", env / "b"
    monkeypatch.setenv("NPNET_DATA", os.pathsep.join([str(a), str(b)]))
    with pytest.raises(FileNotFoundError) as info:
        find_data(IMAGENET)
    msg = str(info.value)
    for place in (a / IMAGENET, b / IMAGENET, env / "cache" / IMAGENET):
        assert str(place) in msg
    assert "NPNET_OFFLINE is set" in msg
    assert "http://cs231n.stanford.edu/imagenet_val_25.npz" in msg and "set NPNET_DATA" in msg


def test_find_data_unknown_file_without_download(env, monkeypatch):
    monkeypatch.delenv("NPNET_OFFLINE")
    monkeypatch.setattr(lookup, "_download", no_download)
    with pytest.raises(FileNotFoundError) as info:
        find_data("images/kitten.jpg")
    msg = str(info.value)
    assert "NPNET_DATA  (not set)" in msg and str(env / "cache/images/kitten.jpg") in msg
    assert "no official URL" in msg
    with pytest.raises(FileNotFoundError, match=r"download=False"):
        find_data(IMAGENET, download=False)


def test_find_data_downloads_into_cache(env, monkeypatch):
    monkeypatch.delenv("NPNET_OFFLINE")
    calls = []

    def fake_download(url, dest, sha256=None):
        calls.append((url, dest, sha256))
        return put(dest, b"npz")

    monkeypatch.setattr(lookup, "_download", fake_download)
    got = find_data(IMAGENET)
    assert got == env / "cache" / IMAGENET and got.read_bytes() == b"npz"
    assert calls == [(lookup.DATA_REGISTRY[IMAGENET][0], got, lookup.DATA_REGISTRY[IMAGENET][1])]
    find_data(IMAGENET)  # now cached: no second download
    assert len(calls) == 1


def test_find_data_network_failure_is_the_clear_message(env, monkeypatch):
    monkeypatch.delenv("NPNET_OFFLINE")

    def broken(url, dest, sha256=None):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(lookup, "_download", broken)
    with pytest.raises(FileNotFoundError, match=r"(?s)failed: ConnectionError: Name or service.*set NPNET_DATA"):
        find_data("styles/tubingen.jpg")


@pytest.fixture
def http_folder(tmp_path, monkeypatch):
    """Serve ``tmp_path/www`` on 127.0.0.1 for the duration of a test (yields the base URL)."""
    www = tmp_path / "www"
    www.mkdir()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_real_download_checks_sha256(env, monkeypatch, http_folder):
    monkeypatch.delenv("NPNET_OFFLINE")
    www, base = http_folder
    body = b"some image bytes"
    put(www / "f.jpg", body)
    good = hashlib.sha256(body).hexdigest()
    monkeypatch.setitem(lookup.DATA_REGISTRY, "images/good.jpg", (f"{base}/f.jpg", good))
    monkeypatch.setitem(lookup.DATA_REGISTRY, "images/bad.jpg", (f"{base}/f.jpg", "0" * 64))
    assert find_data("images/good.jpg").read_bytes() == body
    with pytest.raises(FileNotFoundError, match="(?s)failed: .*0000000000"):
        find_data("images/bad.jpg")
    assert not (env / "cache/images/bad.jpg").exists()  # a corrupt download is not kept


def test_unhashed_zip_must_be_a_zip(env, monkeypatch, http_folder):
    monkeypatch.delenv("NPNET_OFFLINE")
    www, base = http_folder
    put(www / "c.zip", b"<html>not found</html>")
    monkeypatch.setitem(lookup.DATA_REGISTRY, "coco/c.zip", (f"{base}/c.zip", None))
    with pytest.raises(FileNotFoundError, match="not a zip archive"):
        find_data("coco/c.zip")
    assert not (env / "cache/coco/c.zip").exists()


@pytest.mark.parametrize("bad", ["../etc/passwd", "/etc/passwd", ""])
def test_find_data_rejects_paths_outside_the_root(env, bad):
    with pytest.raises(ValueError, match="relative to the data root"):
        find_data(bad)


def test_registry_entries_are_well_formed():
    for rel, (url, sha) in lookup.DATA_REGISTRY.items():
        assert url.startswith("http") and rel == lookup._check_relpath(rel)
        assert sha is None or (len(sha) == 64 and int(sha, 16) >= 0)
    assert lookup.DATA_REGISTRY["coco/coco_captioning.zip"][1] is None


# --- find_weights ------------------------------------------------------------------------------

W = "squeezenet1_1.npz"


def test_find_weights_search_order(env, monkeypatch):
    monkeypatch.setattr(lookup, "_download", no_download)
    cached = put(env / "cache/weights" / W)
    assert find_weights() == cached
    repo = env / "repo_weights"
    monkeypatch.setattr(lookup, "repo_weights_dir", lambda: repo)
    put(repo / W)
    assert find_weights() == repo / W
    folder = env / "wfolder"
    monkeypatch.setenv("NPNET_WEIGHTS", str(folder))
    put(folder / W)
    assert find_weights() == folder / W
    single = put(env / W)
    monkeypatch.setenv("NPNET_WEIGHTS", str(single))
    assert find_weights() == single
    explicit = put(env / "explicit.npz")
    assert find_weights(path=explicit) == explicit
    with pytest.raises(FileNotFoundError, match="given path .*nothere.npz"):
        find_weights(path=env / "nothere.npz")


def test_npnet_weights_file_serves_only_its_own_model(env, monkeypatch):
    pth = put(env / "dl" / "squeezenet1_1-b8a52dc0.pth")
    monkeypatch.setenv("NPNET_WEIGHTS", str(pth))
    assert find_weights("squeezenet1_1.npz") == pth
    with pytest.raises(FileNotFoundError, match="its name is not one for squeezenet1_0.npz"):
        find_weights("squeezenet1_0.npz")
    monkeypatch.setenv("NPNET_WEIGHTS", str(put(env / "mine.npz")))
    with pytest.raises(FileNotFoundError, match="b66bff10"):
        find_weights("squeezenet1_0.npz")


def test_find_weights_offline_message(env, monkeypatch):
    monkeypatch.setenv("NPNET_WEIGHTS", str(env / "w"))
    monkeypatch.setattr(lookup, "repo_weights_dir", lambda: env / "repo")
    with pytest.raises(FileNotFoundError) as info:
        find_weights()
    msg = str(info.value)
    for place in (env / "w" / W, env / "repo" / W, env / "cache/weights" / W):
        assert str(place) in msg
    assert "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth" in msg
    assert "python -m npnet.weights convert" in msg


def _register_tiny(monkeypatch):
    """Make the registry's SqueezeNet entry point at the tiny .pth fixture (with its real hash prefix)."""
    src = DATA / "tiny_state_dict_zip.pth"
    prefix = hashlib.sha256(src.read_bytes()).hexdigest()[:8]
    monkeypatch.setitem(lookup.WEIGHTS_REGISTRY, W, (f"https://example.invalid/tiny-{prefix}.pth", prefix))
    return src


def test_find_weights_downloads_and_converts(env, monkeypatch):
    monkeypatch.delenv("NPNET_OFFLINE")
    src = _register_tiny(monkeypatch)
    monkeypatch.setattr(lookup, "_download", lambda url, dest, sha256=None: put(dest, src.read_bytes()))
    got = find_weights()
    assert got == env / "cache/weights" / W
    with np.load(got) as f, np.load(DATA / "tiny_state_dict_expected.npz") as want:
        assert f.files == want.files
        for k in f.files:
            np.testing.assert_array_equal(f[k], want[k])


def test_find_weights_converts_a_cached_pth_offline(env, monkeypatch):
    src = _register_tiny(monkeypatch)
    monkeypatch.setattr(lookup, "_download", no_download)
    url = lookup.WEIGHTS_REGISTRY[W][0]
    put(env / "cache/weights" / url.rsplit("/", 1)[1], src.read_bytes())
    assert find_weights() == env / "cache/weights" / W


def test_find_weights_rejects_a_wrong_hash_prefix(env, monkeypatch):
    monkeypatch.delenv("NPNET_OFFLINE")
    monkeypatch.setattr(lookup, "_download", lambda url, dest, sha256=None: put(dest, b"corrupt"))
    with pytest.raises(FileNotFoundError, match="does not start with b8a52dc0"):
        find_weights()
    assert not list((env / "cache/weights").iterdir())  # neither the bad .pth nor an .npz is kept


# --- the embedded copies ------------------------------------------------------------------------

MNIST = "mnist/mnist_5k.npz"


@pytest.fixture
def embedded(env, monkeypatch):
    """A stand-in for npnet/data/embedded/ with a weights file and the MNIST sample, hashes registered."""
    folder = env / "embedded"
    weights, mnist = put(folder / "weights" / W, b"embedded weights"), put(folder / MNIST, b"embedded mnist")
    monkeypatch.setattr(lookup, "embedded_dir", lambda: folder)
    monkeypatch.setitem(lookup.EMBEDDED_WEIGHTS, W, hashlib.sha256(weights.read_bytes()).hexdigest())
    monkeypatch.setitem(lookup.EMBEDDED_DATA, MNIST, hashlib.sha256(mnist.read_bytes()).hexdigest())
    return folder


def test_torchvisions_file_wins_over_the_embedded_weights_wherever_it_is(env, embedded, monkeypatch):
    assert find_weights() == find_weights(download=False) == embedded / "weights" / W  # nothing else: the fallback
    monkeypatch.delenv("NPNET_OFFLINE")
    src = _register_tiny(monkeypatch)
    monkeypatch.setattr(lookup, "_download", lambda url, dest, sha256=None: put(dest, src.read_bytes()))
    assert find_weights() == env / "cache/weights" / W  # downloaded and converted
    monkeypatch.setattr(lookup, "_download", no_download)
    assert find_weights() == env / "cache/weights" / W  # then found in the cache
    monkeypatch.setattr(lookup, "repo_weights_dir", lambda: env / "repo")
    assert put(env / "repo" / W) == find_weights()
    monkeypatch.setenv("NPNET_WEIGHTS", str(env / "w"))
    assert put(env / "w" / W) == find_weights()


def test_embedded_weights_when_the_download_fails(env, embedded, monkeypatch):
    monkeypatch.delenv("NPNET_OFFLINE")

    def unreachable(url, dest, sha256=None):
        raise OSError("network is unreachable")

    monkeypatch.setattr(lookup, "_download", unreachable)
    assert find_weights() == embedded / "weights" / W
    with pytest.raises(FileNotFoundError) as info:
        find_weights(embedded=False)  # insisting on torchvision's exact file
    assert "network is unreachable" in str(info.value) and "embedded copy  (not used: embedded=False)" in str(info.value)


def test_embedded_mnist_comes_after_npnet_data_and_the_cache(env, embedded, monkeypatch):
    assert find_data(MNIST) == find_data(MNIST, download=False) == embedded / MNIST
    with pytest.raises(FileNotFoundError, match="not used: embedded=False"):
        find_data(MNIST, embedded=False)
    assert put(env / "cache" / MNIST) == find_data(MNIST)
    monkeypatch.setenv("NPNET_DATA", str(env / "d"))
    assert put(env / "d" / MNIST) == find_data(MNIST)
    put(embedded / "images/kitten.jpg")  # only the registered files are embedded copies
    with pytest.raises(FileNotFoundError) as info:
        find_data("images/kitten.jpg")
    assert "embedded copy" not in str(info.value)


@pytest.mark.parametrize("weights", [True, False])
def test_a_damaged_embedded_copy_is_never_used(env, embedded, weights):
    (embedded / ("weights/" + W if weights else MNIST)).write_bytes(b"cut short")
    with pytest.raises(ValueError, match="has SHA-256 .*, not .*: the installation is damaged; reinstall npnet"):
        find_weights() if weights else find_data(MNIST)


def test_the_embedded_files_are_the_recorded_ones_with_their_provenance():
    folder = lookup.embedded_dir()
    copies = [(folder / "weights" / name, sha) for name, sha in lookup.EMBEDDED_WEIGHTS.items()]
    copies += [(folder / rel, sha) for rel, sha in lookup.EMBEDDED_DATA.items()]
    assert len(copies) == 2
    for path, sha in copies:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
        provenance = (path.parent / "PROVENANCE.md").read_text(encoding="utf-8")
        assert path.name in provenance and sha in provenance and "BSD-3" in provenance
    assert lookup.embedded_copy(W, weights=True) == folder / "weights" / W
    assert lookup.embedded_copy(MNIST) == folder / MNIST and lookup.embedded_copy("images/kitten.jpg") is None


# --- imagenet ----------------------------------------------------------------------------------

def test_imagenet_class_names():
    names = imagenet_class_names()
    assert len(names) == 1000
    assert names[0] == "tench, Tinca tinca"
    assert names[999] == "toilet tissue, toilet paper, bathroom tissue"
    assert names[134] == "crane" and names[517] == "crane"
    names.append("x")  # callers get their own list
    assert len(imagenet_class_names()) == 1000


def test_shipped_class_names_equal_the_shared_json(data_file):
    shared = json.loads(data_file("imagenet/imagenet1000_class_names.json").read_text(encoding="utf-8"))
    assert imagenet_class_names() == [shared[str(i)] for i in range(1000)]


def test_load_imagenet_val_real(imagenet_val):
    X, y, names = imagenet_val
    assert X.shape == (25, 224, 224, 3) and X.dtype == np.uint8
    assert y.dtype == np.int64
    assert y.tolist() == [958, 85, 244, 182, 294, 804, 697, 366, 817, 999, 824, 975, 724,
                          92, 231, 877, 946, 264, 496, 812, 985, 813, 662, 883, 100]
    assert names[y[0]] == "hay"
    X3, y3, _ = load_imagenet_val(3)
    np.testing.assert_array_equal(X3, X[:3])
    np.testing.assert_array_equal(y3, y[:3])


def _fake_sample(folder, X):
    path = folder / IMAGENET
    path.parent.mkdir(parents=True)
    # the real file carries a pickled label_map; loading must work without unpickling it
    np.savez(path, X=X, y=np.arange(25), label_map=np.array({0: "x"}, dtype=object))


def test_load_imagenet_val_never_unpickles(env, monkeypatch):
    monkeypatch.setenv("NPNET_DATA", str(env / "d"))
    X = np.random.default_rng(0).integers(0, 256, (25, 224, 224, 3), dtype=np.uint8)
    _fake_sample(env / "d", X)
    Xg, yg, names = load_imagenet_val(num=2)
    np.testing.assert_array_equal(Xg, X[:2])
    assert yg.tolist() == [0, 1] and yg.dtype == np.int64 and len(names) == 1000


def test_load_imagenet_val_checks_num_and_file(env, monkeypatch):
    for bad in (0, 26, 2.5, True):
        with pytest.raises(ValueError, match="num"):
            load_imagenet_val(bad)
    monkeypatch.setenv("NPNET_DATA", str(env / "d"))
    _fake_sample(env / "d", np.zeros((25, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match=r"X uint8 \(25, 32, 32, 3\)"):
        load_imagenet_val()
