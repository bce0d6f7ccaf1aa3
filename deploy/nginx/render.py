"""Fill in deploy/nginx/funrun.conf.template's @name@ placeholders and print the site file.

Production (see the README's "Production" section)::

    python3 deploy/nginx/render.py --server-name run.example.org \\
        --certificate /etc/letsencrypt/live/run.example.org/fullchain.pem \\
        --certificate-key /etc/letsencrypt/live/run.example.org/privkey.pem \\
        --static-root /srv/funrun/static > /etc/nginx/sites-available/funrun

tests/deploy/ renders the same template with loopback ports and a temporary directory.
Only the standard library: it runs with the system's python3, outside the app's venv.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from pathlib import Path

TEMPLATE = Path(__file__).with_name("funrun.conf.template")
PLACEHOLDER = re.compile(r"@([a-z_]+)@")

#: Every placeholder, with its production default (None: must be given).
DEFAULTS: dict[str, str | None] = {
    "server_name": None,
    "http_listen": "80",
    "https_listen": "443",
    "certificate": None,
    "certificate_key": None,
    "upstream": "127.0.0.1:8000",
    "static_root": "/srv/funrun/static",
    "log_dir": "/var/log/nginx",
}

#: A value is one nginx word: nothing that could end a directive or open a block.
SAFE_VALUE = re.compile(r"[A-Za-z0-9_.:/\[\]*-]+")


def render(values: Mapping[str, str], template: str | None = None) -> str:
    """The template with every placeholder replaced; refuses unknown, missing or unsafe values."""
    text = TEMPLATE.read_text() if template is None else template
    unknown = set(values) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown placeholder(s): {', '.join(sorted(unknown))}")
    filled = {name: values.get(name, default) for name, default in DEFAULTS.items()}
    missing = sorted(name for name, value in filled.items() if value is None)
    if missing:
        raise ValueError(f"no value for: {', '.join(missing)}")
    for name, value in filled.items():
        if not SAFE_VALUE.fullmatch(str(value)):
            raise ValueError(f"{name}: {value!r} is not one plain nginx word")
    used = set(PLACEHOLDER.findall(text))
    if used != set(DEFAULTS):
        raise ValueError(f"template placeholders {sorted(used)} differ from {sorted(DEFAULTS)}")
    return PLACEHOLDER.sub(lambda m: str(filled[m.group(1)]), text)


def main(argv: list[str] | None = None) -> int:
    """Parse ``--name value`` options (one per placeholder) and print the rendered file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, default in DEFAULTS.items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            default=default,
            required=default is None,
            help=f"default: {default}" if default else "required",
        )
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(render(vars(args)))
    except ValueError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
