"""Every ```python block in README.md and docs/*.md runs, so the docs cannot rot.

Blocks of one page run in order in one namespace, in a fresh temporary directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_the_examples_on_the_page_run(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run each python block of the page; any exception fails the test with the block's number."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for number, match in enumerate(BLOCK.finditer(page.read_text(encoding="utf-8")), start=1):
        code = compile(match.group(1), f"{page.name}[block {number}]", "exec")
        exec(code, namespace)
    assert os.getcwd() == str(tmp_path)
