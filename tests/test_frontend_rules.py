"""The web app holds no copy of a server rule (tests/frontend_rules.py says which and why): field names,
limits, the stage plan and validation messages come from the server. Fast: text only, no browser."""

from __future__ import annotations

import frontend_rules as rules
import pytest


def test_the_web_app_holds_no_copy_of_a_server_rule() -> None:
    findings = rules.scan_frontend()
    assert findings == [], "\n".join(map(str, findings))


def test_the_scan_covers_the_apps_files_and_the_servers_messages() -> None:
    names = {p.name for p in rules.app_files()}
    assert {"app.js", "params.js", "capabilities.js", "stages.js", "pickers.js", "regions.js", "index.html"} <= names
    assert not any("tests" in p.parts or "vendor" in p.parts for p in rules.app_files())
    messages = rules.server_messages()
    assert "must be a whole number" in messages and "this server takes at most" in messages


# Each snippet is a rule the app once held (or could grow again); the scan must catch every one.
BAD = {
    "upload field name": ['  return index === 0 ? "style" : `style_${index + 1}`;', 'form.append("mask_2", blob);',
                          "const MASK = /^(?:style_)?mask(?:_(\\d+))?$/; // mask_8"],
    "upload field name built by hand": ['const name = "style_" + (i + 1);'],
    "max styles number": ["export const MAX_STYLES = 8;", "max_styles: limits.max_styles ?? 8,", "`at most 8 style images`",
                          '<span class="muted" id="style-count">(0 of 8)</span>'],
    "limit number": ["limits: { max_size: 1024, max_iterations: 2000 },"],
    "work budget arithmetic": ["const byWork = Math.floor(limits.max_work / outputPixels(size, aspect));"],
    "stage plan arithmetic": ["for (let s = 128; s * 1.15 < size; s *= Math.SQRT2) sides.push(Math.round(s));"],
    "speed arithmetic": ["return planWork(plan) / caps.speed.pixel_iterations_per_s;"],
    "server validation wording": ['throw new Error(`must be between ${spec.min} and ${spec.max}, got ${n}`);'],
}


@pytest.mark.parametrize(("rule", "snippet"), [(rule, s) for rule, snippets in BAD.items() for s in snippets])
def test_the_scan_catches_a_copied_rule(rule: str, snippet: str) -> None:
    found = rules.scan_text(snippet, "bad.js", rules.server_messages())
    assert rule in {f.rule for f in found}, (rule, snippet, found)


def test_a_copied_server_message_is_caught_from_the_servers_own_wording() -> None:
    found = rules.scan_text('problems.push("iterations: size is not UTF-8 text")', "bad.js", rules.server_messages())
    assert [f.rule for f in found] == ["server message copied"]


def test_the_apps_own_words_pass() -> None:
    clean = ['const field = styleField(index);', 'out.push(`${UPLOADS.content}: choose a content image`);',
             'problems.push(`room for ${maxStyles()} style images here; ${overflow} not added`);',
             '$("estimate").textContent = `about ${formatDuration(answer.estimateS)}`;']
    assert rules.scan_text("\n".join(clean), "good.js", rules.server_messages()) == []
