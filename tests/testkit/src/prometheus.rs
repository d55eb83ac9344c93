//! A real Prometheus on loopback for tests: the Debian-packaged binaries
//! (`apt-get install prometheus`; scripts/test.sh installs them when
//! missing), a free port, its own data folder under target/ (never tmpfs:
//! promtool needs a real disk), history backfilled with promtool, stopped
//! by PID when dropped.
//!
//! Pitfalls this harness handles (as issue 4 reports them; the harness
//! runs with Prometheus 2.42):
//! - promtool reads `OpenMetrics` timestamps in SECONDS and silently accepts
//!   milliseconds as seconds; it silently drops out-of-order and duplicate
//!   samples: samples are written sorted, once each, with `# EOF` last;
//! - `--max-block-duration=1000h` makes a few large blocks instead of
//!   hundreds of two-hour blocks (a month of 5-minute samples backfilled
//!   in 1.2 s here);
//! - retention is measured from the newest block, so a short retention
//!   would delete backfilled history at start-up: 100y;
//! - with a web config, `/-/ready` itself needs the credentials.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PROMETHEUS: &str = "/usr/bin/prometheus";
const PROMTOOL: &str = "/usr/bin/promtool";

/// One series to backfill: its `workload` label and samples (unix seconds, value).
pub struct Backfill<'a> {
    pub workload: &'a str,
    pub samples: &'a [(i64, f64)],
}

/// Basic auth for the server: the username, the password's bcrypt hash.
pub struct WebAuth<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub bcrypt_hash: &'a str,
}

pub struct PrometheusServer {
    child: Option<Child>,
    pub port: u16,
    pub url: String,
    dir: tempfile::TempDir,
    auth: Option<(String, String)>,
    /// The CA that signed the server's certificate, when serving HTTPS.
    pub ca_file: Option<PathBuf>,
    /// More command-line flags (kept across restarts).
    flags: Vec<String>,
}

/// Makes a CA and a certificate for 127.0.0.1 signed by it, with openssl
/// (rustls refuses a self-signed CA certificate used as the server's own).
/// Returns the CA's PEM file, the server's certificate and key.
fn make_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    require("/usr/bin/openssl");
    let run = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=homeostat-test-ca",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

fn require(binary: &str) {
    assert!(
        Path::new(binary).exists(),
        "{binary} is missing: install Debian's prometheus package \
         (`apt-get install -y --no-install-recommends prometheus`; scripts/test.sh does it)"
    );
}

/// A port free on loopback now (the other servers' harnesses use it too;
/// it lives here because benches/fetch.rs mounts this file alone).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What a test server is backfilled with.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// Series of the metric `load`.
    Load(&'a [Backfill<'a>]),
    /// `OpenMetrics` text as it is.
    Text(&'a str),
    /// An `OpenMetrics` file as it is (too large to hold in memory twice).
    File(&'a Path),
}

/// Writes `series` as metric `load` in `OpenMetrics` text.
fn write_openmetrics(path: &Path, series: &[Backfill]) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "# TYPE load gauge").unwrap();
    for s in series {
        let mut samples = s.samples.to_vec();
        samples.sort_by_key(|p| p.0);
        samples.dedup_by_key(|p| p.0);
        for (ts, value) in samples {
            assert!(value.is_finite());
            writeln!(out, "load{{workload=\"{}\"}} {value} {ts}", s.workload).unwrap();
        }
    }
    writeln!(out, "# EOF").unwrap();
    out.flush().unwrap();
}

impl PrometheusServer {
    /// Backfills `series` and starts Prometheus on a free port.
    pub fn start(series: &[Backfill], auth: Option<WebAuth>) -> PrometheusServer {
        Self::start_with(Source::Load(series), auth, false)
    }

    /// The same, with more flags (`--query.timeout=300ms`: heavy queries
    /// answer HTTP 503).
    pub fn start_with_flags(series: &[Backfill], flags: &[&str]) -> PrometheusServer {
        Self::start_full(Source::Load(series), None, false, flags)
    }

    /// Backfills `OpenMetrics` text as it is (any metric names and labels;
    /// seconds timestamps, sorted, `# EOF` last) and starts Prometheus.
    pub fn start_openmetrics(text: &str) -> PrometheusServer {
        Self::start_with(Source::Text(text), None, false)
    }

