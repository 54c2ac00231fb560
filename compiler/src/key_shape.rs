//! What an API key looks like, told apart from names, URLs and model ids.
//!
//! A leaf: validation rejects keys pasted into a config with it, and diagnostics mask every
//! key-looking token of a rendered source line with it.

/// Prefixes that real provider keys start with.
const KEY_PREFIXES: &[&str] = &[
    "sk-",
    "sk_",
    "gsk_",
    "xai-",
    "AIza",
    "hf_",
    "r8_",
    "pplx-",
    "csk-",
    "nvapi-",
    "ghp_",
    "github_pat_",
    "sess-",
    "Bearer ",
    "bearer ",
    "Basic ",
];

/// Whether `s` looks like an API key (or a whole `Authorization` value) rather than a name,
/// URL or model id: a known key prefix, or a long run (20+) of letters and digits mixed, which
/// random keys have and model names (`deepseek-r1-distill-qwen-32b`) do not.
pub fn looks_like_api_key(s: &str) -> bool {
    if KEY_PREFIXES.iter().any(|p| s.starts_with(p))
        && s.len() >= 12
        && !s.contains(char::is_whitespace)
    {
        return true;
    }
    if (s.starts_with("Bearer ") || s.starts_with("bearer ") || s.starts_with("Basic "))
        && s.len() >= 16
    {
        return true;
    }
    s.split(|c: char| !c.is_ascii_alphanumeric()).any(|run| {
        run.len() >= 20
            && run.bytes().any(|b| b.is_ascii_digit())
            && run.bytes().any(|b| b.is_ascii_alphabetic())
    })
}
