//! HTTP pieces shared by every server homeostat talks to (Prometheus,
//! Alertmanager, Pushgateway): credentials read from files or the
//! environment and never printed, and TLS trust.

use crate::core::time::Span;
use std::path::{Path, PathBuf};

/// A secret that never shows in `Debug` output.
pub(crate) struct Secret(pub(crate) String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How requests authenticate.
#[derive(Debug)]
pub(crate) enum Auth {
    None,
    Basic { username: String, password: Secret },
    Bearer(Secret),
}

impl Auth {
    /// Reads the secrets of `setting` (`prometheus`, `alertmanager`, …).
    pub(crate) fn read(
        setting: &str,
        basic_auth: Option<&(String, SecretSource)>,
        bearer_token: Option<&SecretSource>,
    ) -> Result<Auth, EndpointError> {
        match (basic_auth, bearer_token) {
            (Some(_), Some(_)) => Err(EndpointError::TwoCredentials {
                setting: setting.to_string(),
            }),
            (Some((username, password)), None) => Ok(Auth::Basic {
                username: username.clone(),
                password: read_secret(password, &format!("{setting}.basic_auth.password"))?,
            }),
            (None, Some(token)) => Ok(Auth::Bearer(read_secret(
                token,
                &format!("{setting}.bearer_token"),
            )?)),
            (None, None) => Ok(Auth::None),
        }
    }

    /// `request` with these credentials (reqwest marks them sensitive).
    pub(crate) fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::None => request,
            Auth::Basic { username, password } => request.basic_auth(username, Some(&password.0)),
            Auth::Bearer(token) => request.bearer_auth(&token.0),
        }
    }
}

/// Why a server's connection settings cannot be used: the message names
/// the setting at fault (never a secret's value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("{setting}: give basic_auth or a bearer token, not both")]
    TwoCredentials { setting: String },
    #[error("{setting}: {problem}")]
    Secret { setting: String, problem: String },
    #[error("{setting}.ca_file: {problem}")]
    CaFile { setting: String, problem: String },
    #[error("{setting}: {problem}")]
    Header { setting: String, problem: String },
    #[error("{setting}: cannot set up the HTTP client: {reason}")]
    Client { setting: String, reason: String },
}

impl EndpointError {
    /// A stable name for the kind of failure, for logs and the run summary.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            EndpointError::TwoCredentials { .. } => "credentials_ambiguous",
            EndpointError::Secret { .. } => "secret_unreadable",
            EndpointError::CaFile { .. } => "ca_file_invalid",
            EndpointError::Header { .. } => "header_invalid",
            EndpointError::Client { .. } => "http_client",
        }
    }
}

/// Reads a secret from its file or environment variable; `setting` names
/// it in errors (never its value).
pub(crate) fn read_secret(source: &SecretSource, setting: &str) -> Result<Secret, EndpointError> {
    let unusable = |problem: String| EndpointError::Secret {
        setting: setting.to_string(),
        problem,
    };
    let text = match source {
        SecretSource::File(path) => std::fs::read_to_string(path)
            .map_err(|e| unusable(format!("cannot read {}: {e}", path.display())))?,
        SecretSource::Env(name) => std::env::var(name)
            .map_err(|_| unusable(format!("environment variable {name} is not set")))?,
    };
    // Files written by `echo` or editors end in a newline that is not part of the secret.
    let secret = text.trim_end_matches(['\n', '\r']).to_string();
    if secret.is_empty() {
        return Err(unusable("the secret is empty".to_string()));
    }
    Ok(Secret(secret))
}

/// `builder` trusting the certificates of `ca_file` too, or (when asked
/// for) no certificate at all.
pub(crate) fn with_tls(
    mut builder: reqwest::ClientBuilder,
    setting: &str,
    ca_file: Option<&Path>,
    insecure_skip_verify: bool,
) -> Result<reqwest::ClientBuilder, EndpointError> {
    if let Some(path) = ca_file {
        let unusable = |problem: String| EndpointError::CaFile {
            setting: setting.to_string(),
            problem,
        };
        let pem = std::fs::read(path)
            .map_err(|e| unusable(format!("cannot read {}: {e}", path.display())))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| unusable(format!("{} is not PEM: {e}", path.display())))?;
        if certificates.is_empty() {
            return Err(unusable(format!("{} holds no certificate", path.display())));
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    if insecure_skip_verify {
        // The caller warns on every run (the library never prints).
        builder = builder.danger_accept_invalid_certs(true);
    }
    Ok(builder)
}

/// An error and its causes, each once: reqwest's own message alone says
/// "error sending request" and hides the refused connection.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// Where a secret comes from: never the YAML itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file (a mounted Kubernetes Secret), resolved against the config's folder.
    File(PathBuf),
    /// An environment variable, by name.
    Env(String),
}

/// A server homeostat notifies (Alertmanager, Pushgateway).
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// Base URL (`http(s)://host:port[/prefix]`), without a trailing `/`.
    pub url: String,
    /// Per request, from connecting to the end of the answer (10 s).
    pub timeout: Span,
    pub basic_auth: Option<(String, SecretSource)>,
    pub bearer_token: Option<SecretSource>,
    pub ca_file: Option<PathBuf>,
    pub insecure_skip_verify: bool,
    /// This homeostat's identity on a server others share (`cluster:
    /// eu-1`): on every alert, and in the filter of those it may resolve;
    /// in the Pushgateway's grouping key.
    pub labels: std::collections::BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let auth = Auth::Basic {
            username: "homeostat".into(),
            password: Secret("hunter2".into()),
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
    }
}
