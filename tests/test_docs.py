"""The README's parameter table is generated from StyleParams and must be current."""

from __future__ import annotations

from pathlib import Path

from stylize.params import markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_parameter_table_is_current() -> None:
    text = README.read_text()
    start, end = text.index("<!-- params-table -->\n"), text.index("<!-- /params-table -->")
    assert text[start + len("<!-- params-table -->\n"):end].strip() == markdown_table().strip(), \
        "regenerate with: make docs"


def test_readme_starts_with_the_two_commands() -> None:
    head = README.read_text()[:1200]
    assert "make serve" in head and "make test" in head
