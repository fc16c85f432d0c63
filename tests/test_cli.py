"""The command line as a user runs it: a separate process, exit codes, no tracebacks."""
import json
import math
import subprocess
import sys

import pytest


def run(*args, cwd=None):
    p = subprocess.run([sys.executable, "-m", "gradviz", *map(str, args)], capture_output=True,
                       text=True, cwd=cwd, timeout=120)
    return p.returncode, p.stdout, p.stderr


def test_step_json_gives_the_lecture_numbers(examples_dir):
    code, out, err = run("step", examples_dir / "circuit_xyz.json", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["values"] == {"x": -2.0, "y": 5.0, "z": -4.0, "q": 3.0, "f": -12.0}
    assert d["grads"] == {"f": 1.0, "q": -4.0, "z": 3.0, "x": -4.0, "y": -4.0}
    assert d["param_grads"] == {} and d["loss"] == -12.0


def test_step_json_on_an_mlp_has_param_grads(examples_dir):
    code, out, err = run("step", examples_dir / "mlp_softmax.json", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert set(d["param_grads"]) == {"fc1", "fc2"}
    assert len(d["param_grads"]["fc1"]["W"]) == 2 and len(d["param_grads"]["fc1"]["W"][0]) == 16
    assert d["loss"] == pytest.approx(math.log(3), abs=0.3)  # small weights: about ln K (as the trainer checks it)


def test_step_text_shows_the_chain_rule(examples_dir):
    code, out, _ = run("step", examples_dir / "circuit_xyz.json")
    assert code == 0
    assert "q = Add(a=x, b=y) = Add(-2, 5) = 3" in out
    assert "∂f/∂q += ∂f/∂f · ∂f/∂q = 1 · -4 = -4" in out
    assert "∂f/∂x += ∂f/∂q · ∂q/∂x = -4 · 1 = -4" in out
    assert out.rstrip().endswith("f = -12")  # the objective by its name, as the chain rule writes it


def test_sigmoid_neuron_gradients(examples_dir):
    d = json.loads(run("step", examples_dir / "sigmoid_neuron.json", "--json")[1])
    assert d["values"]["f"] == pytest.approx(0.7311, abs=1e-4)
    got = {k: d["grads"][k] for k in ("w0", "x0", "w1", "x1", "w2")}
    assert got == pytest.approx({"w0": -0.1966, "x0": 0.3932, "w1": -0.3932, "x1": -0.5898, "w2": 0.1966},
                                abs=1e-4)
    assert d["param_grads"]["w0"]["value"] == pytest.approx(-0.1966, abs=1e-4)


@pytest.mark.parametrize("name", ["circuit_xyz", "sigmoid_neuron", "mlp_softmax"])
def test_gradcheck_passes_on_every_example(examples_dir, name):
    code, out, err = run("gradcheck", examples_dir / f"{name}.json", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["passed"] is True and d["max_rel_error"] < 1e-6
    assert set(d["nodes"]) and all(v["error"] < 1e-6 and v["verdict"] == "ok" for v in d["nodes"].values())


@pytest.mark.parametrize("content,needle", [
    ('{"format": "gradviz-graph", "version": 1, "nodes": [{"name": "a",', "not valid JSON"),
    ('{"format": "gradviz-graph", "version": 1, "nodes": [{"name": "a", "type": "Conv2D"}], "edges": []}',
     "input 'x' of Conv2D is not connected"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, content, needle):
    f = tmp_path / "bad.json"
    f.write_text(content)
    for verb in ("step", "gradcheck"):
        code, out, err = run(verb, f)
        assert code == 2
        assert needle in err and err.startswith("gradviz: error: ")
        assert "Traceback" not in err and out == ""


def test_impossible_shape_is_reported(tmp_path):
    f = tmp_path / "conv.json"
    f.write_text(json.dumps({"format": "gradviz-graph", "version": 1, "nodes": [
        {"name": "img", "type": "Constant", "params": {"value": [[[[0.0] * 28] * 28]]}},
        {"name": "conv1", "type": "Conv2D", "params": {"size": 5, "stride": 2}}],
        "edges": [{"from": "img", "to": "conv1", "port": "x"}]}))
    code, _, err = run("step", f)
    assert code == 2
    assert "conv1 (port x): (H − F + 2P)/S + 1 = (28 − 5 + 0)/2 + 1 = 12.5 is not a whole number" in err


def test_missing_file_and_no_verb():
    code, _, err = run("step", "does-not-exist.json")
    assert code == 2 and "does-not-exist.json: no such file" in err
    code, out, _ = run("--help")
    assert code == 0 and "gradcheck" in out


def test_nan_is_null_in_json_and_stops_a_gradient_check(tmp_path):
    f = tmp_path / "nan.json"
    f.write_text(json.dumps({"format": "gradviz-graph", "version": 1, "nodes": [
        {"name": "x", "type": "Constant", "params": {"value": -1.0}}, {"name": "l", "type": "Log"}],
        "edges": [{"from": "x", "to": "l", "port": "x"}]}))
    code, out, err = run("step", f, "--json")
    assert code == 0 and err == ""
    d = json.loads(out)  # strict JSON: no NaN literals
    assert d["values"]["l"] is None and d["loss"] is None
    code, out, _ = run("step", f)
    assert "Log(-1) = nan" in out and "not finite" in out
    code, _, err = run("gradcheck", f)
    assert code == 2 and "l: Log gives a non-finite value at the starting point" in err
