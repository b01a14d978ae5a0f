//! One run's containers and volumes, and their removal on every path out.
//!
//! Each hermit command that touches the engine is one run with a short random id. Everything
//! the run creates carries that id as a label and is registered here before it exists on the
//! engine, so `sweep` can remove it after success, failure or Ctrl-C, including a resource
//! whose creation was interrupted before its name came back.
//!
//! A run killed outright (SIGKILL, the OOM killer, power loss) never sweeps. So every resource
//! also names its owner process (`org.hermit.owner`: boot id, pid and the process's start
//! time), and every later command that reaches the engine first removes what belongs to owners
//! that no longer run on this machine ([`sweep_stale`]); `hermit doctor` lists them too.

use std::collections::HashMap;
use std::sync::Mutex;

use bollard::Docker;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder,
};

/// Label put on every container, volume and image hermit creates, so tests and `hermit doctor`
/// can prove nothing was left behind.
pub const LABEL: &str = "org.hermit.managed";
/// The label that names the run a resource belongs to.
pub const RUN_LABEL: &str = "org.hermit.run";
/// The label that names the process that owns a resource: `BOOT_ID/PID/START_TIME`.
pub const OWNER_LABEL: &str = "org.hermit.owner";

/// A container or volume the engine would not remove.
#[derive(Debug, thiserror::Error)]
#[error("{kind} {name}: {source}")]
pub struct CleanupError {
    pub kind: Kind,
    pub name: String,
    #[source]
    pub source: bollard::errors::Error,
}

/// Remembers what one run created and removes it.
pub struct Janitor {
    run_id: String,
    /// How many sandboxes this run started: each gets names of its own.
    sandboxes: std::sync::atomic::AtomicUsize,
    containers: Mutex<Vec<String>>,
    volumes: Mutex<Vec<String>>,
}

impl Janitor {
    /// A janitor for a new run, with a fresh id.
    pub fn for_new_run() -> Self {
        Self::new(fresh_run_id())
    }

    pub fn new(run_id: impl Into<String>) -> Self {
        Self {
            run_id: run_id.into(),
            sandboxes: Default::default(),
            containers: Mutex::default(),
            volumes: Mutex::default(),
        }
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The name for this run's next sandbox: `hermit-RUN` for the first (most runs have one),
    /// `hermit-RUN-2` and so on after it.
    pub fn next_sandbox_name(&self) -> String {
        match self
            .sandboxes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        {
            0 => format!("hermit-{}", self.run_id),
            n => format!("hermit-{}-{}", self.run_id, n + 1),
        }
    }

    /// Labels for a resource this run creates.
    pub fn labels(&self) -> HashMap<String, String> {
        [
            (LABEL.to_owned(), "true".to_owned()),
            (RUN_LABEL.to_owned(), self.run_id.clone()),
            (OWNER_LABEL.to_owned(), Owner::me().to_string()),
        ]
        .into()
    }

    pub(crate) fn add_container(&self, name: &str) {
        self.containers.lock().unwrap().push(name.to_owned());
    }

    /// Forgets a container its creator removed itself, so the sweep does not wait for it.
    pub(crate) fn forget_container(&self, name: &str) {
        self.containers.lock().unwrap().retain(|n| n != name);
    }

    pub(crate) fn add_volume(&self, name: &str) {
        self.volumes.lock().unwrap().push(name.to_owned());
    }

    /// Removes every container and volume of this run: the registered names, plus anything
    /// carrying this run's label (created by a step that was interrupted before it could
    /// report the name). Errors are collected, not fatal: cleanup goes as far as it can.
    ///
    /// A request that was under way when the run was interrupted can still complete on the
    /// engine after the first pass (dropping the client's future does not cancel the engine's
    /// work), so when a registered name is unknown to the engine, passes repeat for about a
    /// second to catch the creation landing late.
    pub async fn sweep(&self, docker: &Docker) -> Vec<CleanupError> {
        let mut problems = Vec::new();
        let mut in_flight = false;
        for pass in 0.. {
            let (missing, mut found_problems) = self.sweep_once(docker, pass == 0).await;
            // A registered name the engine does not know yet is a creation that may still be
            // under way: look again for a while, by label, until it shows up or time is up.
            in_flight |= missing > 0;
            if !(in_flight && pass < 8) {
                problems.append(&mut found_problems);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        }
        tracing::debug!(run = %self.run_id, problems = problems.len(), "swept the run");
        problems
    }

    /// One pass: how many registered names the engine did not know, and what it could not
    /// remove. Containers go first: a volume in use cannot be removed.
    async fn sweep_once(
        &self,
        docker: &Docker,
        include_registered: bool,
    ) -> (usize, Vec<CleanupError>) {
        let mut missing = 0;
        let mut problems = Vec::new();
        let labelled = labelled(docker, &format!("{RUN_LABEL}={}", self.run_id)).await;
        for kind in [Kind::Container, Kind::Volume] {
            let registered = match (include_registered, kind) {
                (false, _) => Vec::new(),
                (true, Kind::Container) => self.containers.lock().unwrap().clone(),
                (true, Kind::Volume) => self.volumes.lock().unwrap().clone(),
            };
            for name in registered {
                match remove(docker, kind, &name).await {
                    Ok(true) => {}
                    Ok(false) => missing += 1,
                    Err(e) => problems.push(e),
                }
            }
            for (_, name, _) in labelled.iter().filter(|(k, ..)| *k == kind) {
                if let Err(e) = remove(docker, kind, name).await {
                    problems.push(e);
                }
            }
        }
        (missing, problems)
    }
}

/// Which kind of engine resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Container,
    Volume,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Container => "container",
            Self::Volume => "volume",
        })
    }
}

