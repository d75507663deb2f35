"""Bad submissions get a clear message and a score, never a traceback from the grader, and never
change the grader's files: a hang or an exception at import, a syntax error, a missing file, an item
that loops forever, calls sys.exit, kills its process, prints, eats memory or writes outside its
temporary copy, and zips with absolute paths or '..'.

All on the small ``conv_as_matrix`` assignment (two items, both in npnet/linalg.py) with each item in
its own subprocess and a short time limit.
"""
import hashlib
import zipfile

import pytest

from npnet.course import manifest
from npnet.course.grade import Grader
from npnet.course.release import source_root

ROOT = source_root()
LINALG = "npnet/linalg.py"
CONV_BLOCK = "    A = np.zeros((F, Ho, Wo, C, H, W), dtype=w.dtype)\n"
TRANSPOSE_BLOCK = "    A = np.zeros((C_out, Ho, Wo, C_in, H, W), dtype=w.dtype)\n"


@pytest.fixture(scope="module")
def grader():
    with Grader(manifest.load("conv_as_matrix"), isolation="item", timeout=4, memory_mb=900) as g:
        yield g


def submission(tmp_path, header="", conv="", transpose="", name="sub"):
    """A folder holding the instructor's linalg.py with code added at import and in either function."""
    text = (ROOT / LINALG).read_text()
    text = text.replace("import numpy as np\n", "import numpy as np\n" + header, 1)
    text = text.replace(CONV_BLOCK, CONV_BLOCK + conv).replace(TRANSPOSE_BLOCK, TRANSPOSE_BLOCK + transpose)
    path = tmp_path / name / LINALG
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return tmp_path / name


def scores(result):
    return {i.name: i.score for i in result.items}


FULL = {"conv_matrix": 3.0, "conv_transpose_matrix": 2.0}
ZERO = {"conv_matrix": 0.0, "conv_transpose_matrix": 0.0}


def test_infinite_loop_in_one_item_costs_only_that_item(grader, tmp_path):
    result = grader.grade(submission(tmp_path, conv="    while True:\n        pass\n"))
    assert scores(result) == {"conv_matrix": 0.0, "conv_transpose_matrix": 2.0}
    out = result.items[0].output
    assert "did not finish within 4 s" in out and "npnet/linalg.py:" in out, out


def test_sys_exit_and_a_killed_process_cost_only_their_items(grader, tmp_path):
    sub = submission(tmp_path, conv="    import os\n    os._exit(0)\n", transpose="    import sys\n    sys.exit(3)\n")
    result = grader.grade(sub)
    assert scores(result) == ZERO
    assert "the process ended without a result" in result.items[0].output
    assert "called sys.exit(3)" in result.items[1].output


def test_printing_is_marked_down_only_with_no_print(grader, tmp_path):
    sub = submission(tmp_path, conv="    print('debug', F)\n")
    assert scores(grader.grade(sub)) == FULL
    grader.no_print = True
    try:
        result = grader.grade(sub)
    finally:
        grader.no_print = False
    assert scores(result) == {"conv_matrix": 0.0, "conv_transpose_matrix": 2.0}
    assert "printed output, not allowed (--no-print): 'debug 2\\ndebug 2\\n" in result.items[0].output


def test_memory_limit(grader, tmp_path):
    result = grader.grade(submission(tmp_path, transpose="    junk = np.ones(150_000_000)\n"))
    assert scores(result) == {"conv_matrix": 3.0, "conv_transpose_matrix": 0.0}
    assert "MemoryError" in result.items[1].output


@pytest.mark.parametrize("header,words", [
    ("raise RuntimeError('boom at import')\n", "importing npnet/linalg.py failed: RuntimeError: boom at import"),
    ("while True:\n    pass\n", "importing npnet/linalg.py failed: did not finish importing within 4 s"),
])
def test_import_failure_grades_the_stub_with_the_reason(grader, tmp_path, header, words):
    result = grader.grade(submission(tmp_path, header=header))
    assert scores(result) == ZERO
    assert len(result.notes) == 1 and result.notes[0].startswith("npnet/linalg.py:") and words in result.notes[0]
    for item in result.items:
        assert words in item.output and "not implemented yet" in item.output


