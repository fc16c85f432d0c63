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
    from gradviz_core import __version__
    p = argparse.ArgumentParser(prog="gradviz", description="Build, step through and train neural "
                                "networks as computational graphs.")
    p.add_argument("--version", action="version", version=f"gradviz {__version__}")
    sub = p.add_subparsers(dest="verb", metavar="VERB")
    s = sub.add_parser("step", help="print the forward values and backward gradients node by node")
    s.add_argument("file", help="a graph file (.json)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)
    s.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    s.add_argument("--test-mode", action="store_true", help="Dropout and BatchNorm in test mode")
    s.add_argument("--update", action="store_true", help="also run the update step")
    s.add_argument("--save", metavar="WEIGHTS.npz",
                   help="save the weights after the steps taken (after the update with --update)")
    s.add_argument("--float32", action="store_true",
                   help="compute in float32, as training does (default: float64, for exact numbers)")
    c = sub.add_parser("gradcheck", help="compare every gradient with centered finite differences")
    c.add_argument("file", help="a graph file (.json)")
    c.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)
    c.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    c.add_argument("--test-mode", action="store_true", help="Dropout and BatchNorm in test mode")
    c.add_argument("--samples", type=int, default=256,
                   help="elements checked per array, chosen at random beyond this (default 256; 0: all)")
    c.add_argument("--tol", type=float, default=1e-6, help="largest relative error that passes")
    t = sub.add_parser("train", help="train the graph on its data, headless")
    t.add_argument("file", help="a graph file (.json)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)
    t.add_argument("--epochs", type=int, help="number of epochs (default: the file's setting)")
    t.add_argument("--seed", type=int, help="seed of the batch order, the dropout masks and the "
                   "augmentation (training.seed; the weights start from the graph's own seed)")
    t.add_argument("--steps", type=int, metavar="N", help="stop after N training steps")
    t.add_argument("--lr", type=float, help="learning rate (default: the file's setting)")
    t.add_argument("--save", metavar="WEIGHTS.npz", help="save the trained weights here")
    t.add_argument("--threads", type=int, metavar="N",
                   help="compute threads for the kernels (default: measured while it trains, as in the app: "
                        "one, and a second only when it is clearly faster)")
    t.add_argument("--json", action="store_true",
                   help="print one JSON object per epoch and a summary as the last line")
    r = sub.add_parser("render", help="render the real canvas offscreen after N steps (for slides)")
    r.add_argument("file", help="a graph file (.json)")
    r.add_argument("-o", "--output", required=True, metavar="OUT.png|OUT.svg",
                   help="the image: PNG (the window) or SVG (the canvas)")
    r.add_argument("--steps", default="0", metavar="N|all|forward|backward",
                   help="steps to take first (default 0)")
    r.add_argument("--size", default="1280x800", metavar="WxH", help="the window size (default 1280x800)")
    r.add_argument("--select", metavar="NODE", help="select this node (the values panel shows it)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)
    r.add_argument("--train", type=int, metavar="EPOCHS",
                   help="train this many epochs in the window first (the dashboard shows the run)")
    r.add_argument("--race", action="store_true",
                   help="race the optimizer playground's update rules to their last step first "
                        "(a graph of two trainable numbers: lesson 9)")
    r.add_argument("--view", choices=VIEWS, default="window",
                   help="with --train: the whole window with the dashboard, or one view alone "
                        "(default: the window)")
    i = sub.add_parser("info", help="each node's output shape and parameter count, with the formulas")
    i.add_argument("file", help="a graph file (.json)")
    i.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)
    i.add_argument("--json", action="store_true", help="print one JSON object")
    e = sub.add_parser("export", help="write the graph as a self-contained PyTorch file, or a NumPy study script")
    e.add_argument("file", help="a graph file (.json)")
    e.add_argument("--to", choices=("pytorch", "numpy", "onnx"), default="pytorch",
                   help="pytorch: an nn.Module, the weights, the data and a training loop; numpy: a study "
                        "script with explicit forward and backward functions; onnx: the forward pass at "
                        "test time as an ONNX model (needs pip install 'gradviz[onnx]') (default pytorch)")
    e.add_argument("-o", "--output", required=True, metavar="FILE", help="the file to write (.py, or .onnx)")
    m = sub.add_parser("import", help="an ONNX model as a graph file with its weights, ready to step")
    m.add_argument("file", help="an ONNX model (.onnx)")
    m.add_argument("-o", "--output", required=True, metavar="GRAPH.json", help="the graph file to write")
    w = sub.add_parser("import-weights", help="the weights a PyTorch export trained (its --save checkpoint) "
                       "back into the graph it came from, checked by name and shape")
    w.add_argument("file", help="the graph file (.json) the PyTorch file was exported from")
    w.add_argument("checkpoint", help="a state_dict saved by torch.save (.pt, .pth)")
    w.add_argument("-o", "--output", metavar="GRAPH.json",
                   help="write the graph with these weights here (default: into FILE, beside its own)")
    ws = sub.add_parser("worksheet", help="a stepped trace to hand out: the graph, blanks to fill in, and the "
                        "answer key on pages of its own (HTML or PDF)")
    ws.add_argument("file", help="a graph file (.json)")
    ws.add_argument("-o", "--output", required=True, metavar="SHEET.html|SHEET.pdf", help="the worksheet to write")
    ws.add_argument("--steps", default="all", metavar="N|all",
                    help="the first N steps of the forward and backward passes (default: all)")
    ws.add_argument("--blanks", choices=("values", "gradients", "both"), default="both",
                    help="what the students fill in: the forward values, the chain rule's local derivatives "
                         "and products, or both (default both)")
    ws.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)
    sw = sub.add_parser("sweep", help="search meta-parameters: train the graph over a grid of settings or "
                        "settings drawn at random, in parallel, resumable; a table, a plot, --json")
    sw.add_argument("file", help="a graph file (.json)")
    sw.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,…",
                    help="a setting and its values, as --set takes it: --grid 'training.lr=0.01,0.1,1' "
                         "(repeatable: every combination runs)")
    sw.add_argument("--random", type=int, default=0, metavar="N", help="draw N settings from the --range's")
    sw.add_argument("--range", action="append", default=[], metavar="KEY=LOW:HIGH[:log|linear|int]",
                    help="a setting's range for --random (rates and strengths are log-uniform by default): "
                         "--range 'training.lr=1e-4:1' --range 'fc1.units=2:100:int'")
    sw.add_argument("--epochs", type=int, help="epochs of each run (default: the graph's)")
    sw.add_argument("--seed", type=int, default=0, help="seed of the random draws (default 0)")
    sw.add_argument("--jobs", type=int, help="runs at once (default: the cores this process may use)")
    sw.add_argument("--results", metavar="FILE.jsonl",
                    help="the results file, appended as each run finishes; a sweep started again skips "
                         "the runs it holds (default: GRAPH.sweep.jsonl in this folder)")
    sw.add_argument("--plot", metavar="PNG", help="draw the score against each setting (a heatmap for a grid of two)")
    sw.add_argument("--json", action="store_true", help="print one JSON object per run, and a summary last")
    b = sub.add_parser("bench", help="time the reference nets against NumPy and PyTorch")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.add_argument("--seconds", type=float, default=1.0,
                   help="time per measurement (default 1); with --ui, a share of its 4 s and 15 epochs")
    b.add_argument("--ui", action="store_true",
                   help="time the window instead: the canvas redraw after one step, and while spiral_mlp "
                        "trains, the longest event-loop stall and the boundary's refresh rate")
    b.add_argument("--busy", action="store_true",
                   help="add digits_convnet's training time while another process keeps a core busy "
                        "(with --ui: training in the app)")
    b.add_argument("--roofline", action="store_true",
                   help="instead: each kernel of each reference net inside training steps, its GFLOP/s "
                        "and GB/s against this machine's measured GEMM rate and memory bandwidth")
    b.add_argument("--sizes", action="store_true",
                   help="instead: how the costs grow with the graph, for chains of 100 to 2,000 nodes: loading "
                        "the file, one forward and backward pass, and in the window opening it and one step "
                        "with its redraw")
    b.add_argument("--pinned", action="store_true", help=argparse.SUPPRESS)  # the unpinned rerun itself
    return p


