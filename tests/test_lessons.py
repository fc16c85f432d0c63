"""Each lesson's claim holds with the lesson's own settings, and its links (the variants,
one click each) are the undoable commands they say."""
import math

import numpy as np
import pytest

from gradviz_core import fileformat, lessons
from gradviz_core.train import Trainer


def lesson(examples_dir, name, *links):
    g = fileformat.load(examples_dir / name)
    for url in links:
        _, cmd = lessons.command(g, url)
        if cmd is not None:  # None: the link sets what the graph already has
            cmd.do(g)
    return g


def links_of(g):
    import re
    return re.findall(r"\((gradviz:[^)]*)\)", g.note)


def test_every_lesson_link_parses_and_applies(examples_dir):
    for path in sorted(examples_dir.glob("*.json")):
        g = fileformat.load(path)
        for url in links_of(g):
            action, cmd = lessons.command(g, url)
            assert action in lessons.ACTIONS
            if cmd is not None:
                cmd.do(g)
                assert not g.problems, (path.name, url, g.problems)
                cmd.undo(g)


def test_lesson_links_refuse_what_is_wrong_with_the_reason(examples_dir):
    from gradviz_core.errors import GradvizError
    g = fileformat.load(examples_dir / "lesson_width.json")
    for url, says in (("gradviz:set?training.lrr=1", "did you mean 'lr'"), ("gradviz:set?fc9.units=3", "no node"),
                      ("gradviz:jump", "unknown lesson action"), ("gradviz:set?*.nope=1", "no node of this graph"),
                      ("gradviz:set?units", "KEY=VALUE")):
        with pytest.raises(GradvizError, match=says):
            lessons.command(g, url)


def test_width_two_hidden_units_cannot_ten_can(examples_dir):
    two = Trainer(lesson(examples_dir, "lesson_width.json")).run()
    ten = Trainer(lesson(examples_dir, "lesson_width.json", "gradviz:set?fc1.units=10")).run()
    assert two.train_acc < 0.90 <= 0.97 <= ten.train_acc


def test_initialization_tiny_collapses_huge_saturates_xavier_trains_zero_stays_symmetric(examples_dir):
    tiny = Trainer(lesson(examples_dir, "lesson_init.json"))
    r = tiny.run()
    codes = {w["code"] for w in r.warnings}
    assert "std_collapse" in codes and r.train_acc < 0.45
    assert tiny.diagnostics[0]["activations"]["act7"]["std"] < 1e-3 * tiny.diagnostics[0]["activations"]["act1"]["std"]
    huge = Trainer(lesson(examples_dir, "lesson_init.json", "gradviz:set?*.init=normal&*.init_scale=1.0")).run()
    assert "saturated" in {w["code"] for w in huge.warnings}
    xavier = Trainer(lesson(examples_dir, "lesson_init.json", "gradviz:set?*.init=xavier")).run()
    assert xavier.train_acc > 0.6 > r.train_acc + 0.1
    zero = Trainer(lesson(examples_dir, "lesson_init.json", "gradviz:set?*.init=zeros"))
    zero.run()
    W = zero.program.bricks["fc3"].weights["W"]
    assert np.allclose(W, W[:, :1])  # every hidden unit the same, after training too


def test_learning_rate_too_small_right_and_too_large(examples_dir):
    small = Trainer(lesson(examples_dir, "lesson_learning_rate.json")).run()
    assert small.history[-1]["train_loss"] > 0.95 * small.history[0]["train_loss"]
    assert "update_ratio_low" in {w["code"] for w in small.warnings}
    right = Trainer(lesson(examples_dir, "lesson_learning_rate.json",
                           "gradviz:set?training.lr=0.1&training.optimizer=sgd&training.momentum=0")).run()
    assert right.train_acc > 0.75
    large = Trainer(lesson(examples_dir, "lesson_learning_rate.json",
                           "gradviz:set?training.lr=50&training.optimizer=sgd&training.momentum=0")).run()
    assert large.status == "diverged" and "smaller learning rate" in large.message
    for link in ("gradviz:set?training.lr=0.05&training.optimizer=momentum&training.momentum=0.9",
                 "gradviz:set?training.lr=0.05&training.optimizer=nesterov&training.momentum=0.9",
                 "gradviz:set?training.lr=0.01&training.optimizer=adam"):
        r = Trainer(lesson(examples_dir, "lesson_learning_rate.json", link)).run()
        assert r.train_acc > right.train_acc - 0.05, link


