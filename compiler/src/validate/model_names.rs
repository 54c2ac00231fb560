//! The names clients reach a model by: its own (exact, or a glob pattern), and its `aliases`.
//! Every name must lead to one model, and every pattern must be able to win for some name.

use super::context::Context;
use crate::diagnostics::Diagnostic;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub(super) fn check(root: &Map<String, Value>, cx: &mut Context) {
    let Some(models) = root.get("models").and_then(Value::as_object) else {
        return;
    };
    // Every exact name so far → the model that holds it (its own name, or the alias's model).
    let mut taken: BTreeMap<&str, &str> = models
        .keys()
        .filter(|n| !is_pattern(n))
        .map(|n| (n.as_str(), n.as_str()))
        .collect();
    for (name, model) in models {
        let Some(aliases) = model.get("aliases").and_then(Value::as_array) else {
            continue;
        };
        for (i, alias) in aliases.iter().enumerate() {
            let Some(alias) = alias.as_str() else {
                continue; // the schema pass reports a non-string
            };
            let at = vec![
                "models".to_owned(),
                name.clone(),
                "aliases".to_owned(),
                i.to_string(),
            ];
            if let Some(problem) = alias_problem(alias, name, &taken) {
                cx.push(problem.at(cx.value_span(&at)));
                cx.claim(&at);
                continue;
            }
            taken.insert(alias, name);
        }
    }
    shadowed_patterns(models, cx);
}

/// What is wrong with `alias` of model `name`, if anything.
fn alias_problem(alias: &str, name: &str, taken: &BTreeMap<&str, &str>) -> Option<Problem> {
    if is_pattern(alias) {
        return Some(Problem {
            message: format!("alias \"{alias}\" of model \"{name}\" is a pattern"),
            help: "an alias is one exact name; to route every name a pattern matches, make the pattern a model of its own (`models: { \"claude-*\": ... }`)".into(),
        });
    }
    if alias.contains('#') || alias.trim().is_empty() || alias.trim() != alias {
        return Some(Problem {
            message: format!("invalid alias \"{alias}\" of model \"{name}\""),
            help: "an alias is written like a model name: no \"#\", not empty, no spaces at either end".into(),
        });
    }
    let owner = taken.get(alias)?;
    let whose = if *owner == alias {
        format!("the name of model \"{alias}\"")
    } else {
        format!("already an alias of model \"{owner}\"")
    };
    Some(Problem {
        message: format!("alias \"{alias}\" of model \"{name}\" is {whose}"),
        help: "a name a client sends must lead to one model: remove one of the two".into(),
    })
}

struct Problem {
    message: String,
    help: String,
}

impl Problem {
    fn at(self, span: crate::diagnostics::Span) -> Diagnostic {
        Diagnostic::error(span, self.message).with_help(self.help)
    }
}

/// Two patterns that match the same names (`a**b` and `a*b`): the one the order puts second
/// can never be chosen.
fn shadowed_patterns(models: &Map<String, Value>, cx: &mut Context) {
    let mut patterns: Vec<&str> = models
        .keys()
        .map(String::as_str)
        .filter(|n| is_pattern(n))
        .collect();
    patterns.sort_by(|a, b| crate::codegen::routing::pattern_precedence(a, b));
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for p in patterns {
        let canonical = collapse_stars(p);
        if let Some(winner) = seen.get(&canonical) {
            let at = vec!["models".to_owned(), p.to_owned()];
            cx.push(
                Diagnostic::warning(
                    cx.key_span(&at),
                    format!("pattern \"{p}\" can never match: \"{winner}\" matches the same names and is chosen first"),
                )
                .with_help("remove one of the two, or make one of them more specific"),
            );
            continue;
        }
        seen.insert(canonical, p);
    }
}

fn is_pattern(name: &str) -> bool {
    apex_runtime::table::is_pattern(name)
}

fn collapse_stars(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        if !(c == '*' && out.ends_with('*')) {
            out.push(c);
        }
    }
    out
}
