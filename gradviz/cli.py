"""The ``gradviz`` command.

Headless verbs print text, or one JSON object with ``--json``. Bad input gives one
line ``gradviz: error: …`` on stderr and exit code 2; never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gradviz", description="Build, step through and train neural "
                                "networks as computational graphs.")
    sub = p.add_subparsers(dest="verb", metavar="VERB")
    s = sub.add_parser("step", help="print the forward values and backward gradients node by node")
    s.add_argument("file", help="a graph file (.json)")
    s.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    s.add_argument("--test-mode", action="store_true", help="Dropout and BatchNorm in test mode")
    s.add_argument("--update", action="store_true", help="also show the update step (text only)")
    c = sub.add_parser("gradcheck", help="compare every gradient with centered finite differences")
    c.add_argument("file", help="a graph file (.json)")
    c.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    c.add_argument("--test-mode", action="store_true", help="Dropout and BatchNorm in test mode")
    c.add_argument("--samples", type=int, default=256,
                   help="elements checked per array, chosen at random beyond this (default 256; 0: all)")
    c.add_argument("--tol", type=float, default=1e-6, help="largest relative error that passes")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return 0
    from gradviz_core.errors import GradvizError
    try:
        with np.errstate(all="ignore"):  # NaN and inf are shown as values, not warned about
            return {"step": cmd_step, "gradcheck": cmd_gradcheck}[args.verb](args)
    except GradvizError as exc:
        print(f"gradviz: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # the reader went away (| head): not an error of ours
        sys.stdout = open(os.devnull, "w")
        return 0
    except KeyboardInterrupt:
        print("gradviz: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
        print(f"gradviz: internal error: {type(exc).__name__}: {exc} (please report this)",
              file=sys.stderr)
        return EXIT_INTERNAL


def _load_checked(path: str):
    from gradviz_core import fileformat
    graph = fileformat.load(path)
    graph.check()
    return graph


def to_jsonable(a):
    """Arrays as nested lists; NaN and infinities as null (JSON has no such numbers)."""
    if a is None:
        return None
    arr = np.asarray(a)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        return np.where(np.isfinite(arr), arr, None).tolist()
    return arr.tolist()


def cmd_step(args) -> int:
    from gradviz_core.stepper import Stepper
    from gradviz_core import trace

    graph = _load_checked(args.file)
    stepper = Stepper(graph, training=not args.test_mode)
    records = stepper.run_phase("backward") if not args.update else stepper.run_all()
    if not any(r.phase == "forward" for r in records):
        records = stepper.run_forward()
    if args.json:
        param_grads = {}
        for r in records:
            if r.phase == "backward" and r.param_grads and not graph.brick(r.node).acts_on_weights:
                param_grads[r.node] = {k: to_jsonable(graph.brick(r.node).grad(k)) for k in r.param_grads}
        out = {"values": {n: to_jsonable(v) for n, v in stepper.values.items()},
               "grads": {n: to_jsonable(v) for n, v in stepper.grads.items()},
               "param_grads": param_grads,
               "loss": to_jsonable(stepper.loss())}
        print(json.dumps(out))
        return 0
    title = graph.title or args.file
    print(f"{title}: {len(graph.nodes())} nodes, {graph.total_params()} parameters")
    phase = None
    for r in records:
        if r.phase != phase:
            phase = r.phase
            print(f"\n{phase.upper()}")
        for line in trace.describe(graph, r):
            print("  " + line)
    loss = stepper.loss()
    print(f"\nL = {trace.num(loss)}" if loss is not None else "\n(no scalar output: nothing to "
          "differentiate; add a loss)")
    return 0


def cmd_gradcheck(args) -> int:
    from gradviz_core.gradcheck import check_graph

    graph = _load_checked(args.file)
    report = check_graph(graph, training=not args.test_mode, tol=args.tol,
                         samples=args.samples or None)
    if args.json:
        print(json.dumps(report.to_json()))
        return 0 if report.passed else EXIT_FAILED
    print(f"{'node':<14} {'type':<20} {'gradient':<28} {'checked':>11}  {'rel. error':>10}")
    for name, c in report.nodes.items():
        for i, item in enumerate(c.items):
            flag = "ok" if item.error <= report.tol else ("kink" if c.kink else "FAIL")
            print(f"{name if i == 0 else '':<14} {c.type_name if i == 0 else '':<20} {item.what:<28} "
                  f"{f'{item.checked}/{item.total}':>11}  {item.error:>10.2e}  {flag}")
        if c.kink:
            print(f"{'':<14} note: {c.kink}")
    verdict = "passed" if report.passed else f"FAILED at {', '.join(report.failed())}"
    print(f"\nmax relative error {report.max_rel_error:.2e} (tolerance {report.tol:g}, h = {report.h:g}): "
          f"{verdict}")
    return 0 if report.passed else EXIT_FAILED
