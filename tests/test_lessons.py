"""Each lesson's claims hold with the lesson's own settings (gradviz_core.teach.claims_practice), and
its links (the variants, one click each) are the undoable commands they say."""

import numpy as np
import pytest

from gradviz_core.model import fileformat
from gradviz_core.teach import lessons
from gradviz_core.teach.claims_practice import LESSONS, measure
from gradviz_core.teach.claims_practice import lesson as lesson_claims


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


def test_jitter_moves_points_by_gaussian_noise():
    from gradviz_core.data.augment import augment
    X = np.zeros((2000, 2), np.float32)
    out = augment(X, np.random.default_rng(0), jitter=0.1)
    assert out.dtype == np.float32 and abs(out.std() - 0.1) < 0.005 and np.all(X == 0)


@pytest.mark.parametrize("number", [ls.number for ls in LESSONS])
def test_every_claim_of_the_lesson_holds_on_the_lesson_as_shipped(number):
    """Seed 0 is the lesson file itself; tools/lesson_claims.py measures the same claims over
    seeds and backends (docs/lessons.md), where each sits at least 3 σ from its threshold."""
    figures = measure(number)
    failed = [c.describe(figures) for c in lesson_claims(number).claims if not c.holds(figures)]
    assert not failed, failed


def test_the_claims_page_shows_every_claim_measured():
    from pathlib import Path
    page = (Path(__file__).resolve().parents[1] / "docs" / "lessons.md").read_text(encoding="utf-8")
    rows = {(cells[0].strip(), cells[1].strip(), cells[2].strip().strip("`").replace("\\|", "|"), cells[3].strip())
            for cells in (line.strip().strip("|").split(" | ") for line in page.splitlines()
                          if line.startswith("| ") and "`" in line) if len(cells) > 4}
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    from lesson_claims import _num
    for ls in LESSONS:
        for c in ls.claims:
            assert (ls.number, c.text, c.figure, f"{c.op} {_num(c.threshold)}") in rows, (ls.number, c.text)


def test_the_catalogue_lists_lessons_in_the_lectures_order_then_the_rest(examples_dir):
    titles = [t for t, _, _ in lessons.catalogue(examples_dir)]
    numbers = [t.split()[1].rstrip(":") for t in titles if t.startswith("Lesson ")]
    assert numbers == sorted(numbers, key=lambda n: (int(n.rstrip("abc")), n)) and numbers[:3] == ["1", "2", "3"]
    assert numbers[8:11] == ["9a", "9b", "9c"]  # a lesson in parts, in its order
    assert titles.index("Lesson 13: a ConvNet on the digits") < titles.index("A two-layer MLP with a softmax loss")
    assert all(prose for _, _, prose in lessons.catalogue(examples_dir))


def test_the_backprop_page_is_generated_from_the_bricks_and_current():
    from pathlib import Path

    from gradviz_core.teach import backprop_doc
    from gradviz_core.model.registry import brick_types
    repo_page = Path(__file__).resolve().parents[1] / "docs" / "backprop.md"
    text = backprop_doc.page()
    assert repo_page.read_text(encoding="utf-8") == text, "run python -m gradviz_core.teach.backprop_doc"
    assert text.count("\n### ") == len(brick_types()) and "dL/dx = dL/dout Wᵀ" in text


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
    from gradviz_core.runs.stepper import Stepper
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
