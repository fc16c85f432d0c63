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
    from gradviz.sessions import collect
    from gradviz_core.model.commands import SetTraining
    collector = collect._collector  # the window's: a timer on the GUI thread
    assert collector is not None and collector.timer.isActive()
    window.open(examples_dir / "spiral_mlp.json")
    window.scene.push(SetTraining("epochs", 100000))  # it trains until it is stopped below
    window.training_panel.start.click()
    t = window.train_session.trainer
    assert window.train_session.running

    def garbage(n=50):
        for _ in range(n):
            o = QObject()
            o.me = o  # a cycle: only the collector frees it

    # while the trainer allocates on its thread, the window makes garbage with Qt objects in it:
    # each time, the trainer takes another step (allocating) before the window goes on
    for _ in range(20):
        garbage()
        before = t.steps
        qtbot.waitUntil(lambda: t.steps > before, timeout=60000)
    # enough garbage for a collection, then the collector's next tick, with the run still training
    while gc.get_count()[0] <= 2 * collector.threshold[0]:
        garbage()
    with qtbot.waitSignal(collector.timer.timeout, timeout=60000):  # its check runs first (connected first)
        pass
    assert window.train_session.running  # it collected while the run trained
    with qtbot.waitSignal(window.train_session.finished, timeout=120000):
        window.training_panel.stop.click()
    assert window.train_session.result.status == "cancelled"
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
