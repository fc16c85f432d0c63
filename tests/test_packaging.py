"""Every package directory is listed in pyproject.toml, so a non-editable install ships it
(an install once lacked gradviz.canvas and gradviz.panels, and the app failed to start)."""
import tomllib

from conftest import ROOT


def test_every_package_is_installed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for top in ("gradviz", "gradviz_core") for p in (ROOT / top).rglob("__init__.py")}
    assert found <= listed, f"missing from pyproject.toml: {sorted(found - listed)}"


def test_every_file_an_example_needs_is_shipped_with_it():
    """A lesson's data file (a CSV) or weights (an .npz) is package data too: a
    non-editable install once would have lacked them."""
    import fnmatch
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "gradviz_core.examples"]
    for path in (ROOT / "examples").iterdir():
        if path.is_file():
            assert any(fnmatch.fnmatch(path.name, p) for p in patterns), f"{path.name} is not shipped"
