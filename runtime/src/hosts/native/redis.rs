//! The little of Redis (or Valkey) `apexc serve` speaks, for the quota counts several serve
//! processes share (`quota_redis`): a connection from a `redis://` URL, and pipelined commands
//! over RESP2, the protocol every Redis and Valkey server answers.
//!
//! Written here rather than taken from a client crate: the quota store needs a handful of
//! commands (AUTH, SELECT, WATCH, MGET, MULTI, SET, EXEC, UNWATCH) over one connection, and a
//! full client would bring its own runtime glue, connection manager and dozens of
//! dependencies into `apexc`.
//!
//! Plain TCP only: `rediss://` (TLS) is refused with a clear error, so a URL meant for a remote
//! server is never silently sent in the clear.

use crate::wire::percent::decode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where the server is and how to log in, from `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    pub db: u32,
}

/// Never prints the password (the URL comes from a secret).
impl std::fmt::Debug for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redis://{}:{}/{}", self.host, self.port, self.db)
    }
}

impl Url {
    /// Parses a `redis://` URL. The error never repeats the URL (it may hold a password).
    pub fn parse(url: &str) -> Result<Url, String> {
        let rest = match url.split_once("://") {
            Some(("redis", rest)) => rest,
            Some(("rediss", _)) => {
                return Err(
                    "rediss:// (TLS) is not supported: use redis:// to a server on a \
                     private network or loopback"
                        .into(),
                )
            }
            _ => return Err("not a redis:// URL (redis://[:PASSWORD@]HOST[:PORT][/DB])".into()),
        };
        let (login, place) = match rest.rsplit_once('@') {
            Some((login, place)) => (Some(login), place),
            None => (None, rest),
        };
        let (hostport, db) = match place.split_once('/') {
            Some((hp, "")) => (hp, 0),
            Some((hp, db)) => (
                hp,
                db.parse()
                    .map_err(|_| "the database after / must be a number".to_string())?,
            ),
            None => (place, 0),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse()
                    .map_err(|_| "the port after : must be a number".to_string())?,
            ),
            None => (hostport, 6379),
        };
        if host.is_empty() {
            return Err("the URL names no host".into());
        }
        let (user, password) = match login.map(|l| l.split_once(':')) {
            None => (None, None),
            Some(None) => (None, login.map(decode)),
            Some(Some((u, p))) => ((!u.is_empty()).then(|| decode(u)), Some(decode(p))),
        };
        Ok(Url {
            host: host.trim_start_matches('[').trim_end_matches(']').into(),
            port,
            user,
            password,
            db,
        })
    }
}

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A null bulk string or a null array (EXEC after a WATCHed key changed).
    Nil,
    /// A simple or bulk string.
    Bytes(Vec<u8>),
    Int(i64),
    Array(Vec<Value>),
    /// An error reply (`-ERR ...`).
    Error(String),
}

/// One open connection, logged in and on its database.
pub struct Conn {
    stream: TcpStream,
    /// Bytes read past the last whole reply.
    buf: Vec<u8>,
}

/// How long connecting, or one pipeline's round trip, may take.
pub const TIMEOUT: Duration = Duration::from_secs(1);

impl Conn {
    pub async fn open(url: &Url) -> Result<Conn, String> {
        let stream =
            tokio::time::timeout(TIMEOUT, TcpStream::connect((url.host.as_str(), url.port)))
                .await
                .map_err(|_| format!("redis {url:?}: connect timed out"))?
                .map_err(|e| format!("redis {url:?}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut conn = Conn {
            stream,
            buf: Vec::new(),
        };
        let mut hello: Vec<Vec<Vec<u8>>> = Vec::new();
        if let Some(password) = &url.password {
            let mut auth = vec![b"AUTH".to_vec()];
            auth.extend(url.user.iter().map(|u| u.as_bytes().to_vec()));
            auth.push(password.as_bytes().to_vec());
            hello.push(auth);
        }
        if url.db != 0 {
            hello.push(vec![b"SELECT".to_vec(), url.db.to_string().into_bytes()]);
        }
        for reply in conn.pipeline(&hello).await? {
            if let Value::Error(e) = reply {
                // AUTH's error names no secret ("WRONGPASS invalid username-password pair").
                return Err(format!("redis {url:?}: {e}"));
            }
        }
        Ok(conn)
    }

    /// Sends every command at once and reads one reply for each, within [`TIMEOUT`].
    pub async fn pipeline(&mut self, commands: &[Vec<Vec<u8>>]) -> Result<Vec<Value>, String> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for command in commands {
            encode(command, &mut out);
        }
        match tokio::time::timeout(TIMEOUT, self.exchange(&out, commands.len())).await {
            Ok(replies) => replies,
            Err(_) => Err("redis: no answer within 1 s".into()),
        }
    }

    async fn exchange(&mut self, out: &[u8], count: usize) -> Result<Vec<Value>, String> {
        self.stream
            .write_all(out)
            .await
            .map_err(|e| format!("redis: {e}"))?;
        let mut replies = Vec::with_capacity(count);
        while replies.len() < count {
            match parse(&self.buf)? {
                Some((value, used)) => {
                    self.buf.drain(..used);
                    replies.push(value);
                }
                None => {
                    let mut chunk = [0u8; 4096];
                    let n = self
                        .stream
                        .read(&mut chunk)
                        .await
                        .map_err(|e| format!("redis: {e}"))?;
                    if n == 0 {
                        return Err("redis: the server closed the connection".into());
                    }
                    self.buf
                        .extend_from_slice(chunk.get(..n).unwrap_or_default());
                }
            }
        }
        Ok(replies)
    }
}

