//! What every rule shares while checking one config: where things are, where diagnostics go,
//! and which paths a rule has claimed (so the schema pass does not report them again).

use crate::diagnostics::{Diagnostic, Diagnostics, Span};
use crate::load::yaml::{Path, Place, SpanMap};

/// What the rules share: where things are, where diagnostics go, which paths are claimed.
pub struct Context<'a> {
    spans: &'a SpanMap,
    diags: &'a mut Diagnostics,
    claimed: Vec<Path>,
}

impl<'a> Context<'a> {
    pub fn new(spans: &'a SpanMap, diags: &'a mut Diagnostics) -> Self {
        Context {
            spans,
            diags,
            claimed: Vec::new(),
        }
    }

    /// The paths whose problems the rules reported.
    pub fn into_claimed(self) -> Vec<Path> {
        self.claimed
    }

    fn place(&self, path: &[String]) -> Place {
        self.spans.nearest(path)
    }

    /// Where the value at `path` is.
    pub(super) fn value_span(&self, path: &[String]) -> Span {
        self.place(path).value
    }

    /// Where the entry at `path` is named (its key), else its value.
    pub(super) fn key_span(&self, path: &[String]) -> Span {
        self.place(path).key_or_value()
    }

    pub(super) fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// The schema pass will not report anything at or below `path`.
    pub(super) fn claim(&mut self, path: &[String]) {
        self.claimed.push(path.to_vec());
    }

    /// Never show the value at `path` in a rendered source line.
    pub fn mask(&mut self, path: &[String]) {
        if let Some(place) = self.spans.get(path) {
            self.diags.mask(place.value);
        }
    }
}