VIEWS = ("window", "dashboard", "boundary", "loss", "convnet", "diagnostics", "compare")
VERBS = ("step", "gradcheck", "train", "info", "render", "export", "import", "import-weights", "sweep", "worksheet", "bench")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    app = not argv or (argv[0] not in VERBS and not argv[0].startswith("-"))
    args = None if app else _parser().parse_args(argv)
    from gradviz_core.errors import GradvizError
    try:
        if app:  # `gradviz` or `gradviz FILE`: the desktop app
            from gradviz.app.start import run
            return run(argv[0] if argv else None)
        with np.errstate(all="ignore"):  # NaN and inf are shown as values, not warned about
            verbs = {"step": cmd_step, "gradcheck": cmd_gradcheck, "train": cmd_train, "info": cmd_info,
                     "render": cmd_render,
                     "export": cmd_export, "import": cmd_import, "import-weights": cmd_import_weights, "sweep": cmd_sweep, "worksheet": cmd_worksheet,
                     "bench": cmd_bench}
            return verbs[args.verb](args)
    except GradvizError as exc:
        from gradviz_core.fsio import OutputError
        message = str(exc)
        file = getattr(args, "file", None) or (argv[0] if app and argv else None)
        if file and not message.startswith(str(file)) and not isinstance(exc, OutputError):
            message = f"{file}: {message}"  # every message names the file
        print(f"gradviz: error: {message}", file=sys.stderr)
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


