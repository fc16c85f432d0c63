"""Lessons 9–16: each lesson's measurement and the claims of its note (see ``claims``), and
``LESSONS``, every lesson with its claims in the lectures' order."""
from __future__ import annotations

import math

import numpy as np

from gradviz_core.teach import claims_basics as basics
from gradviz_core.teach.claims import Claim, Lesson, Trial, epochs_to, flag

C = Claim


# ---- 9: the optimizer playground (no randomness: a start point and the rules) -----------------------

def _race(t: Trial, name: str, *links: str, rules=None):
    from gradviz_core.runs import playground
    g = t.load(name, *links)
    s = playground.Surface(g)
    r = playground.Race(s, g.training, rules=rules or playground.RULES)
    r.advance(s.settings["steps"])
    return r


def _reach(r, rule: str, below: float) -> float:
    L = np.array(r.losses[rule])
    return float(np.argmax(L < below)) if (L < below).any() else math.inf


def valley(t: Trial) -> dict:
    r = _race(t, "lesson_optimizers.json")
    out = {f"{rule}: steps to f < 0.001": _reach(r, rule, 1e-3) for rule in r.rules}
    for rule in ("sgd", "momentum"):
        out[f"{rule}: sign changes of b in 20 steps"] = float((np.diff(np.sign(r.path(rule)[:21, 1])) != 0).sum())
    swing = {rule: np.abs(r.path(rule)[5:, 1]).max() for rule in ("momentum", "nesterov")}
    out["nesterov swing / momentum swing"] = float(swing["nesterov"] / swing["momentum"])
    bad = _race(t, "lesson_optimizers.json", "gradviz:set?playground.lr.sgd=1.05", rules=["sgd"])
    out["sgd η = 1.05 diverges"] = flag(bad.stopped.get("sgd", "").startswith("diverg"))
    return out


VALLEY = [C("SGD zigzags across the valley at every step", "sgd: sign changes of b in 20 steps", ">=", 18),
          C("momentum does not zigzag", "momentum: sign changes of b in 20 steps", "<=", 5),
          C("SGD: about 150 steps to f < 0.001", "sgd: steps to f < 0.001", ">", 140),
          C("(and not far more)", "sgd: steps to f < 0.001", "<", 170),
          *(C(f"{r}: about 115 steps", f"{r}: steps to f < 0.001", op, v)
            for r in ("momentum", "nesterov") for op, v in ((">", 100), ("<", 125))),
          *(C(f"{r}: about 55–60 steps", f"{r}: steps to f < 0.001", op, v)
            for r in ("adagrad", "rmsprop", "adam") for op, v in ((">=", 50), ("<=", 65))),
          C("Nesterov swings across the valley less", "nesterov swing / momentum swing", "<", 0.7),
          C("SGD with η = 1.05 diverges", "sgd η = 1.05 diverges", "==", 1)]


def saddle(t: Trial) -> dict:
    r = _race(t, "lesson_saddle.json")
    out = {f"{rule}: steps to |b| > 0.5": float(np.argmax(np.abs(r.path(rule)[:, 1]) > 0.5)) for rule in r.rules}
    out["every rule ends at f = −1 (largest miss)"] = max(abs(r.losses[rule][-1] + 1) for rule in r.rules)
    ridge = _race(t, "lesson_saddle.json", "gradviz:set?playground.start=[-2,0]")
    out["on the ridge: largest |b|"] = max(float(np.abs(ridge.path(rule)[:, 1]).max()) for rule in ridge.rules)
    return out


SADDLE = [C("SGD waits at the saddle, leaving after about 65 steps", "sgd: steps to |b| > 0.5", ">=", 55),
          C("(and leaves by 75)", "sgd: steps to |b| > 0.5", "<=", 75),
          *(C(f"{r} does little better at first", f"{r}: steps to |b| > 0.5", ">=", 55) for r in ("momentum", "nesterov")),
          *(C(f"{r} turns down along b within 2 or 3 steps", f"{r}: steps to |b| > 0.5", "<=", 3)
            for r in ("adagrad", "rmsprop")),
          C("Adam within about 10 steps", "adam: steps to |b| > 0.5", "<=", 12),
          C("each finds a minimum, f = −1", "every rule ends at f = −1 (largest miss)", "<", 1e-3),
          C("exactly on the ridge no rule ever leaves it", "on the ridge: largest |b|", "==", 0)]