def test_syntax_error_and_missing_file(grader, tmp_path):
    sub = submission(tmp_path, conv="    x = (\n")
    result = grader.grade(sub)
    assert scores(result) == ZERO
    assert "npnet/linalg.py:" in result.notes[0] and "SyntaxError" in result.notes[0]
    (tmp_path / "empty").mkdir()
    result = grader.grade(tmp_path / "empty")
    assert scores(result) == ZERO
    assert result.notes == ["empty: none of the files to hand in was found (expected, anywhere in the upload, "
                            "flat or in folders or a zip: linalg.py)"]


def _tree_hash(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.py")):
        h.update(p.as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def test_writes_outside_the_copy_processes_and_sockets_are_refused(grader, tmp_path):
    victim, other = tmp_path / "grader_file.txt", tmp_path / "keep.txt"
    victim.write_text("original")
    other.write_text("keep")
    before = _tree_hash(ROOT / "npnet")
    header = (f"import os, socket, subprocess\n"
              f"_refused = []\n"
              f"for _attempt in (lambda: open({str(victim)!r}, 'w').write('pwned'),\n"
              f"                 lambda: os.remove({str(other)!r}),\n"
              f"                 lambda: open({str(ROOT / 'npnet' / '__init__.py')!r}, 'a').write('# pwned'),\n"
              f"                 lambda: os.system('touch {tmp_path / 'ran'}'),\n"
              f"                 lambda: subprocess.run(['true']),\n"
              f"                 lambda: socket.create_connection(('127.0.0.1', 9))):\n"
              f"    try:\n        _attempt()\n    except (PermissionError, OSError) as err:\n"
              f"        _refused.append(str(err))\n"
              f"open('inside.txt', 'w').write('a submission may write in its own copy')\n"
              f"open(os.path.join(os.environ['HOME'], 'x'), 'w').write('and in its HOME')\n")
    result = grader.grade(submission(tmp_path, header=header))
    assert scores(result) == FULL, result.table()
    assert victim.read_text() == "original" and other.read_text() == "keep"
    assert not (tmp_path / "ran").exists()
    assert _tree_hash(ROOT / "npnet") == before


@pytest.mark.parametrize("member", ["../evil.py", "/etc/evil.py", "sub/../../evil.py"])
def test_zips_with_unsafe_paths_are_refused_with_a_score(grader, tmp_path, member):
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(LINALG, (ROOT / LINALG).read_text())
        zf.writestr(member, "print('pwned')")
    result = grader.grade(path)
    assert scores(result) == ZERO
    assert result.notes == [f"bad.zip: refused: the zip holds an unsafe path {member!r} (absolute or with '..')"]
    assert not (tmp_path.parent / "evil.py").exists()


def test_a_zip_in_a_top_folder_grades_like_the_tree(grader, tmp_path):
    path = tmp_path / "good.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"my-work/{LINALG}", (ROOT / LINALG).read_text())
    result = grader.grade(path)
    assert scores(result) == FULL and result.notes == []
    doc = result.gradescope()
    assert doc["score"] == doc["max_score"] == 5.0
    assert [t["name"] for t in doc["tests"]] == ["conv_matrix", "conv_transpose_matrix"]
    assert set(doc["tests"][0]) == {"name", "score", "max_score", "output", "visibility", "status"}


def test_a_damaged_zip_gets_a_message_and_zero(grader, tmp_path):
    path = tmp_path / "damaged.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(LINALG, (ROOT / LINALG).read_text())
    data = bytearray(path.read_bytes())
    data[data.find(b"import numpy")] ^= 1  # one flipped bit in the stored file: its CRC no longer matches
    path.write_bytes(bytes(data))
    result = grader.grade(path)
    assert scores(result) == ZERO
    assert result.notes[0].startswith("damaged.zip: cannot read npnet/linalg.py from the zip (Bad CRC-32")
    (tmp_path / "notazip.zip").write_text("hello")
    assert grader.grade(tmp_path / "notazip.zip").notes[0].startswith("notazip.zip: not a folder or a readable zip")
