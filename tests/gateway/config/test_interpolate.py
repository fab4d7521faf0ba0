"""One `${...}` interpolation for the gateway config and ETL job files (gateway/config/interpolate.py)."""

from __future__ import annotations

import pytest

from gateway.config.interpolate import MissingVariable, interpolate


def test_env_and_job_variables_are_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPLP_T_HOST", "db.local")
    monkeypatch.delenv("SPLP_T_NONE", raising=False)
    tree = {"a": ["${ENV:SPLP_T_HOST}:${ENV:SPLP_T_NONE:-5432}", "${region}"], "n": 3}
    # in a job file `${region}` is a job variable, left for the run; ${ENV:...} always reads the environment
    assert interpolate(tree, bare="keep") == {"a": ["db.local:5432", "${region}"], "n": 3}
    # the gateway config has no variables of its own: there the bare form reads the environment too
    assert interpolate("${SPLP_T_HOST}/${SPLP_T_NONE:-x}", bare="env") == "db.local/x"
    with pytest.raises(MissingVariable) as info:
        interpolate("${ENV:SPLP_T_NONE}", bare="keep")
    assert info.value.args[0] == "SPLP_T_NONE"