def rosenbrock(t: Trial) -> dict:
    r = _race(t, "lesson_rosenbrock.json")
    out = {f"{rule}: f after 1000 steps": float(r.losses[rule][-1]) for rule in r.rules}
    for rule in ("momentum", "nesterov", "adam"):
        out[f"{rule}: steps to f < 0.01"] = _reach(r, rule, 1e-2)
        out[f"{rule}: distance to (1, 1)"] = float(np.abs(r.path(rule)[-1] - 1).max())
    fast = _race(t, "lesson_rosenbrock.json", "gradviz:set?playground.lr.momentum=0.002", rules=["momentum"])
    out["momentum η = 0.002: steps to f < 0.01"] = _reach(fast, "momentum", 1e-2)
    wild = _race(t, "lesson_rosenbrock.json", "gradviz:set?playground.lr.momentum=0.004", rules=["momentum"])
    stop = wild.stopped.get("momentum", "")
    out["momentum η = 0.004: step it diverges"] = float(stop.split()[-1]) if stop.startswith("diverg") else math.inf
    big = _race(t, "lesson_rosenbrock.json", "gradviz:set?playground.lr.sgd=0.004", rules=["sgd"])
    out["sgd η = 0.004: f after 1000 steps"] = float(big.losses["sgd"][-1])
    return out


ROSENBROCK = [C("SGD has not reached f = 0.01 after 1000 steps", "sgd: f after 1000 steps", ">", 0.01),
              C("(nor is it far off)", "sgd: f after 1000 steps", "<", 0.1),
              *(C(f"{r} is still short of (1, 1) after 1000 steps", f"{r}: f after 1000 steps", ">", 0.01)
                for r in ("adagrad", "rmsprop")),
              *(C(f"{r} reaches the minimum", f"{r}: f after 1000 steps", "<", 1e-3) for r in ("momentum", "nesterov", "adam")),
              *(C(f"{r} ends at (1, 1)", f"{r}: distance to (1, 1)", "<", 0.02) for r in ("momentum", "nesterov", "adam")),
              C("momentum: about 320 steps", "momentum: steps to f < 0.01", "<", 330),
              C("Nesterov: about 350 steps", "nesterov: steps to f < 0.01", "<", 360),
              C("Adam: about 360 steps", "adam: steps to f < 0.01", "<", 370),
              C("momentum with η = 0.002 reaches (1, 1) sooner", "momentum η = 0.002: steps to f < 0.01", "<", 300),
              C("momentum with η = 0.004 diverges within 15 steps", "momentum η = 0.004: step it diverges", "<=", 15),
              C("SGD with η = 0.004 ends farther from the minimum (f ≈ 0.45)", "sgd η = 0.004: f after 1000 steps", ">", 0.3)]


# ---- 10: width ----------------------------------------------------------------------------------------

def width(t: Trial) -> dict:
    return {"2 units train_acc": t.train("lesson_width.json").train_acc,
            "10 units train_acc": t.train("lesson_width.json", "gradviz:set?fc1.units=10").train_acc}


WIDTH = [C("with 2 hidden units the regions are bands: the training accuracy stays around 80–85% (below 92%)",
           "2 units train_acc", "<", 0.92),
         C("with 10 the boundary closes around the disc (97% or more)", "10 units train_acc", ">=", 0.97)]


# ---- 11: overfitting ----------------------------------------------------------------------------------

OVERFITTING_FIXES = ("L2", "L1", "dropout", "early stopping", "jitter")


def overfitting(t: Trial) -> dict:
    import re
    base = t.train("lesson_overfitting.json")
    val = [h["val_loss"] for h in base.history]
    out = {"no regularization train_acc": base.train_acc, "no regularization: last / lowest val_loss": val[-1] / min(val)}
    links = re.findall(r"\((gradviz:set[^)]*)\)", t.load("lesson_overfitting.json").note)[:5]
    for name, url in zip(OVERFITTING_FIXES, links):
        out[f"{name}: val_loss / unregularized"] = t.train("lesson_overfitting.json", url).val_loss / base.val_loss
    return out


OVERFITTING = [C("with no regularization the net memorizes the 60 points", "no regularization train_acc", "==", 1),
               C("the validation loss turns and climbs: it ends above its lowest point", "no regularization: last / lowest val_loss", ">", 1),
               *(C(f"{n} brings the validation loss below the unregularized run's", f"{n}: val_loss / unregularized",
                   "<", 1) for n in OVERFITTING_FIXES)]


# ---- 12: BatchNorm --------------------------------------------------------------------------------------

