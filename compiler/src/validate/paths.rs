//! Naming a place in the config the way a user thinks of it: `provider "deepseek"`,
//! `route 2 of model "DeepSeek-R1"`, rather than `/providers/deepseek` or `/models/.../1`;
//! and visiting every place that holds text.

use crate::load::yaml::Path;
use serde_json::Value;

/// Text in the document, as [`each_text`] hands it over.
#[derive(Clone, Copy)]
pub enum Text<'a> {
    /// A mapping key; the path ends with it.
    Key(&'a str),
    /// A string value.
    Value(&'a str),
}

/// Calls `f` with the path and text of every mapping key and string value in `value`, in
/// document order, a key before what it holds.
pub fn each_text(value: &Value, f: &mut dyn FnMut(&Path, Text<'_>)) {
    fn walk(value: &Value, path: &mut Path, f: &mut dyn FnMut(&Path, Text<'_>)) {
        match value {
            Value::String(s) => f(path, Text::Value(s)),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(i.to_string());
                    walk(item, path, f);
                    path.pop();
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    path.push(k.clone());
                    f(path, Text::Key(k));
                    walk(v, path, f);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    walk(value, &mut Vec::new(), f);
}

/// What the value at `path` is, in words: `"kind" in provider "deepseek"`, `route 2 of model
/// "gpt-4o"`, `"name"`.
pub fn subject(path: &[String]) -> String {
    let Some((last, parent)) = path.split_last() else {
        return "the config".to_string();
    };
    let parent_strs: Vec<&str> = parent.iter().map(String::as_str).collect();
    match (parent_strs.as_slice(), last.parse::<usize>()) {
        ([], _) => format!("\"{last}\""),
        (["providers"], _) => format!("provider \"{last}\""),
        (["models"], _) => format!("model \"{last}\""),
        (["models", model, "routes"], Ok(i)) => format!("route {} of model \"{model}\"", i + 1),
        (["auth", "keys"], Ok(i)) => format!("auth key {}", i + 1),
        ([.., list], Ok(i)) => format!("entry {} of {}", i + 1, subject_of_list(parent, list)),
        ([.., "headers"], _) => format!(
            "header \"{last}\" of {}",
            subject(&parent[..parent.len() - 1])
        ),
        (_, _) => format!("\"{last}\" in {}", subject(parent)),
    }
}

fn subject_of_list(path: &[String], list: &str) -> String {
    if path.len() <= 1 {
        format!("\"{list}\"")
    } else {
        subject(path)
    }
}

/// Where an entry of the object at `path` is: `at the top level`, `in provider "deepseek"`.
pub fn container(path: &[String]) -> String {
    if path.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in {}", subject(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_places_in_words() {
        assert_eq!(subject(&p(&["name"])), "\"name\"");
        assert_eq!(
            subject(&p(&["providers", "deepseek", "kind"])),
            "\"kind\" in provider \"deepseek\""
        );
        assert_eq!(
            subject(&p(&["models", "m", "routes", "1", "weight"])),
            "\"weight\" in route 2 of model \"m\""
        );
        assert_eq!(
            subject(&p(&["providers", "d", "api_keys", "0"])),
            "entry 1 of \"api_keys\" in provider \"d\""
        );
        assert_eq!(
            subject(&p(&["auth", "keys", "0", "secret"])),
            "\"secret\" in auth key 1"
        );
        assert_eq!(container(&p(&[])), "at the top level");
    }
}
