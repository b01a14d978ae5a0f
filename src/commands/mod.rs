//! One module per subcommand: each wires the library's stages together and reports.

use crate::cli::Command;
use crate::output::Reporter;

mod build;
mod compare;
mod doctor;
mod image;
mod lock;
mod rebuild;
mod verify;

/// An error as the user sees it: what went wrong, how bad (exit code), and the fix.
#[derive(Debug)]
pub struct Failure {
    pub error: anyhow::Error,
    pub usage: bool,
    pub hint: Option<String>,
}

impl Failure {
    /// A failed build, verification or engine operation (exit code 1).
    pub fn failed(error: impl Into<anyhow::Error>) -> Self {
        Self {
            error: error.into(),
            usage: false,
            hint: None,
        }
    }

    /// Bad input: a flag, a file, a setting (exit code 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self {
            error: error.into(),
            usage: true,
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn exit_code(&self) -> u8 {
        if self.usage { 2 } else { 1 }
    }
}

/// Runs one command; `Ok(code)` lets a command that completed report a non-zero outcome
/// (a verification that found differences exits 1 without being an error).
pub async fn run(command: Command, reporter: &Reporter) -> Result<u8, Failure> {
    match command {
        Command::Build(args) => build::run(args, reporter).await,
        Command::Verify(args) => verify::run(args, reporter).await,
        Command::Compare(args) => compare::run(args),
        Command::Lock(args) => lock::run(args, reporter).await,
        Command::Rebuild(args) => rebuild::run(args, reporter).await,
        Command::Image(cmd) => image::run(cmd, reporter).await,
        Command::Doctor(args) => doctor::run(args).await,
    }
}

/// A short random identifier for one run's containers and volumes (not recorded anywhere
/// that must be reproducible). `HERMIT_RUN_ID` overrides it so tests can find a run's
/// resources.
pub fn run_id() -> String {
    let id = fresh_run_id();
    crate::docker::set_run_id(&id);
    crate::docker::run_id().to_owned()
}

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

/// Connects to the engine and runs `work` as one run: its own run ID and janitor, swept
/// afterwards by `with_cleanup`.
pub async fn on_engine<T>(
    reporter: &Reporter,
    work: impl AsyncFnOnce(&bollard::Docker, &crate::sandbox::Janitor) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let docker = crate::docker::connect().await.map_err(Failure::failed)?;
    let janitor = crate::sandbox::Janitor::new(run_id());
    with_cleanup(&docker, &janitor, reporter, work(&docker, &janitor)).await
}

/// Runs `work` and then removes everything the run created, also when the user presses
/// Ctrl-C (the work future is dropped at its next await point, then cleanup runs).
pub async fn with_cleanup<T>(
    docker: &bollard::Docker,
    janitor: &crate::sandbox::Janitor,
    reporter: &Reporter,
    work: impl Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    let interrupted = || {
        Err(Failure::failed(anyhow::anyhow!(
            "interrupted; removed this run's containers and volumes, left the output directory untouched"
        )))
    };
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let term = async {
        match terminate.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    let result = tokio::select! {
        r = work => r,
        _ = tokio::signal::ctrl_c() => interrupted(),
        _ = term => interrupted(),
    };
    let problems = janitor.sweep(docker).await;
    for p in &problems {
        reporter.info(format!("warning: could not remove {p}"));
    }
    result
}
