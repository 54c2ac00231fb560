//! API keys and secret names.
//!
//! A config names secrets (`{ secret: DEEPSEEK_KEY }`); the keys themselves live in Workers
//! secrets or `.dev.vars`. People paste keys anyway. This module recognises keys (so they can be
//! rejected with instructions and masked in every rendered source line) and checks secret names.

use super::context::Context;
use super::paths::{each_text, Text};
use serde_json::Value;

pub use crate::key_shape::looks_like_api_key;

/// `^[A-Z][A-Z0-9_]*$`: what Workers, shells and `.dev.vars` all accept without quoting.
pub fn is_secret_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// A valid secret name made from `s` (`deepseek-key` → `DEEPSEEK_KEY`), if one can be.
pub fn secret_name_like(s: &str) -> Option<String> {
    let upper: String = s
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = upper.trim_matches('_');
    is_secret_name(trimmed).then(|| trimmed.to_string())
}

/// The secret name to suggest for key number `index` (0-based) of `count` under `owner`
/// (a provider id, or `GATEWAY` for gateway keys): `DEEPSEEK_KEY`, `DEEPSEEK_KEY_2`.
pub fn suggested_name(owner: &str, index: usize, count: usize) -> String {
    let base = secret_name_like(owner).unwrap_or_else(|| "PROVIDER".to_string());
    if count > 1 {
        format!("{base}_KEY_{}", index + 1)
    } else {
        format!("{base}_KEY")
    }
}

/// How to store a key as the secret `name`.
pub fn how_to_store(name: &str) -> String {
    format!(
        "store the key as a secret: `wrangler secret put {name}` for Workers, and a line \
         {name}=<key> in .dev.vars beside the config for apexc serve/dev; then write {{ secret: {name} }}"
    )
}

/// Masks, in every source line shown, each string value in the document that looks like a key,
/// wherever it is (even under a misspelled key, which the user will see quoted back).
pub(super) fn mask_key_lookalikes(value: &Value, cx: &mut Context) {
    each_text(value, &mut |path, text| {
        if let Text::Value(s) = text {
            if looks_like_api_key(s) {
                cx.mask(path);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_keys_from_names_and_model_ids() {
        assert!(looks_like_api_key("sk-abc123def456ghi789"));
        assert!(looks_like_api_key("gsk_0123456789abcdefXYZ"));
        assert!(looks_like_api_key("0123456789abcdef0123456789abcdef"));
        assert!(looks_like_api_key("Bearer sk-live-1234567890"));
        assert!(!looks_like_api_key("DEEPSEEK_KEY_1"));
        assert!(!looks_like_api_key("deepseek-r1-distill-qwen-32b"));
        assert!(!looks_like_api_key(
            "deepseek-ai/DeepSeek-R1-Distill-Llama-70B"
        ));
        assert!(!looks_like_api_key("https://api.deepseek.com/v1"));
        assert!(!looks_like_api_key("skeleton"));
    }

    #[test]
    fn suggests_secret_names() {
        assert!(is_secret_name("DEEPSEEK_KEY_1"));
        assert!(!is_secret_name("deepseek-key"));
        assert!(!is_secret_name("1KEY"));
        assert_eq!(secret_name_like("2ND_KEY"), None);
        assert_eq!(
            secret_name_like("deepseek-key").as_deref(),
            Some("DEEPSEEK_KEY")
        );
        assert_eq!(suggested_name("aliyuncs", 1, 2), "ALIYUNCS_KEY_2");
        assert_eq!(suggested_name("deep-seek", 0, 1), "DEEP_SEEK_KEY");
    }
}
