"""The window never freezes: Python's cyclic garbage collector runs on the GUI thread only.

The hang this guards against (the suite once froze in a lesson's training test): the trainer
thread, allocating, set off an automatic collection whose garbage held a dead Qt wrapper; its
C++ destructor ran off the GUI thread and held Qt's mutex while waiting for the GIL, which the
GUI thread held while it waited for that mutex. Which thread collects is read from gc's own
callbacks, so the test fails whenever a collection starts anywhere but on the GUI thread."""
import gc
import threading

import pytest

pytest.importorskip("pytestqt")

from test_gui_editor import window  # noqa: E402,F401


@pytest.fixture
def collections():
    seen = []

    def record(phase, info):
        if phase == "start":
            seen.append(threading.current_thread().name)
    gc.callbacks.append(record)
    yield seen
    gc.callbacks.remove(record)


def test_garbage_is_collected_on_the_gui_thread_only_while_a_lesson_trains(window, qtbot, examples_dir,
                                                                            collections):
    from PySide6.QtCore import QObject
    from gradviz_core.model.commands import SetTraining
    window.open(examples_dir / "spiral_mlp.json")
    window.scene.push(SetTraining("epochs", 300))
    window.training_panel.start.click()
    assert window.train_session.running
    # while the trainer allocates on its thread, the window makes garbage with Qt objects in it
    for _ in range(20):
        for _ in range(50):
            o = QObject()
            o.me = o  # a cycle: only the collector frees it
        qtbot.wait(50)
    qtbot.waitUntil(lambda: window.train_session.result is not None, timeout=120000)
    qtbot.wait(700)  # one more tick of the window's collector
    main = threading.main_thread().name
    assert main in collections, "the window's collector never ran"
    assert set(collections) == {main}, f"collections ran on {sorted(set(collections) - {main})}"
    assert not gc.isenabled()  # automatic collection stays off while the window lives


def test_the_collector_refuses_to_start_off_the_gui_thread():
    from gradviz.sessions.collect import collect_on_gui_thread
    errors = []

    def start():
        try:
            collect_on_gui_thread()
        except RuntimeError as e:
            errors.append(str(e))
    t = threading.Thread(target=start)
    t.start()
    t.join()
    assert errors and "GUI thread" in errors[0]
