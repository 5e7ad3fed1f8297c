"""Dependency helpers for `make test-oldest` (stdlib only; run with any Python >= 3.11).

    python scripts/deps.py tool-pins            the test/lint tools pinned as in uv.lock
    python scripts/deps.py check-lowest VENV    every direct dependency installed in VENV
                                                is the lower bound pyproject.toml declares
    python scripts/deps.py show VENV            the direct dependencies installed in VENV

`make test-oldest` installs our direct dependencies at the lowest versions our ranges allow
(`uv pip install --resolution lowest-direct`) but keeps the test and lint tools (pytest,
ruff, mypy, ...) at their locked versions: an old ruff or mypy would check different rules,
not older libraries. `tool-pins` prints those pins as a constraints file.

`check-lowest` then proves the run really is the oldest one: if some other package forces a
direct dependency above our declared lower bound, the suite never ran on that bound, and the
bound in pyproject.toml is a promise nobody checked. It fails naming the package, the bound
and what was installed, so the bound can be raised to what is really tested.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Test-group entries that are libraries we run against, not tools: they follow the
#: lowest-direct resolution like our own dependencies.
LIBRARIES = {"vcrpy", "langchain-tests", "langchain"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _name_and_lower(spec: str) -> tuple[str, str | None]:
    spec = spec.split(";", 1)[0].strip()
    match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*)$", spec)
    if match is None:
        raise SystemExit(f"cannot read the requirement {spec!r} in pyproject.toml")
    lower = re.search(r">=\s*([^,\s]+)", match.group(3))
    return _norm(match.group(1)), (lower.group(1) if lower else None)


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _locked_versions() -> dict[str, str]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    versions: dict[str, str] = {}
    for package in lock.get("package", []):
        versions[_norm(package["name"])] = package.get("version", "")
    return versions


def tool_pins() -> str:
    """The test group's tools, pinned to their locked versions, as constraints lines."""
    project = _pyproject()
    groups = project["dependency-groups"]
    assert isinstance(groups, dict)
    locked = _locked_versions()
    lines = []
    for spec in groups["test"]:
        name, _ = _name_and_lower(spec)
        if name in LIBRARIES:
            continue
        if name not in locked:
            raise SystemExit(f"{name} is in the test group but not in uv.lock: run `make lock`")
        lines.append(f"{name}=={locked[name]}")
    return "\n".join(lines) + "\n"


def direct_lower_bounds() -> dict[str, str]:
    """Every direct dependency (core, extras, test libraries) with its declared lower bound."""
    project = _pyproject()
    meta = project["project"]
    assert isinstance(meta, dict)
    specs: list[str] = list(meta["dependencies"])
    for extra in meta["optional-dependencies"].values():
        specs += [s for s in extra if not s.startswith("arli-integrations")]
    groups = project["dependency-groups"]
    assert isinstance(groups, dict)
    specs += [s for s in groups["test"] if _name_and_lower(s)[0] in LIBRARIES]
    bounds: dict[str, str] = {}
    for spec in specs:
        name, lower = _name_and_lower(spec)
        if lower is None:
            raise SystemExit(f"{spec!r} declares no lower bound: every direct dependency needs one")
        bounds[name] = lower
    return bounds


def _release(version: str) -> tuple[int, ...]:
    parts = re.match(r"^\d+(\.\d+)*", version)
    assert parts is not None, version
    nums = [int(p) for p in parts.group(0).split(".")]
    while len(nums) > 1 and nums[-1] == 0:
        nums.pop()
    return tuple(nums)


def _installed(venv: str) -> dict[str, str]:
    out = subprocess.run(
        [str(ROOT / ".tools/bin/uv"), "pip", "freeze", "--python", f"{venv}/bin/python"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    installed = {}
    for line in out.splitlines():
        if "==" in line:
            name, version = line.split("==", 1)
            installed[_norm(name)] = version.strip()
    return installed


def show(venv: str) -> int:
    """Print the installed version of every direct dependency (for the CI log)."""
    installed = _installed(venv)
    for name, lower in sorted(direct_lower_bounds().items()):
        print(f"{venv}: {name}=={installed.get(name, 'MISSING')} (declared >= {lower})")
    return 0


def check_lowest(venv: str) -> int:
    """Exit non-zero unless each direct dependency in ``venv`` sits at its lower bound."""
    installed = _installed(venv)
    bad = []
    for name, lower in sorted(direct_lower_bounds().items()):
        got = installed.get(name)
        if got is None:
            bad.append(f"{name}: not installed (declared >= {lower})")
        elif _release(got) != _release(lower):
            bad.append(
                f"{name}: installed {got}, declared >= {lower} — something forces a newer "
                f"release, so the declared bound is untested: raise it to {got} in pyproject.toml"
            )
        else:
            print(f"oldest: {name}=={got} (declared >= {lower})")
    for line in bad:
        print(f"oldest: ERROR {line}", file=sys.stderr)
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    """Command-line entry point."""
    if argv[:1] == ["tool-pins"]:
        sys.stdout.write(tool_pins())
        return 0
    if argv[:1] == ["check-lowest"] and len(argv) == 2:
        return check_lowest(argv[1])
    if argv[:1] == ["show"] and len(argv) == 2:
        return show(argv[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
