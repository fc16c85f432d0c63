"""The numbers the stepper writes on the canvas never run into each other: on every example,
stepped to the end, each node's value and gradient boxes (the boxes its paint draws the text
in, measured with the canvas font) are apart and inside the node."""
import pytest

pytest.importorskip("pytestqt")

from test_gui_editor import window  # noqa: E402,F401

from conftest import EXAMPLES  # noqa: E402

GRAPHS = sorted(p.name for p in EXAMPLES.glob("*.json"))


@pytest.mark.parametrize("name", GRAPHS)
def test_stepped_values_and_gradients_never_overlap(window, name):
    from PySide6.QtGui import QFontMetricsF
    from gradviz.canvas.items import TEXT_PT, WIDTH, canvas_font
    window.open(EXAMPLES / name)
    window.session.travel(10**9)  # every step of the iteration: forward, backward, update
    metrics = QFontMetricsF(canvas_font(TEXT_PT, bold=True))
    checked = 0
    for node, item in window.scene.nodes.items():
        boxes = item.overlay_layout()
        for kind, text, box in boxes:
            assert metrics.horizontalAdvance(text) <= box.width() + 0.5, (node, text)
            assert 0 <= box.left() and box.right() <= WIDTH, (node, text, box)
            assert box.top() >= item.body_height() and box.bottom() <= item.height(), (node, text)
        for i, (_, a, box_a) in enumerate(boxes):
            for _, b, box_b in boxes[i + 1:]:
                assert not box_a.intersects(box_b), f"{name}: {node}: {a!r} runs into {b!r}"
        checked += len(boxes)
    if window.session.stepper is not None and window.session.stepper.records:
        assert checked or any(item.tensor_overlay() for item in window.scene.nodes.values())


def test_lesson_6s_numbers_stand_apart(window, examples_dir):
    """The saturation lesson: −10 and its gradient 4.54e−05 on two rows, not printed into each other."""
    window.open(examples_dir / "lesson_saturation.json")
    window.session.travel(10**9)
    item = window.scene.nodes["s_lo"]
    (k1, t1, b1), (k2, t2, b2) = item.overlay_layout()
    assert (k1, t1) == ("value", "= −10") and t2 == "∂L/∂s_lo = 4.54e−05"
    assert b2.top() >= b1.bottom()  # a row each