def test_softmax_starts_at_ln10_and_regularization_raises_the_loss(examples_dir):
    t = Trainer(lesson(examples_dir, "lesson_softmax.json"))
    check = t.initial_loss_check()
    assert abs(check["loss"] - math.log(10)) < 0.05 and check["expected"] == pytest.approx(math.log(10))
    low = Trainer(lesson(examples_dir, "lesson_softmax.json", "gradviz:set?reg.lam=0.001")).run()
    high = Trainer(lesson(examples_dir, "lesson_softmax.json", "gradviz:set?reg.lam=0.1")).run()
    assert high.history[0]["reg_loss"] > 10 * low.history[0]["reg_loss"]
    assert high.train_loss + high.reg_loss > low.train_loss + low.reg_loss
    assert low.test_acc > 0.9


def test_overfitting_the_validation_loss_climbs_and_each_regularizer_brings_it_down(examples_dir):
    import re
    base = Trainer(lesson(examples_dir, "lesson_overfitting.json")).run()
    val = [h["val_loss"] for h in base.history]
    assert base.train_acc == 1.0 and val[-1] > 2 * min(val)  # memorized, and ever surer of wrong answers
    g = fileformat.load(examples_dir / "lesson_overfitting.json")
    variants = re.findall(r"\((gradviz:set[^)]*)\)", g.note)[:5]  # L2, L1, dropout, early stopping, jitter
    assert len(variants) == 5
    for url in variants:
        r = Trainer(lesson(examples_dir, "lesson_overfitting.json", url)).run()
        assert r.val_loss < 0.6 * base.val_loss, (url, r.val_loss, base.val_loss)


def test_jitter_moves_points_by_gaussian_noise():
    from gradviz_core.data.augment import augment
    X = np.zeros((2000, 2), np.float32)
    out = augment(X, np.random.default_rng(0), jitter=0.1)
    assert out.dtype == np.float32 and abs(out.std() - 0.1) < 0.005 and np.all(X == 0)


def test_batchnorm_trains_from_the_initializations_that_stopped_the_plain_net(examples_dir):
    plain_tiny = Trainer(lesson(examples_dir, "lesson_init.json")).run()
    plain_xavier = Trainer(lesson(examples_dir, "lesson_init.json", "gradviz:set?*.init=xavier")).run()
    for link in ((), ("gradviz:set?*.init=normal&*.init_scale=1.0",), ("gradviz:set?*.init=xavier",)):
        r = Trainer(lesson(examples_dir, "lesson_batchnorm.json", *link)).run()
        assert r.train_acc >= 0.9 > plain_xavier.train_acc > plain_tiny.train_acc, link


def test_the_catalogue_lists_lessons_in_the_lectures_order_then_the_rest(examples_dir):
    titles = [t for t, _, _ in lessons.catalogue(examples_dir)]
    numbers = [t.split()[1].rstrip(":") for t in titles if t.startswith("Lesson ")]
    assert numbers == sorted(numbers, key=lambda n: (int(n.rstrip("abc")), n)) and numbers[:3] == ["1", "2", "3"]
    assert numbers[8:11] == ["9a", "9b", "9c"]  # a lesson in parts, in its order
    assert titles.index("Lesson 13: a ConvNet on the digits") < titles.index("A two-layer MLP with a softmax loss")
    assert all(prose for _, _, prose in lessons.catalogue(examples_dir))


def test_saturation_sigmoid_passes_a_quarter_at_0_and_almost_nothing_at_10(examples_dir):
    from gradviz_core.run import Run
    run = Run(lesson(examples_dir, "lesson_saturation.json"), np.float64, all_input_grads=True)
    values = run.program.forward(True)
    grads = run.program.backward(values)
    s = 1 / (1 + np.exp(-10.0))
    assert float(grads["s_mid"]) == pytest.approx(0.25)
    assert float(grads["s_lo"]) == pytest.approx(s * (1 - s)) == pytest.approx(4.54e-5, rel=1e-3)
    assert float(grads["s_hi"]) == pytest.approx(4.54e-5, rel=1e-3)
    assert float(grads["r_in"]) == 0.0 and float(grads["l_in"]) == pytest.approx(0.01)
    run = Run(lesson(examples_dir, "lesson_saturation.json", "gradviz:set?leaky.alpha=0.1"), np.float64,
              all_input_grads=True)
    assert float(run.program.backward(run.program.forward(True))["l_in"]) == pytest.approx(0.1)


