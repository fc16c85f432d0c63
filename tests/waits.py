"""Waiting on another thread, always with an end: a run that stops early (an error on its
thread, a divergence) fails the test that waits on it instead of hanging the suite."""
import time


def until(cond, timeout: float = 30.0, what: str = "") -> None:
    """Wait until ``cond()`` is true; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"timed out after {timeout:g} s waiting for {what or cond}"
        time.sleep(0.002)
