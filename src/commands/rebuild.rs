//! `hermit rebuild NAME==VERSION` and `hermit rebuild -r FILE`.

use std::path::{Path, PathBuf};

use futures_util::StreamExt;

use crate::check::rebuild::batch::{self, SummaryRow};
use crate::check::rebuild::shard;
use crate::check::rebuild::{self, RebuildError, RebuildOptions, RebuildResult};
use crate::check::verdict::Verdict;
use crate::cli::RebuildArgs;
use crate::commands::{Failure, on_engine};
use crate::error::Exit;
use crate::index::release::ReleaseSpec;
use crate::output::Reporter;

pub async fn run(args: RebuildArgs, reporter: &Reporter) -> Result<u8, Failure> {
    match (&args.release, &args.requirement_file) {
        (Some(release), None) => single(&args, release, reporter).await,
        (None, Some(file)) => batch(&args, file, reporter).await,
        _ => Err(Failure::usage(anyhow::anyhow!(
            "give one release (NAME==VERSION) or -r FILE"
        ))),
    }
}

fn default_dir(spec: &ReleaseSpec) -> PathBuf {
    PathBuf::from(format!("{}-{}", spec.name, spec.version))
}

fn options(args: &RebuildArgs, spec: ReleaseSpec, out: PathBuf) -> RebuildOptions {
    RebuildOptions {
        spec,
        out,
        index_url: args.endpoints.index_url.clone(),
        debian_mirror: args.endpoints.debian_mirror.clone(),
        cache_dir: args.endpoints.cache_dir.clone(),
        attest: args.attest,
        python: args.python,
        known: Default::default(),
    }
}

/// One rebuild with its own engine connection and cleanup.
async fn one(opts: &RebuildOptions, reporter: &Reporter) -> Result<RebuildResult, Failure> {
    on_engine(reporter, async |docker, janitor| {
        rebuild::rebuild(docker, janitor, opts, reporter)
            .await
            .map_err(failure)
    })
    .await
}

/// One rebuild of a concurrent batch, in the run `janitor` names.
async fn one_of_many(
    opts: &RebuildOptions,
    janitor: crate::engine::janitor::Janitor,
    reporter: &Reporter,
) -> Result<RebuildResult, Failure> {
    let docker = super::connect(reporter).await?;
    let work = async {
        rebuild::rebuild(&docker, &janitor, opts, reporter)
            .await
            .map_err(failure)
    };
    super::with_cleanup(&docker, &janitor, reporter, work).await
}

async fn single(
    args: &RebuildArgs,
    spec: &ReleaseSpec,
    reporter: &Reporter,
) -> Result<u8, Failure> {
    let spec = spec.clone();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("rebuild").join(default_dir(&spec)));
    let result = one(&options(args, spec, out.clone()), reporter).await?;
    reporter.detail(format!("time spent: {}", result.timings));
    let record = &result.record;
    // The verdict is said once: as JSON on stdout with --json, else as text on stdout.
    if args.json {
        super::print_json(&json(&result))?;
    } else {
        let mut text = String::new();
        if let Some(report) = &result.report
            && record.verdict == Verdict::Different
        {
            text.push_str(&report.render());
        }
        // Not "different", so no whole report: one line per member says how the native code
        // differs and why the packaging follows.
        if record.verdict == Verdict::SamePythonCode {
            for (member, why) in &record.member_reasons {
                text.push_str(&format!("  {member}: {why}\n"));
            }
        }
        text.push_str(&format!("{}: {}\n", record.spec, record.verdict));
        super::write_stdout(text.as_bytes())?;
    }
    reporter.info(format!(
        "wrote {} files to {}",
        result.written.len(),
        out.display()
    ));
    Ok(if record.verdict.is_reproduced() { 0 } else { 1 })
}

