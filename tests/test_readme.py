"""The README and the code agree (issue 16, point 8), and the project stands on its own.

* every environment variable the app, its configuration or its gunicorn settings read is
  in the README's configuration table, and every variable listed there is read;
* no file points at documents outside the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Where variables are read: the configuration, the package, the WSGI entry, gunicorn's file.
SOURCES = [ROOT / "config.py", ROOT / "wsgi.py", *sorted((ROOT / "funrun").rglob("*.py"))]
SOURCES += sorted((ROOT / "deploy").rglob("*.py"))
ENV_READ = re.compile(
    r"""(?:os\.environ(?:\.get|\.setdefault|\.pop)?\s*[\[(]|os\.getenv\()\s*["']([A-Z][A-Z0-9_]*)["']"""
)
ENV_ANY = re.compile(r"os\.environ|os\.getenv|getenv\(")
TABLE_ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \|", re.MULTILINE)


def readme_section(title: str) -> str:
    """The README's text under ``## title`` up to the next section of the same level."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def variables_read() -> dict[str, list[str]]:
    """Each variable read from the environment, with where (file:line)."""
    found: dict[str, list[str]] = {}
    for path in SOURCES:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for name in ENV_READ.findall(line):
                found.setdefault(name, []).append(f"{path.relative_to(ROOT)}:{number}")
    return found


def test_every_variable_read_is_in_the_readme_table_and_every_listed_one_is_read():
    read = variables_read()
    listed = set(TABLE_ROW.findall(readme_section("Configuration (environment)")))
    assert "DATABASE_URL" in read and "SECRET_KEY" in listed  # both scans found something
    missing = {name: where for name, where in read.items() if name not in listed}
    assert not missing, f"read but not in the README's configuration table: {missing}"
    unread = listed - set(read)
    assert not unread, f"in the README's configuration table but read nowhere: {unread}"


def test_every_environment_read_names_its_variable_in_a_way_this_test_sees():
    """A read through a computed name would escape the comparison above."""
    for path in SOURCES:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not ENV_ANY.search(line) or ENV_READ.search(line):
                continue
            # Passing the whole environment along (a mapping, not a read of one name).
            assert re.search(r"os\.environ(\s*(if|else|\)|,|$)|\.copy\(\)|\.items\(\))", line), (
                f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
            )


OUTSIDE_DOCUMENTS = ("DOMAIN.md", "SPEC.md", "PERF-NOTES.md", "TESTING.md", "STYLE.md")
TEXT_SUFFIXES = {".py", ".md", ".html", ".js", ".css", ".toml", ".cfg", ".txt", ".template"}
SKIPPED_DIRS = {".git", ".venv", "node_modules", "instance", "vendor", "__pycache__"}


def project_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*"):
        parts = set(path.relative_to(ROOT).parts)
        if parts & SKIPPED_DIRS or any(p.startswith(".") and p != ".ci" for p in parts):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name in ("Makefile", "run")):
            files.append(path)
    return files


def test_the_project_points_at_no_documents_outside_itself():
    pattern = re.compile(
        r"\.\./shared|(?<![\w-])shared/|" + "|".join(re.escape(d) for d in OUTSIDE_DOCUMENTS)
    )
    this_file = Path(__file__).resolve()
    files = [path for path in project_files() if path.resolve() != this_file]
    assert any(path.name == "README.md" for path in files)
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(
            path.read_text(encoding="utf-8", errors="replace").splitlines(), 1
        )
        if pattern.search(line)
    ]
    assert hits == []
