"""npnet against the course handouts' own numbers (issue 24): the GAN notebook's min-max table, the
DCGAN generator's two parameter counts, CS231n's literal normalisation calls, and the inline questions'
answer cells."""
import numpy as np
import pytest

from npnet.course import markers
from npnet.errors import FileFormatError, NpnetTypeError, NpnetValueError
from npnet.layers import norm
from npnet.models import gan
from npnet.models.minimax import alternating_minimax, minimax_table


def test_minimax_follows_the_handout_y_first_then_x_with_the_updated_y():
    ys, xs = alternating_minimax(1.0, 1.0, steps=6, step_size=1.0)
    # by hand: y1 = 1 + 1 = 2, x1 = 1 - 2 = -1; y2 = 2 - 1 = 1, x2 = -1 - 1 = -2; ...
    assert ys.tolist() == [1, 2, 1, -1, -2, -1, 1]
    assert xs.tolist() == [1, -1, -2, -1, 1, 2, 1]
    # updating x first (the old exercise) gives another orbit: the order is what is tested
    assert xs.tolist() != [1, 0, -1, -1, 0, 1, 1]


def test_minimax_table_is_the_handouts_layout():
    table = minimax_table(*alternating_minimax())
    y_block, x_block = table.split("\n\n")
    assert y_block.split("\n")[0] == " | ".join(f"$y_{t}$" for t in range(7))
    assert [int(v) for v in y_block.split("\n")[2].split("|")] == [1, 2, 1, -1, -2, -1, 1]
    assert x_block.split("\n")[0] == " | ".join(f"$x_{t}$" for t in range(7))
    assert [int(v) for v in x_block.split("\n")[2].split("|")] == [1, -1, -2, -1, 1, 2, 1]


def test_minimax_step_size_and_errors():
    ys, xs = alternating_minimax(1.0, 0.0, steps=1, step_size=0.5)
    assert (ys.tolist(), xs.tolist()) == ([0.0, 0.5], [1.0, 0.75])
    with pytest.raises(NpnetTypeError, match="alternating_minimax: x0 must be a number"):
        alternating_minimax("1")
    with pytest.raises(NpnetValueError, match="steps"):
        alternating_minimax(steps=0)


def test_dcgan_generator_counts_both_ways():
    G = gan.dc_generator(4)
    assert gan.count_params(G) == 6580801  # the PyTorch notebook
    assert gan.count_params(G, buffers=True) == 6595521  # the TensorFlow notebook (Keras counts running stats)
    # the difference is batch norm's running mean and variance: 2 * (1024 + 7*7*128 + 64)
    assert gan.count_params(G, buffers=True) - gan.count_params(G) == 2 * (1024 + 7 * 7 * 128 + 64)
    assert gan.count_params(gan.discriminator(), buffers=True) == 267009  # no batch norm, nothing added
    with pytest.raises(NpnetTypeError, match="buffers must be True or False"):
        gan.count_params(G, buffers="yes")


def test_cs231n_literal_normalisation_calls_run():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5))
    out, _ = norm.layernorm_forward(x, np.ones(5), np.zeros(5), {'mode': 'train'})
    plain, _ = norm.layernorm_forward(x, np.ones(5), np.zeros(5), {})
    assert np.array_equal(out, plain)
    xs = rng.standard_normal((2, 6, 3, 3))
    gamma, beta = np.ones((1, 6, 1, 1)), np.zeros((1, 6, 1, 1))
    out, _ = norm.spatial_groupnorm_forward(xs, gamma, beta, 2, {'mode': 'train'})
    assert np.array_equal(out, norm.spatial_groupnorm_forward(xs, gamma, beta, 2, {})[0])
    assert np.array_equal(out, norm.spatial_groupnorm_forward(xs, gamma, beta, 2, {'mode': 'test'})[0])


