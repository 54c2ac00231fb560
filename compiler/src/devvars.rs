//! `.dev.vars`: the local secrets file `wrangler dev` reads, which `apexc serve` reads too, so
//! one file serves both.
//!
//! Format (the dotenv subset wrangler documents): `NAME=value` per line; blank lines and lines
//! starting with `#` are ignored; an optional `export ` prefix; values may be wrapped in double
//! quotes (`\n`, `\"`, `\\` escapes) or single quotes (taken literally); an unquoted value ends
//! at ` #` (a trailing comment) and is trimmed.
//!
//! Values are secrets: nothing here prints or formats them, and malformed lines are reported by
//! line number only.

use std::collections::HashMap;
use std::path::Path;

/// The variables of one `.dev.vars` file.
#[derive(Debug, Default)]
pub struct DevVars {
    pub vars: HashMap<String, String>,
    /// 1-based numbers of lines that are neither blank, a comment, nor `NAME=value`.
    pub malformed: Vec<usize>,
}

/// Reads `path`. A missing file is `Ok(None)`: the file is optional.
pub fn read(path: &Path) -> std::io::Result<Option<DevVars>> {
    match std::fs::read_to_string(path) {
        Ok(src) => Ok(Some(parse(&src))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Parses `.dev.vars` text. A later line for the same name wins (as in wrangler).
pub fn parse(src: &str) -> DevVars {
    let mut out = DevVars::default();
    for (i, raw) in src.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            out.malformed.push(i + 1);
            continue;
        };
        let name = name.trim();
        let valid_name = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        match (valid_name, unquote(value.trim())) {
            (true, Some(value)) => {
                out.vars.insert(name.to_owned(), value);
            }
            _ => out.malformed.push(i + 1),
        }
    }
    out
}

/// The value part of a line, or `None` when a quote is left open.
fn unquote(v: &str) -> Option<String> {
    if let Some(rest) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => match chars.next()? {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    other => out.push(other),
                },
                c => out.push(c),
            }
        }
        None
    } else if let Some(rest) = v.strip_prefix('\'') {
        rest.find('\'').map(|end| rest[..end].to_owned())
    } else {
        let end = v.find(" #").or_else(|| v.find("\t#")).unwrap_or(v.len());
        Some(v[..end].trim_end().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_quoted_and_commented_lines() {
        let v = parse(
            "# local keys\n\nGATEWAY_KEY=sk-local\nexport UP_KEY = \"a b\\\"c\"  \nSINGLE='x#y'\nTRAIL=abc # note\nEMPTY=\nHASH=ab#cd\n",
        );
        assert_eq!(v.malformed, Vec::<usize>::new());
        let get = |k: &str| v.vars.get(k).map(String::as_str);
        assert_eq!(get("GATEWAY_KEY"), Some("sk-local"));
        assert_eq!(get("UP_KEY"), Some("a b\"c"));
        assert_eq!(get("SINGLE"), Some("x#y"));
        assert_eq!(get("TRAIL"), Some("abc"));
        assert_eq!(get("EMPTY"), Some(""));
        assert_eq!(get("HASH"), Some("ab#cd"));
    }

    #[test]
    fn later_lines_win_and_bad_lines_are_reported_by_number() {
        let v = parse("A=1\nnot a pair\nA=2\n1BAD=x\nOPEN=\"unterminated\n");
        assert_eq!(v.vars.get("A").map(String::as_str), Some("2"));
        assert_eq!(v.malformed, vec![2, 4, 5]);
        assert_eq!(v.vars.len(), 1);
    }

    #[test]
    fn a_missing_file_is_not_an_error() {
        let missing = std::env::temp_dir().join("apexc-no-such-dir-xyz/.dev.vars");
        assert!(matches!(read(&missing), Ok(None)));
    }
}
