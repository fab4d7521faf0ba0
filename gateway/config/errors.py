"""Config errors that name the file, the dotted key path, the value and what was expected."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    file: str
    path: str  # dotted key path, e.g. "apis[0].backend.endpoints[1].url"
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(Exception):
    """All problems found in one load; the message lists every one, grouped by file."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        by_file: dict[str, list[ConfigProblem]] = {}
        for problem in self.problems:
            by_file.setdefault(problem.file, []).append(problem)
        lines: list[str] = []
        for file, problems in by_file.items():
            count = len(problems)
            lines.append(f"{file}: {count} error{'s' if count != 1 else ''}")
            lines.extend(f"  {p}" for p in problems)
        return "\n".join(lines)