def test_babysitting_initial_loss_overfit_a_tiny_subset_then_read_the_ratios(examples_dir):
    check = Trainer(lesson(examples_dir, "lesson_babysitting.json")).initial_loss_check()
    assert check["ok"] and abs(check["loss"] - math.log(3)) < 0.05
    tiny = Trainer(lesson(examples_dir, "lesson_babysitting.json",
                          "gradviz:set?training.overfit=20&training.epochs=1000")).run()
    assert tiny.train_acc == 1.0 and tiny.train_loss < 0.05
    full = Trainer(lesson(examples_dir, "lesson_babysitting.json",
                          "gradviz:set?training.overfit=0&training.epochs=60")).run()
    assert full.train_acc > 0.9 and not any(w["code"].startswith("update_ratio") for w in full.warnings)
    slow = Trainer(lesson(examples_dir, "lesson_babysitting.json",
                          "gradviz:set?training.lr=0.00001&training.overfit=0&training.epochs=60")).run()
    assert "update_ratio_low" in {w["code"] for w in slow.warnings} and slow.train_acc < 0.7


def test_losses_side_by_side_gradients_and_every_head_learns(examples_dir):
    from gradviz_core.run import Run
    g = lesson(examples_dir, "lesson_losses.json")
    run = Run(g, np.float64)
    run.feed(*run.batch(1), step=1)
    values = run.program.forward(True)
    grads = run.program.backward(values)
    d = np.asarray(values["y01"], float).reshape(-1)
    n = len(d)

    def sig(v):
        return 1 / (1 + np.exp(-v))
    s = {k: np.asarray(values[k], float) for k in ("s_sq", "s_bce", "s_bcel", "s_log", "s_hinge")}
    assert np.allclose(grads["s_sq"].reshape(-1), (s["s_sq"].reshape(-1) - d) / n)
    # BCE after the sigmoid sends the score what BCE with logits does: σ(s) − d
    assert np.allclose(grads["s_bce"].reshape(-1), (sig(s["s_bce"].reshape(-1)) - d) / n)
    assert np.allclose(grads["s_bcel"].reshape(-1), (sig(s["s_bcel"].reshape(-1)) - d) / n)
    c = 2 * d - 1
    assert np.allclose(grads["s_log"].reshape(-1), -c * sig(-c * s["s_log"].reshape(-1)) / n)
    margin = c * s["s_hinge"].reshape(-1)
    assert np.allclose(grads["s_hinge"].reshape(-1), np.where(margin < 1, -c, 0.0) / n)
    t = Trainer(g)
    t.run()
    test = t.splits.test
    t.training_run.feed(test.X.astype(t.dtype), test.y)
    values = t.program.forward(False)
    for loss in ("L_sq", "L_bce", "L_bcel", "L_log", "L_hinge", "L_soft", "L_svm", "L_svm1"):
        src = dict(t.program.inputs[loss])["x"]
        pred = t.program.bricks[loss].predict_classes(values[src])
        if pred is None:  # the square loss regresses onto 0/1: its class is the nearer one
            pred = (np.asarray(values[src]).reshape(-1) > 0.5).astype(int)
        assert np.mean(pred == test.y) >= 0.9, loss


def test_multitask_the_weights_decide_which_task_the_shared_layer_serves(examples_dir):
    def run(w):
        r = Trainer(lesson(examples_dir, "lesson_multitask.json", f"gradviz:set?total.weights={w}")).run()
        return r, r.history[-1]["terms"]
    both, t_both = run("[1,1]")
    assert t_both["classify"] < 0.35 and t_both["reconstruct"] < 0.01 and both.test_acc > 0.75
    cls, t_cls = run("[1,0]")
    assert t_cls["reconstruct"] > 0.3 and cls.test_acc > 0.75  # no gradient reaches the recon head
    rec, t_rec = run("[0,1]")
    assert t_rec["classify"] > 0.9 and rec.test_acc < 0.5 and t_rec["reconstruct"] < 0.01


