"""Lessons 1–8: each lesson's measurement and the claims of its note (see ``claims``).

A measurement runs the lesson's variants as the note's links set them and returns named
figures; a claim compares one figure with a threshold. The thresholds sit where the spread
over seeds and backends (``python tools/lesson_claims.py``, docs/lessons.md) leaves room.
"""
from __future__ import annotations

import math

import numpy as np

from gradviz_core.teach.claims import Claim, Trial, epochs_to, flag

C = Claim


def codes(result) -> set[str]:
    return {w["code"] for w in result.warnings}


def _grads(graph):
    """Values and input gradients of one float64 pass of a circuit."""
    from gradviz_core.runs.run import Run
    run = Run(graph, np.float64, all_input_grads=True)
    values = run.program.forward(True)
    return values, run.program.backward(values)


# ---- 1: the circuit (x + y)·z ------------------------------------------------------------------

def circuit(t: Trial) -> dict:
    from gradviz_core.runs.gradcheck import check_graph
    g = t.load("circuit_xyz.json")
    v, d = _grads(g)
    return {"q": float(v["q"]), "f": float(v["f"]), "df/dq": float(d["q"]), "df/dz": float(d["z"]),
            "df/dx": float(d["x"]), "df/dy": float(d["y"]),
            "check.max_error": check_graph(g).max_rel_error}


CIRCUIT = [C("forward: q = x + y = 3", "q", "==", 3), C("forward: f = q·z = −12", "f", "==", -12),
           C("the multiply gate swaps: df/dq = z = −4", "df/dq", "==", -4),
           C("the multiply gate swaps: df/dz = q = 3", "df/dz", "==", 3),
           C("the add gate distributes: df/dx = −4", "df/dx", "==", -4),
           C("the add gate distributes: df/dy = −4", "df/dy", "==", -4),
           C("the chain rule agrees with finite differences", "check.max_error", "<", 1e-6)]


# ---- 2: a sigmoid neuron from gates ------------------------------------------------------------

_NEURON = {"f": 0.73, "w0": -0.20, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.20, "s2": 0.2}


def neuron(t: Trial) -> dict:
    v, d = _grads(t.load("sigmoid_neuron.json"))
    got = {"f": float(v["f"]), **{k: float(d[k]) for k in _NEURON if k != "f"}}
    return {f"|{k} − ({want:g})|": abs(got[k] - want) for k, want in _NEURON.items()}


NEURON = [C("the forward pass gives f ≈ 0.73", "|f − (0.73)|", "<", 0.005),
          *(C(f"dL/d{k} ≈ {want:g}", f"|{k} − ({want:g})|", "<", 0.006)
            for k, want in _NEURON.items() if k not in ("f", "s2")),
          C("the gates from neg to f pass σ(1 − σ) ≈ 0.2", "|s2 − (0.2)|", "<", 0.005)]


# ---- 3: softmax and cross-entropy -----------------------------------------------------------------

def softmax(t: Trial) -> dict:
    from gradviz_core.runs.gradcheck import check_graph
    check = t.trainer("lesson_softmax.json").initial_loss_check()
    low_t = t.trainer("lesson_softmax.json", "gradviz:set?reg.lam=0.001")
    high_t = t.trainer("lesson_softmax.json", "gradviz:set?reg.lam=0.1")
    low, high = low_t.run(), high_t.run()
    return {"|L0 − ln 10|": abs(check["loss"] - math.log(10)),
            "reg0(λ=0.1) / reg0(λ=0.001)": high.history[0]["reg_loss"] / low.history[0]["reg_loss"],
            "total(λ=0.1) − total(λ=0.001)": (high.train_loss + high.reg_loss) - (low.train_loss + low.reg_loss),
            "λ=0.001 test_acc": low.test_acc,
            "check.passed": flag(check_graph(t.load("lesson_softmax.json")).passed)}


SOFTMAX = [C("the initial loss is ln 10 ≈ 2.303", "|L0 − ln 10|", "<", 0.05),
           C("λ = 0.1 adds far more regularization than λ = 0.001 (first epoch)",
             "reg0(λ=0.1) / reg0(λ=0.001)", ">", 10),
           C("regularization raises the loss (after training)", "total(λ=0.1) − total(λ=0.001)", ">", 0.1),
           C("the linear classifier reaches 90% test accuracy", "λ=0.001 test_acc", ">", 0.9),
           C("every gradient passes the numerical check", "check.passed", "==", 1)]


