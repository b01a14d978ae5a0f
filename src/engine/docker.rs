//! Connecting to the container engine. Every command that needs the engine goes through
//! `connect`, which negotiates the API version: engines from distribution packages are often
//! older than the API bollard speaks by default.

use bollard::Docker;

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

/// Whether the engine runs on this machine (a unix socket): then a resource's owner process
/// can be looked up here.
pub fn is_local() -> bool {
    endpoint().starts_with("unix://")
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