def batchnorm(t: Trial) -> dict:
    out = {}
    for name, link in (("σ=0.01", basics.TINY), ("σ=1", basics.HUGE), ("Xavier", basics.XAVIER)):
        r = t.train("lesson_batchnorm.json", link)
        out[f"BN {name} train_acc"] = r.train_acc
        out[f"BN {name} epochs to 90%"] = epochs_to(r, "train_acc", 0.9)
    plain = t.train("lesson_init.json", basics.XAVIER, "gradviz:set?training.lr=0.2")
    out["plain Xavier, η = 0.2: train_acc"] = plain.train_acc
    return out


BATCHNORM = [*(C(f"BatchNorm from {n}: it learns", f"BN {n} train_acc", ">=", 0.8) for n in ("σ=0.01", "σ=1", "Xavier")),
             *(C(f"BatchNorm from {n}: 90% within 40 epochs", f"BN {n} epochs to 90%", "<=", 40)
               for n in ("σ=0.01", "σ=1", "Xavier")),
             C("the plain Xavier net at BatchNorm's η = 0.2 does not learn (chance is 1/3)",
               "plain Xavier, η = 0.2: train_acc", "<", 0.6)]


# ---- 13: a ConvNet on the digits -----------------------------------------------------------------------

def convnet(t: Trial) -> dict:
    r = t.train("digits_convnet.json")
    shifted = t.train("digits_convnet.json", "gradviz:set?data.augment=%7B%22shift%22%3A1%7D")
    return {"test_acc": r.test_acc, "shift 1: test_acc": shifted.test_acc,
            "shift 1 − none: test_acc": shifted.test_acc - r.test_acc}


CONVNET = [C("about 98% test accuracy", "test_acc", ">=", 0.95),
           C("a one-pixel shift is a big change: accuracy drops", "shift 1 − none: test_acc", "<", 0)]


# ---- 13c: grouped convolution --------------------------------------------------------------------

def groups(t: Trial) -> dict:
    out = {}
    for g in (1, 2, 8):
        link = f"gradviz:set?conv2.groups={g}"
        out[f"{g} groups: conv2's parameters"] = float(t.load("lesson_groups.json", link).param_count("conv2"))
        out[f"{g} groups: test_acc"] = t.train("lesson_groups.json", link).test_acc
    out["1 group − 2 groups, test_acc"] = out["1 groups: test_acc"] - out["2 groups: test_acc"]
    bad = t.load("lesson_groups.json", "gradviz:set?conv2.groups=3")
    out["groups = 3 is refused, naming G"] = flag(any("groups G = 3 must divide" in p.message for p in bad.problems))
    return out


GROUPS = [C("1 group: (3·3·8)·16 + 16 = 1,168 parameters", "1 groups: conv2's parameters", "==", 1168),
          C("2 groups: (3·3·8/2)·16 + 16 = 592", "2 groups: conv2's parameters", "==", 592),
          C("8 groups (depthwise): 160", "8 groups: conv2's parameters", "==", 160),
          C("one group learns the digits (93% or more)", "1 groups: test_acc", ">=", 0.93),
          C("two groups too (90% or more)", "2 groups: test_acc", ">=", 0.9),
          C("two groups lose less than 5 points for half the weights", "1 group − 2 groups, test_acc", "<", 0.05),
          C("eight groups still 88% or more", "8 groups: test_acc", ">=", 0.88),
          C("groups = 3 does not divide 8 channels: refused, naming G", "groups = 3 is refused, naming G", "==", 1)]


# ---- 14: fine-tuning -----------------------------------------------------------------------------------

DRAWS = 4


def finetuning(t: Trial) -> dict:
    """Averages over four draws of 25 training images: draws 4s … 4s + 3 for seed s."""
    import re
    note = t.load("lesson_finetuning.json").note
    links = [u for u in re.findall(r"\((gradviz:[^)]*)\)", note) if u.startswith("gradviz:train?")]
    variants = dict(zip(("frozen", "scratch", "random", "finetune"), links[:4]))
    acc, fits = {}, []
    for name, link in variants.items():
        runs = []
        for draw in range(DRAWS * t.seed, DRAWS * t.seed + DRAWS):
            r = t.train("lesson_finetuning.json", variants["finetune"], link, f"gradviz:set?data.split_seed={draw}")
            runs.append(r.test_acc)
            fits.append(r.train_acc)
        acc[name] = float(np.mean(runs))
    return {**{f"{k} test_acc": v for k, v in acc.items()}, "every run fits its 25 images": min(fits),
            "finetune − scratch": acc["finetune"] - acc["scratch"], "|finetune − scratch|": abs(acc["finetune"] - acc["scratch"]),
            "finetune − frozen": acc["finetune"] - acc["frozen"], "scratch − frozen": acc["scratch"] - acc["frozen"],
            "frozen − random": acc["frozen"] - acc["random"]}


