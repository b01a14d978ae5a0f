//! One module per subcommand: each wires the library's stages together and reports.

use crate::cli::Command;
use crate::error::Exit;
pub use crate::error::Failure;
use crate::output::Reporter;

mod build;
mod compare;
mod completions;
mod doctor;
mod image;
mod lock;
mod man;
mod rebuild;
mod report;
mod verify;

/// Runs one command; `Ok(code)` lets a command that completed report a non-zero outcome
/// (a verification that found differences exits 1 without being an error).
pub async fn run(command: Command, reporter: &Reporter) -> Result<u8, Failure> {
    match command {
        Command::Build(args) => build::run(args, reporter).await,
        Command::Verify(args) => verify::run(args, reporter).await,
        Command::Compare(args) => compare::run(args),
        Command::Lock(args) => lock::run(args, reporter).await,
        Command::Rebuild(args) => rebuild::run(args, reporter).await,
        Command::Report(args) => report::run(args),
        Command::Image(cmd) => image::run(cmd, reporter).await,
        Command::Doctor(args) => doctor::run(args).await,
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
    }
}

/// Prints a command's `--json` result: one line of canonical JSON (sorted keys) on stdout,
/// the only thing a `--json` run writes there.
pub fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    let mut bytes = crate::record::canonical::to_vec(value).map_err(Failure::failed)?;
    bytes.push(b'\n');
    write_stdout(&bytes)
}

/// Writes to stdout; a reader that went away (`hermit man | head`) ends the output quietly
/// instead of panicking as `println!` would.
pub fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::failed(anyhow::anyhow!(
            "could not write to stdout: {e}"
        ))),
    }
}

/// Connects to the engine and runs `work` as one run: its own run ID and janitor, swept
/// afterwards by `with_cleanup`.
pub async fn on_engine<T>(
    reporter: &Reporter,
    work: impl AsyncFnOnce(&bollard::Docker, &crate::engine::janitor::Janitor) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let docker = connect(reporter).await?;
    let janitor = crate::engine::janitor::Janitor::for_new_run();
    with_cleanup(&docker, &janitor, reporter, work(&docker, &janitor)).await
}

/// Connects to the engine and first removes what runs killed outright (SIGKILL, OOM, power
/// loss) left behind: such a run never got to sweep.
pub async fn connect(reporter: &Reporter) -> Result<bollard::Docker, Failure> {
    let docker = crate::engine::docker::connect()
        .await
        .map_err(Failure::failed)?;
    let local = crate::engine::docker::is_local();
    let (removed, problems) = crate::engine::janitor::sweep_stale(&docker, local).await;
    if removed > 0 {
        reporter.info(format!(
            "removed {removed} containers and volumes left by hermit runs that were killed"
        ));
    }
    for p in &problems {
        reporter.info(format!("warning: could not remove {p}"));
    }
    Ok(docker)
}

/// Runs `work` and then removes everything the run created, also when the user presses
/// Ctrl-C (the work future is dropped at its next await point, then cleanup runs).
pub async fn with_cleanup<T>(
    docker: &bollard::Docker,
    janitor: &crate::engine::janitor::Janitor,
    reporter: &Reporter,
    work: impl Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    let interrupted = || {
        Err(Failure::new(
            Exit::Interrupted,
            anyhow::anyhow!(
                "interrupted; removed this run's containers and volumes, left the output directory untouched"
            ),
        ))
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
