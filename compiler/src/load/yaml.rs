//! YAML text → `serde_json::Value` plus the source position of every value and key.
//!
//! serde-style YAML deserializers forget where things were; diagnostics need it. So the text is
//! read with saphyr's event parser (which reports a span per event) into a small marked tree,
//! and the tree is converted to JSON while a [`SpanMap`] records, for each path, where its value
//! is and where the key that names it is. Duplicate keys are detected here, where both spellings
//! are still visible. Scalars are typed by YAML 1.2's core schema (`86400` is a number,
//! `2025-01-01-preview` a string, `true` a bool, `~`/empty a null).

use crate::diagnostics::{Diagnostic, Diagnostics, Span};
use saphyr_parser::{Event, Parser, ScalarStyle, Span as YSpan, Tag};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

/// A path into the document: object keys and list indexes (as decimal strings).
pub type Path = Vec<String>;

/// Where a value sits in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// The value itself (for a mapping or list: where it starts).
    pub value: Span,
    /// The key that names it, when it is a mapping entry.
    pub key: Option<Span>,
}

impl Place {
    /// The key when there is one, else the value: where "this whole entry" errors point.
    pub fn key_or_value(&self) -> Span {
        self.key.unwrap_or(self.value)
    }
}

/// Source positions of everything in a document, by path.
#[derive(Debug, Clone, Default)]
pub struct SpanMap {
    places: HashMap<Path, Place>,
}

impl SpanMap {
    pub fn get(&self, path: &[String]) -> Option<&Place> {
        self.places.get(path)
    }

    /// The place of `path`, or of its nearest ancestor that has one.
    pub fn nearest(&self, path: &[String]) -> Place {
        (0..=path.len())
            .rev()
            .find_map(|n| self.places.get(&path[..n]).copied())
            .unwrap_or(Place {
                value: Span::start(),
                key: None,
            })
    }
}

/// A parsed document: the JSON value and where each part of it came from. `value` is `None`
/// when the file holds no document at all (empty or only comments).
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Option<Value>,
    pub spans: SpanMap,
}

/// Parses `src`. Syntax errors and duplicate keys are pushed to `diags`; a syntax error stops
/// parsing (nothing after it can be trusted), so the document is `None` then.
pub fn parse(src: &str, diags: &mut Diagnostics) -> Option<Document> {
    let tree = match TreeBuilder::new(src).build() {
        Ok(tree) => tree,
        Err(err) => {
            diags.push(err);
            return None;
        }
    };
    let mut spans = SpanMap::default();
    let value = tree.map(|root| {
        let mut path = Vec::new();
        spans.places.insert(
            Vec::new(),
            Place {
                value: root.span(),
                key: None,
            },
        );
        to_json(&root, &mut path, &mut spans, diags)
    });
    Some(Document { value, spans })
}

/// The marked tree: YAML nodes with their spans.
#[derive(Debug, Clone)]
enum Node {
    Scalar {
        text: String,
        style: ScalarStyle,
        tag: Option<Tag>,
        span: Span,
    },
    Seq {
        items: Vec<Node>,
        span: Span,
    },
    Map {
        entries: Vec<(Node, Node)>,
        span: Span,
    },
}

impl Node {
    fn span(&self) -> Span {
        match self {
            Node::Scalar { span, .. } | Node::Seq { span, .. } | Node::Map { span, .. } => *span,
        }
    }

    /// How many values this node holds, itself included.
    fn count(&self) -> usize {
        match self {
            Node::Scalar { .. } => 1,
            Node::Seq { items, .. } => 1 + items.iter().map(Node::count).sum::<usize>(),
            Node::Map { entries, .. } => {
                1 + entries
                    .iter()
                    .map(|(k, v)| k.count() + v.count())
                    .sum::<usize>()
            }
        }
    }

    fn with_span(mut self, new: Span) -> Node {
        match &mut self {
            Node::Scalar { span, .. } | Node::Seq { span, .. } | Node::Map { span, .. } => {
                *span = new
            }
        }
        self
    }
}

fn span_of(y: &YSpan) -> Span {
    Span::new(y.start.line(), y.start.col() + 1, y.len())
}

/// Most values that aliases may add to a document. Each `*alias` copies its anchor's whole
/// value, so a 1 KB file of nested aliases ("billion laughs") would otherwise expand to
/// billions of values and take the CI check's memory with it. A real config that shares a few
/// route lists stays in the hundreds.
pub const ALIAS_BUDGET: usize = 25_000;

