"""ETL errors, named by who must act.

- JobConfigError: the job file is wrong (file, dotted key path, expectation); nothing ran.
- PlanError: the job is valid YAML but cannot run against these databases (missing table or column,
  a mapping to an impossible type, an FK cycle through NOT NULL columns).
- SourceError: the input cannot be read any further (XML not well-formed, unreadable file); the run fails
  at the last committed batch and can be resumed after the input is fixed.
- RowError: one row cannot be loaded; it goes to the rejected-rows table and counts against the budget.
- BudgetExceeded: more rows were rejected than the job allows; the run fails.
- RunNotFound / RunStateError: the state store has no such run, or it cannot be resumed in its state.
"""

from __future__ import annotations


class EtlError(Exception):
    """Base class of every ETL failure; `str(err)` is the complete message for an operator."""


class JobConfigError(EtlError):
    def __init__(self, file: str, problems: list[str]) -> None:
        self.file = file
        self.problems = problems
        noun = "error" if len(problems) == 1 else "errors"
        super().__init__(f"{file}: {len(problems)} {noun}\n" + "\n".join(f"  {p}" for p in problems))


class PlanError(EtlError):
    def __init__(self, job: str, step: str | None, message: str) -> None:
        self.job = job
        self.step = step
        where = f"job {job}" + (f", step {step}" if step else "")
        super().__init__(f"{where}: {message}")


class CycleError(PlanError):
    pass


class SourceError(EtlError):
    def __init__(self, message: str, *, row: int | None = None) -> None:
        self.row = row
        super().__init__(message)


class ConnectorError(EtlError):
    """A connection or a statement failed for a reason unrelated to one row."""


class CannotConnect(ConnectorError):
    """A database refused or did not answer a new connection (retried like a lost one)."""


class CopyRefused(EtlError):
    """The target refused a binary COPY batch (a constraint, a value): the row path takes over and rejects rows."""


class RowError(EtlError):
    """One row cannot be converted or written; `column` is None when the whole row is at fault."""

    def __init__(self, reason: str, column: str | None = None) -> None:
        self.reason = reason
        self.column = column
        super().__init__(f"column {column}: {reason}" if column else reason)


class ExpressionError(EtlError):
    """An expression in a job uses syntax or names outside the allowed language."""


class BudgetExceeded(EtlError):
    pass


class RunNotFound(EtlError):
    pass


class RunStateError(EtlError):
    pass


class Cancelled(EtlError):
    pass