    /// The same from a file, read by promtool where it is.
    pub fn start_openmetrics_file(path: &Path) -> PrometheusServer {
        Self::start_with(Source::File(path), None, false)
    }

    /// The same, serving HTTPS with a certificate signed by a fresh CA
    /// (`ca_file`).
    pub fn start_tls(series: &[Backfill]) -> PrometheusServer {
        Self::start_with(Source::Load(series), None, true)
    }

    fn start_with(source: Source, auth: Option<WebAuth>, tls: bool) -> PrometheusServer {
        Self::start_full(source, auth, tls, &[])
    }

    fn start_full(
        source: Source,
        auth: Option<WebAuth>,
        tls: bool,
        flags: &[&str],
    ) -> PrometheusServer {
        require(PROMETHEUS);
        require(PROMTOOL);
        let dir = tempfile::Builder::new()
            .prefix("prometheus-")
            .tempdir_in(crate::scratch_root())
            .unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let mut om = dir.path().join("load.om");
        let backfill = match source {
            Source::Load(series) => {
                write_openmetrics(&om, series);
                !series.is_empty()
            }
            Source::Text(text) => {
                std::fs::write(&om, text).unwrap();
                true
            }
            Source::File(path) => {
                om = path.to_path_buf();
                true
            }
        };
        if backfill {
            let output = Command::new(PROMTOOL)
                .args(["tsdb", "create-blocks-from", "openmetrics"])
                .arg("--max-block-duration=1000h")
                .arg(&om)
                .arg(&data)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "promtool backfill failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::fs::write(dir.path().join("prometheus.yml"), "scrape_configs: []\n").unwrap();
        let mut web = String::new();
        if let Some(auth) = &auth {
            let _ = writeln!(
                web,
                "basic_auth_users:\n  {}: {}",
                auth.username, auth.bcrypt_hash
            );
        }
        let mut ca_file = None;
        if tls {
            let (ca, cert, key) = make_certificates(dir.path());
            let _ = writeln!(
                web,
                "tls_server_config:\n  cert_file: {}\n  key_file: {}",
                cert.display(),
                key.display()
            );
            ca_file = Some(ca);
        }
        std::fs::write(dir.path().join("web.yml"), web).unwrap();
        let port = free_port();
        let scheme = if tls { "https" } else { "http" };
        let mut server = PrometheusServer {
            child: None,
            port,
            url: format!("{scheme}://127.0.0.1:{port}"),
            dir,
            auth: auth.map(|a| (a.username.to_string(), a.password.to_string())),
            ca_file,
            flags: flags.iter().map(ToString::to_string).collect(),
        };
        server.launch();
        server
    }

    fn launch(&mut self) {
        let root = self.dir.path();
        let log = std::fs::File::create(root.join("prometheus.log")).unwrap();
        let mut command = Command::new(PROMETHEUS);
        command
            .arg(format!(
                "--config.file={}",
                root.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                root.join("data").display()
            ))
            .arg("--storage.tsdb.retention.time=100y")
            .args(&self.flags)
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        command.arg(format!(
            "--web.config.file={}",
            root.join("web.yml").display()
        ));
        self.child = Some(command.spawn().unwrap());
        self.wait_ready();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Readiness only: the client under test checks the certificate.
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("prometheus exited with {status}:\n{}", self.log());
            }
            let mut request = client
                .get(format!("{}/-/ready", self.url))
                .timeout(Duration::from_secs(2));
            if let Some((user, password)) = &self.auth {
                request = request.basic_auth(user, Some(password));
            }
            // `send` arms its timeout, which needs the runtime's context.
            if let Ok(response) = runtime.block_on(async { request.send().await }) {
                if response.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready after 60 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("prometheus is running").id()
    }

    /// Kills the server (SIGKILL, by PID) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Freezes the server (SIGSTOP): connections are still accepted by the
    /// kernel, but nothing answers: a server slower than any timeout.
    pub fn freeze(&self) {
        signal(self.pid(), "STOP");
    }

    /// Undoes [`freeze`](Self::freeze).
    pub fn thaw(&self) {
        signal(self.pid(), "CONT");
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid} failed");
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A frozen server must be thawed to die cleanly.
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.stop();
    }
}