/// A command as a RESP array of bulk strings.
fn encode(command: &[Vec<u8>], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", command.len()).as_bytes());
    for arg in command {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Replies deeper than this are refused (a server never nests ours past 2).
const MAX_DEPTH: usize = 8;

/// A bulk string longer than this is refused (ours are one scope's counts: a few KiB).
const MAX_BULK: usize = 1024 * 1024;

/// The first whole reply in `buf` and the bytes it took; `None` when more must be read.
pub fn parse(buf: &[u8]) -> Result<Option<(Value, usize)>, String> {
    parse_at(buf, 0, 0)
}

fn parse_at(buf: &[u8], at: usize, depth: usize) -> Result<Option<(Value, usize)>, String> {
    if depth > MAX_DEPTH {
        return Err("redis: reply nested too deep".into());
    }
    let Some(end) = find_crlf(buf, at) else {
        return Ok(None);
    };
    let Some((&kind, line)) = buf.get(at..end).and_then(<[u8]>::split_first) else {
        return Err("redis: empty reply line".into());
    };
    let text = String::from_utf8_lossy(line);
    let next = end + 2;
    let number = || {
        text.parse::<i64>()
            .map_err(|_| format!("redis: not a number in a reply: {text:?}"))
    };
    Ok(match kind {
        b'+' => Some((Value::Bytes(line.to_vec()), next)),
        b'-' => Some((Value::Error(text.into_owned()), next)),
        b':' => Some((Value::Int(number()?), next)),
        b'$' => match usize::try_from(number()?) {
            Err(_) => Some((Value::Nil, next)),
            Ok(len) if len > MAX_BULK => {
                return Err(format!("redis: a reply of {len} bytes is too large"))
            }
            Ok(len) => {
                let end = next + len;
                match (buf.get(next..end), buf.get(end..end + 2)) {
                    (Some(bytes), Some(b"\r\n")) => Some((Value::Bytes(bytes.to_vec()), end + 2)),
                    (Some(_), Some(_)) => return Err("redis: a bulk reply without its CRLF".into()),
                    _ => None,
                }
            }
        },
        b'*' => match usize::try_from(number()?) {
            Err(_) => Some((Value::Nil, next)),
            Ok(len) => {
                let mut items = Vec::with_capacity(len.min(64));
                let mut pos = next;
                for _ in 0..len {
                    match parse_at(buf, pos, depth + 1)? {
                        Some((item, used)) => {
                            items.push(item);
                            pos = used;
                        }
                        None => return Ok(None),
                    }
                }
                Some((Value::Array(items), pos))
            }
        },
        other => return Err(format!("redis: unknown reply type {:?}", other as char)),
    })
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| from + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_and_without_login_port_and_database() {
        let u = Url::parse("redis://127.0.0.1:6390/2").ok();
        assert_eq!(
            u.as_ref().map(|u| (u.host.as_str(), u.port, u.db)),
            Some(("127.0.0.1", 6390, 2))
        );
        let u = Url::parse("redis://:p%40ss@cache").ok();
        assert_eq!(
            u.as_ref()
                .map(|u| (u.host.as_str(), u.port, u.user.clone(), u.password.clone())),
            Some(("cache", 6379, None, Some("p@ss".to_string())))
        );
        let u = Url::parse("redis://app:pw@cache:7000/").ok();
        assert_eq!(u.and_then(|u| u.user), Some("app".to_string()));
    }

    #[test]
    fn bad_urls_are_errors_that_do_not_repeat_the_password() {
        for bad in [
            "rediss://:hunter2@x",
            "http://:hunter2@x",
            "redis://:hunter2@x:port",
            "redis://:hunter2@",
        ] {
            let e = Url::parse(bad).err().unwrap_or_default();
            assert!(!e.is_empty(), "{bad}");
            assert!(!e.contains("hunter2"), "{e}");
        }
        let u = Url::parse("redis://:hunter2@x").ok();
        assert!(!format!("{u:?}").contains("hunter2"));
    }

    #[test]
    fn replies_parse_whole_or_ask_for_more() {
        let whole = b"*3\r\n$3\r\nabc\r\n$-1\r\n:7\r\n+OK\r\n";
        let (v, used) = parse(whole).ok().flatten().unwrap_or((Value::Nil, 0));
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Bytes(b"abc".to_vec()),
                Value::Nil,
                Value::Int(7)
            ])
        );
        assert_eq!(&whole[used..], b"+OK\r\n");
        for cut in 0..used {
            assert_eq!(parse(&whole[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(parse(b"*-1\r\n"), Ok(Some((Value::Nil, 5))));
        assert_eq!(
            parse(b"-WRONGTYPE no\r\n"),
            Ok(Some((Value::Error("WRONGTYPE no".into()), 15)))
        );
        assert!(parse(b"?x\r\n").is_err());
        assert!(parse(b"$9223372036854775807\r\n").is_err());
        assert!(parse(b"$2\r\nabXY").is_err());
        assert!(
            parse(b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n").is_err()
        );
    }
}