def test_preprocessing_none_diverges_standardize_and_whiten_train_the_cloud_is_what_they_say(examples_dir):
    runs = {}
    for pre in ("none", "center", "standardize", "whiten"):
        g = lesson(examples_dir, "lesson_preprocessing.json",
                   *(() if pre == "none" else (f"gradviz:set?data.preprocess={pre}",)))
        t = Trainer(g)
        X = t.splits.train.X
        if pre == "center":
            assert np.allclose(X.mean(axis=0), 0, atol=1e-6)
        elif pre == "standardize":
            assert np.allclose(X.std(axis=0), 1, atol=1e-3)
        elif pre == "whiten":
            assert np.allclose(np.cov(X, rowvar=False, bias=True), np.eye(2), atol=1e-3)
        runs[pre] = t.run()
    assert runs["none"].status == "diverged"
    assert runs["center"].train_acc < runs["standardize"].train_acc
    assert runs["standardize"].val_acc >= 0.9 and runs["whiten"].val_acc >= 0.9


def test_the_backprop_page_is_generated_from_the_bricks_and_current():
    from pathlib import Path

    from gradviz_core import backprop_doc
    from gradviz_core.registry import brick_types
    repo_page = Path(__file__).resolve().parents[1] / "docs" / "backprop.md"
    text = backprop_doc.page()
    assert repo_page.read_text(encoding="utf-8") == text, "run python -m gradviz_core.backprop_doc"
    assert text.count("\n### ") == len(brick_types()) and "dL/dx = dL/dout Wᵀ" in text


def _race(examples_dir, name, *links, rules=None, start=None):
    from gradviz_core import playground
    g = lesson(examples_dir, name, *links)
    s = playground.Surface(g)
    r = playground.Race(s, g.training, rules=rules or playground.RULES, start=start)
    r.advance(s.settings["steps"])
    return r


def _reach(r, rule, below):
    L = np.array(r.losses[rule])
    return int(np.argmax(L < below)) if (L < below).any() else None


def test_optimizers_in_the_valley_sgd_zigzags_momentum_then_adaptive_rules_arrive_sooner(examples_dir):
    r = _race(examples_dir, "lesson_optimizers.json")
    zigzag = lambda rule: int((np.diff(np.sign(r.path(rule)[:21, 1])) != 0).sum())
    assert zigzag("sgd") >= 18 and zigzag("momentum") <= 5          # across the valley at every step
    steps = {rule: _reach(r, rule, 1e-3) for rule in r.rules}
    assert None not in steps.values(), steps
    assert steps["sgd"] > 140 and 100 < steps["momentum"] < 125 and 100 < steps["nesterov"] < 125
    assert all(50 <= steps[rule] <= 65 for rule in ("adagrad", "rmsprop", "adam")), steps
    swing = lambda rule: np.abs(r.path(rule)[5:, 1]).max()
    assert swing("nesterov") < 0.7 * swing("momentum")               # looking ahead swings less
    bad = _race(examples_dir, "lesson_optimizers.json", "gradviz:set?playground.lr.sgd=1.05", rules=["sgd"])
    assert bad.stopped["sgd"].startswith("diverg")


def test_optimizers_at_the_saddle_sgd_waits_adaptive_rules_leave_on_the_ridge_nobody_does(examples_dir):
    r = _race(examples_dir, "lesson_saddle.json")
    leave = {rule: int(np.argmax(np.abs(r.path(rule)[:, 1]) > 0.5)) for rule in r.rules}
    assert 55 <= leave["sgd"] <= 75 and leave["momentum"] >= 55 and leave["nesterov"] >= 55, leave
    assert leave["adagrad"] <= 3 and leave["rmsprop"] <= 3 and leave["adam"] <= 12, leave
    assert all(abs(r.losses[rule][-1] + 1) < 1e-3 for rule in r.rules)     # each finds a minimum, f = −1
    ridge = _race(examples_dir, "lesson_saddle.json", "gradviz:set?playground.start=[-2,0]")
    assert all(np.all(ridge.path(rule)[:, 1] == 0) for rule in ridge.rules)


