//! A real Kubernetes control plane on loopback: etcd and kube-apiserver
//! built from Go modules by `scripts/controlplane.sh` (into
//! `target/controlplane/bin`), certificates made with openssl, free ports,
//! own data folder, stopped by PID when dropped. Authorization is RBAC,
//! as in a real cluster; the admin's kubeconfig uses a client certificate
//! of `system:masters`.

use crate::prometheus::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running etcd and kube-apiserver (and kube-controller-manager, once
/// started).
pub struct ControlPlane {
    etcd: Child,
    apiserver: Child,
    controllers: Option<Child>,
    dir: tempfile::TempDir,
    /// `https://127.0.0.1:<port>`.
    pub url: String,
}

/// Where `scripts/controlplane.sh` puts the binaries.
fn binary(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/controlplane/bin")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: build the control plane with `bash scripts/controlplane.sh` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// Runs openssl in `dir`; panics with its output when it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A certificate authority, the API server's serving certificate (for
/// 127.0.0.1), an admin client certificate and the service-account key
/// pair, in `pki`. X.509 v3 throughout: rustls refuses v1 certificates.
fn make_pki(pki: &Path) {
    std::fs::create_dir_all(pki).unwrap();
    let days = ["-days", "2"];
    openssl(
        pki,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            "/CN=homeostat-test-ca",
            days[0],
            days[1],
        ],
    );
    std::fs::write(
        pki.join("server.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n",
    )
    .unwrap();
    std::fs::write(
        pki.join("client.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    for (name, subject, ext) in [
        ("apiserver", "/CN=kube-apiserver", "server.ext"),
        ("admin", "/O=system:masters/CN=admin", "client.ext"),
    ] {
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        openssl(
            pki,
            &[
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj",
                subject,
            ],
        );
        openssl(
            pki,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-extfile",
                ext,
                days[0],
                days[1],
            ],
        );
    }
    openssl(pki, &["genrsa", "-out", "sa.key", "2048"]);
    openssl(pki, &["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
}

impl ControlPlane {
    /// Starts etcd and kube-apiserver and waits until the API server is
    /// ready (its `/readyz`, which RBAC lets anyone read).
    #[must_use]
    pub fn start() -> ControlPlane {
        let (apiserver_bin, etcd_bin) = (binary("kube-apiserver"), binary("etcd"));
        let dir = tempfile::Builder::new()
            .prefix("controlplane-")
            .tempdir_in(crate::scratch_root())
            .unwrap();
        let pki = dir.path().join("pki");
        make_pki(&pki);
        let (client, peer, secure) = (free_port(), free_port(), free_port());
        let log = |name: &str| std::fs::File::create(dir.path().join(name)).unwrap();
        let etcd = Command::new(etcd_bin)
            .arg(format!("--data-dir={}", dir.path().join("etcd").display()))
            .arg(format!("--listen-client-urls=http://127.0.0.1:{client}"))
            .arg(format!("--advertise-client-urls=http://127.0.0.1:{client}"))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
            ))
            .arg(format!("--initial-cluster=default=http://127.0.0.1:{peer}"))
            .stdout(Stdio::null())
            .stderr(log("etcd.log"))
            .spawn()
            .expect("etcd starts");
        let file = |name: &str| pki.join(name).display().to_string();
        let apiserver = Command::new(apiserver_bin)
            .arg(format!("--etcd-servers=http://127.0.0.1:{client}"))
            .args(["--bind-address=127.0.0.1", "--advertise-address=127.0.0.1"])
            .arg(format!("--secure-port={secure}"))
            .arg(format!("--tls-cert-file={}", file("apiserver.crt")))
            .arg(format!("--tls-private-key-file={}", file("apiserver.key")))
            .arg(format!("--client-ca-file={}", file("ca.crt")))
            .arg(format!("--service-account-key-file={}", file("sa.pub")))
            .arg(format!(
                "--service-account-signing-key-file={}",
                file("sa.key")
            ))
            .arg("--service-account-issuer=https://kubernetes.default.svc")
            .arg("--authorization-mode=RBAC")
            .arg("--service-cluster-ip-range=10.96.0.0/16")
            .arg(format!("--cert-dir={}", dir.path().join("certs").display()))
            .stdout(Stdio::null())
            .stderr(log("apiserver.log"))
            .spawn()
            .expect("kube-apiserver starts");
        let mut plane = ControlPlane {
            etcd,
            apiserver,
            controllers: None,
            dir,
            url: format!("https://127.0.0.1:{secure}"),
        };
        plane.wait_ready();
        plane
    }

    fn wait_ready(&mut self) {
        let http = reqwest::blocking_free_client();
        let deadline = Instant::now() + Duration::from_secs(120);
        let url = format!("{}/readyz", self.url);
        loop {
            if let Some(status) = self.apiserver.try_wait().unwrap() {
                panic!(
                    "kube-apiserver exited ({status}): {}",
                    self.log("apiserver.log")
                );
            }
            if http(&url) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "kube-apiserver not ready after 120 s: {}",
                self.log("apiserver.log")
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// The tail of one of its logs.
    #[must_use]
    pub fn log(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        let start = text.len().saturating_sub(3000);
        text[text.floor_char_boundary(start)..].to_string()
    }

    /// A kubeconfig for the admin (a client certificate of
    /// `system:masters`), written once.
    #[must_use]
    pub fn admin_kubeconfig(&self) -> PathBuf {
        let pki = self.dir.path().join("pki");
        let path = self.dir.path().join("admin.kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: admin\n  user:\n    client-certificate: {}\n    client-key: {}\ncontexts:\n- name: test\n  context: {{cluster: test, user: admin}}\ncurrent-context: test\n",
                self.url,
                pki.join("ca.crt").display(),
                pki.join("admin.crt").display(),
                pki.join("admin.key").display()
            ),
        )
        .unwrap();
        path
    }

    /// A kubeconfig that authenticates with a bearer `token` (a service
    /// account's).
    #[must_use]
    pub fn token_kubeconfig(&self, name: &str, token: &str) -> PathBuf {
        let ca = self.dir.path().join("pki/ca.crt");
        let path = self.dir.path().join(format!("{name}.kubeconfig"));
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: {name}\n  user:\n    token: {token}\ncontexts:\n- name: test\n  context: {{cluster: test, user: {name}}}\ncurrent-context: test\n",
                self.url,
                ca.display()
            ),
        )
        .unwrap();
        path
    }
}

impl ControlPlane {
    /// Starts kube-controller-manager with the HPA controller alone
    /// (syncing every second), as the admin: the controller that acts on
    /// the bounds homeostat writes.
    pub fn start_hpa_controller(&mut self) {
        let kubeconfig = self.admin_kubeconfig();
        let log = std::fs::File::create(self.dir.path().join("controller-manager.log")).unwrap();
        let child = Command::new(binary("kube-controller-manager"))
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .args([
                "--controllers=horizontalpodautoscaling",
                "--horizontal-pod-autoscaler-sync-period=1s",
                "--leader-elect=false",
                "--use-service-account-credentials=false",
                "--secure-port=0",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("kube-controller-manager starts");
        self.controllers = Some(child);
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let children = self
            .controllers
            .iter_mut()
            .chain([&mut self.apiserver, &mut self.etcd]);
        for child in children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

mod reqwest {
    /// A readiness probe: `GET url` without a client certificate and
    /// without checking the server's (only whether it answers 200 `ok`).
    pub(super) fn blocking_free_client() -> impl Fn(&str) -> bool {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = ::reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .timeout(std::time::Duration::from_secs(2))
            .build()
            .unwrap();
        move |url: &str| {
            runtime.block_on(async {
                match client.get(url).send().await {
                    Ok(answer) if answer.status().is_success() => {
                        answer.text().await.is_ok_and(|t| t.trim() == "ok")
                    }
                    _ => false,
                }
            })
        }
    }
}
