//! The config loader: any text either loads or gives diagnostics (which must render), and a
//! config that loads must generate a crate (validation is the only gate before codegen).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match apexc::load::load_str("proxy.yaml", src) {
        Ok(loaded) => {
            let _ = loaded.warnings.to_string();
            let _ = loaded.summary();
            let opts = apexc::codegen::Options {
                source_name: "proxy.yaml".into(),
            };
            if let Err(e) = apexc::codegen::generate(&loaded.config, &opts) {
                panic!("a config that passed validation failed to generate: {e}");
            }
        }
        Err(diags) => {
            assert!(diags.len() > 0, "rejected without a diagnostic");
            let _ = diags.to_string();
        }
    }
});
