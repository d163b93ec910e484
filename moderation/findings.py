"""What a check reports: findings with a severity, and the verdict they add up to."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

BLOCK = "block"
REVIEW = "review"
INFO = "info"
SEVERITIES = (BLOCK, REVIEW, INFO)


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    message: str
    subject: str = "post"
    evidence: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")

    def as_dict(self) -> dict:
        return asdict(self)


def verdict(findings) -> str:
    """'block' if any finding blocks, 'review' if any asks for review, else 'pass'."""
    severities = {f.severity for f in findings}
    if BLOCK in severities:
        return "block"
    if REVIEW in severities:
        return "review"
    return "pass"


def grouped(findings) -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """The findings by severity, worst first: each message once, with every subject it was found in."""
    groups: dict[str, dict[str, list[str]]] = {severity: {} for severity in SEVERITIES}
    for f in findings:
        subjects = groups[f.severity].setdefault(f.message, [])
        if f.subject not in subjects:
            subjects.append(f.subject)
    return [(severity, list(messages.items())) for severity, messages in groups.items() if messages]