/// How deeply lists and mappings may nest. Building the tree, the JSON value and validating it
/// all recurse, so a file of 100,000 `[` must stop here rather than overflow the stack; a real
/// config is about six levels deep.
pub const MAX_DEPTH: usize = 64;

struct TreeBuilder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    /// Each anchor's value and how many values it holds (what an alias to it costs).
    anchors: HashMap<usize, (Node, usize)>,
    /// Values added by aliases so far, against [`ALIAS_BUDGET`].
    expanded: usize,
    /// Lists and mappings open around the current event, against [`MAX_DEPTH`].
    depth: usize,
    /// The source as characters (saphyr's indexes count characters), to trim scalar spans.
    chars: Vec<char>,
}

impl<'a> TreeBuilder<'a> {
    fn new(src: &'a str) -> Self {
        TreeBuilder {
            parser: Parser::new_from_str(src),
            anchors: HashMap::new(),
            expanded: 0,
            depth: 0,
            chars: src.chars().collect(),
        }
    }

    /// A scalar's span without the blanks saphyr sometimes includes after it in flow context.
    fn scalar_span(&self, y: &YSpan) -> Span {
        let (start, mut end) = (y.start.index(), y.end.index().min(self.chars.len()));
        while end > start && self.chars[end - 1].is_whitespace() {
            end -= 1;
        }
        Span::new(y.start.line(), y.start.col() + 1, end.saturating_sub(start))
    }

    fn next(&mut self) -> Result<(Event<'a>, YSpan), Diagnostic> {
        match self.parser.next_event() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => {
                let m = e.marker();
                let d = Diagnostic::error(
                    Span::new(m.line().max(1), m.col() + 1, 1),
                    format!("YAML syntax error: {}", e.info()),
                );
                Err(match unclosed_bracket(&self.chars, m.line()) {
                    Some((line, open)) => {
                        d.with_help(format!("the `{open}` on line {line} is never closed"))
                    }
                    None => d,
                })
            }
            None => Err(Diagnostic::error(
                Span::start(),
                "YAML syntax error: unexpected end of input",
            )),
        }
    }

    /// The stream's single document, if any.
    fn build(mut self) -> Result<Option<Node>, Diagnostic> {
        let mut root = None;
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => return Ok(root),
                Event::DocumentStart(_) => {
                    if root.is_some() {
                        return Err(Diagnostic::error(
                            span_of(&span),
                            "a second YAML document (after `---`); proxy.yaml holds exactly one",
                        ));
                    }
                    let (ev, span) = self.next()?;
                    root = Some(self.node(ev, span)?);
                }
                other => root = Some(self.node(other, span)?),
            }
        }
    }

    fn node(&mut self, ev: Event<'a>, yspan: YSpan) -> Result<Node, Diagnostic> {
        // A list or mapping is pointed at by its first character.
        let span = Span {
            len: 1,
            ..span_of(&yspan)
        };
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let span = self.scalar_span(&yspan);
                let node = Node::Scalar {
                    text: text.into_owned(),
                    style,
                    tag: tag.map(|t| t.into_owned()),
                    span,
                };
                Ok(self.remember(anchor, node))
            }
            Event::SequenceStart(anchor, _) => self.nested(span, |b| b.seq(anchor, span)),
            Event::MappingStart(anchor, _) => self.nested(span, |b| b.map(anchor, span)),
            Event::Alias(id) => self.alias(id, span),
            other => Err(Diagnostic::error(
                span,
                format!("YAML syntax error: unexpected {other:?}"),
            )),
        }
    }

    /// Runs `inner` (reading a list or mapping) one level deeper, refusing past [`MAX_DEPTH`].
    fn nested(
        &mut self,
        span: Span,
        inner: impl FnOnce(&mut Self) -> Result<Node, Diagnostic>,
    ) -> Result<Node, Diagnostic> {
        if self.depth >= MAX_DEPTH {
            return Err(Diagnostic::error(
                span,
                format!("lists and mappings are nested more than {MAX_DEPTH} levels deep"),
            )
            .with_help(
                "a proxy.yaml is a few levels deep; look for a run of unclosed `[` or `{`",
            ));
        }
        self.depth += 1;
        let node = inner(self);
        self.depth -= 1;
        node
    }

    /// A list's items, up to its end event.
    fn seq(&mut self, anchor: usize, span: Span) -> Result<Node, Diagnostic> {
        let mut items = Vec::new();
        loop {
            let (ev, s) = self.next()?;
            if matches!(ev, Event::SequenceEnd) {
                break;
            }
            items.push(self.node(ev, s)?);
        }
        Ok(self.remember(anchor, Node::Seq { items, span }))
    }

    /// A mapping's entries, up to its end event.
    fn map(&mut self, anchor: usize, span: Span) -> Result<Node, Diagnostic> {
        let mut entries = Vec::new();
        loop {
            let (ev, s) = self.next()?;
            if matches!(ev, Event::MappingEnd) {
                break;
            }
            let key = self.node(ev, s)?;
            let (ev, s) = self.next()?;
            let value = self.node(ev, s)?;
            entries.push((key, value));
        }
        Ok(self.remember(anchor, Node::Map { entries, span }))
    }

    /// Records `node` under `anchor` (0: none) for later aliases, with its size.
    fn remember(&mut self, anchor: usize, node: Node) -> Node {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), node.count()));
        }
        node
    }

    /// A copy of the anchored value, charged against [`ALIAS_BUDGET`] before it is made.
    fn alias(&mut self, id: usize, span: Span) -> Result<Node, Diagnostic> {
        let Some((node, size)) = self.anchors.get(&id) else {
            return Err(Diagnostic::error(
                span,
                "YAML alias refers to an anchor that is not defined before it",
            ));
        };
        self.expanded = self.expanded.saturating_add(*size);
        if self.expanded > ALIAS_BUDGET {
            return Err(Diagnostic::error(
                span,
                format!("YAML aliases expand to more than {ALIAS_BUDGET} values"),
            )
            .with_help("each `*alias` copies its anchor's whole value, and aliases inside anchors multiply; write the repeated parts out, or alias fewer times"));
        }
        Ok(node.clone().with_span(span))
    }
}

