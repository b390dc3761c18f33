"""The README and the pages in docs/: a short README with the two commands on top, every relative link
(and its #anchor) resolving, and the parameter table generated from StyleParams."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from stylize.params import markdown_table

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PARAMS_PAGE = ROOT / "docs" / "api.md"
README_MAX_LINES = 250

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
MARKDOWN_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""<(?:img|a|source)\b[^>]*?\b(?:src|href)=["']([^"']+)["']""", re.I)
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def pages() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks (a `# comment` in a bash block is not a heading, nor is a link in it)."""
    lines, fenced = [], None
    for line in text.splitlines():
        match = FENCE.match(line)
        if match and (fenced is None or match.group(1) == fenced):
            fenced = match.group(1) if fenced is None else None
            continue
        if fenced is None:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text lower-cased, punctuation and symbols dropped (hyphens, underscores
    and spaces kept, letters of any script too), each space a hyphen."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return "".join(ch for ch in text if ch.isalnum() or ch in "-_ ").replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a page; a repeated heading gets -1, -2, … as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for line in prose_lines(page.read_text()):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        anchor = base if base not in seen else f"{base}-{seen[base]}"
        seen[base] = seen.get(base, 0) + 1
        found.add(anchor)
    return found


def links(page: Path) -> list[str]:
    """The link and image targets written in a page's prose (code spans and blocks left out)."""
    targets = []
    for line in prose_lines(page.read_text()):
        line = INLINE_CODE.sub("", line)
        targets += MARKDOWN_LINK.findall(line) + HTML_LINK.findall(line)
    return targets


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with each relative link of a page: a missing file, or an #anchor no heading of the target has."""
    problems = []
    for target in links(page):
        if SCHEME.match(target):
            continue  # http:, https:, mailto: are not checked here
        path_part, _, fragment = target.partition("#")
        path = unquote(path_part)
        resolved = page if not path else (root / path.lstrip("/") if path.startswith("/") else page.parent / path)
        if not resolved.exists():
            problems.append(f"{page.name}: {target}: no such file {resolved}")
        elif fragment and resolved.suffix == ".md" and unquote(fragment) not in anchors(resolved):
            problems.append(f"{page.name}: {target}: {resolved.name} has no heading with the anchor #{fragment}")
    return problems


def test_readme_starts_with_the_two_commands() -> None:
    head = README.read_text()[:1200]
    assert "make serve" in head and "make test" in head


def test_readme_is_short() -> None:
    lines = README.read_text().count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to a page in docs/"


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page: Path) -> None:
    assert links(page) or page.name == "CONTRACT.md", "every page links back to the README at least"
    assert broken_links(page) == []


def test_every_docs_page_links_back_to_the_readme() -> None:
    for page in pages()[1:]:
        if page.name != "CONTRACT.md":
            assert "](../README.md)" in "\n".join(page.read_text().splitlines()[:5]), page.name


def test_the_readme_lists_every_docs_page() -> None:
    readme_links = {unquote(t.partition("#")[0]) for t in links(README)}
    for page in pages()[1:]:
        assert f"docs/{page.name}" in readme_links, page.name


@pytest.mark.parametrize(("heading", "anchor"), [
    ("Jobs share a worker (continuous batching)", "jobs-share-a-worker-continuous-batching"),
    ("Configuration (`config.properties`)", "configuration-configproperties"),
    ("Style methods at equal wall time (`style_loss`, `average`, `schedule`)",
     "style-methods-at-equal-wall-time-style_loss-average-schedule"),
    ("Tübingen × Starry Night", "tübingen--starry-night"),
    ("Results are tested on real features", "results-are-tested-on-real-features"),
    ("The [API](api.md): 1024² px", "the-api-1024²-px"),
])
def test_slug_is_githubs(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_the_checker_reports_broken_links(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Jobs (continuous batching)\n\n```bash\n# Not a heading\n```\n")
    (tmp_path / "picture.png").write_bytes(b"png")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[fine](other.md#jobs-continuous-batching) [fine too](#page) ![picture](picture.png)\n"
        "[gone](missing.md) [no such heading](other.md#not-a-heading) [nor here](#nowhere)\n"
        '<img src="absent.png" alt="an image that is not there">\n'
        "`[in code](ignored.md)` [outside](https://example.com/x.md#y)\n\n"
        "```\n[in a block](ignored_too.md)\n```\n")
    problems = broken_links(page, root=tmp_path)
    assert len(problems) == 4, problems
    assert ["missing.md" in problems[0], "#not-a-heading" in problems[1], "#nowhere" in problems[2],
            "absent.png" in problems[3]] == [True] * 4


def test_parameter_table_is_current() -> None:
    text = PARAMS_PAGE.read_text()
    start, end = text.index("<!-- params-table -->\n"), text.index("<!-- /params-table -->")
    assert text[start + len("<!-- params-table -->\n"):end].strip() == markdown_table().strip(), \
        "regenerate with: make docs"
