//! `apex-loadgen`: a closed-loop load generator for scripts/bench.sh.
//!
//! `--concurrency N` keep-alive HTTP/1.1 connections each send one request, wait for the whole
//! response, and send the next, for `--duration` seconds after a `--warmup`. Every latency is
//! kept (microseconds), so percentiles are exact, not bucketed. It runs on one thread so it
//! takes at most one of the machine's cores, the same for every target it measures.
//!
//! ```text
//! apex-loadgen --url http://127.0.0.1:8080/v1/chat/completions --body '{"model":"m",...}' \
//!   --header 'authorization: Bearer k' --concurrency 16 --duration 5 --warmup 1
//! ```
//! A request counts when it was sent inside the measured window (after `--warmup`, before the
//! end), even if its answer arrives after the end: the run waits for it.
//! `--rate R` paces the connections to R requests/second in all (below saturation, latency is
//! then the per-request cost rather than queueing for a busy CPU).
//! `--body-file PATH` reads the body from a file (sample bodies are ~90 KB); `--expect TEXT`
//! makes a response count only if its body contains TEXT.
//! Prints one JSON object: requests, errors, rps, p50_us, p90_us, p99_us, max_us, mean_us.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

struct Opts {
    url: String,
    body: Option<String>,
    headers: Vec<(String, String)>,
    concurrency: usize,
    duration: Duration,
    warmup: Duration,
    /// Total requests per second over all connections (each paced at rate/concurrency);
    /// None = as fast as responses come back (saturation).
    rate: Option<f64>,
    /// Text every successful response body must contain (a 200 with the wrong body, e.g. an
    /// error a gateway wrapped in a 200, counts as an error, not as a fast answer).
    expect: Option<String>,
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        url: String::new(),
        body: None,
        headers: Vec::new(),
        concurrency: 16,
        duration: Duration::from_secs(5),
        warmup: Duration::from_secs(1),
        rate: None,
        expect: None,
    };
    let mut args = std::env::args().skip(1);
    let secs = |v: Option<String>, flag: &str| -> Result<Duration, String> {
        v.and_then(|s| s.parse::<f64>().ok())
            .filter(|s| *s >= 0.0)
            .map(Duration::from_secs_f64)
            .ok_or(format!("{flag} needs seconds"))
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--url" => o.url = args.next().ok_or("--url needs a URL")?,
            "--body" => o.body = Some(args.next().ok_or("--body needs text")?),
            "--body-file" => {
                let path = args.next().ok_or("--body-file needs a path")?;
                o.body = Some(
                    std::fs::read_to_string(&path)
                        .map_err(|e| format!("--body-file {path}: {e}"))?,
                );
            }
            "--expect" => o.expect = Some(args.next().ok_or("--expect needs text")?),
            "--header" => {
                let h = args.next().ok_or("--header needs 'name: value'")?;
                let (k, v) = h.split_once(':').ok_or("--header needs 'name: value'")?;
                o.headers.push((k.trim().to_string(), v.trim().to_string()));
            }
            "--concurrency" => {
                o.concurrency = args
                    .next()
                    .and_then(|c| c.parse().ok())
                    .ok_or("--concurrency needs a number")?
            }
            "--duration" => o.duration = secs(args.next(), "--duration")?,
            "--warmup" => o.warmup = secs(args.next(), "--warmup")?,
            "--rate" => {
                o.rate = Some(
                    args.next()
                        .and_then(|r| r.parse::<f64>().ok())
                        .filter(|r| *r > 0.0)
                        .ok_or("--rate needs requests/second")?,
                )
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if o.url.is_empty() {
        return Err("--url is required".into());
    }
    Ok(o)
}

/// `http://host:port/path` → (`host:port`, `/path`).
fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (rest.get(..i).unwrap_or(rest), rest.get(i..).unwrap_or("/")),
        None => (rest, "/"),
    };
    Ok((authority.to_string(), path.to_string()))
}

#[derive(Default)]
struct Results {
    latencies_us: Vec<u32>,
    errors: u64,
}

