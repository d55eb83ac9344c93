//! A real `VictoriaMetrics` on loopback for tests: Debian's
//! `victoria-metrics` package (1.79 on this project's machines;
//! scripts/test.sh installs it when missing), a free port, its own data
//! folder under target/, history imported through its
//! `/api/v1/import/prometheus` endpoint, stopped by PID when dropped.
//!
//! Flags that make it answer as the tests need: `-retentionPeriod=100y`
//! (imported samples older than the retention are dropped),
//! `-search.latencyOffset=0s` (by default the last 30 s are hidden from
//! queries, as not yet complete), `-search.disableCache` (a cached answer
//! from before an import would hide it).

#![allow(dead_code)]

use crate::prometheus::free_port;
use crate::prometheus::Backfill;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const VICTORIA: &str = "/usr/bin/victoria-metrics";

pub struct VictoriaServer {
    child: Child,
    pub port: u16,
    pub url: String,
    _dir: tempfile::TempDir,
}

/// A minimal HTTP/1.1 request on loopback: the status code and the body.
fn request(port: u16, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Ok((status, body))
}

impl VictoriaServer {
    /// Starts `VictoriaMetrics` on a free port and imports `series` as the
    /// metric `load`.
    pub fn start(series: &[Backfill]) -> VictoriaServer {
        VictoriaServer::start_with(series, &[])
    }

    /// [`start`](Self::start) with more command-line `flags` (a lower
    /// `-search.maxPointsPerTimeseries`, say).
    pub fn start_with(series: &[Backfill], flags: &[&str]) -> VictoriaServer {
        assert!(
            Path::new(VICTORIA).exists(),
            "{VICTORIA} is missing: install Debian's victoria-metrics package \
             (`apt-get install -y --no-install-recommends victoria-metrics`; scripts/test.sh does it)"
        );
        let dir = tempfile::Builder::new()
            .prefix("victoria-")
            .tempdir_in(crate::scratch_root())
            .unwrap();
        let port = free_port();
        let child = Command::new(VICTORIA)
            .arg(format!(
                "-storageDataPath={}",
                dir.path().join("data").display()
            ))
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .args([
                "-retentionPeriod=100y",
                "-search.latencyOffset=0s",
                "-search.disableCache",
                "-loggerLevel=ERROR",
            ])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("victoria.log")).unwrap(),
            ))
            .spawn()
            .unwrap();
        let server = VictoriaServer {
            child,
            port,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !matches!(request(port, "GET", "/health", b""), Ok((200, _))) {
            assert!(Instant::now() < deadline, "VictoriaMetrics did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut text = String::new();
        for s in series {
            for (ts, value) in s.samples {
                let _ = writeln!(
                    text,
                    "load{{workload=\"{}\"}} {value} {}",
                    s.workload,
                    ts * 1000
                );
            }
        }
        let (status, body) =
            request(port, "POST", "/api/v1/import/prometheus", text.as_bytes()).unwrap();
        assert!(
            status == 204 || status == 200,
            "import: HTTP {status} {body}"
        );
        let (status, body) = request(port, "GET", "/internal/force_flush", b"").unwrap();
        assert_eq!(status, 200, "flush: {body}");
        server
    }
}

impl Drop for VictoriaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
