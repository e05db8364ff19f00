"""The README's commands work as written (the main job on the bundled example, and the examples)."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _fitness_commands() -> list[str]:
    """Every `fitness ...` invocation in the README's bash blocks (after any `pip install ... &&`)."""
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split("&&")[-1].strip()
            if line.startswith("fitness "):
                cmds.append(line)
    return cmds


def test_readme_has_the_two_commands():
    assert "fitness recommend examples/" in README
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = "scripts/setup-tests && python -m pytest"
    assert test_cmd in README and test_cmd in ci


@pytest.mark.parametrize("cmd", _fitness_commands())
def test_readme_command_runs(cmd, tmp_path):
    args = [a if not a.startswith("examples/") else str(ROOT / a) for a in shlex.split(cmd)]
    args = [str(tmp_path / a) if a.endswith((".md", ".html")) and "--out" in args else a for a in args]
    out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr
    if cmd == "fitness recommend examples/fraud-detection.yaml":  # the excerpt shown is today's output
        excerpt = re.search(r"## Example report \(excerpt\).*?```markdown\n(.*?)```", README, re.S).group(1)
        missing = [line for line in excerpt.splitlines() if line and line not in out.stdout]
        assert not missing, f"README excerpt differs from the report: {missing}"
