"""``gradviz worksheet``: a stepped trace as a worksheet to hand out, with blanks, and its answer
key on pages of its own, every number the stepper's own (written as the window writes them).

Forward lines ask for each node's value; backward lines are the chain rule to complete: the
local derivative and the product (∂f/∂x += ∂f/∂q · ∂q/∂x = −4 · ____ = ____). No Qt here: the
command line adds the picture of the graph as the canvas draws it, and the PDF.
"""
from __future__ import annotations

import html
import re

from gradviz_core.errors import GradvizError
from gradviz_core.teach import trace

BLANK = "________"
BLANKS = ("values", "gradients", "both")
_SCALAR_RULE = re.compile(r"^(.* = )(\S+) · (\S+) = (\S+)$")


def number(x) -> str:
    """A number as the window writes it: 4 significant digits and a real minus sign."""
    return trace.num(x).replace("-", "−")


def questions(graph, steps: str = "all", blanks: str = "both", training: bool = True) -> dict:
    """{"title", "objective", "items": [{"phase", "node", "prompt", "answer", "blanks": [numbers]}]}
    for the first ``steps`` steps of the forward and backward passes (all of them by default)."""
    from gradviz_core.runs.stepper import Stepper
    if blanks not in BLANKS:
        raise GradvizError(f"--blanks {blanks}: choose values, gradients or both")
    stepper = Stepper(graph, training=training, weights="document" if graph.weights() else "fresh")
    records = stepper.run_phase("backward")
    if steps != "all":
        if not str(steps).isdigit() or int(steps) < 1:
            raise GradvizError(f"--steps {steps}: give a number of steps (1 or more) or all")
        records = records[:int(steps)]
    run_graph = stepper.graph
    objective = trace.objective_of(stepper.program)
    items = []
    for r in records:
        if r.phase == "forward":
            value = trace.show(r.output, number)
            line = trace.describe(run_graph, r, objective)[0]
            head = line.split("    ")[0].rpartition(" = ")[0]
            head = re.sub(r"(?<![\w.])-(?=\d)", "−", head)  # the inputs' numbers, as the window writes them
            if blanks in ("values", "both") and graph.inputs_of(r.node):  # a typed number is given
                items.append({"phase": "forward", "node": r.node, "prompt": f"{head} = {BLANK}",
                              "answer": f"{head} = {value}", "blanks": [value]})
            else:
                items.append({"phase": "forward", "node": r.node, "prompt": f"{head} = {value}",
                              "answer": f"{head} = {value}", "blanks": []})
        elif r.phase == "backward":
            for line in trace.chain_rule(run_graph, r, objective, number):
                m = _SCALAR_RULE.match(line)
                if m and blanks in ("gradients", "both"):
                    prompt = f"{m.group(1)}{m.group(2)} · {BLANK} = {BLANK}"
                    items.append({"phase": "backward", "node": r.node, "prompt": prompt, "answer": line,
                                  "blanks": [m.group(3), m.group(4)]})
                else:
                    items.append({"phase": "backward", "node": r.node, "prompt": line, "answer": line, "blanks": []})
    return {"title": graph.title or "a gradviz graph", "objective": objective, "items": items,
            "loss": None if stepper.loss() is None else number(stepper.loss())}


def to_html(sheet: dict, image: str | None = None, width: int | None = None) -> str:
    """The worksheet as one HTML page: the graph (``image``: a URL or data: URL), the questions
    with blanks, then the answer key after a page break. ``width``: the picture's width in pixels
    (for a renderer that does not scale it to the page by itself)."""
    def esc(text):
        return html.escape(text).replace(html.escape(BLANK), f"<span class='blank'>{BLANK}</span>")

    def section(phase):
        items = [i for i in sheet["items"] if i["phase"] == phase]
        return items

    out = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>",
           f"<title>Worksheet: {html.escape(sheet['title'])}</title>",
           "<style>body{font-family:sans-serif;max-width:52em;margin:2em auto}"
           "li{margin:.5em 0;font-family:monospace;font-size:110%}.blank{color:#1864ab}"
           ".key{page-break-before:always}</style></head><body>",
           f"<h1>Worksheet: {html.escape(sheet['title'])}</h1>",
           "<p>Name: ____________________ &nbsp; Date: ____________</p>"]
    if image:
        size = f" width='{width}'" if width else ""
        out.append(f"<p><img src='{image}' alt='the graph' style='max-width:100%'{size}></p>")
    for phase, heading, what in (("forward", "Forward pass", "Write each node's value."),
                                 ("backward", "Backward pass", f"Complete the chain rule: the gradient of "
                                  f"{sheet['objective']} reaches each input through its node's local derivative.")):
        items = section(phase)
        if items:
            out += [f"<h2>{heading}</h2>", f"<p>{html.escape(what)}</p>", "<ol>"]
            out += [f"<li>{esc(i['prompt'])}</li>" for i in items]
            out.append("</ol>")
    out += ["<div class='key'>", f"<h1>Answer key: {html.escape(sheet['title'])}</h1>"]
    for phase, heading in (("forward", "Forward pass"), ("backward", "Backward pass")):
        items = section(phase)
        if items:
            out += [f"<h2>{heading}</h2>", "<ol>"] + [f"<li>{html.escape(i['answer'])}</li>" for i in items] + ["</ol>"]
    if sheet["loss"] is not None:
        out.append(f"<p>{html.escape(sheet['objective'])} = {html.escape(sheet['loss'])}</p>")
    out += ["</div>", "</body></html>"]
    return "\n".join(out) + "\n"
