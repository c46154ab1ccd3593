"""Each example script's --help explains every option and states its default."""

import pathlib
import re
import subprocess
import sys

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_help_documents_every_option(script):
    out = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    options = re.split(r"\n\s+(?=-)", text.split("options:", 1)[1])
    documented = [o for o in options if o.strip() and not o.strip().startswith("-h")]
    assert documented, f"{script.name} --help lists no options"
    for option in documented:
        flat = " ".join(option.split())
        assert "default:" in flat or "(default" in flat, (
            f"{script.name}: {flat!r} states no default"
        )
        assert len(flat.split()) > 4, f"{script.name}: {flat!r} has no explanation"
