"""Solution markers: find the ``# BEGIN SOLUTION`` / ``# END SOLUTION`` blocks of a source file and
turn chosen ones into stubs.

A block is the lines strictly between a ``# BEGIN SOLUTION`` line and the next ``# END SOLUTION``
line. The two marker lines must have the same indentation, every non-blank line between them must be
indented at least as far, blocks do not nest, and each block lies inside a function (its name goes
into the stub's error message). Anything else is refused with an error naming ``file:line``.

A stripped block keeps its two marker lines (so the student sees where to write, and the grader and
``collect`` can find unfinished work) and becomes::

    # BEGIN SOLUTION
    # TODO: affine_forward: write this block (see the docstring), then run python -m gradcheck.
    raise NotImplementedError("affine_forward: not implemented yet (the TODO block)")
    # END SOLUTION
"""
import ast
from dataclasses import dataclass

from ..errors import FileFormatError

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
STUB_SIGNATURE = "not implemented yet (the TODO block)"


@dataclass(frozen=True)
class Block:
    """One solution block: marker lines ``begin`` and ``end`` (0-based indices), its indentation and
    the qualified name (``Class.method`` or ``function``) of the innermost function holding it."""
    path: str
    begin: int
    end: int
    indent: str
    function: str

    def body(self, lines):
        return lines[self.begin + 1:self.end]