# ---- 4: losses side by side ------------------------------------------------------------------------

def losses(t: Trial) -> dict:
    from gradviz_core.runs.run import Run
    g = t.load("lesson_losses.json")
    run = Run(g, np.float64)
    run.feed(*run.batch(1), step=1)
    values = run.program.forward(True)
    grads = run.program.backward(values)
    d = np.asarray(values["y01"], float).reshape(-1)
    n, c = len(d), 2 * d - 1

    def sig(v):
        return 1 / (1 + np.exp(-v))

    s = {k: np.asarray(values[k], float).reshape(-1) for k in ("s_sq", "s_bce", "s_bcel", "s_log", "s_hinge")}
    want = {"s_sq": (s["s_sq"] - d) / n, "s_bce": (sig(s["s_bce"]) - d) / n, "s_bcel": (sig(s["s_bcel"]) - d) / n,
            "s_log": -c * sig(-c * s["s_log"]) / n, "s_hinge": np.where(c * s["s_hinge"] < 1, -c, 0.0) / n}
    out = {f"∂L/∂{k} off by": float(np.max(np.abs(grads[k].reshape(-1) - w))) for k, w in want.items()}
    trainer = t.trainer("lesson_losses.json")
    trainer.run()
    test = trainer.splits.test
    trainer.training_run.feed(test.X.astype(trainer.dtype), test.y)
    values = trainer.program.forward(False)
    for loss in ("L_sq", "L_bce", "L_bcel", "L_log", "L_hinge", "L_soft", "L_svm", "L_svm1"):
        src = dict(trainer.program.inputs[loss])["x"]
        pred = trainer.program.bricks[loss].predict_classes(values[src])
        if pred is None:  # the square loss regresses onto 0/1: its class is the nearer one
            pred = (np.asarray(values[src]).reshape(-1) > 0.5).astype(int)
        out[f"{loss} test_acc"] = float(np.mean(pred == test.y))
    train = trainer.splits.train  # after training: who still sends a gradient
    trainer.training_run.feed(train.X.astype(trainer.dtype), train.y)
    back = trainer.program.backward(trainer.program.forward(True))
    out["hinge: share of samples sending 0"] = float(np.mean(back["s_hinge"].reshape(-1) == 0))
    out["logistic: share of samples sending 0"] = float(np.mean(back["s_log"].reshape(-1) == 0))
    return out


LOSSES = [*(C(f"∂L/∂{k} for one sample is {f}", f"∂L/∂{k} off by", "<", 1e-9) for k, f in
            (("s_sq", "s − d"), ("s_bce", "σ(s) − d (the sigmoid's σ(1 − σ) cancels)"),
             ("s_bcel", "σ(s) − d"), ("s_log", "−c·σ(−c·s)"), ("s_hinge", "−c inside the margin, 0 outside"))),
          *(C(f"trained, the {k} head separates the classes (80% of the test points or more)", f"{k} test_acc", ">=", 0.8)
            for k in ("L_sq", "L_bce", "L_bcel", "L_log", "L_hinge", "L_soft", "L_svm", "L_svm1")),
          C("the hinge sends nothing once a sample is past the margin", "hinge: share of samples sending 0", ">", 0.5),
          C("the logistic loss never quite stops", "logistic: share of samples sending 0", "==", 0)]


# ---- 5: a multi-task graph ---------------------------------------------------------------------------

def multitask(t: Trial) -> dict:
    from gradviz_core.runs.run import Run
    out = {}
    for w in ("[1,1]", "[1,0]", "[0,1]"):
        r = t.train("lesson_multitask.json", f"gradviz:set?total.weights={w}")
        first, last = r.history[0]["terms"], r.history[-1]["terms"]
        out.update({f"{w} classify": last["classify"], f"{w} reconstruct": last["reconstruct"],
                    f"{w} test_acc": r.test_acc,
                    f"{w} reconstruct last/first": last["reconstruct"] / first["reconstruct"]})
    run = Run(t.load("lesson_multitask.json", "gradviz:set?total.weights=[1,10]"), np.float64)
    run.feed(*run.batch(1), step=1)
    grads = run.program.backward(run.program.forward(True))
    out["[1,10] ∂total/∂reconstruct"] = float(grads["reconstruct"])
    out["[1,10] ∂total/∂classify"] = float(grads["classify"])
    return out