SET_HELP = ("override a setting, checked like the file: training.KEY=V, data.KEY=V or NODE.PARAM=V "
            "(repeatable; V is read as JSON when it can be, e.g. --set fc1.units=2)")


def _load_checked(path: str, sets: list[str] | None = None, too_big_ok: bool = False):
    """The graph file with the --set overrides, refused (naming the file) if it cannot run;
    ``too_big_ok``: a graph too big for this machine is still described (``info``)."""
    from gradviz_core.model import fileformat
    graph = fileformat.load(fileformat.find(path))
    from gradviz_core.model.overrides import apply_set
    for item in sets or ():
        apply_set(graph, item)
    if not (too_big_ok and all(p.kind == "memory" for p in graph.problems)):
        graph.check()
    return graph


def check_output(path: str) -> None:
    from gradviz_core.fsio import check_output as check
    check(path)


def to_jsonable(a):
    """Arrays as nested lists; NaN and infinities as null (JSON has no such numbers)."""
    if a is None:
        return None
    arr = np.asarray(a)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        return np.where(np.isfinite(arr), arr, None).tolist()
    return arr.tolist()


def cmd_step(args) -> int:
    from gradviz_core.runs.stepper import Stepper
    from gradviz_core.teach import trace

    from gradviz_core.model import fileformat

    graph = _load_checked(args.file, args.set)
    if args.save:
        check_output(args.save)  # before the steps: a path that cannot be written is said at once
    stepper = Stepper(graph, training=not args.test_mode,  # its own weights, if it has them (imported)
                      dtype=np.float32 if args.float32 else np.float64,
                      weights="document" if graph.weights() else "fresh")
    records = stepper.run_phase("backward") if not args.update else stepper.run_all()
    if not any(r.phase == "forward" for r in records):
        records = stepper.run_forward()
    if args.save:
        fileformat.save_weights(stepper.graph, args.save)
    run_graph = stepper.graph  # the stepper's own copy: its bricks hold the gradients
    if args.json:
        param_grads = {}
        for r in records:
            if r.phase == "backward" and r.param_grads and not run_graph.brick(r.node).acts_on_weights:
                param_grads[r.node] = {k: to_jsonable(run_graph.brick(r.node).grad(k)) for k in r.param_grads}
        out = {"values": {n: to_jsonable(v) for n, v in stepper.values.items()},
               "grads": {n: to_jsonable(v) for n, v in stepper.grads.items()},
               "param_grads": param_grads,
               "loss": to_jsonable(stepper.loss())}
        print(json.dumps(out))
        return 0
    title = graph.title or args.file
    print(f"{title}: {len(graph.nodes())} nodes, {graph.total_params()} parameters")
    phase, objective = None, trace.objective_of(stepper.program)
    for r in records:
        if r.phase != phase:
            phase = r.phase
            print(f"\n{phase.upper()}")
        for line in trace.describe(run_graph, r, objective):
            print("  " + line)
    loss = stepper.loss()
    print(f"\n{objective} = {trace.num(loss)}" if loss is not None else "\n(no scalar output: nothing to "
          "differentiate; add a loss)")
    return 0


