//! Connecting to the container engine. Every command that needs the engine goes through
//! `connect`, which negotiates the API version: engines from distribution packages are often
//! older than the API bollard speaks by default.

use bollard::Docker;

/// Label put on every container, volume and image hermit creates, so tests and `hermit doctor`
/// can prove nothing was left behind.
pub const LABEL: &str = "org.hermit.managed";

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "no container engine answers at {endpoint}: start Docker (e.g. `systemctl start docker`) or set DOCKER_HOST ({source})"
    )]
    Unreachable {
        endpoint: String,
        #[source]
        source: bollard::errors::Error,
    },
}

fn endpoint() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

/// Connects, negotiates the API version and pings, so a missing engine is one clear error here
/// rather than an obscure one halfway through a build.
pub async fn connect() -> Result<Docker, DockerError> {
    let unreachable = |source| DockerError::Unreachable {
        endpoint: endpoint(),
        source,
    };
    let docker = Docker::connect_with_defaults().map_err(unreachable)?;
    let docker = docker.negotiate_version().await.map_err(unreachable)?;
    docker.ping().await.map_err(unreachable)?;
    Ok(docker)
}

static RUN_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sets the identifier of this process's run (once; later calls are ignored). Every container
/// and volume hermit creates carries it as a label, so cleanup after Ctrl-C can find even a
/// resource whose creation was interrupted before its name was known.
pub fn set_run_id(id: &str) {
    let _ = RUN_ID.set(id.to_owned());
}

/// This process's run identifier (`"none"` before `set_run_id`).
pub fn run_id() -> &'static str {
    RUN_ID.get().map(String::as_str).unwrap_or("none")
}

/// Labels for a resource created by this process's run.
pub fn run_labels() -> std::collections::HashMap<String, String> {
    labels(run_id())
}

/// Labels for a resource created by run `run_id`.
pub fn labels(run_id: &str) -> std::collections::HashMap<String, String> {
    [
        (LABEL.to_owned(), "true".to_owned()),
        ("org.hermit.run".to_owned(), run_id.to_owned()),
    ]
    .into()
}
