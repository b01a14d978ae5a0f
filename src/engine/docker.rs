//! Connecting to the container engine. Every command that needs the engine goes through
//! `connect`, which negotiates the API version: engines from distribution packages are often
//! older than the API bollard speaks by default.
//!
//! The endpoint is `DOCKER_HOST` when set (what the Docker CLI and Podman's documentation both
//! tell users to set, so hermit adds no second name for it), else the first engine socket
//! found on this machine: Docker's, then rootless Podman's, then rootful Podman's. `hermit
//! doctor` says which one was used and why.

use std::fmt;
use std::path::Path;

use bollard::Docker;

/// Docker's socket, also the answer when no socket is found (so the error names it).
const DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// Rootful Podman's socket (`systemctl enable --now podman.socket`).
const PODMAN_ROOT_SOCKET: &str = "/run/podman/podman.sock";
/// Longest `DOCKER_HOST` accepted: it is printed, so bounded.
const MAX_HOST_LEN: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "no container engine answers at {endpoint}: start Docker (e.g. `systemctl start docker`) or Podman's service (`podman system service`), or set DOCKER_HOST ({source})"
    )]
    Unreachable {
        endpoint: Endpoint,
        #[source]
        source: bollard::errors::Error,
    },
    #[error(
        "DOCKER_HOST `{0}` is not an engine address hermit can use: give unix:///PATH/TO/SOCKET or tcp://HOST:PORT"
    )]
    BadHost(String),
}

/// Where the endpoint came from, for `hermit doctor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The `DOCKER_HOST` environment variable.
    Env,
    /// A socket found at a well-known path.
    Found,
    /// Nothing set and no socket found: Docker's default path, named in the error.
    Default,
}

/// The engine address hermit talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `unix:///…` or `tcp://…`.
    pub url: String,
    pub source: Source,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl Endpoint {
    /// `from DOCKER_HOST`, `the socket found at …`, `Docker's default socket`.
    pub fn origin(&self) -> String {
        match self.source {
            Source::Env => "from DOCKER_HOST".to_owned(),
            Source::Found => "DOCKER_HOST unset; the first engine socket found".to_owned(),
            Source::Default => {
                "DOCKER_HOST unset and no engine socket found; Docker's default".to_owned()
            }
        }
    }

    /// Whether the engine runs on this machine (a unix socket): then a resource's owner
    /// process can be looked up here.
    pub fn is_local(&self) -> bool {
        self.url.starts_with("unix://")
    }
}

/// The endpoint from this process's environment and the sockets on this machine.
pub fn endpoint() -> Result<Endpoint, DockerError> {
    choose(
        std::env::var("DOCKER_HOST").ok().as_deref(),
        std::env::var_os("XDG_RUNTIME_DIR")
            .as_deref()
            .and_then(|d| d.to_str()),
        |p| Path::new(p).exists(),
    )
}

/// The choice itself, with the environment and the file system passed in.
fn choose(
    docker_host: Option<&str>,
    xdg_runtime_dir: Option<&str>,
    exists: impl Fn(&str) -> bool,
) -> Result<Endpoint, DockerError> {
    // An empty DOCKER_HOST means unset to the Docker CLI; hermit agrees.
    if let Some(host) = docker_host.map(str::trim).filter(|h| !h.is_empty()) {
        return check_host(host).map(|url| Endpoint {
            url,
            source: Source::Env,
        });
    }
    let rootless = xdg_runtime_dir
        .filter(|d| d.starts_with('/'))
        .map(|d| format!("{}/podman/podman.sock", d.trim_end_matches('/')));
    let candidates = [
        Some(DOCKER_SOCKET.to_owned()),
        rootless,
        Some(PODMAN_ROOT_SOCKET.to_owned()),
    ];
    for path in candidates.into_iter().flatten() {
        if exists(&path) {
            return Ok(Endpoint {
                url: format!("unix://{path}"),
                source: Source::Found,
            });
        }
    }
    Ok(Endpoint {
        url: format!("unix://{DOCKER_SOCKET}"),
        source: Source::Default,
    })
}