def cmd_gradcheck(args) -> int:
    from gradviz_core.runs.gradcheck import check_graph

    graph = _load_checked(args.file, args.set)
    report = check_graph(graph, training=not args.test_mode, tol=args.tol,
                         samples=args.samples or None)
    if args.json:
        print(json.dumps(report.to_json()))
        return 0 if report.passed else EXIT_FAILED
    print(f"{'node':<14} {'type':<20} {'gradient':<28} {'checked':>11}  {'rel. error':>10}")
    for name, c in report.nodes.items():
        for i, item in enumerate(c.items):
            flag = {"ok": "ok", "noise": f"ok (noise < {item.noise:.0e})", "kink": "kink",
                    "fail": "FAIL"}[report.verdict(c, item)]
            print(f"{name if i == 0 else '':<14} {c.type_name if i == 0 else '':<20} {item.what:<28} "
                  f"{f'{item.checked}/{item.total}':>11}  {item.error:>10.2e}  {flag}")
        if c.kink:
            print(f"{'':<14} note: {c.kink}")
    verdict = "passed" if report.passed else f"FAILED at {', '.join(report.failed())}"
    print(f"\nmax relative error {report.max_rel_error:.2e} (tolerance {report.tol:g}, h = {report.h:g}): "
          f"{verdict}")
    return 0 if report.passed else EXIT_FAILED


def cmd_render(args) -> int:
    from gradviz_core.errors import GradvizError
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise GradvizError(f"--size {args.size}: write WIDTHxHEIGHT, e.g. 1280x800") from None
    if not (200 <= width <= 8000 and 200 <= height <= 8000):
        raise GradvizError(f"--size {args.size}: each side must be between 200 and 8000 pixels")
    steps = args.steps.lower()
    if steps not in ("all", "forward", "backward") and not steps.isdigit():
        raise GradvizError(f"--steps {args.steps}: give a number of steps, all, forward or backward")
    if not args.output.lower().endswith((".png", ".svg")):
        raise GradvizError(f"-o {args.output}: the image must be a .png or an .svg file")
    if args.train is not None and not 1 <= args.train <= 100000:
        raise GradvizError(f"--train {args.train}: give a number of epochs from 1 to 100000")
    if args.view != "window" and args.train is None:
        raise GradvizError(f"--view {args.view}: the dashboard's views need a run; add --train EPOCHS")
    if args.view != "window" and args.output.lower().endswith(".svg"):
        raise GradvizError(f"--view {args.view}: the dashboard renders as .png only")
    graph = _load_checked(args.file, args.set)  # bad input: a message before any window opens
    check_output(args.output)
    if args.train is not None and graph.data is None:
        raise GradvizError(f"{args.file}: --train needs data: the graph has no data section")
    if args.race:
        from gradviz_core.runs.playground import Surface
        Surface(graph)  # not a loss of two numbers: the reason, before any window opens
    from gradviz.app.render import render
    from gradviz_core.model.fileformat import find
    render(str(find(args.file)), args.output, steps, (width, height), args.select, args.set, args.train, args.view,
           race=args.race)
    print(f"wrote {args.output}")
    return 0


