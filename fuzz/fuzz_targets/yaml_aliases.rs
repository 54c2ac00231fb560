//! The YAML loader under anchors and aliases: whatever the nesting of `&anchor`s, `*alias`es
//! and merge keys, parsing ends with either a document no bigger than the source plus the alias
//! budget, or diagnostics that render with a file:line:col. Never a panic, never unbounded
//! memory (libFuzzer's -rss_limit_mb catches that).
//!
//! The first byte picks the mode: even, the rest of the input is YAML text as is; odd, the rest
//! is a program that writes an alias-heavy document (so the fuzzer spends its time where the
//! budget matters rather than rediscovering YAML syntax).
#![no_main]
use apexc::diagnostics::Diagnostics;
use apexc::load::yaml::{self, ALIAS_BUDGET};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let src = if mode % 2 == 0 {
        match std::str::from_utf8(rest) {
            Ok(s) => s.to_string(),
            Err(_) => return,
        }
    } else {
        program(rest)
    };
    let mut diags = Diagnostics::new("proxy.yaml", src.as_str());
    match yaml::parse(&src, &mut diags) {
        Some(doc) => {
            let n = doc.value.as_ref().map_or(0, count);
            assert!(
                n <= src.len() + ALIAS_BUDGET + 1,
                "{n} values from {} bytes: aliases escaped the budget",
                src.len()
            );
            let _ = diags.to_string();
        }
        None => {
            assert!(diags.has_errors(), "no document and no error");
            let out = diags.to_string();
            assert!(out.starts_with("proxy.yaml:"), "{out}");
        }
    }
});

/// Values in a JSON tree, itself included.
fn count(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(count).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(count).sum::<usize>(),
        _ => 1,
    }
}

/// A document of top-level anchored entries `kN: &aN ...`, each byte pair choosing the shape of
/// the next one from the anchors before it: a flow list of aliases, a mapping merging one, a
/// block list, a scalar.
fn program(ops: &[u8]) -> String {
    let mut out = String::new();
    let mut anchors = 0usize;
    for (i, pair) in ops.chunks(2).enumerate() {
        let op = pair[0];
        let arg = pair.get(1).copied().unwrap_or(0) as usize;
        let fan = arg % 12 + 1;
        let alias = |k: usize| {
            if anchors == 0 {
                "x".to_string()
            } else {
                format!("*a{}", (arg + k) % anchors)
            }
        };
        let body = match op % 5 {
            0 => format!("\"s{arg}\""),
            1 => format!("[{}]", (0..fan).map(alias).collect::<Vec<_>>().join(", ")),
            2 => format!("{{<<: {}, k: {}}}", alias(0), alias(1)),
            3 => (0..fan).map(|k| format!("\n  - {}", alias(k))).collect(),
            _ => format!("{{a: {}, b: [{}, {}]}}", alias(0), alias(1), alias(2)),
        };
        out.push_str(&format!("k{i}: &a{anchors} {body}\n"));
        anchors += 1;
    }
    out
}
