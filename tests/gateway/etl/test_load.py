"""Job files: YAML -> frozen models; every problem names the file, the dotted key path and the expectation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.etl.errors import JobConfigError
from gateway.etl.load import load_job

CONF = Path(__file__).resolve().parents[3] / "conf" / "etl"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "job.yaml"
    p.write_text(text)
    return p


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        """
name: lapor
connections:
  src: {kind: mysql}
  dst: {kind: postgress, dsn: x}
steps:
  - name: complaints
    source: {connection: src, table: complaints}
    target: {connection: dst, table: complaints}
    mode: upsert
    batch_size: 0
    colums: {}
  - name: files
    source: {file: a.xml, format: xml}
    target: {connection: dst, table: attachments}
    columns:
      title: {from: judul, expr: "upper(judul)"}
""",
    )
    with pytest.raises(JobConfigError) as info:
        load_job(p)
    # (the step's cross-field rule, upsert needs a key, runs once its fields are valid)
    assert (
        str(info.value)
        == f"""{p}: 6 errors
  connections.src.database: required key is missing
  connections.dst: Input tag 'postgress' found using 'kind' does not match any of the expected tags: 'postgres', \
'mysql', 'sqlite', 'catalog'
  steps[0].batch_size: 0: Input should be greater than or equal to 1
  steps[0].colums: unknown key
  steps[1].source: format xml requires `record`, the tag of one record element
  steps[1].columns.title: give exactly one of from, const, expr"""
    )


def test_cross_references_are_checked(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        """
name: x
connections: {db: {kind: sqlite, path: a.db}}
steps:
  - name: a
    source: {connection: nope, table: t}
    target: {connection: db, table: t}
    depends_on: [b]
    columns: {c: {from: c, lookup: zz}}
""",
    )
    with pytest.raises(JobConfigError) as info:
        load_job(p)
    assert str(info.value).splitlines()[1] == (
        "  (top level): steps[0].source.connection: unknown connection 'nope'; steps[0].depends_on: unknown step 'b'; "
        "steps[0].columns.c.lookup: unknown step 'zz'"
    )


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    p = _write(tmp_path, "name: x\nsteps: [\n")
    with pytest.raises(JobConfigError) as info:
        load_job(p)
    assert str(info.value).startswith(f"{p}: 1 error\n  line 3, column 1: not valid YAML: ")


def test_env_interpolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_TEST_DSN", "postgresql://u@h/db")
    p = _write(
        tmp_path,
        """
name: x
connections: {db: {kind: postgres, dsn: "${ENV:ETL_TEST_DSN}"}, other: {kind: sqlite, path: "${ENV:NOPE:-b.db}"}}
steps: [{name: a, source: {file: a.csv, format: csv}, target: {connection: db, table: t}}]
""",
    )
    job = load_job(p)
    assert job.connections["db"].dsn == "postgresql://u@h/db"  # type: ignore[union-attr]
    assert job.connections["other"].path == "b.db"  # type: ignore[union-attr]
    with pytest.raises(ValidationError):
        job.steps[0].__class__.model_validate({**job.steps[0].model_dump(by_alias=True), "mode": "nope"})
    with pytest.raises(ValidationError):
        job.__setattr__("name", "y")  # frozen


@pytest.mark.parametrize("path", sorted(CONF.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_example_jobs_validate(path: Path) -> None:
    job = load_job(path)
    assert job.steps
