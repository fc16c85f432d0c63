"""Every package directory is listed in pyproject.toml, so a non-editable install ships it
(an install once lacked gradviz.canvas and gradviz.panels, and the app failed to start)."""
import tomllib

from conftest import ROOT


def test_every_package_is_installed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for top in ("gradviz", "gradviz_core") for p in (ROOT / top).rglob("__init__.py")}
    assert found <= listed, f"missing from pyproject.toml: {sorted(found - listed)}"
