//! The build container: no network, no capabilities, read-only root, a non-root user, limits on
//! memory, processes and time, and a fixed environment with nothing from the host.
//!
//! Only the engine API is used (no host bind mounts), so a remote engine or a Docker-compatible
//! socket works the same. Files move through volumes created for one run: `/src` holds what
//! goes in, `/out` what comes back, and `/tmp` is a tmpfs where the build itself works (the
//! engine cannot read tmpfs contents, so results are written to `/out`).
//!
//! Settings an engine would otherwise choose (rlimits, `/dev/shm`, init, log driver) are
//! pinned in [`crate::engine::portable`], the same for every engine.
//!
//! Every container and volume is registered with the run's [`Janitor`] before it exists on the
//! engine, so the caller can remove all of them on any path out, Ctrl-C included.

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, HostConfig, Mount, MountType, MountVolumeOptions, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;

use crate::archive::tree::{Tree, TreeError};
use crate::engine::janitor::Janitor;

/// Keep at most this much of a step's output (the tail matters on failure).
const LOG_LIMIT: usize = 1 << 20;
/// Upper bound on what a build may hand back: no more than hermit reads from one archive,
/// so the host holds at most this much of a build's output.
const OUTPUT_LIMIT: u64 = crate::archive::INFLATE_LIMIT;
/// Size of each of `/src` and `/tmp`: memory-backed, so a build cannot fill the host's disk,
/// and the limit is the same on every engine.
pub const DISK_LIMIT: &str = "2g";
/// Size of `/out`: what a build hands back, so a backend that writes more meets a full disk
/// inside the sandbox (a clear error) before the host downloads anything.
pub const OUT_LIMIT: &str = "512m";

/// Prints the sandbox cgroup's OOM-kill count (0 when the kernel does not say).
const OOM_PROBE: &str = r#"
n = 0
for p in ('/sys/fs/cgroup/memory.events', '/sys/fs/cgroup/memory/memory.oom_control'):
    try:
        for line in open(p):
            k, _, v = line.partition(' ')
            if k == 'oom_kill':
                n = max(n, int(v))
    except (OSError, ValueError):
        pass
print(n)
"#;

/// The first process: waits for a signal so steps can run one after another with `exec`
/// (one container start per build). The image has no shell, only Python.
const PID1: &str = "import signal; signal.sigwait({signal.SIGTERM, signal.SIGINT})";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: i64,
    pub pids: i64,
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 4 << 30,
            pids: 512,
            timeout: Duration::from_secs(1800),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Spec {
    /// Image ID (`sha256:…`).
    pub image: String,
    pub env: BTreeMap<String, String>,
    pub user: String,
    pub limits: Limits,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("container engine: {context}: {source}")]
    Engine {
        context: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error(
        "the build reached its time limit of {seconds} s during step `{step}` and was stopped (raise `timeout-seconds` in [tool.hermit])"
    )]
    Timeout { step: String, seconds: u64 },
    #[error("output of the build is unsafe or unreadable: {0}")]
    Output(#[from] TreeError),
    #[error("could not spool the build's output to a temporary file: {source}")]
    Spool {
        #[source]
        source: std::io::Error,
    },
}

/// The refusal of an engine whose local volume driver cannot size a tmpfs volume.
fn is_unsized_engine(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { message, .. }
        if message.contains("size and inodes not supported"))
}

fn engine(context: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> SandboxError {
    let context = context.into();
    move |source| SandboxError::Engine { context, source }
}

/// The result of one step.
#[derive(Debug, Clone)]
pub struct StepOutput {
    pub exit_code: i64,
    /// stdout and stderr interleaved, as the step printed them (tail only if very long).
    pub log: String,
    /// The engine's word that a process was killed for exceeding the memory limit.
    pub oom_killed: bool,
    /// The memory limit, for the message.
    pub memory_bytes: i64,
}

impl StepOutput {
    /// Why the step failed when a limit of the sandbox, not the build itself, ended it.
    pub fn limit_hit(&self) -> Option<String> {
        // 137: killed by SIGKILL, which inside the sandbox only the OOM killer sends.
        if self.oom_killed || self.exit_code == 137 {
            return Some(format!(
                "the build ran out of memory (limit {} MiB); raise `memory-mb` in [tool.hermit]",
                self.memory_bytes >> 20
            ));
        }
        if self.log.contains("No space left on device") {
            return Some(format!(
                "the build ran out of disk space (/src and /tmp hold {DISK_LIMIT} each, /out {OUT_LIMIT})"
            ));
        }
        None
    }
}

pub struct Sandbox<'a> {
    docker: &'a Docker,
    name: String,
    limits: Limits,
    /// One time limit for the whole build, not one per step.
    deadline: tokio::time::Instant,
}