def cmd_info(args) -> int:
    from gradviz_core.memory import fmt_bytes, graph_bytes
    from gradviz_core.model.settings import Settings

    graph = _load_checked(args.file, args.set, too_big_ok=True)
    settings = Settings.from_dict(graph.training)
    nodes = []
    for name in graph.order:
        b, shapes = graph.brick(name), graph.input_shapes(name)
        count = graph.param_count(name) or 0
        nodes.append({"name": name, "type": b.type_name, "shape": _shape_text(graph.shapes.get(name)),
                      "params": count, "formula": b.param_count_text(shapes) if count else "",
                      "frozen": name in settings.freeze,
                      "arithmetic": b.arithmetic(shapes) if graph.shapes.get(name) is not None else []})
    batch = settings.batch_size or (len(graph.splits().train) if graph.data else 1)
    weights, acts = graph_bytes(graph, batch, 4)
    out = {"title": graph.title, "nodes": nodes, "total_params": graph.total_params(),
           "init_from": settings.init_from or None, "freeze": list(settings.freeze),
           "memory_bytes": {"weights": weights, "activations": acts, "batch": batch}}
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"{graph.title or args.file}: {len(nodes)} nodes, {out['total_params']:,} parameters")
    print(f"\n{'node':<14} {'type':<20} {'output':<18} {'parameters':>10}  formula")
    for n in nodes:
        print(f"{n['name']:<14} {n['type']:<20} {n['shape']:<18} {n['params']:>10,}  {n['formula']}"
              + ("  (frozen)" if n["frozen"] else ""))
    for n in nodes:
        if n["arithmetic"]:
            print(f"\n{n['name']} ({n['type']}):\n  " + "\n  ".join(n["arithmetic"]))
    print(f"\ntotal {out['total_params']:,} parameters; training needs about {fmt_bytes(weights + acts)} "
          f"(weights with gradients {fmt_bytes(weights)}, activations at a batch of {batch} {fmt_bytes(acts)})")
    if settings.init_from:
        print(f"training starts from the matching weights of {settings.init_from}")
    if settings.freeze:
        print(f"training leaves {', '.join(settings.freeze)} as they are (frozen)")
    return 0


def _shape_text(shape) -> str:
    from gradviz_core.shapes import fmt
    return "—" if shape is None else fmt(shape)


def cmd_train(args) -> int:
    from gradviz_core.model import fileformat
    from gradviz_core.errors import GradvizError
    from gradviz_core.runs import babysit
    from gradviz_core.runs.trainer import Trainer

    graph = _load_checked(args.file, args.set)
    overrides = {k: v for k, v in (("epochs", args.epochs), ("seed", args.seed), ("lr", args.lr))
                 if v is not None}
    if args.steps is not None and args.steps < 1:
        raise GradvizError(f"--steps must be at least 1, got {args.steps}")
    bar = ProgressBar(sys.stderr) if not args.json else None

    def report(record):
        if args.json:
            print(json.dumps(record), flush=True)
        else:
            bar.update(record, trainer.settings.epochs)

    def warn(record):
        if args.json:
            print(json.dumps(record), flush=True)
        elif not any(w.code == record["code"] for w in trainer.warnings[:-1]):
            bar.interrupt(f"gradviz: warning: {record['message']}")  # the first of its kind, at once

    def diagnostics(record):
        if args.json:
            print(json.dumps(record), flush=True)

    if args.threads is not None and args.threads < 1:
        raise GradvizError(f"--threads {args.threads}: give 1 or more compute threads")
    if args.save:
        check_output(args.save)  # before the run, not after it
    trainer = Trainer(graph, overrides, max_steps=args.steps, threads=args.threads)
    trainer.events.subscribe("epoch", report)
    trainer.events.subscribe("warning", warn)
    trainer.events.subscribe("diagnostics", diagnostics)
    result = trainer.run()
    if bar:
        bar.close()
        for first, nodes in babysit.grouped(trainer.warnings):  # the others of each kind, counted
            if len(nodes) > 1:
                print(f"gradviz: warning: {babysit.group_line(first, nodes)}", file=sys.stderr)
    if args.save:  # after a divergence too: the weights kept are finite
        fileformat.save_weights(trainer.graph, args.save)
    if args.json:
        summary = {"kind": "summary", **result.summary()}
        if result.status != "done":
            summary["status"], summary["message"] = result.status, result.message
        print(json.dumps(summary))
    else:
        def pct(v):
            return "—" if v is None else f"{100 * v:.1f}%"
        loss = "—" if result.train_loss is None else f"{result.train_loss:.4f}"
        print(f"{result.message}: train loss {loss}, train acc {pct(result.train_acc)}, "
              f"val acc {pct(result.val_acc)}, test acc {pct(result.test_acc)}, {result.seconds:.2f} s")
    if result.status == "diverged":
        print(f"gradviz: {result.message}", file=sys.stderr)
        return EXIT_FAILED
    return 0


