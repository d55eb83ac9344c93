//! Real Alertmanager and Pushgateway on loopback for tests: the
//! Debian-packaged binaries (`apt-get install prometheus-alertmanager
//! prometheus-pushgateway`; scripts/test.sh installs them when missing),
//! free ports, their own data folders, stopped by PID when dropped.
//! Alertmanager runs with `--cluster.listen-address=` empty, or it would
//! bind 0.0.0.0:9094 for its gossip.

#![allow(dead_code)]

use crate::prometheus::free_port;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
const PUSHGATEWAY: &str = "/usr/bin/prometheus-pushgateway";

pub struct Server {
    child: Child,
    pub url: String,
    dir: tempfile::TempDir,
    name: &'static str,
    /// Basic auth the server demands (and [`Server::get`] sends).
    auth: Option<(String, String)>,
}

/// Basic auth for a server: the username, the password, its bcrypt hash.
pub struct WebAuth<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub bcrypt_hash: &'a str,
}

/// Writes the exporter-toolkit web config demanding `auth`; its flag.
fn web_config(dir: &Path, auth: &WebAuth) -> String {
    let path = dir.join("web.yml");
    std::fs::write(
        &path,
        format!(
            "basic_auth_users:\n  {}: {}\n",
            auth.username, auth.bcrypt_hash
        ),
    )
    .unwrap();
    format!("--web.config.file={}", path.display())
}

fn require(binary: &str, package: &str) {
    assert!(
        Path::new(binary).exists(),
        "{binary} is missing: install Debian's {package} package \
         (`apt-get install -y --no-install-recommends {package}`; scripts/test.sh does it)"
    );
}

impl Server {
    /// An Alertmanager that routes every alert to a receiver that sends nothing.
    pub fn alertmanager() -> Server {
        Server::alertmanager_with(None)
    }

    /// The same, demanding basic auth when given.
    pub fn alertmanager_with(auth: Option<WebAuth>) -> Server {
        require(ALERTMANAGER, "prometheus-alertmanager");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n",
        )
        .unwrap();
        let port = free_port();
        let mut args = vec![
            format!("--config.file={}", config.display()),
            format!("--storage.path={}", dir.path().join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--cluster.listen-address=".to_string(),
        ];
        args.extend(auth.as_ref().map(|a| web_config(dir.path(), a)));
        Server::launch(ALERTMANAGER, "alertmanager", &args, dir, port, auth)
    }

    pub fn pushgateway() -> Server {
        Server::pushgateway_with(None)
    }

    /// The same, demanding basic auth when given.
    pub fn pushgateway_with(auth: Option<WebAuth>) -> Server {
        require(PUSHGATEWAY, "prometheus-pushgateway");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut args = vec![
            format!("--web.listen-address=127.0.0.1:{port}"),
            format!(
                "--persistence.file={}",
                dir.path().join("metrics").display()
            ),
        ];
        args.extend(auth.as_ref().map(|a| web_config(dir.path(), a)));
        Server::launch(PUSHGATEWAY, "pushgateway", &args, dir, port, auth)
    }

    fn launch(
        binary: &str,
        name: &'static str,
        args: &[String],
        dir: tempfile::TempDir,
        port: u16,
        auth: Option<WebAuth>,
    ) -> Server {
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
            name,
            auth: auth.map(|a| (a.username.to_string(), a.password.to_string())),
        };
        server.wait_ready();
        server
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("{} exited with {status}:\n{}", self.name, self.log());
            }
            if self.get("/-/ready").is_some() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready after 60 s:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The body of `GET path`, when the answer is a success.
    pub fn get(&self, path: &str) -> Option<String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let url = format!("{}{path}", self.url);
        let mut request = reqwest::Client::new()
            .get(url)
            .timeout(Duration::from_secs(5));
        if let Some((user, password)) = &self.auth {
            request = request.basic_auth(user, Some(password));
        }
        runtime.block_on(async {
            let response = request.send().await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            response.text().await.ok()
        })
    }

    /// Kills the server (by PID) and waits for it to exit.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