FINETUNING = [C("every variant fits its 25 images", "every run fits its 25 images", "==", 1),
              C("fine-tuning every layer beats the frozen 0–4 features", "finetune − frozen", ">", 0),
              C("fine-tuning from 0–4's features and training from scratch end about equal (within 6 points)",
                "|finetune − scratch|", "<", 0.06)]


# ---- 15: babysitting -------------------------------------------------------------------------------------

def babysitting(t: Trial) -> dict:
    f = "lesson_babysitting.json"
    check = t.trainer(f).initial_loss_check()
    tiny = t.train(f, "gradviz:set?training.overfit=20&training.epochs=1000")
    full = t.train(f, "gradviz:set?training.overfit=0&training.epochs=60")
    slow = t.train(f, "gradviz:set?training.lr=0.00001&training.overfit=0&training.epochs=60")
    return {"|L0 − ln 3|": abs(check["loss"] - math.log(3)), "20 samples: train_acc": tiny.train_acc,
            "20 samples: train_loss": tiny.train_loss, "all data: train_acc": full.train_acc,
            "all data: update-ratio warnings": float(sum(w["code"].startswith("update_ratio") for w in full.warnings)),
            "η = 0.00001 warns: updates too small": flag("update_ratio_low" in basics.codes(slow)),
            "η = 0.00001: train_acc": slow.train_acc,
            "η = 0.00001: last/first loss": slow.history[-1]["train_loss"] / slow.history[0]["train_loss"]}


BABYSITTING = [C("the loss starts near ln 3 ≈ 1.10", "|L0 − ln 3|", "<", 0.05),
               C("20 samples: the training accuracy reaches 100%", "20 samples: train_acc", "==", 1),
               C("20 samples: the loss falls near 0", "20 samples: train_loss", "<", 0.05),
               C("all the data: it trains", "all data: train_acc", ">", 0.9),
               C("all the data: the update ratios are healthy (no warning)", "all data: update-ratio warnings", "==", 0),
               C("η = 0.00001: the ratios sink far below 1e-3 and the warnings say so",
                 "η = 0.00001 warns: updates too small", "==", 1),
               C("η = 0.00001: the loss barely moves in 60 epochs", "η = 0.00001: last/first loss", ">", 0.9)]


# ---- 16: preprocessing -----------------------------------------------------------------------------------

def preprocessing(t: Trial) -> dict:
    out = {}
    for pre in ("none", "center", "standardize", "whiten"):
        tr = t.trainer("lesson_preprocessing.json", f"gradviz:set?data.preprocess={pre}")
        X = tr.splits.train.X
        if pre == "center":
            out["center: largest |mean|"] = float(np.abs(X.mean(axis=0)).max())
        elif pre == "standardize":
            out["standardize: largest |std − 1|"] = float(np.abs(X.std(axis=0) - 1).max())
        elif pre == "whiten":
            out["whiten: largest |cov − I|"] = float(np.abs(np.cov(X, rowvar=False, bias=True) - np.eye(2)).max())
        r = tr.run()
        if pre == "none":
            out["none diverges"] = flag(r.status == "diverged")
        else:
            out[f"{pre} val_acc"] = r.val_acc
            out[f"{pre} train_acc"] = r.train_acc
    out["standardize − center train_acc"] = out["standardize train_acc"] - out["center train_acc"]
    return out


PREPROCESSING = [C("none: it diverges", "none diverges", "==", 1),
                 C("mean subtraction centres the cloud at 0", "center: largest |mean|", "<", 1e-5),
                 C("standardization: each feature's std is 1", "standardize: largest |std − 1|", "<", 1e-3),
                 C("whitening: a round cloud (covariance I)", "whiten: largest |cov − I|", "<", 1e-3),
                 C("standardization: training is fast", "standardize val_acc", ">=", 0.9),
                 C("whitening trains too", "whiten val_acc", ">=", 0.9)]


# ---- 7b: He against Xavier on a deep ReLU net ---------------------------------------------------