/// The last line before `error_line` that opens a flow `[` or `{` it does not close, if any
/// (quotes and comments skipped): the usual cause of a syntax error reported lines later.
fn unclosed_bracket(chars: &[char], error_line: usize) -> Option<(usize, char)> {
    let text: String = chars.iter().collect();
    let mut found = None;
    for (i, line) in text.lines().enumerate().take(error_line.saturating_sub(1)) {
        let mut stack = Vec::new();
        let mut quote = None;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') => break,
                (None, '[' | '{') => stack.push(c),
                (None, ']' | '}') => {
                    stack.pop();
                }
                _ => {}
            }
        }
        if let Some(&open) = stack.first() {
            found = Some((i + 1, open));
        }
    }
    found
}

fn to_json(node: &Node, path: &mut Path, spans: &mut SpanMap, diags: &mut Diagnostics) -> Value {
    match node {
        Node::Scalar {
            text, style, tag, ..
        } => scalar(text, *style, tag.as_ref()),
        Node::Seq { items, .. } => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                spans.places.insert(
                    path.clone(),
                    Place {
                        value: item.span(),
                        key: None,
                    },
                );
                out.push(to_json(item, path, spans, diags));
                path.pop();
            }
            Value::Array(out)
        }
        Node::Map { entries, .. } => {
            let mut out = Map::new();
            let mut first_seen: HashMap<String, Span> = HashMap::new();
            for (key, value) in entries {
                let Node::Scalar { text: name, .. } = key else {
                    diags.push(Diagnostic::error(
                        key.span(),
                        "a key must be a plain name, not a list or a mapping",
                    ));
                    continue;
                };
                if let Some(first) = first_seen.get(name) {
                    let earlier = if first.line == key.span().line {
                        "earlier on this line".to_string()
                    } else {
                        format!("on line {}", first.line)
                    };
                    diags.push(
                        Diagnostic::error(
                            key.span(),
                            format!("duplicate key \"{name}\" (first defined {earlier})"),
                        )
                        .with_help("a key can appear only once in a mapping; remove or rename one"),
                    );
                    continue;
                }
                first_seen.insert(name.clone(), key.span());
                path.push(name.clone());
                spans.places.insert(
                    path.clone(),
                    Place {
                        value: value.span(),
                        key: Some(key.span()),
                    },
                );
                let v = to_json(value, path, spans, diags);
                path.pop();
                out.insert(name.clone(), v);
            }
            Value::Object(out)
        }
    }
}