async fn worker(
    index: usize,
    opts: Rc<Opts>,
    authority: String,
    path: String,
    start_measure: Instant,
    end: Instant,
    out: Rc<RefCell<Results>>,
) {
    let mut sender = None;
    // Paced mode: this connection's share of --rate, on a fixed schedule (a late response
    // does not push later sends back, so the offered load stays what was asked). Connections
    // are staggered over one interval so they do not all fire at once.
    let conns = opts.concurrency.max(1);
    let interval = opts.rate.map(|r| Duration::from_secs_f64(conns as f64 / r));
    let mut next_send = Instant::now()
        + interval.map_or(Duration::ZERO, |iv| iv.mul_f64(index as f64 / conns as f64));
    while Instant::now() < end {
        if let Some(iv) = interval {
            let now = Instant::now();
            if next_send > now {
                tokio::time::sleep_until(tokio::time::Instant::from_std(next_send)).await;
            }
            next_send += iv;
        }
        if sender.is_none() {
            match tokio::net::TcpStream::connect(&authority).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    match http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await {
                        Ok((s, conn)) => {
                            tokio::task::spawn_local(async move {
                                let _ = conn.await;
                            });
                            sender = Some(s);
                        }
                        Err(_) => {
                            out.borrow_mut().errors += 1;
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    }
                }
                Err(_) => {
                    out.borrow_mut().errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(s) = sender.as_mut() else { continue };
        let method = if opts.body.is_some() { "POST" } else { "GET" };
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path.as_str())
            .header("host", authority.as_str());
        if opts.body.is_some() {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in &opts.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let body = Full::new(Bytes::from(opts.body.clone().unwrap_or_default()));
        let Ok(req) = req.body(body) else {
            out.borrow_mut().errors += 1;
            return;
        };
        let t0 = Instant::now();
        let ok = match s.send_request(req).await {
            Ok(resp) => {
                let status = resp.status();
                match resp.into_body().collect().await {
                    Ok(body) => {
                        status.is_success()
                            && opts
                                .expect
                                .as_ref()
                                .is_none_or(|want| contains(&body.to_bytes(), want.as_bytes()))
                    }
                    Err(_) => false,
                }
            }
            Err(_) => false,
        };
        let elapsed = t0.elapsed();
        // Every request sent inside the window counts, however long it takes: dropping the
        // ones still running at the end would hide exactly the slow answers of a slow target.
        if t0 >= start_measure && t0 < end {
            let mut r = out.borrow_mut();
            if ok {
                r.latencies_us
                    .push(elapsed.as_micros().min(u128::from(u32::MAX)) as u32);
            } else {
                r.errors += 1;
            }
        }
        if !ok {
            sender = None; // reconnect after a failure
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted.get(idx.min(sorted.len() - 1)).copied().unwrap_or(0)
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("apex-loadgen: {e}");
            std::process::exit(2);
        }
    };
    let (authority, path) = match split_url(&opts.url) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("apex-loadgen: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("apex-loadgen: {e}");
            std::process::exit(1)
        });
    let local = tokio::task::LocalSet::new();
    let opts = Rc::new(opts);
    let results = Rc::new(RefCell::new(Results::default()));
    let start = Instant::now();
    let start_measure = start + opts.warmup;
    let end = start_measure + opts.duration;
    local.block_on(&rt, async {
        let mut handles = Vec::new();
        for index in 0..opts.concurrency.max(1) {
            handles.push(tokio::task::spawn_local(worker(
                index,
                opts.clone(),
                authority.clone(),
                path.clone(),
                start_measure,
                end,
                results.clone(),
            )));
        }
        for h in handles {
            let _ = h.await;
        }
    });
    let mut r = results.borrow_mut();
    r.latencies_us.sort_unstable();
    let n = r.latencies_us.len();
    let mean = if n == 0 {
        0.0
    } else {
        r.latencies_us.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64
    };
    let out = json!({
        "requests": n,
        "errors": r.errors,
        "rps": n as f64 / opts.duration.as_secs_f64().max(1e-9),
        "p50_us": percentile(&r.latencies_us, 50.0),
        "p90_us": percentile(&r.latencies_us, 90.0),
        "p99_us": percentile(&r.latencies_us, 99.0),
        "max_us": r.latencies_us.last().copied().unwrap_or(0),
        "mean_us": mean.round(),
        "concurrency": opts.concurrency,
        "rate": opts.rate,
    });
    println!("{out}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/v1/models").unwrap(),
            ("127.0.0.1:8080".into(), "/v1/models".into())
        );
        assert_eq!(split_url("http://h:1").unwrap(), ("h:1".into(), "/".into()));
        assert!(split_url("https://h").is_err());
    }

    #[test]
    fn percentiles_are_exact() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 51);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&[], 50.0), 0);
    }
}
