"""The grader's subprocesses: run graded items and write their outputs.

Started by :mod:`npnet.course.grade` as ``python -I -S child.py TREE SPEC``. Standalone on purpose: it
must guard the process before any of the student's code is imported. SPEC (JSON) holds the assignment
name, the limits, ``sys.path`` entries (the Python installation's site folders: ``-S`` keeps the
installation's ``.pth`` hooks, such as an editable install's finder, out of the process) and the jobs
``{"item", "inputs", "outputs"}``; each job's outputs go to its ``.npz``, one JSON line per event to
SPEC's ``log``.

Two modes:

- ``"reference"``: the instructor's code (TREE is the folder holding the instructor's ``npnet``) computes
  the reference outputs before any student code runs; no guard. It also reports the modules it loaded,
  which a student child imports before it drops its privileges.
- ``"student"`` (TREE is a temporary copy of the submission laid over the grading tree), in this order:
  the trusted modules are imported; when the grader runs as root, the process drops to the unprivileged
  user of SPEC's ``user`` (it can then read neither the reference values nor anything root keeps
  private); then an audit hook (PEP 578, which cannot be removed once added) refuses

  * reading or listing anything outside TREE and the Python installation, and anything inside SPEC's
    ``deny`` folders (the instructor's packages and repository) even there;
  * writing, deleting, renaming or linking anything outside TREE;
  * new processes, forks, signals to others and sockets;
  * loading a native library or looking up a symbol through ctypes (``ctypes.CDLL(None).open`` and the
    like), except the compiler's own calls into llvmlite.

  The hook is a seat belt, not a sandbox: a process can still reach memory-level tricks that audit hooks
  do not see. What stops a determined student is that the solutions are not on the grading machine
  (Gradescope) or not readable by the dropped user, and that reference values never enter this process.
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
LIST_EVENTS = {"os.listdir", "os.scandir", "os.chdir", "glob.glob"}
REFUSED_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                  "os.forkpty", "os.kill", "os.killpg", "pty.spawn", "socket.connect", "socket.bind",
                  "os.startfile", "webbrowser.open", "ctypes.dlopen", "ctypes.dlsym/handle"}
# Files every process reads that say nothing of the course.
SYSTEM_READS = ("/dev/null", "/dev/urandom", "/proc/self", "/sys/devices/system/cpu", "/etc/localtime",
                "/usr/share/zoneinfo")


def _under(path, roots):
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _guard(root, readable, denied, compiler):
    """Install the audit hook. ``readable``: folders outside ``root`` that may be read; ``denied``: folders
    never read (checked first); ``compiler``: the llvmlite package folder, whose own ctypes calls pass."""
    root = os.path.realpath(root)
    # /proc/self resolves to /proc/<pid>: read through either name
    readable = [os.path.realpath(p) for p in readable] + [root] + list(SYSTEM_READS) + [os.path.realpath("/proc/self")]
    denied = [os.path.realpath(p) for p in denied]

    def real(path):
        return os.path.realpath(os.fsdecode(path))

    def may_read(path):
        if isinstance(path, int):
            return True
        path = real(path)
        return not _under(path, denied) and _under(path, readable)

    def may_write(path):
        if isinstance(path, int):
            return True
        path = real(path)
        return _under(path, [root]) or path == os.devnull

    def from_compiler():
        frame = sys._getframe(2)
        return frame is not None and compiler is not None and frame.f_code.co_filename.startswith(compiler)

    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            if path is None:
                return
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                (isinstance(flags, int) and flags & WRITE_FLAGS)
            if writing and not may_write(path):
                raise PermissionError(f"the grader forbids writing outside the submission: {path}")
            if not may_read(path):
                raise PermissionError(f"the grader forbids reading outside the submission: {path}")
        elif event in LIST_EVENTS:
            if args and isinstance(args[0], (str, bytes, os.PathLike)) and not may_read(args[0]):
                raise PermissionError(f"the grader forbids {event} outside the submission: {args[0]}")
        elif event in PATH_EVENTS:
            for a in args:
                if isinstance(a, (str, bytes, os.PathLike)) and not may_write(a):
                    raise PermissionError(f"the grader forbids {event} outside the submission: {a}")
        elif event in REFUSED_EVENTS:
            raise PermissionError(f"the grader forbids {event}")
        elif event == "ctypes.dlsym":
            library, name = args
            if not (isinstance(name, str) and name.startswith("LLVMPY_") and compiler is not None
                    and str(getattr(library, "_name", "")).startswith(compiler)):
                raise PermissionError(f"the grader forbids looking up native functions ({name!r})")
        elif event == "ctypes.call_function" and not from_compiler():
            raise PermissionError("the grader forbids calling native functions through ctypes")
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


# Standard modules a student's code may import lazily; after dropping root the installation may be out of
# reach (a Python under /root), so they are imported before, with every codec.
STDLIB = ("math", "cmath", "random", "statistics", "itertools", "functools", "collections", "collections.abc",
          "copy", "operator", "string", "re", "json", "time", "datetime", "decimal", "fractions", "heapq",
          "bisect", "typing", "dataclasses", "warnings", "contextlib", "textwrap", "pprint", "enum", "numbers",
          "array", "struct", "inspect", "traceback", "gc", "weakref", "types", "pickle", "codecs", "unicodedata",
          "hashlib", "zlib", "tempfile", "shutil", "glob", "fnmatch", "pathlib", "importlib.util",
          "importlib.machinery", "ctypes", "socket", "queue", "threading", "signal", "site")


# Numba imports much of itself only when it first loads a cached kernel (those modules are in the list the
# reference child reports) or compiles one: these two more. Importing them costs little; compiling a
# throwaway function here instead cost 0.9 s of CPU in every child.
NUMBA_LAZY = ("numba.core.boxing", "numba.core.runtime.context")


def _preload(names):
    """Import the trusted modules the items need while they can still be read (before dropping root)."""
    import encodings
    import importlib
    import pkgutil
    names = list(names) + list(STDLIB) + list(NUMBA_LAZY) + [f"encodings.{m.name}"
                                                              for m in pkgutil.iter_modules(encodings.__path__)]
    for name in names:
        if name.split(".")[0] in ("npnet", "gradcheck", "__main__"):
            continue
        try:
            importlib.import_module(name)
        except BaseException:  # an optional module that fails to import is not needed
            pass


def _drop_privileges(uid, gid):
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise SystemExit("the grader could not drop its root privileges")


def main(tree, spec_path):
    root = os.path.realpath(tree)
    with open(spec_path) as f:
        spec = json.load(f)
    sys.path[:0] = [root] + [p for p in spec.get("sys_path", []) if p not in sys.path]
    reference = spec.get("mode") == "reference"
    log = open(spec["log"], "a", buffering=1)

    def emit(**record):
        log.write(json.dumps(record) + "\n")

    if spec.get("memory_mb"):
        limit = int(spec["memory_mb"]) * 2 ** 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import numpy as np
    from numpy.lib import format as _npy_format  # noqa: F401  (np.savez needs it after the guard)
    import zipfile  # noqa: F401  (the same)
    import numba  # noqa: F401  (npnet's kernels need it; a slow import must not eat the time limit)
    if not reference:
        if spec.get("user"):
            _preload(spec.get("preload", []))
            _drop_privileges(*spec["user"])
        llvmlite = sys.modules.get("llvmlite")
        compiler = os.path.dirname(os.path.realpath(llvmlite.__file__)) if llvmlite else None
        _guard(root, spec.get("readable", []), spec.get("deny", []), compiler)
    # the import gets the time of one item (a batch's limit would let a hanging import run for all of them)
    faulthandler.dump_traceback_later(float(spec.get("import_timeout", spec["timeout"])), exit=True)
    emit(event="start")
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            import npnet
            if not os.path.realpath(npnet.__file__).startswith(root + os.sep):
                raise ImportError(f"npnet was imported from {npnet.__file__}, not from {root}")
            from npnet._io import read_npz
            from npnet.course import manifest
            assignment = manifest.load(spec["assignment"])
            for module in spec.get("modules", []):
                __import__(module)
    except BaseException as err:  # the student's module failed to import: report where, then stop
        emit(event="import_error", **_error(err, root))
        return
    emit(event="imported")
    faulthandler.dump_traceback_later(float(spec["timeout"]), exit=True)
    for job in spec["jobs"]:
        item = assignment.item(job["item"])
        inputs = read_npz(job["inputs"])
        out, printed = {}, io.StringIO()
        error = None
        try:
            with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
                item.run(inputs, out)
        except BaseException as err:  # anything the student's code does: sys.exit, KeyboardInterrupt...
            if reference:
                raise
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
    if reference:
        emit(event="modules", names=sorted(n for n in sys.modules if not n.startswith(("npnet", "gradcheck"))))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