impl<'a> Sandbox<'a> {
    /// Creates the volumes and the container, puts `input` (a tar) into `/src`, and starts it.
    pub async fn start(
        docker: &'a Docker,
        janitor: &Janitor,
        spec: &Spec,
        input: Vec<u8>,
    ) -> Result<Sandbox<'a>, SandboxError> {
        let name = janitor.next_sandbox_name();
        let labels = janitor.labels();
        let mut mounts = Vec::new();
        let (uid, gid) = spec
            .user
            .split_once(':')
            .unwrap_or((&spec.user, &spec.user));
        // tmpfs volumes: bounded, owned by the build user, gone with the container. Their
        // contents exist only while it runs, so files go in after start.
        // `size` is None on an engine that cannot size tmpfs volumes (see below).
        let driver_opts = |size: Option<&str>| -> std::collections::HashMap<String, String> {
            let size = size.map_or(String::new(), |s| format!("size={s},"));
            [
                ("type", "tmpfs".to_owned()),
                ("device", "tmpfs".to_owned()),
                (
                    "o",
                    format!("{size}uid={uid},gid={gid},mode=0755,nosuid,nodev"),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
        };
        let mut sized = true;
        for (role, target, size) in [("src", "/src", DISK_LIMIT), ("out", "/out", OUT_LIMIT)] {
            let volume = format!("{name}-{role}");
            janitor.add_volume(&volume);
            let create = |sized: bool| {
                docker.create_volume(VolumeCreateRequest {
                    name: Some(volume.clone()),
                    driver: Some("local".into()),
                    driver_opts: Some(driver_opts(sized.then_some(size))),
                    labels: Some(labels.clone()),
                    ..Default::default()
                })
            };
            match create(sized).await {
                Ok(_) => {}
                // Podman before 4.8 reads `size` as an XFS quota, even on tmpfs, and refuses
                // it. Unsized, the volume is still bounded: tmpfs pages count against the
                // container's memory limit.
                Err(e) if sized && is_unsized_engine(&e) => {
                    sized = false;
                    tracing::debug!(%e, "the engine cannot size tmpfs volumes");
                    create(false)
                        .await
                        .map_err(engine(format!("creating volume {volume}")))?;
                }
                Err(e) => return Err(engine(format!("creating volume {volume}"))(e)),
            }
            mounts.push(Mount {
                target: Some(target.into()),
                source: Some(volume),
                typ: Some(MountType::VOLUME),
                read_only: Some(false),
                // A create request already sent when Ctrl-C sweeps the run's volumes makes the
                // engine create them again, unlabeled, where no sweep would find them: created
                // that way they carry the run's labels too.
                volume_options: Some(MountVolumeOptions {
                    labels: Some(labels.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        let env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let host_config = HostConfig {
            network_mode: Some("none".into()),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            readonly_rootfs: Some(true),
            memory: Some(spec.limits.memory_bytes),
            memory_swap: Some(spec.limits.memory_bytes),
            pids_limit: Some(spec.limits.pids),
            tmpfs: Some(
                [(
                    "/tmp".to_owned(),
                    format!("rw,nosuid,nodev,size={DISK_LIMIT},mode=1777"),
                )]
                .into(),
            ),
            mounts: Some(mounts),
            ..crate::engine::portable::host_config()
        };
        janitor.add_container(&name);
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: Some(vec!["python3".into(), "-c".into(), PID1.into()]),
            entrypoint: Some(vec![]),
            env: Some(env),
            user: Some(spec.user.clone()),
            working_dir: Some("/tmp".into()),
            hostname: Some("hermit".into()),
            domainname: Some("invalid".into()),
            network_disabled: Some(true),
            labels: Some(labels),
            host_config: Some(host_config),
            ..Default::default()
        };
        docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                body,
            )
            .await
            .map_err(engine("creating the build container"))?;
        let sandbox = Sandbox {
            docker,
            name,
            limits: spec.limits.clone(),
            deadline: tokio::time::Instant::now() + spec.limits.timeout,
        };
        docker
            .start_container(&sandbox.name, None)
            .await
            .map_err(engine("starting the build container"))?;
        sandbox.upload("/src", input).await?;
        Ok(sandbox)
    }

    /// Unpacks the tar `archive` at `dir` (which must be in a volume: the root is read-only).
    pub async fn upload(&self, dir: &str, archive: Vec<u8>) -> Result<(), SandboxError> {
        let opts = UploadToContainerOptionsBuilder::default().path(dir).build();
        self.docker
            .upload_to_container(
                &self.name,
                Some(opts),
                bollard::body_full(bytes::Bytes::from(archive)),
            )
            .await
            .map_err(engine(format!("copying files into {dir}")))
    }

    /// Runs `argv` to completion (or the time limit) and returns its exit code and output.
    pub async fn exec(&self, step: &str, argv: &[&str]) -> Result<StepOutput, SandboxError> {
        let exec = self
            .docker
            .create_exec(
                &self.name,
                CreateExecOptions {
                    cmd: Some(argv.iter().map(|s| s.to_string()).collect()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    working_dir: Some("/tmp".to_string()),
                    ..Default::default()
                },
            )
            .await
            .map_err(engine(format!("preparing step {step}")))?;
        let run = async {
            let mut log = Vec::new();
            if let StartExecResults::Attached { mut output, .. } = self
                .docker
                .start_exec(&exec.id, None)
                .await
                .map_err(engine(format!("starting step {step}")))?
            {
                while let Some(chunk) = output.next().await {
                    let chunk = chunk.map_err(engine(format!("reading output of step {step}")))?;
                    log.extend_from_slice(&chunk.into_bytes());
                    if log.len() > 2 * LOG_LIMIT {
                        log.drain(..log.len() - LOG_LIMIT);
                    }
                }
            }
            Ok::<_, SandboxError>(log)
        };
        let started = std::time::Instant::now();
        let log = tokio::time::timeout_at(self.deadline, run)
            .await
            .map_err(|_| SandboxError::Timeout {
                step: step.to_owned(),
                seconds: self.limits.timeout.as_secs(),
            })??;
        let inspect = self
            .docker
            .inspect_exec(&exec.id)
            .await
            .map_err(engine(format!("reading the result of step {step}")))?;
        tracing::debug!(
            step,
            exit_code = inspect.exit_code,
            ms = started.elapsed().as_millis() as u64,
            "step ran"
        );
        let exit_code = inspect.exit_code.unwrap_or(-1);
        let oom_killed = exit_code != 0 && self.killed_for_memory(exit_code).await;
        Ok(StepOutput {
            exit_code,
            log: String::from_utf8_lossy(&log).into_owned(),
            oom_killed,
            memory_bytes: self.limits.memory_bytes,
        })
    }

    /// Whether the kernel killed a process of the sandbox for memory. The step's own process
    /// may survive that (a build frontend whose backend subprocess was killed exits 1), so
    /// the container's cgroup is asked too, not only the engine's word on the step.
    async fn killed_for_memory(&self, exit_code: i64) -> bool {
        if exit_code == 137
            && self
                .docker
                .inspect_container(&self.name, None)
                .await
                .ok()
                .and_then(|c| c.state?.oom_killed)
                .unwrap_or(false)
        {
            return true;
        }
        self.oom_kills().await.unwrap_or(0) > 0
    }

    /// The cgroup's count of OOM kills (cgroup v2 `memory.events`, v1 `memory.oom_control`).
    async fn oom_kills(&self) -> Option<u64> {
        let exec = self
            .docker
            .create_exec(
                &self.name,
                CreateExecOptions::<String> {
                    cmd: Some(vec!["python3".into(), "-c".into(), OOM_PROBE.into()]),
                    attach_stdout: Some(true),
                    ..Default::default()
                },
            )
            .await
            .ok()?;
        let mut out = Vec::new();
        if let StartExecResults::Attached { mut output, .. } =
            self.docker.start_exec(&exec.id, None).await.ok()?
        {
            while let Some(Ok(chunk)) = output.next().await {
                out.extend_from_slice(&chunk.into_bytes());
                if out.len() > 64 {
                    return None;
                }
            }
        }
        String::from_utf8_lossy(&out).trim().parse().ok()
    }

    /// Fetches directory `dir` (in a volume) as a checked tree: regular files only, no links,
    /// no path that escapes, bounded size.
    ///
    /// The archive is spooled to an unnamed temporary file as it arrives, the limit checked on
    /// every chunk, and read from there: the host holds the tree once, never the tar too.
    pub async fn download(&self, dir: &str) -> Result<Tree, SandboxError> {
        use std::io::{Seek, Write};
        let opts = DownloadFromContainerOptionsBuilder::default()
            .path(dir)
            .build();
        let mut stream = self.docker.download_from_container(&self.name, Some(opts));
        let spool_err = |source| SandboxError::Spool { source };
        let mut spool = tempfile::tempfile().map_err(spool_err)?;
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(engine(format!("copying {dir} out")))?;
            written += chunk.len() as u64;
            // Tar headers and padding ride on top of the files.
            if written > OUTPUT_LIMIT + (64 << 20) {
                return Err(TreeError::TooLarge {
                    limit: OUTPUT_LIMIT,
                }
                .into());
            }
            spool.write_all(&chunk).map_err(spool_err)?;
        }
        spool.rewind().map_err(spool_err)?;
        let base = dir.trim_end_matches('/').rsplit('/').next().unwrap_or(dir);
        Ok(Tree::from_untrusted_tar(
            std::io::BufReader::new(spool),
            Some(base),
            OUTPUT_LIMIT,
        )?)
    }
}
