"""The layering is a contract: views and jobs call services, services use the models, a
service never imports a job or a view, and no modules import each other in a cycle
(``[tool.importlinter]`` in pyproject.toml)."""

from pathlib import Path

from importlinter.cli import lint_imports

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_the_import_contracts_hold(capsys):
    result = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert result == 0, report
    assert "3 kept, 0 broken" in report
