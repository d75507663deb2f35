"""npnet.threads: the BLAS thread policy (NPNET_NUM_THREADS, the standard variables, free cores)."""
import numpy as np
import pytest

from npnet import kernels, threads
from npnet.errors import NpnetValueError

threadpoolctl = pytest.importorskip("threadpoolctl")


def blas_threads():
    return max(i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas")


@pytest.fixture
def policy(monkeypatch):
    """A fresh policy, no thread variable set; BLAS's thread count restored afterwards."""
    for var in (threads.VARIABLE, *threads.STANDARD_VARIABLES):
        monkeypatch.delenv(var, raising=False)
    threads.reset()
    with threadpoolctl.threadpool_limits(limits=None):  # restores every library's count at the end
        yield threads
    threads.reset()


@pytest.mark.parametrize("busy, own, total, expected", [
    (0.5, 0.5, 0.5, 2),      # quiet 2-core machine, npnet on both cores: both free
    (0.0, 0.0, 0.5, 2),      # idle machine
    (0.5, 0.25, 0.5, 1),     # one busy competitor beside npnet's one thread
    (0.5, 1 / 3, 0.5, 1),    # npnet on 2 threads sharing the cores with one competitor (2/3 core each)
    (0.5, 0.0, 0.5, 1),      # two competitors: still one thread, never zero
    (0.35, 0.25, 0.5, 2),    # a competitor using 0.4 of a core: the core still counts as free
    (0.5, 0.5, 0.0, 2),      # no time elapsed: keep every core
])
def test_decide_counts_the_cores_the_others_leave_free(busy, own, total, expected):
    assert threads.decide(2, busy, own, total, machine_cores=2) == expected


def test_decide_stays_within_the_usable_cores():
    assert threads.decide(4, 0.0, 0.0, 1.0, machine_cores=8) == 4  # affinity allows 4 of 8 cores
    assert threads.decide(4, 2.0, 0.0, 2.0, machine_cores=8) == 1  # 8 others busy: 1, not negative


def test_requested_threads_reads_npnet_num_threads():
    assert threads.requested_threads({}) is None
    assert threads.requested_threads({"NPNET_NUM_THREADS": " "}) is None
    assert threads.requested_threads({"NPNET_NUM_THREADS": "3"}) == 3
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(NpnetValueError, match="NPNET_NUM_THREADS must be a whole number of threads >= 1"):
            threads.requested_threads({"NPNET_NUM_THREADS": bad})


def test_npnet_num_threads_sizes_blas(policy, monkeypatch):
    threadpoolctl.threadpool_limits(limits=2, user_api="blas")
    monkeypatch.setenv("NPNET_NUM_THREADS", "1")
    policy.adapt()
    assert blas_threads() == 1
    assert policy._policy.mode == "fixed"


def test_a_standard_variable_leaves_blas_alone(policy, monkeypatch):
    threadpoolctl.threadpool_limits(limits=2, user_api="blas")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    looked = []
    monkeypatch.setattr(threads, "_read_stat", lambda: looked.append(1) or (0.0, 1.0))
    policy.adapt()
    policy._policy.adapt(1e9)
    assert blas_threads() == 2 and policy._policy.mode == "off" and not looked


def test_adaptive_policy_follows_the_free_cores_and_respects_other_limits(policy, monkeypatch):
    if threads.usable_cores() < 2 or not __import__("os").path.exists(threads.STAT):
        pytest.skip("needs 2 usable cores and /proc/stat")
    cores = __import__("os").cpu_count()
    threadpoolctl.threadpool_limits(limits=cores, user_api="blas")  # BLAS's default: a thread per core
    # machine-wide (busy, total) core-seconds and npnet's own CPU seconds, look after look
    stat = iter([(0.0, 0.0), (1.0 * cores / 2, 1.0 * cores / 2), (2.0 * cores / 2, 2.0 * cores / 2)])
    own = iter([0.0, 0.0, 1.0 * cores / 2])
    monkeypatch.setattr(threads, "_read_stat", lambda: next(stat))
    monkeypatch.setattr(threads, "_own_seconds", lambda: next(own))
    monkeypatch.setattr(threads, "_others_running", lambda: 0)  # nothing else runs at the first look
    p = policy._policy
    p.adapt(0.0)  # first look: nothing to compare with, BLAS unchanged
    assert blas_threads() == cores and p.mode == "adaptive"
    p.adapt(0.1)  # before INTERVAL: no look
    assert blas_threads() == cores
    p.adapt(1.0)  # everything busy and none of it npnet's: others hold every core -> 1 thread
    assert blas_threads() == 1 and p.set_to == 1
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):  # someone else's limit
        p.adapt(2.0)  # all the busy time was npnet's: every core free, but the limit is not npnet's
        assert blas_threads() == 2 and p.set_to == 1


