#!/usr/bin/env bash
# Rewrites the FILES list in runtime/src/source.rs from what is under runtime/src (plus the
# manifest), in path order. Run it after adding, moving or removing a runtime source file; the
# runtime's `lists_every_file_under_src_and_nothing_else` test fails until the list is right.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../runtime"
python3 - <<'PY'
import pathlib, re
src = pathlib.Path("src/source.rs")
files = ["Cargo.toml"] + sorted(str(p) for p in pathlib.Path("src").rglob("*") if p.is_file())
def entry(path):
    inc = "../Cargo.toml" if path == "Cargo.toml" else path.removeprefix("src/")
    return f'    ("{path}", include_str!("{inc}")),\n'
body = "".join(entry(p) for p in sorted(files))
text = src.read_text()
text = re.sub(r"(pub const FILES: &\[\(&str, &str\)\] = &\[\n).*?(\n\];\n)", lambda m: m.group(1) + body.rstrip("\n") + m.group(2), text, count=1, flags=re.S)
src.write_text(text)
PY
