"""Content-hashed, pre-compressed static files (run by scripts/assets.sh after the Sass build).

For each file the pages load (static/build/app.css, static/js/*.mjs, static/govuk/...): a copy
under static/build/ whose name carries the first 12 hex digits of its SHA-256
(``js/app.mjs`` → ``build/js/app.3f2a….mjs``), with the ``/static/…`` paths inside CSS and
JavaScript rewritten to the hashed names; then a gzip and a Brotli file beside each (WhiteNoise
serves those to a browser that asks), and static/build/manifest.json (plain → hashed name) that
the templates' ``asset()`` reads. Everything here is build output (static/build/ is git-ignored).
"""

import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

from whitenoise.compress import Compressor

STATIC = Path(__file__).resolve().parent.parent / "static"
BUILD = STATIC / "build"
SOURCES = ["govuk/assets/**/*", "images/*", "govuk/*.js", "js/*.mjs", "build/app.css"]  # leaves first
TEXT = {".css", ".js", ".mjs"}
HASHED = re.compile(r"\.[0-9a-f]{12}\.\w+$")


def hashed_name(rel: str, data: bytes) -> str:
    path = Path(rel)
    target = path if rel.startswith("build/") else Path("build") / path
    return str(target.with_name(f"{path.stem}.{hashlib.sha256(data).hexdigest()[:12]}{path.suffix}"))


def clean() -> None:
    for child in BUILD.iterdir() if BUILD.exists() else ():
        if child.is_dir():
            shutil.rmtree(child)
        elif child.name != "app.css":
            child.unlink()


def main() -> None:
    clean()
    manifest: dict[str, str] = {}
    for pattern in SOURCES:
        for path in sorted(STATIC.glob(pattern)):
            if not path.is_file() or path.name == "manifest.json":
                continue
            rel = str(path.relative_to(STATIC))
            data = path.read_bytes()
            if path.suffix in TEXT:
                text = data.decode()
                for plain, hashed in manifest.items():
                    text = text.replace(f"/static/{plain}", f"/static/{hashed}")
                data = text.encode()
            manifest[rel] = hashed_name(rel, data)
            out = STATIC / manifest[rel]
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
    compressor = Compressor(quiet=True)
    for rel in manifest.values():
        for _ in compressor.compress(str(STATIC / rel)):
            pass
    (BUILD / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"{len(manifest)} static files hashed and compressed (static/build/manifest.json)", file=sys.stderr)


if __name__ == "__main__":
    main()