def he_init(t: Trial) -> dict:
    out = {}
    for name, link in (("He", "gradviz:set?*.init=he"), ("Xavier", "gradviz:set?*.init=xavier")):
        tr = t.trainer("lesson_he.json", link)
        r = tr.run()
        acts = tr.diagnostics[0]["activations"]
        out[f"{name}: std(act10)/std(act1) at the start"] = acts["act10"]["std"] / acts["act1"]["std"]
        out[f"{name} warns: the std shrinks"] = flag("std_collapse" in basics.codes(r))
        out[f"{name} train_acc"] = r.train_acc
    return out


HE = [C("He keeps the activations' spread through ten ReLU layers", "He: std(act10)/std(act1) at the start", ">", 0.3),
      C("Xavier lets it shrink, about √2 per layer", "Xavier: std(act10)/std(act1) at the start", "<", 0.1),
      C("Xavier: the warning \"the activations' std shrinks\"", "Xavier warns: the std shrinks", "==", 1),
      C("He: no such warning", "He warns: the std shrinks", "==", 0),
      C("with Adam both train: Xavier 95% or more", "Xavier train_acc", ">=", 0.95),
      C("and He 80% or more", "He train_acc", ">=", 0.8)]


# ---- 8b: learning-rate schedules ------------------------------------------------------------------

STEP = "gradviz:set?training.schedule=step&training.step_every=25&training.step_factor=0.3"
PLATEAU = "gradviz:set?training.schedule=plateau&training.plateau_patience=3"


def schedules(t: Trial) -> dict:
    f = "lesson_schedules.json"
    const = t.train(f, "gradviz:set?training.schedule=constant")
    step, plateau = t.train(f, STEP), t.train(f, PLATEAU)
    return {"constant val_acc": const.val_acc, "step val_acc": step.val_acc, "plateau val_acc": plateau.val_acc,
            "step − constant val_acc": step.val_acc - const.val_acc,
            "plateau − constant val_acc": plateau.val_acc - const.val_acc,
            "step: |η in the last epoch − 0.054|": abs(step.history[-1]["lr"] - 0.054),
            "plateau: η halved at least twice": flag(plateau.history[-1]["lr"] <= 0.5 + 1e-12)}


SCHEDULES = [C("a constant η = 2 stays at 90% or below (the minibatches' noise)", "constant val_acc", "<=", 0.9),
             C("step decay reaches 95%", "step val_acc", ">=", 0.95),
             C("halving on a plateau reaches 95%", "plateau val_acc", ">=", 0.95),
             C("step decay beats the constant rate", "step − constant val_acc", ">", 0),
             C("halving on a plateau beats it too", "plateau − constant val_acc", ">", 0),
             C("step decay ends at 2·0.3³ = 0.054", "step: |η in the last epoch − 0.054|", "<", 1e-9),
             C("the plateau rule halved η at least twice", "plateau: η halved at least twice", "==", 1)]


# ---- 11b: dropout at test time ------------------------------------------------------------------

def dropout(t: Trial) -> dict:
    """4,000 training iterations of the two Dropout nodes (each its own masks), against test time."""
    import numpy as np
    from gradviz_core.runs.run import Run
    r = Run(t.load("lesson_dropout.json"), np.float64)
    sums, n = {"s_inv": 0.0, "s_lec": 0.0}, 4000
    kept = []
    for step in range(n):
        r.feed(None, None, step=step)
        v = r.program.forward(True)
        for k in sums:
            sums[k] += float(v[k])
        kept.append(float(np.mean(v["inverted"] != 0)))
    test = r.program.forward(False)
    inv, lec = float(test["s_inv"]), float(test["s_lec"])
    return {"inverted: test-time sum": inv, "lectures: test-time sum": lec,
            "inverted: |mean training sum / test sum − 1|": abs(sums["s_inv"] / n / inv - 1),
            "lectures: |mean training sum / test sum − 1|": abs(sums["s_lec"] / n / lec - 1),
            "inverted: |share of units kept − 0.5|": abs(float(np.mean(kept)) - 0.5)}


DROPOUT = [C("inverted: nothing is done at test time (Σh = 18)", "inverted: test-time sum", "==", 18),
           C("keep with p, scale at test: every unit times p = 0.5 (9)", "lectures: test-time sum", "==", 9),
           C("inverted: the training outputs average to the test output (within 1%)",
             "inverted: |mean training sum / test sum − 1|", "<", 0.01),
           C("test-time scaling: the training outputs average to the test output (within 1%)",
             "lectures: |mean training sum / test sum − 1|", "<", 0.01),
           C("p = 0.5 drops half of the units (within 2 points)", "inverted: |share of units kept − 0.5|", "<", 0.02)]


