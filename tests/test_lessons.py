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
    first = numbers.index("9a")
    assert numbers[first:first + 3] == ["9a", "9b", "9c"]  # a lesson in parts, in its order
    assert numbers.index("7b") == numbers.index("7") + 1 and numbers.index("8b") == numbers.index("8") + 1
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


def test_the_alexnet_lesson_says_the_numbers_of_the_net_it_opens(examples_dir):
    """Lesson 13b's every number, computed from the graph it opens (issue 28): conv1's output and
    parameters, with and without sharing (and the lecture's typo), the whole net's count, where the
    parameters are, the multiply-adds, the two groups (and what one group costs), the LRN's
    settings."""
    from math import prod
    g = fileformat.load(examples_dir / "lesson_alexnet.json")
    note = g.note
    assert not g.problems and g.shapes["image"] == (None, 3, 227, 227)
    conv1 = g.brick("conv1").config
    assert (conv1["filters"], conv1["size"], conv1["stride"], conv1["padding"]) == (96, 11, 4, 0)
    assert g.shapes["conv1"] == (None, 96, 55, 55) and (227 - 11) // 4 + 1 == 55
    neurons = prod(g.shapes["conv1"][1:])
    per_neuron = 11 * 11 * 3 + 1
    assert neurons == 290_400 and per_neuron == 364
    assert g.param_count("conv1") == 96 * per_neuron == 34_944
    assert neurons * per_neuron == 105_705_600 != 105_706_600  # the slide's product has a typo
    for number in ("290,400", "34,944", "105,705,600", "105,706,600", "(227 − 11)/4 + 1 = 55"):
        assert number in note, number
    total = g.total_params()
    assert total == 60_965_224 and "60,965,224" in note
    assert g.param_count("fc6") == 37_752_832 and f"{round(100 * 37_752_832 / total)}%" == "62%"
    convs = [n for n in g.order if g.brick(n).type_name == "Conv2D"]
    conv_params = sum(g.param_count(n) for n in convs)
    assert conv_params == 2_334_080 and f"{100 * conv_params / total:.1f}%" == "3.8%"
    for number in ("37,752,832", "62%", "2,334,080", "3.8%"):
        assert number in note, number

    def macs(n):  # multiply-adds per image: each output value, one per weight it reads
        b = g.brick(n)
        c_in = g.shapes[g.inputs_of(n)["x"]][1]
        if b.type_name == "Conv2D":
            return prod(g.shapes[n][1:]) * b.config["size"] ** 2 * c_in // b.config["groups"]
        return g.shapes[n][1] * c_in
    conv_macs = sum(macs(n) for n in convs)
    fc_macs = sum(macs(n) for n in g.order if g.brick(n).type_name == "Linear")
    assert round(conv_macs / 1e6) == 666 and round(fc_macs / 1e6) == 59
    assert round(100 * conv_macs / (conv_macs + fc_macs)) == 92
    assert "666 million multiply-adds per image (92%)" in note and "59 million" in note
    assert {n: g.brick(n).config["groups"] for n in convs} == {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2,
                                                               "conv5": 2}
    one_group = next(u for u in links_of(g) if "groups=1" in u)
    _, cmd = lessons.command(g, one_group)
    cmd.do(g)
    assert g.total_params() == 62_378_344 and "62,378,344" in note
    cmd.undo(g)
    for n in ("norm1", "norm2"):
        lrn = g.brick(n).config
        assert (lrn["k"], lrn["size"], lrn["alpha"], lrn["beta"]) == (2.0, 5, 1e-4, 0.75)
    assert "k = 2, n = 5, α = 10⁻⁴, β = 0.75" in note
    assert f"{np.log(1000):.2f}" == "6.91" and "ln 1000 ≈ 6.91" in note
