"""Stepping in the window, driven by the Step menu's shortcuts (offscreen): values and
gradients on the canvas and in the values panel, stepping back, heatmaps, stale banners."""
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from gradviz_core.model.commands import SetParam  # noqa: E402
from test_gui_editor import window  # noqa: E402,F401  (the window at its default 1280×800)


def press(w, qtbot, key, modifier=Qt.NoModifier, times=1):
    for _ in range(times):
        qtbot.keyClick(w, key, modifier)


def edge(w, src, dst, port):
    e = w.scene.edges[(src, dst, port)]
    return e.label.text(), e.grad_text


def test_stepping_the_circuit_shows_the_lecture_numbers(window, qtbot):
    press(window, qtbot, Qt.Key_F10, times=5)  # the forward pass, one node at a time
    assert window.scene.nodes["f"].overlay["active"] == "forward"
    assert edge(window, "q", "f", "a") == ("3", "")  # the value above the wire, no gradient yet
    assert edge(window, "z", "f", "b") == ("−4", "")
    window.select_node("f")
    assert "output</b> f = −12" in window.values.text.text()
    press(window, qtbot, Qt.Key_F10)  # backward through f
    assert edge(window, "z", "f", "b") == ("−4", "∂ 3")  # df/dz = q = 3
    assert edge(window, "q", "f", "a")[1] == "∂ −4"      # df/dq = z = −4
    press(window, qtbot, Qt.Key_F10)  # backward through q
    assert edge(window, "x", "q", "a") == ("−2", "∂ −4") and edge(window, "y", "q", "b") == ("5", "∂ −4")
    window.select_node("q")
    text = window.values.text.text()
    assert "∂f/∂x += ∂f/∂q · ∂q/∂x = −4 · 1 = −4" in text and "∂f/∂y += ∂f/∂q · ∂q/∂y = −4 · 1 = −4" in text
    assert "output</b> q = 3" in text
    assert window.scene.nodes["x"].overlay_rows()[1][1] == "∂f/∂x = −4"
    assert "iteration complete" in window.stepper_panel.where.text()


def test_stepping_back_to_the_start_restores_everything(window, qtbot):
    press(window, qtbot, Qt.Key_F5)  # the whole forward pass
    press(window, qtbot, Qt.Key_F6)  # the whole backward pass
    assert window.session.stepper.position == 7
    press(window, qtbot, Qt.Key_F10, Qt.ShiftModifier, times=7)
    s = window.session.stepper
    assert s.position == 0 and s.values == {} and s.grads == {}
    assert all(not item.overlay for item in window.scene.nodes.values())
    assert all(e.label.text() in ("scalar", "") and e.grad_text == "" for e in window.scene.edges.values())
    press(window, qtbot, Qt.Key_F10, times=2)  # and forward again, from the same numbers
    assert window.session.stepper.values["y"] == 5.0


def test_the_timeline_travels_and_run_to_here_is_a_breakpoint(window, qtbot):
    window.scene.run_to.emit("q")
    assert window.session.stepper.records[-1].node == "q" and window.session.stepper.position == 4
    window.session.travel(6)
    assert window.session.stepper.position == 6
    assert window.stepper_panel.timeline.value() == 6
    window.session.travel(1)
    assert window.session.stepper.position == 1 and window.session.stepper.values.keys() == {"x"}


def test_a_convnet_steps_on_one_digit_with_heatmaps_of_the_right_shapes(window, qtbot, examples_dir):
    window.open(examples_dir / "digits_convnet.json")
    press(window, qtbot, Qt.Key_F5)
    s = window.session.stepper
    assert s.values["x"].shape == (1, 1, 8, 8)  # one sample by default: the numbers stay readable
    window.select_node("conv1")
    assert window.values.value_map.isVisible()
    assert window.values.value_map.shown_shape() == (8, 8)
    assert window.values.value_map.channel.maximum() == 7  # 8 filters: a channel selector
    window.select_node("pool2")
    assert window.values.value_map.shown_shape() == (2, 2)
    press(window, qtbot, Qt.Key_F6)
    window.select_node("conv2")
    assert window.values.grad_map.isVisible() and window.values.grad_map.shown_shape() == (4, 4)
    assert "zeros" in window.values.grad_map.stats.text()
    assert window.scene.nodes["conv2"].tensor_overlay()  # thumbnails on the canvas too
    window.stepper_panel.samples.setText("0-3")
    window.stepper_panel.samples.editingFinished.emit()
    press(window, qtbot, Qt.Key_F10)
    assert window.session.stepper.values["x"].shape == (4, 1, 8, 8)


def test_editing_mid_step_makes_the_steps_stale_visibly(window, qtbot):
    press(window, qtbot, Qt.Key_F10, times=4)
    window.scene.push(SetParam("x", "value", 1.0))
    assert window.session.stepper is None and "x.value changed to 1" in window.stepper_panel.banner.text()
    assert not window.stepper_panel.banner.isHidden()
    assert all(not item.overlay for item in window.scene.nodes.values())  # nothing stale stays
    press(window, qtbot, Qt.Key_F5)  # the next step starts over from the edited graph
    assert window.session.stepper.values["q"] == 6.0 and window.stepper_panel.banner.isHidden()


