"""The grader's subprocess: runs graded items on a student's tree and writes their outputs.

Started by :mod:`npnet.course.grade` as ``python -I child.py TREE SPEC`` with the working directory,
HOME and TMPDIR inside TREE (a temporary copy of the student's submission). Standalone on purpose:
it must guard the process before any of the student's code is imported. SPEC (JSON) holds the
assignment name, the memory limit, the time limit and the jobs ``{"item", "inputs", "outputs"}``;
each job's outputs go to its ``.npz`` and one JSON line per event goes to SPEC's ``log``.

The guard is an audit hook (PEP 578), which cannot be removed once added: opening a file for
writing, deleting, renaming or linking anything outside TREE raises PermissionError, and starting
processes, forking, killing and opening sockets are refused. It is a seat belt against mistakes
and naive tricks, not a security boundary (see ``npnet.course.grade``).
"""
import contextlib
import faulthandler
import io
import json
import os
import resource
import sys
import traceback

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
PATH_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.truncate", "os.chmod", "os.chown",
               "os.link", "os.symlink", "os.utime", "shutil.rmtree", "shutil.move", "os.setxattr",
               "os.removexattr", "shutil.copyfile", "shutil.copytree"}
REFUSED_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                  "os.forkpty", "os.kill", "os.killpg", "pty.spawn", "socket.connect", "socket.bind",
                  "os.startfile", "webbrowser.open"}


def _guard(root):
    root = os.path.realpath(root)

    def inside(path):
        if isinstance(path, int):
            return True
        path = os.path.realpath(os.fsdecode(path))
        return path == root or path.startswith(root + os.sep) or path == os.devnull

    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                (isinstance(flags, int) and flags & WRITE_FLAGS)
            if writing and path is not None and not inside(path):
                raise PermissionError(f"the grader forbids writing outside the submission: {path}")
        elif event in PATH_EVENTS:
            for a in args:
                if isinstance(a, (str, bytes, os.PathLike)) and not inside(a):
                    raise PermissionError(f"the grader forbids {event} outside the submission: {a}")
        elif event in REFUSED_EVENTS:
            raise PermissionError(f"the grader forbids {event}")
    sys.addaudithook(hook)


def _where(tb_or_frames, root):
    """'file:line' of the innermost frame inside the student's tree, or ''."""
    frames = traceback.extract_tb(tb_or_frames) if not isinstance(tb_or_frames, list) else tb_or_frames
    for frame in reversed(frames):
        path = os.path.realpath(frame.filename)
        if path.startswith(root + os.sep) and os.sep + "course" + os.sep not in path:
            return f"{os.path.relpath(path, root)}:{frame.lineno}"
    return ""


def _error(err, root):
    where = _where(err.__traceback__, root)
    if isinstance(err, SystemExit):
        text = f"called sys.exit({err.code!r})"
    else:
        text = f"{type(err).__name__}: {err}".strip()
    return {"error": text[:500], "where": where}


def main(tree, spec_path):
    root = os.path.realpath(tree)
    with open(spec_path) as f:
        spec = json.load(f)
    log = open(spec["log"], "a", buffering=1)

    def emit(**record):
        log.write(json.dumps(record) + "\n")

    if spec.get("memory_mb"):
        limit = int(spec["memory_mb"]) * 2 ** 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.path.insert(0, root)
    _guard(root)
    import numpy as np
    from npnet._io import read_npz
    import numba  # noqa: F401  (npnet's kernels need it; a slow import must not eat the time limit)
    faulthandler.dump_traceback_later(float(spec["timeout"]), exit=True)
    emit(event="start")
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            import npnet
            if not os.path.realpath(npnet.__file__).startswith(root + os.sep):
                raise ImportError(f"npnet was imported from {npnet.__file__}, not from the submission")
            from npnet.course import manifest
            assignment = manifest.load(spec["assignment"])
            for module in spec.get("modules", []):
                __import__(module)
    except BaseException as err:  # the student's module failed to import: report where, then stop
        emit(event="import_error", **_error(err, root))
        return
    emit(event="imported")
    for job in spec["jobs"]:
        item = assignment.item(job["item"])
        inputs = read_npz(job["inputs"])
        out, printed = {}, io.StringIO()
        error = None
        try:
            with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
                item.run(inputs, out)
        except BaseException as err:  # anything the student's code does: sys.exit, KeyboardInterrupt...
            error = _error(err, root)
        arrays, bad = {}, {}
        for part, value in out.items():
            try:
                arrays[part] = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError) as err:
                bad[part] = f"returned {type(value).__name__}, not an array ({err})"[:300]
        np.savez(job["outputs"], **arrays)
        emit(event="done", id=job["id"], error=error, bad=bad, printed=printed.getvalue()[:300],
             printed_chars=len(printed.getvalue()))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
