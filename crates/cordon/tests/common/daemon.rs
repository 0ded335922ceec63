//! A running `cordon serve` for the tests, its HTTP client, a webhook receiver, and
//! softflowd's export of a capture: shared by `serve.rs` and `dashboard.rs`.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn examples() -> PathBuf {
    super::repo().join("examples")
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cordon-serve-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 request over a fresh connection: (status, body).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the API");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (status, body)
}

pub fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn get_json(port: u16, path: &str) -> Value {
    let (status, body) = http(port, "GET", path, None, None);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// A webhook receiver on 127.0.0.1: answers 200 and keeps each POST body; stops when
/// dropped.
pub struct Hook {
    pub port: u16,
    pub bodies: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    pub stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub thread: Option<std::thread::JoinHandle<()>>,
}

impl Hook {
    pub fn start() -> Hook {
        use std::sync::atomic::Ordering;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (b, st) = (bodies.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let Ok((mut c, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                c.set_nonblocking(false).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let body = loop {
                    let Ok(n) = c.read(&mut chunk) else {
                        break None;
                    };
                    if n == 0 {
                        break None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some((head, rest)) = text.split_once("\r\n\r\n") {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if rest.len() >= len {
                            break Some(rest[..len].to_string());
                        }
                    }
                };
                if let Some(body) = body {
                    if let Ok(v) = serde_json::from_str(&body) {
                        b.lock().unwrap().push(v);
                    }
                    let _ = c.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            }
        });
        Hook {
            port,
            bodies,
            stop,
            thread: Some(thread),
        }
    }

    pub fn received(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A running daemon.
pub struct Daemon {
    pub child: Option<Child>,
    pub dir: PathBuf,
    pub http: u16,
    pub netflow: u16,
    pub config: PathBuf,
}

impl Daemon {
    /// Writes a configuration into `dir` (kept across restarts) and starts the daemon.
    pub fn start(dir: &Path, extra: &str, queue: usize) -> Daemon {
        let http = free_tcp_port();
        let netflow = super::free_udp_port();
        let config = dir.join("cordon.toml");
        std::fs::write(
            &config,
            format!(
                "[store]\npath = \"var\"\n[http]\nlisten = \"127.0.0.1:{http}\"\n\
                 [[collect.netflow]]\nlisten = \"127.0.0.1:{netflow}\"\nqueue = {queue}\n\
                 [judge]\ninternal = [\"10.0.0.0/8\", \"fd00::/8\"]\n{extra}"
            ),
        )
        .unwrap();
        let mut d = Daemon {
            child: None,
            dir: dir.to_path_buf(),
            http,
            netflow,
            config,
        };
        d.spawn();
        d
    }

    pub fn spawn(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_cordon"))
            .env("CORDON_DATA_DIR", self.dir.join("data"))
            .env("CORDON_LOG", "warn")
            .args(["serve", "--config"])
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("serve.log")).unwrap())
            .spawn()
            .expect("start cordon serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(("127.0.0.1", self.http)).is_ok() {
                break;
            }
            if let Some(s) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("cordon serve exited ({s}): {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "cordon serve did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default()
    }

    pub fn status(&self) -> Value {
        get_json(self.http, "/api/v1/status")
    }

    /// Waits until the engine has taken in `n` observations in all, bounded.
    pub fn wait_ingested(&self, n: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.status();
            let got = s["collectors"][0]["flows_ingested"].as_u64().unwrap_or(0);
            let ticks = s["engine"]["ticks"].as_u64().unwrap_or(0);
            if got >= n && ticks > 0 && s["collectors"][0]["queue_depth"] == 0 {
                // One more tick so the last batch is committed.
                std::thread::sleep(Duration::from_millis(1300));
                return self.status();
            }
            assert!(Instant::now() < deadline, "ingested {got} of {n}: {s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn send(&self, datagrams: &[Vec<u8>]) {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        for d in datagrams {
            s.send_to(d, ("127.0.0.1", self.netflow)).unwrap();
        }
    }

    /// SIGTERM and wait (bounded); the exit status.
    pub fn stop(&mut self) -> i32 {
        let mut c = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!("cordon serve did not stop on SIGTERM: {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill9(&mut self) {
        let mut c = self.child.take().expect("running");
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// softflowd reads office.pcap and exports to a socket this test binds; the datagrams.
pub fn softflowd_datagrams(version: &str) -> Option<Vec<Vec<u8>>> {
    if !super::installed("softflowd") {
        super::skip("skipping: softflowd not installed (apt-get install -y softflowd)");
        return None;
    }
    Some(softflowd_export(&examples().join("office.pcap"), version))
}

/// softflowd reads `pcap` and exports NetFlow `version` to a socket this test binds.
pub fn softflowd_export(pcap: &Path, version: &str) -> Vec<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    let mut softflowd = Command::new("softflowd")
        .arg("-r")
        .arg(pcap)
        .args([
            "-n",
            &format!("127.0.0.1:{port}"),
            "-v",
            version,
            "-a",
            "-6",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start softflowd");
    let mut datagrams = Vec::new();
    let mut buf = vec![0u8; 65_536];
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut exited = false;
    while Instant::now() < deadline {
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => datagrams.push(buf[..n].to_vec()),
            Err(_) if exited => break,
            Err(_) => exited = softflowd.try_wait().unwrap().is_some(),
        }
    }
    let _ = softflowd.kill();
    let _ = softflowd.wait();
    assert!(
        !datagrams.is_empty(),
        "softflowd sent nothing for {}",
        pcap.display()
    );
    datagrams
}

/// An answer: status, headers (names lowercase), body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// The first header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value a `Set-Cookie` header gives cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .filter_map(|(_, v)| v.split(';').next()?.split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.to_string())
    }
}

/// One HTTP/1.1 request with the given extra headers (`Name: value` lines) over a fresh
/// connection.
pub fn request(port: u16, method: &str, path: &str, headers: &[String], body: &str) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to cordon serve");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    if method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// Debian's Chromium, when installed.
pub fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}