@pytest.mark.parametrize("call, match", [
    (lambda x: norm.layernorm_forward(x, np.ones(5), np.zeros(5), {'mdoe': 'train'}), r"unknown ln_param key\(s\) \['mdoe'\]"),
    (lambda x: norm.layernorm_forward(x, np.ones(5), np.zeros(5), {'mode': 'trian'}), "must be 'train' or 'test'"),
    (lambda x: norm.spatial_groupnorm_forward(x.reshape(1, 5, 2, 2), np.ones(5), np.zeros(5), 1, {'epsilon': 1e-5}),
     r"unknown gn_param key\(s\) \['epsilon'\]"),
])
def test_misspelt_norm_params_are_still_refused(call, match):
    with pytest.raises(NpnetValueError, match=match):
        call(np.random.default_rng(1).standard_normal((4, 5)))


SCRIPT = """# %% [markdown]
# ## Inline question
# Why?

# %% [markdown]
# BEGIN ANSWER
# **Answer.** Because.
#
# Second paragraph.
# END ANSWER

# %%
print(1)
"""


def test_answers_are_stripped_and_leave_an_empty_cell():
    student = markers.strip_answers(SCRIPT, "ex.py")
    assert "Because" not in student and "ANSWER" not in student
    assert student.count("# %% [markdown]") == 2 and "print(1)" in student
    teacher = markers.strip_answers(SCRIPT, "ex.py", keep=True)
    assert "Because" in teacher and "Second paragraph" in teacher and "ANSWER" not in teacher
    nbformat = pytest.importorskip("nbformat")
    from npnet.course.release import notebook_from_script
    cells = nbformat.reads(notebook_from_script(student, "ex"), 4).cells
    assert [(c.cell_type, c.source) for c in cells] == [("markdown", "## Inline question\nWhy?"), ("markdown", ""),
                                                         ("code", "print(1)")]


@pytest.mark.parametrize("text, match", [
    ("# %% [markdown]\n# BEGIN ANSWER\n# a\n", "never closed"),
    ("# %% [markdown]\n# a\n# BEGIN ANSWER\n# b\n# END ANSWER\n", "first line of a '# %% \\[markdown\\]' cell"),
    ("# %% [markdown]\n# BEGIN ANSWER\n# b\n# END ANSWER\n# more\n", "must end its markdown cell"),
    ("# %% [markdown]\n# BEGIN ANSWER\nx = 1\n# END ANSWER\n", "markdown lines"),
    ("# %%\nx = 1\n# END ANSWER\n", "without a"),
])
def test_malformed_answer_blocks_are_refused(text, match):
    with pytest.raises(FileFormatError, match=match):
        markers.strip_answers(text, "ex.py")


@pytest.mark.parametrize("exercise", ["gans", "rnn_captioning", "network_visualization", "style_transfer"])
def test_inline_questions_have_model_answers(exercise):
    from npnet.course.release import source_root
    text = (source_root() / "exercises" / f"{exercise}.py").read_text()
    blocks = markers.find_answer_blocks(text, exercise)
    assert len(blocks) >= 2, exercise
    student = markers.strip_answers(text, exercise)
    assert student.count("# %% [markdown]") == text.count("# %% [markdown]")  # every answer cell is kept


def test_the_released_gans_notebook_has_empty_answer_cells(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from npnet.course import manifest
    from npnet.course.release import build_release
    build_release(manifest.load("gans"), tmp_path / "release")
    script = (tmp_path / "release" / "exercises" / "gans.py").read_text()
    assert "BEGIN ANSWER" not in script and "orbit the equilibrium" not in script
    cells = nbformat.read(str(tmp_path / "release" / "exercises" / "gans.ipynb"), 4).cells
    questions = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and "Inline question" in c.source]
    assert len(questions) == 3
    for i in questions:  # the prompt, (the code cell of question 1), then an empty markdown answer cell
        answer = next(c for c in cells[i + 1:] if c.cell_type == "markdown")
        assert answer.source == ""
