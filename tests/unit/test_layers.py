"""The layering is a contract: views and jobs call services, services use the models, a
service never imports a job or a view, and no modules import each other in a cycle
(``[tool.importlinter]`` in pyproject.toml)."""

import importlib
from pathlib import Path

from importlinter.cli import lint_imports

from campaign.clock import SCHEDULE
from campaign.outbox import WORK

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_the_import_contracts_hold(capsys):
    result = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert result == 0, report
    assert "3 kept, 0 broken" in report


def test_every_kind_of_work_names_a_job_that_exists():
    """Services, the sweeper and the clock enqueue by kind (campaign.outbox.WORK), not by
    importing the job: a dotted path that no longer resolves would only fail in a worker."""
    for kind, work in WORK.items():
        module, name = work.job.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), name, None)), kind
        failure = work.options.get("on_failure")
        if failure is not None:
            module, name = failure.func.rsplit(".", 1)
            assert callable(getattr(importlib.import_module(module), name, None)), kind
    assert {periodic.name for periodic in SCHEDULE} <= set(WORK)


def test_every_blueprint_is_in_the_views_layer(app):
    """A new blueprint package left out of the contract's views layer would escape it: the
    rules above would not see its imports of jobs."""
    import tomllib

    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["id"] == "layers")["layers"]
    views = {name.strip() for name in layers[0].split(":")}
    outside = {
        bp.name: bp.import_name
        for bp in app.blueprints.values()
        if not any(bp.import_name == v or bp.import_name.startswith(v + ".") for v in views)
    }
    assert not outside, f"blueprints outside the views layer: {outside}"
