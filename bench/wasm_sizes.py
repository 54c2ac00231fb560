"""Where a worker's wasm bytes go: code size per Rust module, from an unstripped .wasm.

    python3 bench/wasm_sizes.py FILE.wasm [depth]

Reads the code section (each function body's size) and the `name` custom section (function
names, legacy Rust mangling `_ZN..E` demangled to paths), and sums body sizes by the first
`depth` path segments (default 3: `apex_runtime::wire::anthropic::decode`). Data segments
(string constants, tables) are reported as one line. bench/run.sh's bundle notes use it on
builds with `strip = false` (names kept; code identical).
"""
import re
import sys
from collections import defaultdict


def leb(b, i):
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, i


def demangle(name):
    if name.startswith("_ZN"):
        parts, i = [], 3
        while i < len(name) and name[i].isdigit():
            m = re.match(r"\d+", name[i:])
            n = int(m.group())
            i += len(m.group())
            parts.append(name[i:i + n])
            i += n
        parts = [p for p in parts if not re.fullmatch(r"h[0-9a-f]{16}", p)]
        esc = {"$LT$": "<", "$GT$": ">", "$u20$": " ", "$RF$": "&", "$BP$": "*", "$C$": ",", "..": "::",
               "$u5b$": "[", "$u5d$": "]", "$u7b$": "{", "$u7d$": "}", "$LP$": "(", "$RP$": ")"}
        text = "::".join(parts)
        for k, v in esc.items():
            text = text.replace(k, v)
        # `<Type as Trait>::method` counts for Type's module.
        m = re.match(r"_?<[&*\[ ]*(?:mut )?(?:dyn )?([A-Za-z_][A-Za-z0-9_:]*)", text)
        if m:
            return m.group(1) + "::<impl>"
        return text
    return name


def main():
    data = open(sys.argv[1], "rb").read()
    depth = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    i, imports, bodies, names, data_bytes = 8, 0, [], {}, 0
    while i < len(data):
        sid = data[i]
        size, j = leb(data, i + 1)
        end = j + size
        if sid == 2:  # imports: count function imports (they take the first indexes)
            n, k = leb(data, j)
            for _ in range(n):
                for _ in range(2):
                    ln, k = leb(data, k)
                    k += ln
                kind = data[k]
                k += 1
                if kind == 0:
                    imports += 1
                    _, k = leb(data, k)
                elif kind == 1:
                    k += 1
                    flags, k = leb(data, k)
                    _, k = leb(data, k)
                    if flags & 1:
                        _, k = leb(data, k)
                elif kind == 2:
                    flags, k = leb(data, k)
                    _, k = leb(data, k)
                    if flags & 1:
                        _, k = leb(data, k)
                elif kind == 3:
                    k += 2
                else:  # tag
                    k += 1
                    _, k = leb(data, k)
        elif sid == 10:
            n, k = leb(data, j)
            for _ in range(n):
                sz, k2 = leb(data, k)
                bodies.append(sz + (k2 - k))
                k = k2 + sz
        elif sid == 11:
            data_bytes = size
        elif sid == 0:
            ln, k = leb(data, j)
            if data[k:k + ln] == b"name":
                k += ln
                while k < end:
                    sub = data[k]
                    ssz, k2 = leb(data, k + 1)
                    if sub == 1:
                        n, m = leb(data, k2)
                        for _ in range(n):
                            idx, m = leb(data, m)
                            ln2, m = leb(data, m)
                            names[idx] = data[m:m + ln2].decode("utf-8", "replace")
                            m += ln2
                    k = k2 + ssz
        i = end
    groups = defaultdict(int)
    for n, sz in enumerate(bodies):
        path = demangle(names.get(imports + n, "?"))
        path = re.sub(r"<[^<>]*>", "", re.sub(r"<[^<>]*>", "", path))
        key = "::".join(p for p in path.split("::") if p)[:200].split("::")[:depth]
        groups["::".join(key)] += sz
    total = sum(bodies)
    print(f"code {total / 1024:.1f} KiB in {len(bodies)} functions; data segments {data_bytes / 1024:.1f} KiB")
    for k, v in sorted(groups.items(), key=lambda kv: -kv[1])[:40]:
        print(f"{v / 1024:8.1f} KiB  {v / total * 100:5.1f}%  {k}")


try:
    main()
except BrokenPipeError:
    pass