/// Every container (by ID) and volume (by name) carrying `label` (`KEY` or `KEY=VALUE`), with
/// its labels; containers first. An engine that does not answer yields nothing.
async fn labelled(docker: &Docker, label: &str) -> Vec<(Kind, String, HashMap<String, String>)> {
    let filters: HashMap<String, Vec<String>> =
        [("label".to_owned(), vec![label.to_owned()])].into();
    let mut out = Vec::new();
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap_or_default();
    for c in containers {
        if let Some(id) = c.id {
            out.push((Kind::Container, id, c.labels.unwrap_or_default()));
        }
    }
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map(|v| v.volumes.unwrap_or_default())
        .unwrap_or_default();
    for v in volumes {
        out.push((Kind::Volume, v.name, v.labels));
    }
    out
}

/// Removes a container (with its anonymous volumes) or a volume; `Ok(false)` when the engine
/// has no such thing.
async fn remove(docker: &Docker, kind: Kind, name: &str) -> Result<bool, CleanupError> {
    let result = match kind {
        Kind::Container => {
            let opts = RemoveContainerOptionsBuilder::default()
                .force(true)
                .v(true)
                .build();
            docker.remove_container(name, Some(opts)).await
        }
        Kind::Volume => {
            let opts = bollard::query_parameters::RemoveVolumeOptions { force: true };
            docker.remove_volume(name, Some(opts)).await
        }
    };
    match result {
        Ok(()) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(false),
        Err(source) => Err(CleanupError {
            kind,
            name: name.to_owned(),
            source,
        }),
    }
}

/// The process that created a resource, as its label records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The kernel's boot id: a pid means nothing after a reboot.
    pub boot: String,
    pub pid: u32,
    /// Clock ticks after boot when the process started: a reused pid has another.
    pub start: u64,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.boot, self.pid, self.start)
    }
}

impl std::str::FromStr for Owner {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let mut parts = s.split('/');
        let boot = parts.next().filter(|b| !b.is_empty()).ok_or(())?;
        let pid = parts.next().and_then(|p| p.parse().ok()).ok_or(())?;
        let start = parts.next().and_then(|p| p.parse().ok()).ok_or(())?;
        if parts.next().is_some() {
            return Err(());
        }
        Ok(Self {
            boot: boot.to_owned(),
            pid,
            start,
        })
    }
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Field 22 of `/proc/PID/stat` (after the parenthesised command, which may hold spaces).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

impl Owner {
    pub fn me() -> Self {
        let pid = std::process::id();
        Self {
            boot: boot_id(),
            pid,
            start: start_time(pid).unwrap_or(0),
        }
    }

    /// Whether the owner is known to be gone: on this machine, since this boot, no process
    /// with its pid and start time. An owner from another boot is gone when the engine is
    /// local (the machine restarted); on a remote engine it may be another machine's, so it
    /// is left alone.
    pub fn is_gone(&self, local_engine: bool) -> bool {
        if self.boot != boot_id() {
            return local_engine;
        }
        start_time(self.pid) != Some(self.start)
    }
}

/// Containers and volumes whose owner is gone, containers first.
pub async fn stale(docker: &Docker, local_engine: bool) -> Vec<(Kind, String, Owner)> {
    labelled(docker, LABEL)
        .await
        .into_iter()
        .filter_map(|(kind, name, labels)| {
            let owner = labels.get(OWNER_LABEL)?.parse::<Owner>().ok()?;
            owner.is_gone(local_engine).then_some((kind, name, owner))
        })
        .collect()
}

/// Removes what [`stale`] finds; returns how many were removed and what could not be.
pub async fn sweep_stale(docker: &Docker, local_engine: bool) -> (usize, Vec<CleanupError>) {
    let mut removed = 0;
    let mut problems = Vec::new();
    for (kind, name, owner) in stale(docker, local_engine).await {
        match remove(docker, kind, &name).await {
            Ok(_) => {
                tracing::debug!(%kind, name, %owner, "removed a stale resource");
                removed += 1;
            }
            Err(e) => problems.push(e),
        }
    }
    (removed, problems)
}

/// A short random identifier for one run's containers and volumes (never recorded anywhere
/// that must be reproducible). `HERMIT_RUN_ID` overrides it so tests can find a run's
/// resources.
fn fresh_run_id() -> String {
    if let Ok(id) = std::env::var("HERMIT_RUN_ID")
        && !id.is_empty()
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return id;
    }
    let mut bytes = [0u8; 6];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut bytes);
    }
    if bytes == [0; 6] {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes.copy_from_slice(&(nanos ^ std::process::id() as u128).to_le_bytes()[..6]);
    }
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_round_trips_and_refuses_junk() {
        let me = Owner::me();
        assert_eq!(me.to_string().parse::<Owner>(), Ok(me.clone()));
        assert!(!me.is_gone(true), "this very process runs");
        for bad in ["", "a/b/c", "boot/1", "boot/1/2/3", "/1/2"] {
            assert!(bad.parse::<Owner>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_owner_that_ended_or_was_reused_is_gone() {
        let me = Owner::me();
        let reused = Owner {
            start: me.start + 1,
            ..me.clone()
        };
        assert!(reused.is_gone(true));
        let other_boot = Owner {
            boot: "another-boot".into(),
            ..me
        };
        assert!(other_boot.is_gone(true));
        assert!(
            !other_boot.is_gone(false),
            "a remote engine's owners are not judged"
        );
    }
}
