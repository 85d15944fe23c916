"""Model output is untrusted: hostile answers cost at most the time bound, run no
code, crash nothing and leave no processes behind, from any thread."""

import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest
from rlvr.grading import Sandbox, grade, grade_many

BOUND = 1.0  # seconds per verification in these tests (the default is 3)
SLACK = 2.0  # process kill + restart + scheduling on a busy 2-core machine

HOSTILE = {
    "tower of exponents": r"\boxed{10^{10^{10^{10^{10}}}}}",
    "huge power": r"\boxed{9^{9^{9}}}",
    "100000 factorial": r"\boxed{100000!}",
    "factorial tower": r"\boxed{(10^{10})!!}",
    "megabyte answer": r"\boxed{" + "1+" * 500_000 + "1}",
    "megabyte response, no box": "x" * 2_000_000,
    "unbalanced braces": r"\boxed{" + "{" * 5000 + "1",
    "thousands of boxes": r"\boxed{" * 20_000 + "1" + "}" * 19_000,
    "deep nesting": r"\boxed{" + r"\frac{1}{" * 3000 + "2" + "}" * 3000 + "}",
    "deep parentheses": r"\boxed{" + "(" * 5000 + "1" + ")" * 5000 + "}",
    "control characters": "\\boxed{1\x00\x07\x1b[2J\x7f\u202e2}",
    "huge matrix": r"\boxed{\begin{pmatrix}" + "&".join(["x"] * 4000) + r"\end{pmatrix}}",
}


@pytest.mark.parametrize("protocol", ["train", "eval"])
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_answer_is_wrong_within_the_bound(name, protocol):
    t0 = time.monotonic()
    assert grade(HOSTILE[name], r"\frac{2\sqrt{3}}{3}", protocol, timeout=BOUND) is False
    assert time.monotonic() - t0 < BOUND + SLACK, name


def test_a_batch_of_hostile_answers_shares_the_workers():
    sandbox = Sandbox(workers=2, timeout=BOUND)
    try:
        hostile = [HOSTILE["tower of exponents"].replace("10", str(d)) for d in range(11, 15)]
        t0 = time.monotonic()
        assert grade_many(hostile + [r"\boxed{\sqrt{8}}"], ["7"] * 4 + [r"2\sqrt{2}"], "eval", sandbox=sandbox) == [
            False, False, False, False, True,
        ]
        # Four timeouts on two workers: two rounds of the bound, not four.
        assert time.monotonic() - t0 < 2 * BOUND + 2 * SLACK
        assert sandbox.timeouts >= 1
    finally:
        sandbox.close()


def test_grading_works_and_is_bounded_off_the_main_thread():
    # math-verify's own signal-based timeouts fail here; the sandbox does not.
    results = {}

    def worker():
        t0 = time.monotonic()
        results["tower"] = grade(HOSTILE["tower of exponents"], "7", timeout=BOUND)
        results["elapsed"] = time.monotonic() - t0
        results["sqrt"] = grade(r"\boxed{\frac{2}{\sqrt{3}}}", r"\frac{2\sqrt{3}}{3}")

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == {"tower": False, "elapsed": results["elapsed"], "sqrt": True}
    assert results["elapsed"] < BOUND + 2 * SLACK


@pytest.mark.parametrize(
    "payload",
    [
        "__import__('pathlib').Path('{marker}').touch()",
        "exec(\"open('{marker}', 'w')\")",
        "eval(\"open('{marker}', 'w')\")",
        "Symbol('x').__class__.__init__.__globals__['__builtins__']['open']('{marker}','w')",
        "lambda: open('{marker}', 'w')",
    ],
)
@pytest.mark.parametrize("protocol", ["train", "eval"])
def test_answers_are_never_run_as_python(tmp_path, payload, protocol):
    marker = tmp_path / "pwned"
    answer = payload.format(marker=marker)
    for response in (r"\boxed{" + answer + "}", "The answer is " + answer):
        assert grade(response, "1", protocol, timeout=BOUND) is False
    assert not marker.exists()


def test_sympy_never_evaluates_python_in_the_workers():
    # The workers refuse sympy's parse_expr (it runs eval) for anything but numerals.
    sandbox = Sandbox(workers=1, timeout=BOUND)
    try:
        probe = sandbox.map(_probe_parse_expr, [("__import__('os').getpid()",), ("12",)])
        assert probe == [False, True]
        # ...and symbolic grading still works with it refused.
        assert grade_many([r"\boxed{x^2+2x+1}"], ["(x+1)^2"], sandbox=sandbox) == [True]
    finally:
        sandbox.close()


def _probe_parse_expr(text):
    import sympy

    try:
        sympy.sympify(text)
        return True
    except Exception:
        return False


def test_closing_the_sandbox_leaves_no_worker_processes():
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    sandbox = Sandbox(workers=2, timeout=BOUND)
    grade_many([HOSTILE["tower of exponents"], r"\boxed{\sqrt{4}}"], ["7", "2"], "eval", sandbox=sandbox)
    workers = {p.pid for p in me.children(recursive=True)} - before
    assert workers, "the sandbox should have started worker processes"
    sandbox.close()
    time.sleep(0.2)
    alive = [pid for pid in workers if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert alive == []


def test_a_script_that_exits_leaves_no_processes(tmp_path):
    # Timeouts kill and replace workers; at exit every one of them must go.
    script = tmp_path / "grade_and_exit.py"
    script.write_text(
        textwrap.dedent(
            r"""
            import psutil
            from rlvr.grading import grade
            grade(r"\boxed{10^{10^{10^{10}}}}", "7", timeout=0.5)
            grade(r"\boxed{9^{9^{9}}}", "7", timeout=0.5)
            assert grade(r"\boxed{\frac{2}{\sqrt{3}}}", r"\frac{2\sqrt{3}}{3}")
            print(" ".join(str(p.pid) for p in psutil.Process().children(recursive=True)))
            """
        )
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    pids = [int(p) for p in out.stdout.split()]
    assert pids, "workers should have existed before exit"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(psutil.pid_exists(p) for p in pids):
        time.sleep(0.1)
    assert [p for p in pids if psutil.pid_exists(p)] == []


def test_a_crashed_worker_is_a_wrong_answer_and_the_pool_recovers():
    sandbox = Sandbox(workers=1, timeout=5)
    try:
        assert sandbox.map(_crash, [()]) == [False]
        assert sandbox.crashes == 1
        assert grade_many([r"\boxed{\sqrt{9}}"], ["3"], "eval", sandbox=sandbox) == [True]
    finally:
        sandbox.close()


def _crash():
    import os

    os._exit(1)


def test_workers_have_a_memory_cap():
    sandbox = Sandbox(workers=1, timeout=10, memory_mb=256)
    try:
        assert sandbox.map(_allocate_mb, [(64,), (4096,)]) == [True, False]
    finally:
        sandbox.close()


def _allocate_mb(mb):
    try:
        block = bytearray(mb * 1024 * 1024)
        return len(block) > 0
    except MemoryError:
        return False
