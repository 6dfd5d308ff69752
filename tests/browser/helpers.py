"""Helpers for browser tests: the axe-core accessibility check and screenshots."""

import os
from pathlib import Path

# axe-core 4.14.1 from the npm registry (`npm pack axe-core@4.14.1`), MPL-2.0, header kept.
AXE = Path(__file__).parent / "vendor" / "axe.min.js"


def axe_violations(page, *, impacts=("serious", "critical")) -> list[dict]:
    """axe-core (vendored, tests/browser/vendor/axe.min.js) on the loaded page."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        "() => axe.run().then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' '))})))"
    )
    return [v for v in violations if v["impact"] in impacts]


def save_screenshot(page, name: str) -> None:
    """With BROWSER_SCREENSHOTS=/some/dir, keep a full-page PNG for a human to look at."""
    folder = os.environ.get("BROWSER_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