/// `unix://` with an absolute path, or `tcp://`/`http://` with a host: what bollard can reach
/// without TLS. Anything else is refused here with the variable named, rather than as an
/// obscure connection error later.
fn check_host(host: &str) -> Result<String, DockerError> {
    let bad = || DockerError::BadHost(crate::output::sanitize_line(&truncate(host)));
    if host.len() > MAX_HOST_LEN || host.chars().any(char::is_control) {
        return Err(bad());
    }
    if let Some(path) = host.strip_prefix("unix://") {
        return if path.starts_with('/') {
            Ok(host.to_owned())
        } else {
            Err(bad())
        };
    }
    for scheme in ["tcp://", "http://"] {
        if let Some(rest) = host.strip_prefix(scheme) {
            let authority = rest.split('/').next().unwrap_or("");
            return if authority.is_empty() || authority.contains('@') {
                Err(bad())
            } else {
                Ok(host.to_owned())
            };
        }
    }
    Err(bad())
}

fn truncate(s: &str) -> String {
    s.chars().take(200).collect()
}

/// Connects to [`endpoint`], negotiates the API version and pings, so a missing engine is one
/// clear error here rather than an obscure one halfway through a build.
pub async fn connect() -> Result<Docker, DockerError> {
    connect_to(&endpoint()?).await
}

pub async fn connect_to(endpoint: &Endpoint) -> Result<Docker, DockerError> {
    let unreachable = |source| DockerError::Unreachable {
        endpoint: endpoint.clone(),
        source,
    };
    let docker = Docker::connect_with_host(&endpoint.url).map_err(unreachable)?;
    let docker = docker.negotiate_version().await.map_err(unreachable)?;
    docker.ping().await.map_err(unreachable)?;
    Ok(docker)
}

/// Whether [`endpoint`] is on this machine; an endpoint that cannot be worked out is not.
pub fn is_local() -> bool {
    endpoint().is_ok_and(|e| e.is_local())
}

/// Which engine answered, from its version report: Podman names itself among the components
/// (`Podman Engine`); Docker's engine component is plain `Engine`.
pub fn engine_name(version: &bollard::models::SystemVersion) -> &'static str {
    let says = |needle: &str| {
        version
            .components
            .iter()
            .flatten()
            .any(|c| c.name.to_ascii_lowercase().contains(needle))
            || version
                .platform
                .as_ref()
                .is_some_and(|p| p.name.to_ascii_lowercase().contains(needle))
    };
    if says("podman") {
        "Podman"
    } else if says("docker") || says("engine") {
        "Docker"
    } else {
        "an unknown engine"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_wins_and_is_checked() {
        let none = |_: &str| false;
        let e = choose(Some("tcp://127.0.0.1:2375"), None, none).unwrap();
        assert_eq!(
            (e.url.as_str(), e.source, e.is_local()),
            ("tcp://127.0.0.1:2375", Source::Env, false)
        );
        let e = choose(Some("unix:///tmp/x/podman.sock"), None, |_| true).unwrap();
        assert_eq!((e.source, e.is_local()), (Source::Env, true));
        for bad in [
            "ssh://me@host",
            "unix://relative.sock",
            "tcp://",
            "tcp://user@host:1",
            "/var/run/docker.sock",
            "tcp://a\nb",
        ] {
            let err = choose(Some(bad), None, none).unwrap_err().to_string();
            assert!(err.starts_with("DOCKER_HOST `"), "{bad}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn without_docker_host_the_first_socket_found_is_used() {
        let only = |want: &'static str| move |p: &str| p == want;
        let e = choose(Some(""), Some("/run/user/1000"), only(DOCKER_SOCKET)).unwrap();
        assert_eq!(
            (e.url.as_str(), e.source),
            ("unix:///var/run/docker.sock", Source::Found)
        );
        let e = choose(
            None,
            Some("/run/user/1000/"),
            only("/run/user/1000/podman/podman.sock"),
        )
        .unwrap();
        assert_eq!(e.url, "unix:///run/user/1000/podman/podman.sock");
        let e = choose(None, Some("relative"), only(PODMAN_ROOT_SOCKET)).unwrap();
        assert_eq!(e.url, "unix:///run/podman/podman.sock");
        let e = choose(None, None, |_| false).unwrap();
        assert_eq!(
            (e.url.as_str(), e.source),
            ("unix:///var/run/docker.sock", Source::Default)
        );
        assert!(e.origin().contains("no engine socket found"));
    }

    #[test]
    fn names_the_engine_from_its_components() {
        let version = |component: &str| -> bollard::models::SystemVersion {
            serde_json::from_value(serde_json::json!({
                "Components": [{"Name": component, "Version": "1"}]
            }))
            .unwrap()
        };
        assert_eq!(engine_name(&version("Podman Engine")), "Podman");
        assert_eq!(engine_name(&version("Engine")), "Docker");
        assert_eq!(engine_name(&version("containerd")), "an unknown engine");
    }
}
