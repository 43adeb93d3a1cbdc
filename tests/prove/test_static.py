"""Static checks (security.md M2; issue #8 item 10): ruff with its security rules passes, and
every exception to a security rule is justified where it is made."""

import re
import subprocess
import tomllib

from tests.prove.harness import ROOT

NOQA = re.compile(r"#\s*noqa\b(?P<rest>.*)$")
JUSTIFIED = re.compile(r"^:\s*[A-Z]+\d+(\s*,\s*[A-Z]+\d+)*\s+[-–—:]\s*\S.{3,}")


def _python_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
                            cwd=ROOT, capture_output=True, text=True, check=True, timeout=30)
    return [p for p in listed.stdout.splitlines() if not p.startswith(("node_modules/", ".venv/"))]


def unjustified_noqa(lines: list[tuple[str, int, str]]) -> list[str]:
    """``# noqa`` comments that silence a security rule (S…) or everything, with no reason."""
    bad = []
    for path, number, line in lines:
        match = NOQA.search(line)
        if not match:
            continue
        rest = match.group("rest")
        codes = re.findall(r"[A-Z]+\d+", rest.split(" - ")[0])
        if not codes:
            bad.append(f"{path}:{number}: blanket noqa")
        elif any(c.startswith("S") for c in codes) and not JUSTIFIED.match(rest.strip()):
            bad.append(f"{path}:{number}: {line.strip()[:100]}")
    return bad


def test_every_security_noqa_is_justified():
    lines = []
    for path in _python_files():
        if path == "tests/prove/test_static.py":  # its own examples are string literals
            continue
        text = (ROOT / path).read_text(errors="replace")
        lines += [(path, i, line) for i, line in enumerate(text.splitlines(), 1)]
    assert unjustified_noqa(lines) == []


def test_the_check_can_fail():
    assert unjustified_noqa([("x.py", 1, "x = 1  # noqa: S105")]) == ["x.py:1: x = 1  # noqa: S105"]
    assert unjustified_noqa([("x.py", 1, "x = 1  # noqa")]) == ["x.py:1: blanket noqa"]
    assert unjustified_noqa([("x.py", 1, "x = 1  # noqa: S105 - a file name, not a secret")]) == []


def test_per_file_security_ignores_are_commented():
    """Each per-file-ignores entry that silences S rules has a comment line above it saying why."""
    text = (ROOT / "pyproject.toml").read_text()
    config = tomllib.loads(text)
    ignores = config["tool"]["ruff"]["lint"].get("per-file-ignores", {})
    assert "S" in config["tool"]["ruff"]["lint"]["select"]
    lines = text.splitlines()
    for pattern, codes in ignores.items():
        if not any(c.startswith("S") for c in codes):
            continue
        index = next(i for i, line in enumerate(lines) if line.strip().startswith(f'"{pattern}"'))
        above = lines[index - 1].strip()
        j = index - 1
        while above.startswith('"') and j > 0:  # entries grouped under one comment
            j -= 1
            above = lines[j].strip()
        assert above.startswith("#") and len(above) > 10, f"{pattern}: no justification comment"


def test_ruff_with_security_rules_passes():
    done = subprocess.run([str(ROOT / ".venv/bin/ruff"), "check", "."], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]
