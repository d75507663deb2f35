"""How many threads npnet's matrix products run on: the cores that other programs leave free.

A student's laptop is rarely idle. With one other busy process on a 2-core machine, OpenBLAS's default
of one thread per core made a vanilla GAN iteration 1.5x slower on the median and 4.6x slower on the
90th percentile than one thread did (issue 25): BLAS splits every product in equal halves, and the half
whose core is taken by the other program holds up the whole product. So npnet sizes BLAS's threads
from the cores actually free, and looks again while it runs:

* ``NPNET_NUM_THREADS=N`` (N >= 1): BLAS runs on N threads, always.
* Otherwise, when one of ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` is set,
  npnet changes nothing: BLAS sized its pool from that variable when it loaded.
* Otherwise (the default), at most every :data:`INTERVAL` seconds, when a model runs a forward pass
  or an optimiser updates a parameter, npnet reads ``/proc/stat`` and its own CPU time: the cores the
  rest of the machine kept busy since the last look are ``others``, and BLAS gets
  ``round(cores - others)`` threads, at least 1 and at most the cores this process may run on. At the
  first look there is no interval yet, and the other programs' threads running at that instant stand
  in for ``others``. Where there is no ``/proc/stat`` (macOS, Windows) BLAS keeps its default.

The adaptive policy only changes a thread count that is BLAS's default or its own last choice: after
a ``threadpoolctl`` limit (an exercise's ``exercise_setup``, a user's ``threadpool_limits``), inside
:func:`npnet.parallel.batch_threads` (which holds BLAS at one thread while it splits a batch between
cores), and from threads other than the main one, it leaves BLAS alone. :func:`decide` is the policy
as a pure function; :func:`adapt` applies it.
"""
import os
import threading
import time

from .errors import NpnetValueError

VARIABLE = "NPNET_NUM_THREADS"
STANDARD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
INTERVAL = 0.25  # seconds between looks at the machine (a look costs ~30 us: one read of /proc/stat)
STAT = "/proc/stat"


def usable_cores():
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def requested_threads(environ=None):
    """The thread count ``NPNET_NUM_THREADS`` asks for, or None when it is unset or empty."""
    value = (os.environ if environ is None else environ).get(VARIABLE, "").strip()
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise NpnetValueError(f"{VARIABLE} must be a whole number of threads >= 1; got {value!r}")
    return n


def decide(cores, busy, own, total, machine_cores=None):
    """The policy: BLAS threads for ``cores`` usable cores, given what happened since the last look.

    Args:
        cores: cores this process may use (>= 1).
        busy: CPU time the whole machine spent busy, in core-seconds.
        own: CPU time this process spent (all its threads), in core-seconds.
        total: CPU time the machine had (busy or idle), in core-seconds: elapsed time x all cores.
        machine_cores: all the machine's cores (default ``os.cpu_count()``).
    Returns:
        threads in [1, cores]: the cores that the other programs left free, rounded (a core counts as
        free when the others used less than half of it).
    """
    if total <= 0:
        return cores
    machine_cores = machine_cores or os.cpu_count() or cores
    return _free(cores, max(0.0, busy - own) / total * machine_cores)


def _free(cores, others):
    """Threads for ``cores`` usable cores when other programs hold ``others`` cores: the rest, rounded,
    in [1, cores]."""
    return max(1, min(cores, int(cores - others + 0.5)))


def _read_stat():
    """(busy, total) core-seconds of the whole machine since boot, from the first line of /proc/stat."""
    with open(STAT, "rb") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    return (total - idle) / tick, total / tick


def _others_running():
    """Threads of other programs running or ready to run now: /proc/stat's ``procs_running`` less this
    process's own (``/proc/self/task/*/stat`` in state R, so BLAS threads still spinning after a product
    are not taken for a competitor). None where the system does not say. Used at the policy's first
    look only, so that a short run (a gradient check, a benchmark's first steps) is sized too."""
    try:
        with open(STAT, "rb") as f:
            running = next(int(line.split()[1]) for line in f if line.startswith(b"procs_running"))
        own = 0
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/stat", "rb") as f:
                    own += f.read().rsplit(b")", 1)[1].split()[0] == b"R"
            except OSError:  # the thread ended meanwhile
                pass
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return max(0, running - own)


def _own_seconds():
    t = os.times()
    return t.user + t.system


class _Policy:
    """The state of :func:`adapt`: the last look and the thread count npnet last gave BLAS."""

    def __init__(self):
        self.next_look = 0.0
        self.last = None  # (busy, own, total) at the last look
        self.blas = None  # threadpoolctl's BLAS controllers, once needed
        self.set_to = None  # what npnet last set; None: npnet has not set anything
        self.mode = None  # "fixed", "adaptive" or "off", decided at the first call

    def _controllers(self):
        if self.blas is None:
            try:
                from threadpoolctl import ThreadpoolController

                self.blas = ThreadpoolController().select(user_api="blas").lib_controllers
            except Exception:  # noqa: BLE001  no threadpoolctl, or its ctypes look-ups refused (the
                self.blas = []  # grader's sandbox): the policy is only a speed-up, BLAS keeps its count
        return self.blas

    def _set(self, n, force=False):
        libs = self._controllers()
        try:
            current = max((lib.num_threads for lib in libs), default=None)
            # what BLAS runs on unless someone changed it: npnet's last count, else BLAS's default (a
            # thread per core: no thread variable is set when the policy adapts)
            expected = {self.set_to} if self.set_to is not None else {os.cpu_count(), usable_cores()}
            if current is None or (current not in expected and not force):
                return  # no BLAS to size, or someone else (threadpoolctl, batch_threads) holds it now
            if current != n:
                for lib in libs:
                    lib.set_num_threads(n)
        except Exception:  # noqa: BLE001  native calls refused (the grader's sandbox): stop trying
            self.mode, self.next_look = "off", float("inf")
            return
        self.set_to = n

    def adapt(self, now):
        if self.mode is None:
            fixed = requested_threads()
            if fixed is not None:
                self.mode = "fixed"
                self._set(fixed, force=True)
            else:
                standard = any(os.environ.get(v, "").strip() for v in STANDARD_VARIABLES)
                self.mode = "off" if standard or not os.path.exists(STAT) else "adaptive"
        if self.mode != "adaptive":
            self.next_look = float("inf")  # nothing more to do: adapt() returns at its first test
            return
        if now < self.next_look:
            return
        self.next_look = now + INTERVAL
        try:
            busy, total = _read_stat()
        except (OSError, ValueError, IndexError):
            self.mode = "off"
            return
        sample = (busy, _own_seconds(), total)
        if self.last is not None:
            d_busy, d_own, d_total = (a - b for a, b in zip(sample, self.last))
            self._set(decide(usable_cores(), d_busy, d_own, d_total))
        else:  # no interval to measure yet: the programs running at this instant stand in for it
            others = _others_running()
            if others is not None:
                self._set(_free(usable_cores(), others))
        self.last = sample


_policy = _Policy()
_main = threading.main_thread()


def adapt():
    """Apply the thread policy (module docstring) if it is time to look again; cheap otherwise."""
    now = time.monotonic()
    if now >= _policy.next_look and threading.current_thread() is _main:
        _policy.adapt(now)


def reset():
    """Forget the policy's state (its mode is decided again from the environment at the next call)."""
    global _policy
    _policy = _Policy()