/// Types a scalar by YAML 1.2's core schema: quoted scalars and block scalars are strings;
/// plain ones may be null, bool, integer or float; explicit `!!str`/`!!int`/... tags win.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag.filter(|t| t.is_yaml_core_schema()) {
        return match tag.suffix.as_str() {
            "str" => Value::String(text.to_string()),
            "null" => Value::Null,
            _ => plain(text),
        };
    }
    if style != ScalarStyle::Plain {
        return Value::String(text.to_string());
    }
    plain(text)
}

fn plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(n) = integer(text) {
        return Value::Number(n);
    }
    if is_float(text) {
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(text.to_string())
}

fn integer(text: &str) -> Option<Number> {
    let (neg, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = if let Some(oct) = text.strip_prefix("0o") {
        u64::from_str_radix(oct, 8).ok()?
    } else if let Some(hex) = text.strip_prefix("0x") {
        u64::from_str_radix(hex, 16).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<u64>().ok()?
    } else {
        return None;
    };
    if neg {
        i64::try_from(magnitude).ok().map(|m| Number::from(-m))
    } else {
        Some(Number::from(magnitude))
    }
}

/// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?` (infinities and NaN
/// cannot be represented in JSON and stay strings).
fn is_float(text: &str) -> bool {
    let s = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], Some(&mantissa[i + 1..])),
        None => (mantissa, None),
    };
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(f) => digits(int) && digits(f) && (!int.is_empty() || !f.is_empty()),
        None => !int.is_empty() && digits(int),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(src: &str) -> (Value, SpanMap) {
        let mut d = Diagnostics::new("t.yaml", src);
        let doc = parse(src, &mut d).expect("parses");
        assert!(d.is_empty(), "{d}");
        (doc.value.expect("a document"), doc.spans)
    }

    #[test]
    fn types_scalars_by_the_core_schema() {
        let (v, _) = parse_ok(
            "a: 86400\nb: 2025-01-01-preview\nc: true\nd:\ne: '12'\nf: 1.5\ng: -3\nh: 0x1F\n",
        );
        assert_eq!(
            v,
            serde_json::json!({"a": 86400, "b": "2025-01-01-preview", "c": true, "d": null, "e": "12", "f": 1.5, "g": -3, "h": 31})
        );
    }

    #[test]
    fn records_key_and_value_places() {
        let (_, spans) = parse_ok("providers:\n  deepseek:\n    kind: openai\n");
        let p = spans
            .get(&["providers".into(), "deepseek".into(), "kind".into()])
            .unwrap();
        assert_eq!(p.key, Some(Span::new(3, 5, 4)));
        assert_eq!(p.value, Span::new(3, 11, 6));
    }

    #[test]
    fn resolves_aliases() {
        let (v, _) = parse_ok("a: &x { k: 1 }\nb: *x\n");
        assert_eq!(v["b"], serde_json::json!({"k": 1}));
    }
}

#[cfg(test)]
mod budget_tests {
    use super::*;

    /// `levels` levels of ten aliases each: six make a 400-byte file of a million values.
    fn laughs(levels: usize) -> String {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..=levels {
            let p = i - 1;
            src.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        src
    }

    #[test]
    fn alias_expansion_past_the_budget_is_one_error_at_the_alias() {
        let src = laughs(6);
        let mut d = Diagnostics::new("t.yaml", src.as_str());
        assert!(
            parse(&src, &mut d).is_none(),
            "a billion laughs must not load"
        );
        let out = d.to_string();
        assert_eq!(d.error_count(), 1, "{out}");
        assert!(out.contains("aliases expand to more than"), "{out}");
        // Points at an alias on the line where the budget ran out.
        assert!(out.starts_with("t.yaml:"), "{out}");
        assert!(out.contains("*a"), "{out}");
    }

    #[test]
    fn aliases_within_the_budget_still_load() {
        let src = laughs(2); // 1,000 scalars
        let mut d = Diagnostics::new("t.yaml", src.as_str());
        let doc = parse(&src, &mut d).expect("parses");
        assert!(d.is_empty(), "{d}");
        assert_eq!(doc.value.unwrap()["a2"][9][9][9], "x");
    }

    #[test]
    fn nesting_past_the_limit_is_one_clear_error() {
        let src = format!("a: {}{}\n", "[".repeat(100), "]".repeat(100));
        let mut d = Diagnostics::new("t.yaml", src.as_str());
        assert!(parse(&src, &mut d).is_none());
        assert!(d.to_string().contains("nested"), "{d}");
    }
}