MULTITASK = [C("w = (1, 1): the classifier learns (chance is 1/3)", "[1,1] test_acc", ">", 0.65),
             C("w = (1, 1): the reconstruction is learned", "[1,1] reconstruct", "<", 0.02),
             C("w = (1, 0): the classifier learns", "[1,0] test_acc", ">", 0.65),
             C("w = (1, 0): the reconstruction head gets no gradient; its loss does not fall",
               "[1,0] reconstruct last/first", ">", 0.5),
             C("w = (0, 1): the classifier never learns (about chance)", "[0,1] test_acc", "<", 0.65),
             C("w = (0, 1): the reconstruction is learned", "[0,1] reconstruct", "<", 0.02),
             C("w = (1, 10): the chain rule multiplies the reconstruction's gradient by 10",
               "[1,10] ∂total/∂reconstruct", "==", 10),
             C("w = (1, 10): and the classification's by 1", "[1,10] ∂total/∂classify", "==", 1)]


# ---- 6: saturation --------------------------------------------------------------------------------

def saturation(t: Trial) -> dict:
    _, d = _grads(t.load("lesson_saturation.json"))
    _, lo2 = _grads(t.load("lesson_saturation.json", "gradviz:set?s_lo.value=-2"))
    _, a01 = _grads(t.load("lesson_saturation.json", "gradviz:set?leaky.alpha=0.1"))
    return {"σ′(0)": float(d["s_mid"]), "σ′(−10)": float(d["s_lo"]), "σ′(10)": float(d["s_hi"]),
            "ReLU′(−3)": float(d["r_in"]), "leaky′(−3)": float(d["l_in"]),
            "σ′(−2)": float(lo2["s_lo"]), "leaky′(−3), α = 0.1": float(a01["l_in"]),
            "ReLU′(0), the kink": float(d["k_in"]), "tanh′(0)": float(d["t_mid"]), "tanh′(3)": float(d["t_hi"])}


SATURATION = [C("at 0 the sigmoid passes a quarter", "σ′(0)", "==", 0.25),
              C("at −10 it passes 0.000045", "σ′(−10)", "<", 4.6e-5), C("(and not less)", "σ′(−10)", ">", 4.5e-5),
              C("at 10 it passes 0.000045", "σ′(10)", "<", 4.6e-5),
              C("the dead ReLU passes exactly 0", "ReLU′(−3)", "==", 0),
              C("the leaky ReLU passes 0.01", "leaky′(−3)", "==", 0.01),
              C("at −2 the sigmoid passes about 0.1", "σ′(−2)", ">", 0.1),
              C("with α = 0.1 the leaky ReLU passes 0.1", "leaky′(−3), α = 0.1", "==", 0.1),
              C("at its kink the ReLU passes 0 (the slope from the left)", "ReLU′(0), the kink", "==", 0),
              C("tanh passes 1 at 0", "tanh′(0)", "==", 1),
              C("tanh passes about 0.0099 at 3", "tanh′(3)", "<", 0.00990), C("(and not less)", "tanh′(3)", ">", 0.00985)]


# ---- 7: initialization --------------------------------------------------------------

TINY, HUGE = "gradviz:set?*.init=normal&*.init_scale=0.01", "gradviz:set?*.init=normal&*.init_scale=1.0"
XAVIER, ZEROS = "gradviz:set?*.init=xavier", "gradviz:set?*.init=zeros"


def init(t: Trial) -> dict:
    tiny = t.trainer("lesson_init.json", TINY)
    r = tiny.run()
    acts = tiny.diagnostics[0]["activations"]
    huge = t.train("lesson_init.json", HUGE)
    xavier = t.train("lesson_init.json", XAVIER)
    zero = t.trainer("lesson_init.json", ZEROS)
    z = zero.run()
    W = zero.program.bricks["fc3"].weights["W"]
    return {"σ=0.01 train_acc": r.train_acc, "σ=0.01 warns: the std shrinks": flag("std_collapse" in codes(r)),
            "σ=0.01 std(act7)/std(act1)": acts["act7"]["std"] / acts["act1"]["std"],
            "σ=1 warns: saturated": flag("saturated" in codes(huge)), "σ=1 train_acc": huge.train_acc,
            "Xavier train_acc": xavier.train_acc, "Xavier epochs to 90%": epochs_to(xavier, "train_acc", 0.9),
            "zeros: every unit the same": flag(np.allclose(W, W[:, :1])), "zeros train_acc": z.train_acc,
            "zeros: ‖∂L/∂W‖ of the hidden layers at the first step": max(
                st["grad_norm"] for k, st in zero.diagnostics[0]["layers"].items() if k.endswith("/W") and
                not k.startswith("scores")),
            "zeros warns: the symmetry": flag("symmetric_init" in codes(z))}