async fn batch(args: &RebuildArgs, file: &Path, reporter: &Reporter) -> Result<u8, Failure> {
    let listed = batch::read_list(file).map_err(Failure::usage)?;
    let specs = match args.shard {
        Some(shard) => {
            let mine = shard::select(&listed, shard);
            reporter.info(format!(
                "shard {shard}: {} of the {} releases listed",
                mine.len(),
                shard::dedup(&listed).len()
            ));
            mine
        }
        None => shard::dedup(&listed),
    };
    let base = args.out.clone().unwrap_or_else(|| PathBuf::from("rebuild"));
    // Concurrent rebuilds cannot share a run: a rebuild that retries sweeps its run's
    // resources, which would take the others' containers too. So each gets a run of its own,
    // named after the batch's and its place in the list.
    let batch_run = crate::engine::janitor::Janitor::for_new_run()
        .run_id()
        .to_owned();
    // Ctrl-C or SIGTERM reaches every rebuild running (each removes what it made); the batch
    // then starts no other, writes nothing for the ones interrupted, and stops.
    let stopped = std::sync::atomic::AtomicBool::new(false);
    let stopped = &stopped;
    // `buffered` keeps the list's order whatever finishes first, so the table, the JSON and
    // the exit code do not depend on -j.
    let outcomes: Vec<_> = futures_util::stream::iter(specs)
        .enumerate()
        .map(|(i, spec)| {
            let out = base.join(default_dir(&spec));
            let run = format!("{batch_run}-{}", i + 1);
            async move {
                if stopped.load(std::sync::atomic::Ordering::SeqCst) {
                    return (spec, None);
                }
                let opts = options(args, spec.clone(), out.clone());
                let outcome = if args.jobs > 1 {
                    one_of_many(&opts, crate::engine::janitor::Janitor::new(run), reporter).await
                } else {
                    one(&opts, reporter).await
                };
                if matches!(&outcome, Err(f) if f.exit == Exit::Interrupted) {
                    stopped.store(true, std::sync::atomic::Ordering::SeqCst);
                    return (spec, None);
                }
                if let Err(f) = &outcome {
                    reporter.info(format!("{}=={}: {}", spec.name, spec.version, f.error));
                }
                let known = opts.known.lock().map(|k| k.clone()).unwrap_or_default();
                if let Err(e) = batch::note_outcome(
                    &out,
                    &spec,
                    outcome.as_ref().err().map(|f| &f.error),
                    &known,
                ) {
                    reporter.info(format!("warning: {e}"));
                }
                (spec, Some(outcome))
            }
        })
        .buffered(usize::from(args.jobs))
        .collect()
        .await;
    if stopped.load(std::sync::atomic::Ordering::SeqCst) {
        let done = outcomes.iter().filter(|(_, o)| o.is_some()).count();
        return Err(Failure::new(
            Exit::Interrupted,
            anyhow::anyhow!(
                "interrupted; removed the containers and volumes of the rebuilds running, started no other; {done} of the {} releases had finished (their records are in {})",
                outcomes.len(),
                base.display()
            ),
        ));
    }
    let outcomes = outcomes
        .into_iter()
        .filter_map(|(spec, outcome)| outcome.map(|o| (spec, o)));
    let mut rows = Vec::new();
    let mut results = Vec::new();
    let mut all_reproduced = true;
    let mut timings = rebuild::Timings::default();
    for (spec, outcome) in outcomes {
        match outcome {
            Ok(result) => {
                timings += result.timings;
                all_reproduced &= result.record.verdict.is_reproduced();
                rows.push(SummaryRow::rebuilt(&spec, &result.record));
                results.push(json(&result));
            }
            Err(f) => {
                all_reproduced = false;
                rows.push(SummaryRow::failed(&spec));
                results.push(serde_json::json!({
                    "spec": format!("{}=={}", spec.name, spec.version),
                    "error": f.error.to_string(),
                }));
            }
        }
    }
    // Summed over the rebuilt releases (with -j above 1 they overlap in wall time).
    reporter.info(format!(
        "time spent, summed over the releases rebuilt: {timings}"
    ));
    if args.json {
        super::print_json(&results)?;
    } else {
        super::write_stdout(batch::render_table(&rows).as_bytes())?;
    }
    Ok(if all_reproduced { 0 } else { 1 })
}

fn json(result: &RebuildResult) -> serde_json::Value {
    serde_json::json!({
        "record": result.record,
        "report": result.report,
        "written": result.written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
    })
}

fn failure(e: RebuildError) -> Failure {
    match e {
        RebuildError::Build(b) => super::build::failure(b),
        RebuildError::Release(
            crate::index::release::ReleaseError::BadSpec { .. }
            | crate::index::release::ReleaseError::NoSuchVersion { .. }
            | crate::index::release::ReleaseError::Missing { .. },
        ) => Failure::usage(e),
        other => Failure::failed(other),
    }
}
