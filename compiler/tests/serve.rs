//! `apexc serve` as a user runs it: the real binary on 127.0.0.1:0, driven over HTTP.
//!
//! Stderr is read line by line on a helper thread; every wait has a deadline that is only
//! reached when the behaviour is broken (no sleeps used as synchronisation).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);
const GW_VALUE: &str = "gw-value-from-dev-vars-3141";

struct Served {
    child: Child,
    addr: SocketAddr,
    lines: Receiver<String>,
    /// Everything read from stderr so far.
    seen: Vec<String>,
}

impl Served {
    fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Served {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_apexc"));
        cmd.arg("serve")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .current_dir(dir)
            .env_remove("APEXC_T_GW")
            .env_remove("APEXC_T_UP")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("apexc runs");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut served = Served {
            child,
            addr: "0.0.0.0:0".parse().expect("addr"),
            lines,
            seen: vec![],
        };
        let line = served.wait_for("apexc serve: listening on http://");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        served.addr = addr;
        served
    }

    /// The first (new) stderr line containing `needle`.
    fn wait_for(&mut self, needle: &str) -> String {
        self.wait_for_all(&[needle])
    }

    /// The first (new) stderr line containing every one of `needles`.
    fn wait_for_all(&mut self, needles: &[&str]) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if needles.iter().all(|n| line.contains(n)) {
                        return line;
                    }
                }
                Err(_) => panic!("no stderr line with {needles:?}; got {:#?}", self.seen),
            }
        }
    }

    /// Stops the server and returns all of its stderr.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        while let Ok(line) = self.lines.recv_timeout(DEADLINE) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }

    /// One request on its own connection: (status, body).
    fn call(&self, method: &str, path: &str, auth: Option<&str>, body: &str) -> (u16, String) {
        let mut sock = TcpStream::connect(self.addr).expect("connect");
        sock.set_read_timeout(Some(DEADLINE)).expect("timeout");
        let auth = auth
            .map(|k| format!("authorization: Bearer {k}\r\n"))
            .unwrap_or_default();
        write!(
            sock,
            "{method} {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\ncontent-type: application/json\r\n{auth}content-length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("send");
        let mut raw = String::new();
        sock.read_to_string(&mut raw).expect("read");
        let status = raw.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = raw
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }
}

fn scratch(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("apexc-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    for (file, text) in files {
        std::fs::write(dir.join(file), text).expect("write");
    }
    dir
}

const QUICKSTART: &str = include_str!("../../examples/quickstart.yaml");

const WITH_SECRETS: &str = "name: t\nauth:\n  keys: [{ secret: APEXC_T_GW }]\nproviders:\n  mock:\n    kind: mock\n  up:\n    kind: openai\n    base_url: http://127.0.0.1:9/v1\n    api_keys: [{ secret: APEXC_T_UP }]\nmodels:\n  demo:\n    routes: [{ provider: mock, model: m }]\n";

#[test]
fn serves_the_quickstart_and_logs_each_request() {
    let dir = scratch("quickstart", &[("proxy.yaml", QUICKSTART)]);
    let mut s = Served::start(&dir, &["proxy.yaml"], &[]);
    assert!(
        s.seen.iter().any(|l| l.ends_with("(2 models)")),
        "{:#?}",
        s.seen
    );
    let (status, body) = s.call(
        "POST",
        "/v1/chat/completions",
        None,
        r#"{"model":"demo","messages":[{"role":"user","content":"hi there"}]}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("mock reply: hi there"), "{body}");
    // The access line (the host's, or the router's structured one once it writes its own)
    // names the route taken; its exact layout is not part of this test.
    let log = s.wait_for_all(&["/v1/chat/completions", "200"]);
    assert!(log.contains("demo") && log.contains("mock"), "{log}");
    s.stop();
}

#[test]
fn secrets_come_from_dev_vars_the_environment_wins_and_no_value_is_printed() {
    let dir = scratch(
        "secrets",
        &[
            ("proxy.yaml", WITH_SECRETS),
            (
                ".dev.vars",
                &format!("# local\nAPEXC_T_GW=\"{GW_VALUE}\"\n"),
            ),
        ],
    );
    let mut s = Served::start(&dir, &["proxy.yaml"], &[]);
    assert_eq!(s.call("GET", "/v1/models", Some(GW_VALUE), "").0, 200);
    assert_eq!(s.call("GET", "/v1/models", Some("wrong"), "").0, 401);
    s.wait_for_all(&["/v1/models", "401"]);
    let stderr = s.stop();
    assert!(stderr.contains("secret APEXC_T_UP is not set"), "{stderr}");
    assert!(!stderr.contains("APEXC_T_GW is not set"), "{stderr}");
    assert!(
        !stderr.contains(GW_VALUE),
        "a secret value reached stderr:\n{stderr}"
    );

    let s = Served::start(
        &dir,
        &["proxy.yaml", "--quiet"],
        &[("APEXC_T_GW", "from-env")],
    );
    assert_eq!(s.call("GET", "/v1/models", Some("from-env"), "").0, 200);
    assert_eq!(s.call("GET", "/v1/models", Some(GW_VALUE), "").0, 401);
    let stderr = s.stop();
    assert!(
        !stderr.contains("/v1/models"),
        "--quiet still logged:\n{stderr}"
    );
}

#[test]
fn a_dev_vars_file_can_be_named() {
    let dir = scratch(
        "named",
        &[
            ("proxy.yaml", WITH_SECRETS),
            (
                "keys.env",
                &format!("APEXC_T_GW={GW_VALUE}\nAPEXC_T_UP=x\n"),
            ),
        ],
    );
    let s = Served::start(&dir, &["proxy.yaml", "--dev-vars", "keys.env"], &[]);
    assert_eq!(s.call("GET", "/v1/models", Some(GW_VALUE), "").0, 200);
    let stderr = s.stop();
    assert!(!stderr.contains("is not set"), "{stderr}");
}

#[test]
fn a_bad_config_or_missing_dev_vars_file_exits_1_without_serving() {
    let dir = scratch(
        "bad",
        &[
            ("proxy.yaml", "name: t\nprovidrs: {}\nmodels: {}\n"),
            ("ok.yaml", QUICKSTART),
        ],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_apexc"))
        .args(["serve", "proxy.yaml", "--listen", "127.0.0.1:0"])
        .current_dir(&dir)
        .output()
        .expect("apexc runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("proxy.yaml:2:"), "{stderr}");
    assert!(!stderr.contains("listening"), "{stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_apexc"))
        .args([
            "serve",
            "ok.yaml",
            "--listen",
            "127.0.0.1:0",
            "--dev-vars",
            "nope.vars",
        ])
        .current_dir(&dir)
        .output()
        .expect("apexc runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("nope.vars"), "{stderr}");
}