# ---- 17: random search against a grid ----------------------------------------------------------

SEARCH_GRID = ("training.lr=0.01,0.316,10", "reg.lam=1e-6,1e-5,1e-4")
SEARCH_RANGES = ("training.lr=0.01:10", "reg.lam=1e-6:1e-4")


def search(t: Trial) -> dict:
    """The note's two sweeps of nine runs, the random draws seeded by the trial's seed."""
    from gradviz_core.model.overrides import apply_set
    from gradviz_core.runs import sweep as sw
    from gradviz_core.runs.trainer import Trainer
    grid = sw.plan([sw.parse_grid(g) for g in SEARCH_GRID], [], 0)
    drawn = sw.plan([], [sw.parse_range(r) for r in SEARCH_RANGES], 9, t.seed)

    def best(runs):
        scores = []
        for settings in runs:
            g = t.load("lesson_search.json")
            for key, value in settings.items():
                apply_set(g, f"{key}={value}")
            scores.append(Trainer(g, threads=t.threads).run().val_acc)
        return max(scores)
    g_best, r_best = best(grid), best(drawn)
    return {"grid: learning rates tried": float(len({s["training.lr"] for s in grid})),
            "random: learning rates tried": float(len({s["training.lr"] for s in drawn})),
            "grid: best val_acc": g_best, "random: best val_acc": r_best, "random − grid, best val_acc": r_best - g_best}


SEARCH = [C("nine runs of a 3×3 grid try three learning rates", "grid: learning rates tried", "==", 3),
          C("nine random draws try nine", "random: learning rates tried", "==", 9),
          C("random search finds a good rate (90% or more)", "random: best val_acc", ">=", 0.9),
          C("random search's best beats the grid's", "random − grid, best val_acc", ">", 0)]


def _lesson(number, file, measure, claims, data_seed=None, random=True) -> Lesson:
    return Lesson(number, file, measure, claims, data_seed, random)


LESSONS: list[Lesson] = [
    _lesson("1", "circuit_xyz.json", basics.circuit, basics.CIRCUIT, random=False),
    _lesson("2", "sigmoid_neuron.json", basics.neuron, basics.NEURON, random=False),
    _lesson("3", "lesson_softmax.json", basics.softmax, basics.SOFTMAX, "split_seed"),
    _lesson("4", "lesson_losses.json", basics.losses, basics.LOSSES, "seed"),
    _lesson("5", "lesson_multitask.json", basics.multitask, basics.MULTITASK, "seed"),
    _lesson("6", "lesson_saturation.json", basics.saturation, basics.SATURATION, random=False),
    _lesson("7", "lesson_init.json", basics.init, basics.INIT, "seed"),
    _lesson("8", "lesson_learning_rate.json", basics.learning_rate, basics.LEARNING_RATE, "seed"),
    _lesson("9a", "lesson_optimizers.json", valley, VALLEY, random=False),
    _lesson("9b", "lesson_saddle.json", saddle, SADDLE, random=False),
    _lesson("9c", "lesson_rosenbrock.json", rosenbrock, ROSENBROCK, random=False),
    _lesson("10", "lesson_width.json", width, WIDTH, "seed"),
    _lesson("11", "lesson_overfitting.json", overfitting, OVERFITTING),  # the claim is about these 60 points
    _lesson("12", "lesson_batchnorm.json", batchnorm, BATCHNORM, "seed"),
    _lesson("13", "digits_convnet.json", convnet, CONVNET, "split_seed"),
    _lesson("14", "lesson_finetuning.json", finetuning, FINETUNING),
    _lesson("15", "lesson_babysitting.json", babysitting, BABYSITTING, "seed"),
    _lesson("7b", "lesson_he.json", he_init, HE, "seed"),
    _lesson("8b", "lesson_schedules.json", schedules, SCHEDULES, "seed"),
    _lesson("11b", "lesson_dropout.json", dropout, DROPOUT),
    _lesson("13c", "lesson_groups.json", groups, GROUPS, "split_seed"),
    _lesson("16", "lesson_preprocessing.json", preprocessing, PREPROCESSING, "split_seed"),
    _lesson("17", "lesson_search.json", search, SEARCH, "seed"),
]


def lesson(number: str) -> Lesson:
    return next(ls for ls in LESSONS if ls.number == number)


def measure(number: str, seed: int = 0, threads: int | None = None) -> dict:
    """The figures of lesson ``number`` at ``seed``."""
    ls = lesson(number)
    return ls.measure(Trial(seed, threads, data_seed=ls.data_seed))
