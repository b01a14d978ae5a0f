//! One short container run on an image, for image work only (byte-compiling, probing the
//! interpreter): no network, optional upload before start, downloads after exit, and the
//! container removed on every path out, errors included. Its rlimits and the other settings
//! engines default differently are the sandbox's (`crate::engine::portable`).

use std::collections::BTreeMap;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;

use crate::engine::janitor::Janitor;
use crate::image::reference::ImageId;

/// Process limit of an image-build container: compileall `-j0` starts one worker per CPU.
const PIDS: i64 = 1024;

#[derive(Debug, thiserror::Error)]
pub enum OneshotError {
    #[error("could not {what} the image-build container from {image}: {source}")]
    Engine {
        what: &'static str,
        image: ImageId,
        #[source]
        source: bollard::errors::Error,
    },
}

pub struct Job<'a> {
    pub image: &'a ImageId,
    pub user: &'a str,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    /// A tar extracted at `/` before the container starts (the root is writable here).
    pub upload: Option<Vec<u8>>,
    /// Absolute paths to fetch as tars after the run.
    pub download: Vec<String>,
}

pub struct Outcome {
    pub exit_code: i64,
    pub logs: String,
    pub downloads: BTreeMap<String, Vec<u8>>,
}

/// Runs `job` to completion and removes the container, whatever happened.
pub async fn run(
    docker: &Docker,
    janitor: &Janitor,
    job: Job<'_>,
) -> Result<Outcome, OneshotError> {
    let image = *job.image;
    let err = |what| {
        move |source| OneshotError::Engine {
            what,
            image,
            source,
        }
    };
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        user: Some(job.user.to_owned()),
        cmd: Some(job.cmd.clone()),
        env: Some(job.env.clone()),
        working_dir: Some("/".to_owned()),
        network_disabled: Some(true),
        labels: Some(janitor.labels()),
        hostname: Some("hermit".to_owned()),
        host_config: Some(HostConfig {
            network_mode: Some("none".to_owned()),
            cap_drop: Some(vec!["ALL".to_owned()]),
            security_opt: Some(vec!["no-new-privileges".to_owned()]),
            // Engines differ here too: Podman caps pids at 2048 by default, Docker not at all.
            pids_limit: Some(PIDS),
            ..crate::engine::portable::host_config()
        }),
        ..Default::default()
    };
    // Named and registered before the request goes out: if Ctrl-C cuts the request off, the
    // engine may still create the container, and the janitor waits for a name it expects.
    let name = janitor.next_sandbox_name();
    janitor.add_container(&name);
    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            body,
        )
        .await
        .map_err(err("create"))?;
    let result = drive(docker, &created.id, job)
        .await
        .map_err(|(what, source)| OneshotError::Engine {
            what,
            image,
            source,
        });
    let remove = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    let removed = docker.remove_container(&created.id, Some(remove)).await;
    if removed.is_ok() {
        janitor.forget_container(&name);
    }
    let outcome = result?;
    removed.map_err(err("remove"))?;
    Ok(outcome)
}

async fn drive(
    docker: &Docker,
    id: &str,
    job: Job<'_>,
) -> Result<Outcome, (&'static str, bollard::errors::Error)> {
    if let Some(tar) = job.upload {
        let opts = UploadToContainerOptionsBuilder::default().path("/").build();
        docker
            .upload_to_container(id, Some(opts), bollard::body_full(tar.into()))
            .await
            .map_err(|e| ("upload into", e))?;
    }
    docker
        .start_container(id, None)
        .await
        .map_err(|e| ("start", e))?;
    let mut exit_code = 0;
    let mut wait = docker.wait_container(id, None);
    while let Some(item) = wait.next().await {
        match item {
            Ok(r) => exit_code = r.status_code,
            // bollard reports a non-zero exit as this error, carrying the code.
            Err(bollard::errors::Error::DockerContainerWaitError { code, .. }) => exit_code = code,
            Err(e) => return Err(("wait for", e)),
        }
    }
    let opts = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .build();
    let mut logs = String::new();
    let mut stream = docker.logs(id, Some(opts));
    while let Some(item) = stream.next().await {
        logs.push_str(&item.map_err(|e| ("read logs of", e))?.to_string());
    }
    let mut downloads = BTreeMap::new();
    for path in job.download {
        let opts = DownloadFromContainerOptionsBuilder::default()
            .path(&path)
            .build();
        let mut bytes = Vec::new();
        let mut stream = docker.download_from_container(id, Some(opts));
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.map_err(|e| ("download from", e))?);
        }
        downloads.insert(path, bytes);
    }
    Ok(Outcome {
        exit_code,
        logs,
        downloads,
    })
}
