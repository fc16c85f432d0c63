"""A sweep's worker process: reads one run a line ([graph file, settings, epochs] as JSON) from
stdin, trains it with one compute thread, and writes its record as one JSON line to stdout.
Ctrl+C is left to the sweep, which ends its workers; on Linux a worker whose sweep is killed
(kill -9) ends with it instead of training on alone."""
import json
import signal
import sys


def _follow_the_sweep() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main() -> None:
    _follow_the_sweep()
    from gradviz_core.runs.sweep import run_one
    for line in sys.stdin:
        graph_file, settings, epochs = json.loads(line)
        try:
            record = run_one(graph_file, settings, epochs)
        except Exception as exc:  # noqa: BLE001 - the run's record says what went wrong; the sweep goes on
            record = {"settings": settings, "epochs": epochs, "status": "error",
                      "message": f"internal error: {type(exc).__name__}: {exc} (please report this)"}
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