class ProgressBar:
    """One line on a terminal, redrawn in place; plain lines when not a terminal."""

    def __init__(self, stream) -> None:
        self.stream, self.tty = stream, stream.isatty()

    def update(self, rec: dict, total: int) -> None:
        done = rec["epoch"]
        bar = "█" * int(30 * done / total) + "·" * (30 - int(30 * done / total))
        acc = "" if rec.get("train_acc") is None else f"  acc {100 * rec['train_acc']:.1f}%"
        val = "" if rec.get("val_acc") is None else f"  val {100 * rec['val_acc']:.1f}%"
        line = f"epoch {done}/{total} {bar}  loss {rec['train_loss']:.4f}{acc}{val}"
        if self.tty:
            self.stream.write("\r" + line)
        elif done == total or done % max(1, total // 10) == 0:
            self.stream.write(line + "\n")
        self.stream.flush()

    def interrupt(self, line: str) -> None:
        """A line of its own (a warning) without breaking the bar."""
        self.stream.write(("\r\033[K" if self.tty else "") + line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


def cmd_export(args) -> int:
    from pathlib import Path

    from gradviz_core.errors import GradvizError
    from gradviz_core.formats import export_files
    from gradviz_core.model.fileformat import atomic_write
    suffix = ".onnx" if args.to == "onnx" else ".py"
    if not args.output.endswith(suffix):
        what = {"pytorch": "PyTorch file", "numpy": "NumPy script", "onnx": "ONNX model"}[args.to]
        raise GradvizError(f"-o {args.output}: the {what} must end in {suffix}")
    graph = _load_checked(args.file)
    check_output(args.output)
    files = export_files(graph, args.to, args.output)
    for path, data in files.items():
        atomic_write(path, data, typed=args.output if path == Path(args.output) else path)
    print("wrote " + " and ".join(str(p) for p in reversed(files)))
    return 0


def cmd_worksheet(args) -> int:
    from gradviz_core.errors import GradvizError
    from gradviz_core.model.fileformat import find
    from gradviz_core.teach.worksheet import questions
    if not args.output.lower().endswith((".html", ".pdf")):
        raise GradvizError(f"-o {args.output}: the worksheet is an .html or a .pdf file")
    graph = _load_checked(args.file, args.set)
    check_output(args.output)
    sheet = questions(graph, args.steps, args.blanks)  # bad --steps: said before any window opens
    from gradviz.app.render import worksheet
    worksheet(str(find(args.file)), args.output, args.set, args.steps, args.blanks)
    asked = sum(len(i["blanks"]) for i in sheet["items"])
    print(f"wrote {args.output}: {len(sheet['items'])} lines, {asked} blanks, and the answer key")
    return 0


def cmd_sweep(args) -> int:
    """Meta-parameter search: every run of the plan not yet in the results file, in parallel."""
    from pathlib import Path

    from gradviz_core.errors import GradvizError
    from gradviz_core.model.fileformat import find
    from gradviz_core.runs import sweep as sw
    graph_file = str(find(args.file))
    graph = _load_checked(graph_file)
    grids = [sw.parse_grid(g) for g in args.grid]
    ranges = [sw.parse_range(r) for r in args.range]
    if not grids and not ranges and not args.random:
        raise GradvizError("sweep: give what to search: --grid KEY=V1,V2,… or --random N --range KEY=LOW:HIGH")
    if args.epochs is not None and args.epochs < 1:
        raise GradvizError(f"--epochs {args.epochs}: give 1 or more")
    runs = sw.plan(grids, ranges, args.random, args.seed)
    sw.check(graph_file, runs)  # a typo in a setting fails now, not in every run
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    jobs = cores if args.jobs is None else args.jobs
    if jobs < 1:
        raise GradvizError(f"--jobs {jobs}: give 1 or more")
    results = sw.Results(args.results or f"{Path(graph_file).stem}.sweep.jsonl")
    check_output(str(results.path))
    if args.plot:
        if not args.plot.lower().endswith(".png"):
            raise GradvizError(f"--plot {args.plot}: the plot is a .png file")
        check_output(args.plot)
    before = len([s for s in runs if sw.run_key(s, args.epochs) in results.load()])
    if not args.json:
        print(f"sweep: {len(runs)} runs of {Path(graph_file).name}, {jobs} at once"
              + (f"; {before} already in {results.path}" if before else f"; results in {results.path}"),
              file=sys.stderr)

    if not args.json and not any(k == "data.val" for k in keys_of(grids, ranges)) and not (graph.data or {}).get("val"):
        on = "the test split" if (graph.data or {}).get("test") else "their own training data"
        print(f"sweep: this graph holds out no validation data, so the runs are judged on {on}; to choose settings as "
              "the lectures do, hold out validation data (data.val = 0.2 in the graph, or --grid data.val=0.2) and keep "
              "the test split for the end", file=sys.stderr)

    def finished(record, done, total):
        if args.json:
            print(json.dumps({"kind": "run", **record}), flush=True)
        else:
            print(f"  [{done}/{total}] {_sweep_row(record)}", file=sys.stderr, flush=True)
    import signal

    def stop(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)  # a kill ends it as Ctrl+C does: the finished runs are kept
    try:
        records = sw.sweep(graph_file, runs, results, args.epochs, jobs, finished)
    except KeyboardInterrupt:
        kept = len([s for s in runs if sw.run_key(s, args.epochs) in results.load()])
        print(f"gradviz: sweep interrupted: {kept} of {len(runs)} runs are kept in {results.path}; the same "
              "command goes on from there", file=sys.stderr)
        return 130
    top = sw.best(records)
    if args.json:
        print(json.dumps({"kind": "summary", "runs": len(records), "planned": len(runs),
                          "best": top, "results": str(results.path)}))
    else:
        keys = [a.key for a in grids + ranges]
        ranked = sw.ranked(records)
        measure = sw.LABELS[sw.metric(top)[0]] if top else "score"
        width = [max([len(k)] + [len(str(r["settings"].get(k, ""))) for r in records]) for k in keys]
        print("  ".join(k.ljust(w) for k, w in zip(keys, width)) + f"  {measure}")
        for r in ranked:
            print("  ".join(str(r["settings"].get(k, "")).ljust(w) for k, w in zip(keys, width)) + "  "
                  + sw.score_text(r))
        if top:
            print("best: " + ", ".join(f"{k} = {v}" for k, v in top["settings"].items()) + f" ({sw.score_text(top)})")
    if args.plot:
        from gradviz.app.render import save_sweep_plot
        save_sweep_plot(sw.drawing(grids + ranges, records, len(runs)), args.plot)
        if not args.json:
            print(f"wrote {args.plot}")
    return 0


def keys_of(grids, ranges) -> list[str]:
    return [a.key for a in grids + ranges]


def _sweep_row(record) -> str:
    from gradviz_core.runs.sweep import score_text
    return ", ".join(f"{k} = {v}" for k, v in record["settings"].items()) + f": {score_text(record)}"


def cmd_import_weights(args) -> int:
    """A PyTorch checkpoint's weights into the graph file (or a copy of it, -o)."""
    from gradviz_core.errors import GradvizError
    from gradviz_core.formats.torch_weights import load_checkpoint
    from gradviz_core.model import fileformat
    out = args.output or str(fileformat.find(args.file))
    if not out.endswith(".json"):
        raise GradvizError(f"-o {out}: the graph file must end in .json")
    check_output(out)
    graph = _load_checked(args.file)
    arrays = load_checkpoint(graph, args.checkpoint)
    graph.put_weights(arrays)
    fileformat.save(graph, out, with_weights=True)
    count = sum(a.size for a in arrays.values())
    print(f"wrote {out}: {len(arrays)} arrays, {count:,} numbers from {args.checkpoint}; step it, check its "
          f"gradients or draw its boundary: gradviz {out}")
    return 0


def cmd_import(args) -> int:
    """An ONNX model as a graph file (and its weights file beside it)."""
    from gradviz_core.model import fileformat
    from gradviz_core.errors import GradvizError
    from gradviz_core.formats.onnx_import import from_onnx
    if not args.output.endswith(".json"):
        raise GradvizError(f"-o {args.output}: the graph file must end in .json")
    check_output(args.output)  # before the model is read
    graph = from_onnx(args.file)
    fileformat.save(graph, args.output, with_weights=True)
    print(f"wrote {args.output}: {len(graph.nodes())} nodes, {graph.total_params():,} parameters")
    return 0


def _bench_sizes(as_json: bool, say) -> int:
    from gradviz_core.perf import sizes
    say("loading and stepping chains of 100 to 2,000 nodes…")
    rows = sizes.run()
    try:
        from gradviz.app.start import quiet_qt_messages
        from gradviz.bench.canvas import sizes as window_sizes
        quiet_qt_messages()
        say("opening and stepping them in the window…")
        for row, win in zip(rows, window_sizes(sizes.SIZES)):
            row.update(open_s=win["open_s"], step_redraw_ms=win["step_redraw_ms"])
    except ImportError as exc:  # no Qt here: the engine's figures alone
        say(f"(no window figures: {exc})")
    if as_json:
        print(json.dumps({"sizes": rows}))
        return 0
    print(f"{'nodes':>6} {'load':>8} {'step':>8} {'open in window':>15} {'step + redraw':>14}")
    for r in rows:
        win = (f"{r['open_s']:>14.2f}s {r['step_redraw_ms']:>11.1f} ms" if "open_s" in r else "")
        print(f"{r['nodes']:>6} {r['load_s']:>7.2f}s {r['step_s']:>7.2f}s {win}")
    print("load: the graph file read, checked and analysed; step: one forward and backward pass, node by "
          "node (gradviz step); open: until the window has painted it; step + redraw: one step in the window")
    return 0


def cmd_bench(args) -> int:
    from gradviz_core.perf import bench

    if args.ui:
        from gradviz.app.start import quiet_qt_messages
        from gradviz.bench.canvas import step_redraw
        quiet_qt_messages()
        from gradviz.bench import ui as ui_bench
        from gradviz.bench.canvas import sizes as window_sizes
        import gc
        ms = step_redraw()
        big = window_sizes((1000,))[0]
        gc.collect()  # the big graph's thousands of objects go now, not during the training figures
        out = {"step_redraw_ms": round(ms, 2), "step_redraw_1000_ms": big["step_redraw_ms"],
               "open_1000_s": big["open_s"], **ui_bench.run(busy=args.busy, scale=args.seconds)}
        if args.json:
            print(json.dumps(out))
            return 0
        print(f"one step and its canvas redraw on a 20-node graph: {ms:.1f} ms (target: under 30 ms)")
        print(f"on a {big['nodes']}-node graph: {big['step_redraw_ms']:.1f} ms (target: under 30 ms); opening it "
              f"{big['open_s']:.2f} s (target: under 2 s)")
        print(f"while spiral_mlp trains in the window: longest event-loop stall {out['max_stall_ms']} ms "
              f"(target: under 50), decision boundary {out['boundary_fps']} refreshes/s (target: 20 or more)")
        speed = out["app_digits_s"]
        print(f"digits_convnet, {out['app_digits_epochs']} epochs in the window"
              f"{' with another process busy' if args.busy else ''}: "
              f"{speed['1']} s with 1 compute thread, {speed['2']} s with 2 (the app uses {out['app_threads']})")
        return 0

    say = lambda msg: None if args.json else print(msg, file=sys.stderr)  # noqa: E731
    if args.sizes:
        return _bench_sizes(args.json, say)
    if args.roofline:
        from gradviz_core.perf import roofline
        result = roofline.run(progress=say)
        print(json.dumps(result) if args.json else roofline.table(result))
        return 0
    result = bench.run(args.seconds, progress=say)
    if not args.pinned:
        result["environment"] = bench.environment()
        if result["environment"]["openblas_coretype"]:
            say("timing again with the OPENBLAS_CORETYPE pin lifted…")
        result["unpinned"] = bench.unpinned(args.seconds)
        if args.busy:
            say("timing digits_convnet, quiet and with another process keeping a core busy…")
            result["busy"] = bench.busy()
    if args.json:
        keep = ("nets", "grid_ms", "first_step_s", "first_step_parts_s", "environment", "unpinned", "busy")
        print(json.dumps({k: result[k] for k in keep if k in result}))
    else:
        print(bench.table(result))
    return 0