INIT = [C("σ = 0.01: nothing learns (chance is 1/3)", "σ=0.01 train_acc", "<", 0.45),
        C("σ = 0.01: the activations shrink layer after layer", "σ=0.01 std(act7)/std(act1)", "<", 1e-3),
        C("σ = 0.01: the warning \"the activations' std shrinks\"", "σ=0.01 warns: the std shrinks", "==", 1),
        C("σ = 1: the activations saturate (the warning)", "σ=1 warns: saturated", "==", 1),
        C("σ = 1: nothing learns either", "σ=1 train_acc", "<", 0.6),
        C("Xavier: the net trains", "Xavier train_acc", ">=", 0.9),
        C("Xavier: 90% within 20 epochs", "Xavier epochs to 90%", "<=", 20),
        C("zeros: every unit the same, after training too", "zeros: every unit the same", "==", 1),
        C("zeros: the symmetry never breaks, nothing learns", "zeros train_acc", "<", 0.45),
        C("zeros: the same gradient for every unit is exactly 0", "zeros: ‖∂L/∂W‖ of the hidden layers at the first step",
          "==", 0),
        C("zeros: the warning names the symmetry, not the activation", "zeros warns: the symmetry", "==", 1)]


# ---- 8: learning rates ----------------------------------------------------------------------------

def learning_rate(t: Trial) -> dict:
    f = "lesson_learning_rate.json"
    small = t.train(f, "gradviz:set?training.lr=0.0001&training.optimizer=sgd&training.momentum=0")
    right = t.train(f, "gradviz:set?training.lr=0.1&training.optimizer=sgd&training.momentum=0")
    large = t.train(f, "gradviz:set?training.lr=500&training.optimizer=sgd&training.momentum=0")
    out = {"η=0.0001 last/first loss": small.history[-1]["train_loss"] / small.history[0]["train_loss"],
           "η=0.0001 warns: updates too small": flag("update_ratio_low" in codes(small)),
           "η=0.1 train_acc": right.train_acc,
           "η=0.1 loss drop per epoch, first tenth / the rest": _fast_then_slow(right),
           "η=500 diverges": flag(large.status == "diverged" and "smaller learning rate" in large.message)}
    for name, link in (("momentum", "gradviz:set?training.lr=0.05&training.optimizer=momentum&training.momentum=0.9"),
                       ("Nesterov", "gradviz:set?training.lr=0.05&training.optimizer=nesterov&training.momentum=0.9"),
                       ("Adam", "gradviz:set?training.lr=0.01&training.optimizer=adam")):
        out[f"{name} train_acc"] = t.train(f, link).train_acc
    return out


def _fast_then_slow(result) -> float:
    loss = [h["train_loss"] for h in result.history]
    k = max(1, len(loss) // 10)
    n = len(loss) - 1
    return ((loss[0] - loss[k]) / k) / max((loss[k] - loss[-1]) / (n - k), 1e-12)


LEARNING_RATE = [
    C("η = 0.0001: the loss barely moves", "η=0.0001 last/first loss", ">", 0.95),
    C("η = 0.0001: the updates are far below 1e-3 of the weights (the warning)",
      "η=0.0001 warns: updates too small", "==", 1),
    C("η = 0.1: about right", "η=0.1 train_acc", ">", 0.75),
    C("η = 0.1: the loss falls fast, then slowly (per epoch, faster in the first tenth of the epochs)",
      "η=0.1 loss drop per epoch, first tenth / the rest", ">", 2),
    C("η = 500: the loss explodes, training stops with the reason", "η=500 diverges", "==", 1),
    *(C(f"{n} trains the same net", f"{n} train_acc", ">", 0.75) for n in ("momentum", "Nesterov", "Adam"))]
