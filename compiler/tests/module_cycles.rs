//! No import cycles, between the runtime's top-level modules or between any two files of the
//! runtime or the compiler.
//!
//! A request should flow one way through the runtime (hosts → gateway → attempt → upstream →
//! wire), and a newcomer should be able to read a file knowing only what it names. A cycle
//! breaks both: it is how control ends up bouncing between modules. This test reads every
//! source file, collects the paths it names outside comments and `#[cfg(test)]` modules
//! (`crate::…`, `super::…`, `self::…` and its own child modules, `use` groups expanded), maps
//! each to the file that defines it, and fails on every strongly connected group of files (or of
//! top-level modules) with the lines that make it.
//!
//! `mod x;` declarations are not edges; everything else is, a parent's `pub use child::Item`
//! included.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path (`["router", "forward"]`); the crate root is `[]`.
type ModPath = Vec<String>;

struct Source {
    module: ModPath,
    /// Child modules declared in this file (`mod x;` / `pub mod x;`).
    children: BTreeSet<String>,
    code: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn module_of(src: &Path, file: &Path) -> ModPath {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    match last.as_str() {
        "lib.rs" | "main.rs" if parts.is_empty() => {}
        "mod.rs" => {}
        other => parts.push(other.trim_end_matches(".rs").to_owned()),
    }
    parts
}

/// The code without comments, string/char literals (emptied) and `#[cfg(test)]` items.
fn code_of(text: &str) -> String {
    let stripped = strip_literals(text);
    let mut out = String::new();
    let mut rest = stripped.as_str();
    while let Some(i) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        // Skip the attribute's item: up to its `;` or its balanced `{ … }`.
        let open = after.find('{');
        let semi = after.find(';');
        let end = match (open, semi) {
            (Some(o), Some(s)) if s < o => s + 1,
            (Some(o), _) => balanced_end(after, o),
            (None, Some(s)) => s + 1,
            (None, None) => after.len(),
        };
        // Keep the line count, so reported line numbers stay right.
        out.extend(after[..end].chars().filter(|c| *c == '\n'));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn balanced_end(s: &str, open: usize) -> usize {
    let mut depth = 0usize;
    for (i, c) in s.char_indices().skip_while(|(i, _)| *i < open) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    s.len()
}

/// Comments removed, the insides of string and char literals blanked (newlines kept).
fn strip_literals(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let at = |i: usize| b.get(i).copied().unwrap_or('\0');
    while i < b.len() {
        let c = b[i];
        if c == '/' && at(i + 1) == '/' {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            i += 2;
            while i < b.len() && !(b[i] == '*' && at(i + 1) == '/') {
                if b[i] == '\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 2;
        } else if c == 'r'
            && (at(i + 1) == '"' || (at(i + 1) == '#' && !at(i.wrapping_sub(1)).is_alphanumeric()))
        {
            // raw string r"…" / r#"…"#
            let mut j = i + 1;
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            if at(j) != '"' {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|h| at(j + 1 + h) == '#') {
                    j += 1 + hashes;
                    break;
                }
                if b[j] == '\n' {
                    out.push('\n');
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                if at(i) == '\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if at(i + 1) == '\\' {
                let mut j = i + 2;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push_str("' '");
            } else if at(i + 2) == '\'' {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every path the code names that starts at `crate`, `super`, `self` or a child module,
/// with its line; `use` groups (`a::{b, c::d}`) expanded.
fn paths_in(code: &str, children: &BTreeSet<String>) -> Vec<(Vec<String>, usize)> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\n' {
            line += 1;
        }
        let starts_word = i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == ':');
        if starts_word && is_ident(chars[i]) {
            let mut j = i;
            while j < chars.len() && is_ident(chars[j]) {
                j += 1;
            }
            let word: String = chars[i..j].iter().collect();
            let follows_path = chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&':');
            let preceded_by_mod = code[..chars[..i].iter().map(|c| c.len_utf8()).sum()]
                .trim_end()
                .ends_with("mod");
            if follows_path
                && !preceded_by_mod
                && (matches!(word.as_str(), "crate" | "super" | "self") || children.contains(&word))
            {
                let (paths, end) = read_path(&chars, i);
                for p in paths {
                    out.push((p, line));
                }
                line += chars[i..end].iter().filter(|c| **c == '\n').count();
                i = end;
                continue;
            }
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// The path(s) at `i`: `a::b::C` or `a::{b, c::{d, e}}`; and where they end.
fn read_path(chars: &[char], mut i: usize) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    loop {
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        if chars.get(i) == Some(&'{') {
            let mut all = Vec::new();
            i += 1;
            loop {
                while chars.get(i).is_some_and(|c| c.is_whitespace() || *c == ',') {
                    i += 1;
                }
                match chars.get(i) {
                    None => return (all, i),
                    Some('}') => return (all, i + 1),
                    _ => {}
                }
                let (subs, end) = read_path(chars, i);
                if end == i {
                    i += 1; // `*` or something unexpected
                    continue;
                }
                for s in subs {
                    let mut p = prefix.clone();
                    p.extend(s);
                    all.push(p);
                }
                i = end;
            }
        }
        let start = i;
        while chars.get(i).is_some_and(|c| is_ident(*c)) {
            i += 1;
        }
        if i == start {
            return (vec![prefix], i);
        }
        prefix.push(chars[start..i].iter().collect());
        if chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
            i += 2;
        } else {
            return (vec![prefix], i);
        }
    }
}

/// The file module a path names, from `from`.
fn resolve(from: &ModPath, path: &[String], modules: &BTreeSet<ModPath>) -> Option<ModPath> {
    let mut base: ModPath;
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            base = Vec::new();
            rest = &path[1..];
        }
        Some("super") | Some("self") => {
            base = from.clone();
            while let Some(seg) = rest.first() {
                match seg.as_str() {
                    "super" => {
                        base.pop()?;
                    }
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
        }
        _ => base = from.clone(), // a child module
    }
    let mut best = base.clone();
    for seg in rest {
        base.push(seg.clone());
        if modules.contains(&base) {
            best = base.clone();
        } else {
            break;
        }
    }
    Some(best)
}

type Edges = BTreeMap<ModPath, BTreeMap<ModPath, Vec<String>>>;

fn graph(src: &Path) -> (Edges, String) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut sources = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let code = code_of(&text);
        let children = code
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                let l = l.strip_prefix("pub ").unwrap_or(l);
                let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
                l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
            })
            .collect();
        sources.push((
            f.strip_prefix(src).unwrap().display().to_string(),
            Source {
                module: module_of(src, f),
                children,
                code,
            },
        ));
    }
    let modules: BTreeSet<ModPath> = sources.iter().map(|(_, s)| s.module.clone()).collect();
    let names: BTreeMap<ModPath, String> = sources
        .iter()
        .map(|(n, s)| (s.module.clone(), n.clone()))
        .collect();
    let mut edges: Edges = BTreeMap::new();
    for (name, s) in &sources {
        for (path, line) in paths_in(&s.code, &s.children) {
            let Some(to) = resolve(&s.module, &path, &modules) else {
                continue;
            };
            if to == s.module || to.is_empty() {
                continue;
            }
            edges
                .entry(s.module.clone())
                .or_default()
                .entry(to.clone())
                .or_default()
                .push(format!("{name}:{line} names {}", path.join("::")));
        }
    }
    let _ = names;
    (edges, src.display().to_string())
}