def _functions(tree):
    """(first line, last line, qualified name) of every function, 1-based, outer before inner."""
    out = []

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                out.append((child.lineno, child.end_lineno, name))
                walk(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                walk(child, prefix + child.name + ".")
            else:
                walk(child, prefix)
    walk(tree, "")
    return out


def find_blocks(text, path):
    """Every solution block of the source ``text`` (file name ``path`` is used in errors)."""
    lines = text.split("\n")
    try:
        functions = _functions(ast.parse(text, filename=str(path)))
    except SyntaxError as err:
        raise FileFormatError(f"{path}:{err.lineno}: cannot parse the file to find its solution blocks: "
                              f"{err.msg}") from None
    blocks, open_at = [], None
    for i, line in enumerate(lines):
        mark = line.strip()
        if mark not in (BEGIN, END):
            continue
        indent = line[:len(line) - len(line.lstrip())]
        if mark == BEGIN:
            if open_at is not None:
                raise FileFormatError(f"{path}:{i + 1}: '{BEGIN}' inside the block opened at line "
                                      f"{open_at + 1} (blocks do not nest; is an '{END}' missing?)")
            open_at = i
            continue
        if open_at is None:
            raise FileFormatError(f"{path}:{i + 1}: '{END}' without a '{BEGIN}' before it")
        begin_indent = lines[open_at][:len(lines[open_at]) - len(lines[open_at].lstrip())]
        if indent != begin_indent:
            raise FileFormatError(f"{path}:{i + 1}: '{END}' is indented {len(indent)} columns but its "
                                  f"'{BEGIN}' at line {open_at + 1} is indented {len(begin_indent)}")
        for j in range(open_at + 1, i):
            if lines[j].strip() and not lines[j].startswith(indent):
                raise FileFormatError(f"{path}:{j + 1}: line is indented less than the solution markers "
                                      f"around it (lines {open_at + 1}-{i + 1})")
        holders = [name for first, last, name in functions if first < open_at + 1 <= last]
        if not holders:
            raise FileFormatError(f"{path}:{open_at + 1}: solution block outside any function")
        blocks.append(Block(str(path), open_at, i, indent, holders[-1]))
        open_at = None
    if open_at is not None:
        raise FileFormatError(f"{path}:{open_at + 1}: '{BEGIN}' is never closed by an '{END}'")
    return blocks


def stub_lines(block, hint=None):
    """The two lines that replace a stripped block's body; ``hint`` (one sentence) follows the TODO."""
    name = block.function
    hint = hint or "write this block (see the docstring), then check it with python -m gradcheck."
    return [f"{block.indent}# TODO: {name}: {hint}",
            f'{block.indent}raise NotImplementedError("{name}: {STUB_SIGNATURE}")']


def strip(text, path, functions, hints=None):
    """``text`` with the body of every block inside one of ``functions`` replaced by a stub.

    ``hints`` maps a function to the sentence its stub's TODO line gives (see :func:`stub_lines`).
    Returns ``(new_text, stripped)`` where ``stripped`` lists ``(block, body lines)``.
    """
    lines = text.split("\n")
    chosen = [b for b in find_blocks(text, path) if b.function in functions]
    out, pos, stripped = [], 0, []
    for b in chosen:
        out += lines[pos:b.begin + 1] + stub_lines(b, (hints or {}).get(b.function))
        stripped.append((b, b.body(lines)))
        pos = b.end
    out += lines[pos:]
    return "\n".join(out), stripped


def is_stub(block, lines):
    """Whether ``block`` of ``lines`` still holds the stub a release wrote."""
    return any(STUB_SIGNATURE in line for line in block.body(lines))


def fill_stubs(release_text, instructor_text, path, functions=None):
    """The release's file with each stub put back to the instructor's block of the same function.

    What an instructor (or a test proving a release gets full marks) does to a handed-out file:
    blocks are matched by function in file order; ``functions`` limits which stubs are filled (all by
    default); blocks that are not stubs (a student's own work) stay as they are.
    """
    solved, lines = {}, instructor_text.split("\n")
    for b in find_blocks(instructor_text, path):
        solved.setdefault(b.function, []).append(b.body(lines))
    rel, out, pos = release_text.split("\n"), [], 0
    for b in find_blocks(release_text, path):
        if (functions is None or b.function in functions) and is_stub(b, rel):
            if not solved.get(b.function):
                raise FileFormatError(f"{path}:{b.begin + 1}: the stub of {b.function} has no block of the "
                                      f"same function in the instructor's file")
            out += rel[pos:b.begin + 1] + solved[b.function].pop(0)
            pos = b.end
    return "\n".join(out + rel[pos:])


# Model answers to an exercise's inline questions. In a percent-format exercise script a question is a
# markdown cell; the cell after it holds only the instructor's answer between these two lines:
#
#     # %% [markdown]
#     # BEGIN ANSWER
#     # **Answer.** ...
#     # END ANSWER
#
# A release keeps the cell and drops the answer, so the student's notebook has an empty answer cell
# under each question; the instructor's copy keeps the answer and drops only the two marker lines.
ANSWER_BEGIN, ANSWER_END = "# BEGIN ANSWER", "# END ANSWER"


def find_answer_blocks(text, path):
    """``[(begin, end)]``: the 0-based lines of each answer block's two marker lines in an exercise script.

    Each block must be a whole markdown cell: its ``# BEGIN ANSWER`` line right after a
    ``# %% [markdown]`` line, its ``# END ANSWER`` line followed only by blank lines up to the next
    ``# %%`` cell or the end of the file. Anything else is refused with an error naming ``file:line``.
    """
    lines = text.split("\n")
    blocks, open_at = [], None
    for i, line in enumerate(lines):
        mark = line.rstrip()
        if mark == ANSWER_BEGIN:
            if open_at is not None:
                raise FileFormatError(f"{path}:{i + 1}: '{ANSWER_BEGIN}' inside the answer opened at line "
                                      f"{open_at + 1} (is an '{ANSWER_END}' missing?)")
            if i == 0 or not (lines[i - 1].startswith("# %%") and "[markdown]" in lines[i - 1]):
                raise FileFormatError(f"{path}:{i + 1}: '{ANSWER_BEGIN}' must be the first line of a "
                                      f"'# %% [markdown]' cell")
            open_at = i
        elif mark == ANSWER_END:
            if open_at is None:
                raise FileFormatError(f"{path}:{i + 1}: '{ANSWER_END}' without a '{ANSWER_BEGIN}' before it")
            rest = next((line for line in lines[i + 1:] if line.strip()), "# %%")
            if not rest.startswith("# %%"):
                raise FileFormatError(f"{path}:{i + 1}: '{ANSWER_END}' must end its markdown cell (the next "
                                      f"non-blank line must start a '# %%' cell)")
            blocks.append((open_at, i))
            open_at = None
        elif open_at is not None and line.strip() and not line.startswith("#"):
            raise FileFormatError(f"{path}:{i + 1}: an answer block holds markdown lines (starting '#') only")
    if open_at is not None:
        raise FileFormatError(f"{path}:{open_at + 1}: '{ANSWER_BEGIN}' is never closed by an '{ANSWER_END}'")
    return blocks


def strip_answers(text, path, keep=False):
    """``text`` (an exercise script) without its model answers, each answer cell left empty; with
    ``keep=True`` (the instructor's copy) the answers stay and only their marker lines go."""
    lines = text.split("\n")
    drop = set()
    for begin, end in find_answer_blocks(text, path):
        drop.update((begin, end) if keep else range(begin, end + 1))
    return "\n".join(line for i, line in enumerate(lines) if i not in drop)