def test_optimizers_on_rosenbrock_sgd_crawls_momentum_and_adam_reach_the_minimum(examples_dir):
    r = _race(examples_dir, "lesson_rosenbrock.json")
    final = {rule: r.losses[rule][-1] for rule in r.rules}
    assert 0.05 < final["sgd"] < 0.1 and final["adagrad"] > 0.01 and final["rmsprop"] > 0.01, final
    for rule, near in (("momentum", 330), ("nesterov", 360), ("adam", 370)):
        assert final[rule] < 1e-3 and _reach(r, rule, 1e-2) < near, (rule, final)
        assert np.allclose(r.path(rule)[-1], [1, 1], atol=0.02)
    fast = _race(examples_dir, "lesson_rosenbrock.json", "gradviz:set?playground.lr.momentum=0.002", rules=["momentum"])
    assert _reach(fast, "momentum", 1e-2) < _reach(r, "momentum", 1e-2)
    wild = _race(examples_dir, "lesson_rosenbrock.json", "gradviz:set?playground.lr.momentum=0.004", rules=["momentum"])
    assert wild.stopped["momentum"].startswith("diverg")
    assert int(wild.stopped["momentum"].split()[-1]) <= 15
    big = _race(examples_dir, "lesson_rosenbrock.json", "gradviz:set?playground.lr.sgd=0.004", rules=["sgd"])
    assert big.losses["sgd"][-1] > 0.3


def test_finetuning_from_0_to_4_features_beats_fresh_and_frozen_beats_random(examples_dir):
    """Lesson 14, averaged over four draws of 25 training images (the lesson's own is draw 0)."""
    links = [u for u in links_of(fileformat.load(examples_dir / "lesson_finetuning.json")) if u.startswith("gradviz:train?")]
    frozen, scratch, random_features, finetune = links[:4]   # each link sets its whole variant
    assert 'freeze=["conv1","conv2"]' in frozen and "features.npz" in frozen
    assert "freeze=[]" in scratch and 'init_from=""' in random_features and "features.npz" in finetune
    acc = {}
    for name, link in (("frozen", frozen), ("scratch", scratch), ("random", random_features), ("finetune", finetune)):
        runs = []
        for draw in range(4):
            g = lesson(examples_dir, "lesson_finetuning.json", finetune, link,  # after another variant
                       f"gradviz:set?data.split_seed={draw}")
            t = Trainer(g)
            r = t.run()
            assert r.train_acc == 1.0                       # each fits its 25 images
            runs.append(r.test_acc)
            if name == "frozen" and draw == 0:
                assert set(t.training_run.loaded) == {"conv1/W", "conv1/b", "conv2/W", "conv2/b"}
                assert len(t.training_run.train_set) == 25
        acc[name] = float(np.mean(runs))
    assert acc["finetune"] >= acc["scratch"] and acc["finetune"] >= acc["frozen"] + 0.02, acc
    assert acc["frozen"] > acc["random"], acc
    assert 0.7 < acc["random"] < acc["frozen"] < 0.85, acc


def test_the_finetuning_features_are_the_conv_layers_of_the_net_trained_on_0_to_4(examples_dir):
    import sys
    sys.path.insert(0, str(examples_dir.parent / "tools"))
    from lesson_features import pretrained
    weights, result = pretrained(examples_dir / "lesson_finetuning.json")
    assert result.test_acc > 0.97
    with np.load(examples_dir / "lesson_finetuning_features.npz") as shipped:
        assert sorted(shipped.files) == sorted(weights)
        for k in weights:   # the file is what the tool writes (float rounding aside)
            assert np.allclose(shipped[k], weights[k], atol=1e-3), k


def test_checkpoints_are_read_from_the_note_and_ticked_by_the_milestones_reached(examples_dir):
    from gradviz_core.errors import GradvizError
    from gradviz_core.stepper import Stepper
    g = fileformat.load(examples_dir / "circuit_xyz.json")
    assert lessons.checkpoints(g.note) == ["stepped=f", "stepped=f.backward", "stepped=q.backward", "checked"]
    s = Stepper(g)
    s.run_phase("backward")
    reached = lessons.milestones_of_steps(s.records)
    assert {"stepped=x", "stepped=f", "stepped=f.backward", "stepped=q.backward"} <= reached
    note = lessons.ticked(g.note, reached)
    assert note.count("- [x] ") == 3 and note.count("- [ ] ") == 1 and "[ ] [Check every gradient" in note
    with pytest.raises(GradvizError, match="waits for one of stepped, updated"):
        lessons.checkpoints("- [ ] [x](gradviz:check?flew=1)")