def test_a_limit_set_before_the_first_look_is_kept(policy, monkeypatch):
    """exercise_setup (or a user) limits BLAS to one thread before npnet looks: free cores or not, the
    adaptive policy leaves that count alone."""
    if not __import__("os").path.exists(threads.STAT) or threads.usable_cores() < 2:
        pytest.skip("needs 2 usable cores and /proc/stat")
    threadpoolctl.threadpool_limits(limits=1, user_api="blas")
    stat = iter([(0.0, 0.0), (0.0, 1.0)])  # an idle machine: every core free
    monkeypatch.setattr(threads, "_read_stat", lambda: next(stat))
    monkeypatch.setattr(threads, "_own_seconds", lambda: 0.0)
    monkeypatch.setattr(threads, "_others_running", lambda: 0)
    policy._policy.adapt(0.0)
    policy._policy.adapt(1.0)
    assert blas_threads() == 1 and policy._policy.set_to is None


@pytest.mark.parametrize("others, expected", [(1, "cores - 1"), (None, "cores"), (0, "cores"), (5, "1")])
def test_the_first_look_counts_the_programs_running_at_that_instant(policy, monkeypatch, others, expected):
    """No interval to measure at the first look: other programs' running threads stand in (a short run
    under load gets one thread from its first step); where the system cannot say, BLAS keeps its count."""
    if threads.usable_cores() < 2 or not __import__("os").path.exists(threads.STAT):
        pytest.skip("needs 2 usable cores and /proc/stat")
    cores = __import__("os").cpu_count()
    threadpoolctl.threadpool_limits(limits=cores, user_api="blas")
    monkeypatch.setattr(threads, "_read_stat", lambda: (0.0, 0.0))
    monkeypatch.setattr(threads, "_others_running", lambda: others)
    policy._policy.adapt(0.0)
    usable = threads.usable_cores()
    want = {"cores - 1": usable - 1, "cores": cores, "1": 1}[expected]
    assert blas_threads() == max(1, want)


def test_others_running_sees_a_busy_process_and_not_this_one():
    import subprocess
    import sys
    import time

    if not __import__("os").path.exists(threads.STAT):
        pytest.skip("needs /proc/stat")
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        assert threads._others_running() >= 1
    finally:
        busy.kill()
        busy.wait()


def test_kernel_calls_from_other_threads_are_not_split_again(monkeypatch):
    """A call made on a worker thread (batch_threads' parts) runs whole on that thread."""
    import threading

    monkeypatch.setattr(kernels, "_threads", 2)
    seen = []

    def record(lo, hi):
        seen.append((threading.current_thread().name, lo, hi))

    kernels.split(record, 4, 4 * kernels.MIN_SPLIT)
    assert sorted((lo, hi) for _, lo, hi in seen) == [(0, 2), (2, 4)]  # split on the main thread
    seen.clear()
    worker = threading.Thread(target=kernels.split, args=(record, 4, 4 * kernels.MIN_SPLIT), name="worker")
    worker.start()
    worker.join()
    assert seen == [("worker", 0, 4)]


def test_models_and_optimisers_call_the_policy(policy, monkeypatch):
    from npnet import nn, optim

    calls = []
    monkeypatch.setattr(threads, "adapt", lambda: calls.append(1))
    model = nn.Sequential(nn.Linear(3, 2, rng=0))
    model.forward(np.ones((1, 3), np.float32))
    assert len(calls) == 1
    model.backward(np.ones((1, 2), np.float32))
    optim.Optimizer(model, "adam").step()
    assert len(calls) == 3  # one per parameter update