def test_a_step_that_cannot_run_gives_a_message_not_a_traceback(window, qtbot, examples_dir):
    window.open(examples_dir / "digits_convnet.json")
    messages = []
    window.session.message.connect(messages.append)
    window.graph.disconnect("loss", "target")
    press(window, qtbot, Qt.Key_F10)
    assert messages and "input 'target' of SoftmaxCrossEntropy is not connected" in messages[-1]


def test_render_draws_the_real_canvas_after_n_steps(examples_dir, tmp_path, qapp, cli):
    run = cli
    code, out, err = run("render", examples_dir / "circuit_xyz.json", "-o", tmp_path / "c.png", "--steps", "all",
                         "--size", "1000x700", "--select", "q")
    assert code == 0, err
    img = QImage(str(tmp_path / "c.png"))
    assert (img.width(), img.height()) == (1000, 700)
    code, _, err = run("render", examples_dir / "circuit_xyz.json", "-o", tmp_path / "c.svg", "--steps", "3")
    assert code == 0 and "<svg" in (tmp_path / "c.svg").read_text()
    code, _, err = run("render", examples_dir / "circuit_xyz.json", "-o", tmp_path / "c.png", "--steps", "many")
    assert code == 2 and "--steps many" in err


def test_check_gradients_colours_each_node_by_its_error(window, qtbot, examples_dir):
    window.open(examples_dir / "mlp_softmax.json")
    qtbot.keyClick(window, Qt.Key_G, Qt.ControlModifier)
    qtbot.waitUntil(lambda: window.scene.nodes["fc1"].check is not None, timeout=30000)
    verdict, error = window.scene.nodes["fc1"].check
    assert verdict == "ok" and error < 1e-6
    assert window.scene.nodes["x"].check is None  # data nodes have nothing to check
    assert "Gradient check</b> passed" in window.values.header.text()
    assert "fc1" in window.values.text.text()
    window.scene.push(SetParam("fc1", "units", 8))  # an edit clears a check of the old graph
    assert window.scene.nodes["fc1"].check is None


def test_bench_ui_reports_the_step_redraw_time(qapp, cli):
    import json
    code, out, err = cli("bench", "--ui", "--json", "--seconds", "0.05")  # a twentieth of the bench's times
    assert code == 0, err
    d = json.loads(out)  # measured by the bench, never asserted against a target
    assert d["step_redraw_ms"] > 0 and d["spiral_steps"] > 0 and d["app_digits_epochs"] == 1
    assert d["step_redraw_1000_ms"] > 0 and d["open_1000_s"] > 0
    assert d["app_digits_s"]["1"] > 0 and d["app_digits_s"]["2"] > 0


def test_a_fan_out_shows_its_gradient_ledger(window, qtbot):
    from gradviz_core.model.commands import Connect, Disconnect
    window.scene.push(Disconnect("q", "b"))
    window.scene.push(Connect("x", "q", "b"))  # q = x + x: x feeds two ports
    press(window, qtbot, Qt.Key_F5)
    press(window, qtbot, Qt.Key_F6)
    window.select_node("x")
    text = window.values.text.text()
    assert "gradient ledger: ∂L/∂x = −4 (from q.a) + −4 (from q.b) = −8" in text  # L = f + y: y is a sink now


def test_quiz_mode_asks_before_revealing_and_keeps_score(window, qtbot):
    panel = window.stepper_panel
    panel.quiz.setChecked(True)
    press(window, qtbot, Qt.Key_F5)
    press(window, qtbot, Qt.Key_F10)  # the first backward step waits for a prediction
    s = window.session.stepper
    assert s.position == 5 and not panel.quiz_box.isHidden()
    assert "what gradient does f send to q" in panel.question.text()
    assert window.scene.edges[("q", "f", "a")].grad_text == ""  # not revealed yet
    qtbot.keyClicks(panel.guess, "-4")
    qtbot.keyClick(panel.guess, Qt.Key_Return)
    assert s.position == 6 and panel.result.text().startswith("✓ Right: −4")
    assert "∂f/∂q += ∂f/∂f · ∂f/∂q = 1 · −4 = −4" in panel.result.text()
    assert window.scene.edges[("q", "f", "a")].grad_text == "∂ −4"
    press(window, qtbot, Qt.Key_F10)  # q's step: what does q send to x?
    qtbot.keyClicks(panel.guess, "4")
    qtbot.keyClick(panel.guess, Qt.Key_Return)
    assert panel.result.text().startswith("✗ Not quite (you said 4): −4") and "Score 1/2" in panel.result.text()


def test_the_chain_rule_line_of_a_scalar_upstream_shows_its_value(examples_dir):
    """From a loss (a scalar) into a column of scores: the line names the upstream's value,
    not an empty shape "()"; and no "−0"."""
    from gradviz.panels.values import chain_rule_lines
    from gradviz_core.model import fileformat
    from gradviz_core.runs.stepper import Stepper
    s = Stepper(fileformat.load(examples_dir / "lesson_losses.json"))
    s.run_forward()
    s.run_backward()
    rec = next(r for r in s.records if r.phase == "backward" and r.node == "L_hinge")
    line = next(x for x in chain_rule_lines(s.graph, rec, "L") if "/∂s_hinge " in x)
    assert line.startswith("∂L/∂s_hinge += ∂L/∂L_hinge = 1 through ∂L_hinge/∂s_hinge: ") and "()" not in line
    from gradviz.look.heat import num
    assert num(-0.0) == "0" and num(-0.5) == "−0.5"  # −c · 0 is −0: written 0
