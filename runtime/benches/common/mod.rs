//! What the benches share (a directory, so cargo does not take it for a bench of its own).

use std::hint::black_box;
use std::time::Instant;

/// µs per call of `f`: the best of 9 rounds of 200 calls, after 50 calls of warm-up. The best
/// round, not the mean: on a shared machine the slower rounds measure the neighbours.
pub fn time<T>(mut f: impl FnMut() -> T) -> f64 {
    for _ in 0..50 {
        black_box(f());
    }
    let mut best = f64::MAX;
    for _ in 0..9 {
        let n = 200;
        let start = Instant::now();
        for _ in 0..n {
            black_box(f());
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e6 / f64::from(n));
    }
    best
}
