"""The lectures' sanity checks and babysitting numbers, as warnings.

Each check looks at numbers the trainer already has (the initial loss, a diagnostics
record, the epoch history) and returns ``Warning`` records: the number that triggered it,
the node it concerns and a one-line explanation. The trainer emits each (code, node) once.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

#: a healthy ‖ΔW‖/‖W‖ per step is about 1e-3; warn outside [LOW, HIGH]
RATIO_LOW, RATIO_HIGH = 1e-5, 1e-1
#: the first updates of small initial weights are large by nature: ratios count from this epoch
RATIO_FROM_EPOCH = 3
DEAD_SHARE = 0.5
SATURATED_SHARE = 0.5
#: across the activation layers at step 0, the std may shrink or grow by at most this factor
STD_SPREAD = 10.0
#: after this many epochs, a loss that has not fallen by 1% is a warning
STALL_EPOCHS = 5


@dataclass(frozen=True)
class Warning:  # noqa: A001 - the lectures' word; it shadows nothing this module uses
    code: str
    node: str | None
    value: float
    message: str

    def to_json(self) -> dict:
        return {"kind": "warning", **asdict(self)}


def initial_loss(check: dict | None) -> list[Warning]:
    """One warning per classification loss whose first value is far from its own ln K."""
    if not check or check["ok"]:
        return []
    out = []
    for c in check.get("checks", [check]):
        if c["ok"]:
            continue
        part = (f" (it enters {c['into']} × {c['weight']:g})" if c.get("into") and c.get("weight") not in (None, 1.0)
                else "")
        out.append(Warning("initial_loss", c.get("node"), c["loss"],
                           f"{c.get('node', 'the loss')}: the initial loss is {c['loss']:.4g}{part}, far from "
                           f"{c['formula']} = {c['expected']:.4g}, what small random weights give (every class "
                           "about equally likely): look at the initialization and at the data"))
    return out


def symmetry(layers: dict[str, int], weights: dict) -> list[Warning]:
    """The zero-init diagnosis: units that start equal stay equal, whatever the activation."""
    out = []
    for node, units in layers.items():
        W = weights.get(f"{node}/W")
        start = "all 0" if W is not None and not W.any() else "the same value everywhere"
        out.append(Warning("symmetric_init", node, float(units),
                           f"{node}: its {units} units start with the same weights ({start}), so they compute the "
                           "same output and get the same gradient (with the weights above all 0 as well, exactly 0); "
                           "they stay equal and the layer learns like one unit. That is the symmetry of the "
                           "initialization, not the activation (LeakyReLU would not break it): start from small "
                           "random weights (Xavier, He)"))
    return out


def from_diagnostics(record: dict, saturating: dict[str, tuple[float, float]],
                     symmetric: dict[str, int] | None = None) -> list[Warning]:
    """Warnings from one diagnostics record (update ratios, dead units, saturation; at step
    1 also the spread of the activations' std across layers). With ``symmetric`` layers (the
    units started equal) dead units and update ratios are that symmetry's symptoms, not warned
    about on their own."""
    out = []
    symmetric = symmetric or {}
    for key, st in record["layers"].items():
        node, _, w = key.partition("/")
        if symmetric:  # the weights started equal: their update ratios say nothing of the learning rate
            continue
        if w not in ("W", "value") or st["weight_norm"] == 0 or record.get("epoch", RATIO_FROM_EPOCH) < RATIO_FROM_EPOCH:
            continue
        r = st["update_ratio"]
        if r > RATIO_HIGH:
            out.append(Warning("update_ratio_high", node, r,
                               f"{key}: each update changes the weights by {r:.1e} of their size, far above "
                               "the healthy 1e-3: the learning rate is probably too high"))
        elif 0 < r < RATIO_LOW:
            out.append(Warning("update_ratio_low", node, r,
                               f"{key}: each update changes the weights by only {r:.1e} of their size, far "
                               "below the healthy 1e-3: the learning rate is probably too low"))
    acts = record["activations"]
    for node, st in acts.items():
        if st.get("dead", 0) > DEAD_SHARE:
            advice = ("the weights started equal, so LeakyReLU alone would not help: see the symmetry warning"
                      if symmetric else "check the biases and the learning rate, or try LeakyReLU")
            out.append(Warning("dead_relu", node, st["dead"],
                               f"{node}: {100 * st['dead']:.0f}% of its ReLUs are dead (0 for every sample, so "
                               f"they get no gradient): {advice}"))
        if node in saturating and st.get("saturated", 0) > SATURATED_SHARE:
            out.append(Warning("saturated", node, st["saturated"],
                               f"{node}: {100 * st['saturated']:.0f}% of its outputs sit at the flat ends of "
                               "the curve, where the gradient is almost 0: use smaller initial weights or "
                               "normalize the inputs"))
    if record.get("step") == 1:
        stds = [(n, st["std"]) for n, st in acts.items()]
        if len(stds) >= 2 and stds[0][1] > 0:
            (first, s0), (last, s1) = stds[0], stds[-1]
            spread = s1 / s0
            if spread < 1 / STD_SPREAD:
                out.append(Warning("std_collapse", last, spread,
                                   f"the activations' std shrinks from {s0:.3g} ({first}) to {s1:.3g} ({last}) "
                                   "across the layers: the weights start too small (try Xavier or He)"))
            elif spread > STD_SPREAD:
                out.append(Warning("std_explode", last, spread,
                                   f"the activations' std grows from {s0:.3g} ({first}) to {s1:.3g} ({last}) "
                                   "across the layers: the weights start too large (try Xavier or He)"))
    return out


def from_history(history: list[dict]) -> list[Warning]:
    if len(history) < STALL_EPOCHS:
        return []
    first, last = history[0]["train_loss"], history[-1]["train_loss"]
    if last >= 0.99 * first:
        return [Warning("loss_flat", None, last,
                        f"after {len(history)} epochs the training loss is {last:.4g}, no lower than at the "
                        f"start ({first:.4g}): the learning rate is too low, or so high that the loss bounces; "
                        "read the update ratios, and check for dead units")]
    return []


def grouped(warnings) -> list[tuple[Warning, list[str]]]:
    """The warnings by kind, in the order first seen: (the first warning of each code, the nodes
    the code was found at). A deep net's 240 dead-ReLU layers are one entry, not 240 lines."""
    out: dict[str, tuple[Warning, list[str]]] = {}
    for w in warnings:
        first, nodes = out.setdefault(w.code, (w, []))
        if w.node and w.node not in nodes:
            nodes.append(w.node)
    return list(out.values())


def group_line(first: Warning, nodes: list[str]) -> str:
    """One line for a kind of warning: its first message, and how many nodes share it."""
    if len(nodes) <= 1:
        return first.message
    names = ", ".join(nodes[:3]) + (f", … {nodes[-1]}" if len(nodes) > 4 else
                                    "".join(f", {n}" for n in nodes[3:]))
    return f"{len(nodes)} nodes ({names}) — the first: {first.message}"