/// Strongly connected groups of more than one node (Tarjan).
fn cycles(nodes: &BTreeSet<ModPath>, next: &dyn Fn(&ModPath) -> Vec<ModPath>) -> Vec<Vec<ModPath>> {
    struct S<'a> {
        index: BTreeMap<ModPath, usize>,
        low: BTreeMap<ModPath, usize>,
        stack: Vec<ModPath>,
        on: BTreeSet<ModPath>,
        out: Vec<Vec<ModPath>>,
        next: &'a dyn Fn(&ModPath) -> Vec<ModPath>,
    }
    fn visit(s: &mut S<'_>, v: &ModPath) {
        let n = s.index.len();
        s.index.insert(v.clone(), n);
        s.low.insert(v.clone(), n);
        s.stack.push(v.clone());
        s.on.insert(v.clone());
        for w in (s.next)(v) {
            if !s.index.contains_key(&w) {
                visit(s, &w);
                let lw = s.low[&w];
                let lv = s.low[v];
                s.low.insert(v.clone(), lv.min(lw));
            } else if s.on.contains(&w) {
                let iw = s.index[&w];
                let lv = s.low[v];
                s.low.insert(v.clone(), lv.min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut group = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on.remove(&w);
                let done = &w == v;
                group.push(w);
                if done {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                s.out.push(group);
            }
        }
    }
    let mut s = S {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
        next,
    };
    for v in nodes {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn report(groups: &[Vec<ModPath>], evidence: &dyn Fn(&ModPath, &ModPath) -> Vec<String>) -> String {
    let mut msg = String::new();
    for g in groups {
        let names: Vec<String> = g.iter().map(|m| m.join("::")).collect();
        msg.push_str(&format!("\ncycle between {}:\n", names.join(", ")));
        for a in g {
            for b in g {
                for why in evidence(a, b).iter().take(3) {
                    msg.push_str(&format!("    {why}\n"));
                }
            }
        }
    }
    msg
}

fn check_files(src: &Path) -> String {
    let (edges, _) = graph(src);
    let nodes: BTreeSet<ModPath> = edges
        .iter()
        .flat_map(|(a, to)| std::iter::once(a.clone()).chain(to.keys().cloned()))
        .collect();
    let next = |v: &ModPath| {
        edges
            .get(v)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    };
    let groups = cycles(&nodes, &next);
    report(&groups, &|a, b| {
        edges
            .get(a)
            .and_then(|t| t.get(b))
            .cloned()
            .unwrap_or_default()
    })
}

fn check_top_modules(src: &Path) -> String {
    let (edges, _) = graph(src);
    let mut top: Edges = BTreeMap::new();
    for (a, to) in &edges {
        for (b, why) in to {
            let (Some(ta), Some(tb)) = (a.first(), b.first()) else {
                continue;
            };
            if ta != tb {
                top.entry(vec![ta.clone()])
                    .or_default()
                    .entry(vec![tb.clone()])
                    .or_default()
                    .extend(why.iter().cloned());
            }
        }
    }
    let nodes: BTreeSet<ModPath> = top
        .iter()
        .flat_map(|(a, to)| std::iter::once(a.clone()).chain(to.keys().cloned()))
        .collect();
    let next = |v: &ModPath| {
        top.get(v)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    };
    let groups = cycles(&nodes, &next);
    report(&groups, &|a, b| {
        top.get(a)
            .and_then(|t| t.get(b))
            .cloned()
            .unwrap_or_default()
    })
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn runtime_top_level_modules_form_no_cycle() {
    let found = check_top_modules(&root().join("../runtime/src"));
    assert!(found.is_empty(), "runtime modules in a cycle:{found}");
}

#[test]
fn runtime_files_form_no_cycle() {
    let found = check_files(&root().join("../runtime/src"));
    assert!(found.is_empty(), "runtime files in a cycle:{found}");
}

#[test]
fn compiler_files_form_no_cycle() {
    let found = check_files(&root().join("src"));
    assert!(found.is_empty(), "compiler files in a cycle:{found}");
}

/// The checker itself finds what it must: a two-file cycle through `use`, a parent/child
/// cycle through a child path and `super::`, and none where the edges only go one way.
#[test]
fn the_checker_sees_cycles() {
    let dir = std::env::temp_dir().join(format!("apexc-cycles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(dir.join("lib.rs"), "pub mod a;\npub mod b;\n").unwrap();
    std::fs::write(
        dir.join("a/mod.rs"),
        "pub mod inner;\n// crate::b::X in a comment is no edge\nuse crate::b::{X, Y};\nfn f() { inner::g(); }\n",
    )
    .unwrap();
    std::fs::write(dir.join("a/inner.rs"), "pub fn g() { super::f2(); }\n").unwrap();
    std::fs::write(
        dir.join("b.rs"),
        "pub struct X; pub struct Y;\nfn h() { let _ = \"crate::a::f\"; }\n",
    )
    .unwrap();
    let found = check_files(&dir);
    assert!(found.contains("cycle between a, a::inner"), "{found}");
    assert!(!found.contains("names crate::b"), "{found}");
    assert!(check_top_modules(&dir).is_empty());
    std::fs::write(
        dir.join("b.rs"),
        "pub struct X; pub struct Y;\nuse crate::a::inner;\n",
    )
    .unwrap();
    let found = check_top_modules(&dir);
    assert!(found.contains("cycle between a, b"), "{found}");
    assert!(found.contains("b.rs:2 names crate::a::inner"), "{found}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The places outside `upstream/` and `table.rs` whose code names a provider kind
/// (`Kind::…`, or a type path ending in `::Kind::…`), as `file:line`.
fn kind_mentions(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        if rel.starts_with("upstream") || rel == Path::new("table.rs") {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        for (n, line) in code.lines().enumerate() {
            let named = line
                .match_indices("Kind::")
                .any(|(at, _)| !line[..at].chars().next_back().is_some_and(is_ident));
            if named {
                found.push(format!("{}:{}", rel.display(), n + 1));
            }
        }
    }
    found
}

/// Adding an upstream kind touches only `upstream/`, the table and the compiler: everything
/// else asks `upstream::codec` which protocol a route speaks, never which kind it is.
#[test]
fn only_upstream_and_the_table_name_a_kind() {
    let found = kind_mentions(&root().join("../runtime/src"));
    assert!(
        found.is_empty(),
        "code outside runtime/src/upstream/ matches on a provider kind (ask upstream::codec::speaks instead): {found:?}"
    );
}

/// The check above sees a kind named in code, and not in comments, tests or other `…Kind::`.
#[test]
fn the_kind_check_sees_kinds() {
    let dir = std::env::temp_dir().join(format!("apexc-kinds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("upstream")).unwrap();
    std::fs::write(
        dir.join("upstream/mod.rs"),
        "fn f(k: Kind) -> bool { k == Kind::Mock }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("a.rs"),
        "// Kind::Mock in a comment\nfn g() { let _ = ToolKind::Custom; }\n#[cfg(test)]\nmod tests { fn t() { let _ = Kind::Mock; } }\n",
    )
    .unwrap();
    assert!(kind_mentions(&dir).is_empty(), "{:?}", kind_mentions(&dir));
    std::fs::write(
        dir.join("b.rs"),
        "fn h(p: &P) -> bool {\n    p.kind == crate::table::Kind::Anthropic\n}\n",
    )
    .unwrap();
    assert_eq!(kind_mentions(&dir), ["b.rs:2"]);
    let _ = std::fs::remove_dir_all(&dir);
}
