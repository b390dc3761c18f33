"""Finds server rules copied into the web app (frontend/): upload field names, limit numbers, the stage
plan's arithmetic, and the server's validation messages. The app reads each of these from the server
(capabilities' `fields`, `limits` and `preview`; the plan answer's stages, estimate, most iterations and
400 messages), so a copy in the app can only drift from it. tests/test_frontend_rules.py runs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
HANDLER = ROOT / "handler"
# The app's own files; its tests, the shipped schema (written by `make schema`) and vendored libraries are not.
SCANNED_SUFFIXES = (".js", ".html", ".css")
SKIPPED_DIRS = ("tests", "vendor", "node_modules")


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    why: str


def _rule(name: str, pattern: str, why: str) -> Rule:
    return Rule(name, re.compile(pattern, re.IGNORECASE), why)


RULES = (
    _rule("upload field name", r"\b(?:style_mask|style|mask)_(?:\d+|\$\{)",
          "upload names come from capabilities' `fields` (uploads.js), for this server's max_styles"),
    _rule("upload field name built by hand", r"[\"'`](?:style_mask|style|mask)_[\"'`]\s*\+",
          "upload names come from capabilities' `fields` (uploads.js)"),
    _rule("max styles number", r"max_?styles\W{1,8}\d|at most \d+ style|\(\s*\d+\s+of\s+\d+\s*\)",
          "how many styles a server takes is the length of its `fields.style` list"),
    _rule("limit number", r"\bmax_(?:size|iterations|work|pixels|image_bytes|request_bytes|time_s)\s*(?::|=|\?\?|\|\|)\s*\d",
          "limits come from capabilities' `limits`"),
    _rule("work budget arithmetic", r"max_work\b|\bmaxIterationsAt\b|\boutputPixels\b",
          "the most iterations at a size is the plan answer's `max_iterations`"),
    _rule("stage plan arithmetic", r"\bSQRT2\b|Math\.sqrt\(\s*2\s*\)|\b1\.41\d*|\b1\.15\b|\bBASE_SIZE\b|\bSTAGE_GROWTH\b|approximatePlan",
          "the stages are the server's plan answer (stylize.planning)"),
    _rule("speed arithmetic", r"pixel_iterations_per_s|style_loss_s_per_iteration",
          "estimates are the plan answer's `estimate_s`, computed by the server from its measured speed"),
    _rule("server validation wording", r"must be between|must be a whole number|must be one of|must be true or false|"
                                       r"must not be empty|must be a number|work budget;|lists a layer twice|unknown layer",
          "messages about a parameter are the server's (plan answer or job 400), shown by the field"),
)


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    rule: str
    text: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: {self.text.strip()[:120]} ({self.why})"


def server_messages(handler: Path = HANDLER) -> list[str]:
    """The fixed openings of the server's field messages (`FieldError(name, "…")`), long enough to be telling."""
    found = set()
    for path in handler.rglob("*.py"):
        for match in re.finditer(r"FieldError\(\s*[^,()]+,\s*f?([\"'])(.*?)\1", path.read_text()):
            head = re.split(r"[{]", match[2])[0].strip(" :;,.")
            if len(head) >= 16:
                found.add(head)
    return sorted(found)


def scan_text(text: str, path: str = "<text>", messages: list[str] | tuple[str, ...] = ()) -> list[Finding]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        for rule in RULES:
            if rule.pattern.search(line):
                out.append(Finding(path, number, rule.name, line, rule.why))
        for message in messages:
            if message in line:
                out.append(Finding(path, number, "server message copied", line, f"the server says {message!r} itself"))
    return out


def app_files(frontend: Path = FRONTEND) -> list[Path]:
    return sorted(p for p in frontend.rglob("*") if p.is_file() and p.suffix in SCANNED_SUFFIXES
                  and not any(part in SKIPPED_DIRS for part in p.relative_to(frontend).parts))


def scan_frontend(frontend: Path = FRONTEND, handler: Path = HANDLER) -> list[Finding]:
    messages = server_messages(handler)
    findings = []
    for path in app_files(frontend):
        findings += scan_text(path.read_text(), str(path.relative_to(frontend.parent)), messages)
    return findings


if __name__ == "__main__":
    for finding in scan_frontend():
        print(finding)
