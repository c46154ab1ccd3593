"""Every ```python block of the README and docs/ runs as written.

The blocks of one page run in order in one namespace (later blocks use earlier names), in a
fresh interpreter per page, so a page cannot lean on another's imports or on test fixtures.
A block whose info string is ```python notest is shown, not run (none may need it for speed).
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
BLOCK = re.compile(r"^```python[ \t]*(\w*)[ \t]*\n(.*?)^```", re.M | re.S)


def blocks(page: pathlib.Path) -> list[str]:
    return [code for flag, code in BLOCK.findall(page.read_text()) if flag != "notest"]


@pytest.mark.parametrize(
    "page", [p for p in PAGES if blocks(p)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_page_code_runs(page, tmp_path):
    code = "\n\n".join(blocks(page))
    script = tmp_path / "page.py"
    script.write_text("import matplotlib\nmatplotlib.use('Agg')\n" + code)
    env = dict(os.environ, JAX_PLATFORMS="cpu", MPLBACKEND="Agg")
    out = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, f"{page.name} failed:\n{out.stderr[-3000:]}"
