//! `hermit cache ls|prune`: what the download cache holds, and removing what builds no longer
//! use. Data on stdout, one line per kind or file; the policy is `index::cache_usage`'s.

use std::time::{Duration, SystemTime};

use crate::cli::CacheCommand;
use crate::commands::Failure;
use crate::index::cache::Cache;
use crate::index::cache_usage::{self, Policy, human};

pub fn run(cmd: CacheCommand) -> Result<u8, Failure> {
    match cmd {
        CacheCommand::Ls(args) => {
            let cache = Cache::open(args.cache_dir.as_deref()).map_err(Failure::usage)?;
            let entries = cache_usage::scan(cache.dir()).map_err(Failure::failed)?;
            let totals = cache_usage::totals(&entries);
            let (files, bytes) = totals
                .values()
                .fold((0, 0), |(f, b), (n, s)| (f + n, b + s));
            if args.json {
                let kinds: Vec<serde_json::Value> = totals
                    .iter()
                    .map(|(kind, (n, b))| {
                        serde_json::json!({"kind": kind.name(), "files": n, "bytes": b})
                    })
                    .collect();
                super::print_json(&serde_json::json!({
                    "kinds": kinds,
                    "files": files,
                    "bytes": bytes,
                }))?;
                return Ok(0);
            }
            println!(
                "{}",
                crate::output::sanitize_line(&cache.dir().display().to_string())
            );
            for (kind, (n, b)) in &totals {
                println!("  {:>6} files  {:>9}  {}", n, human(*b), kind.label());
            }
            println!("  {files:>6} files  {:>9}  in all", human(bytes));
            Ok(0)
        }
        CacheCommand::Prune(args) => {
            let cache = Cache::open(args.cache_dir.as_deref()).map_err(Failure::usage)?;
            let entries = cache_usage::scan(cache.dir()).map_err(Failure::failed)?;
            let policy = if args.all {
                Policy::All
            } else {
                Policy::OlderThan {
                    now: SystemTime::now(),
                    age: Duration::from_secs(u64::from(args.older_than) * 86_400),
                    keep: cache_usage::builtin_digests(),
                }
            };
            let chosen = cache_usage::select(&entries, &policy);
            let verb = if args.dry_run {
                "would remove"
            } else {
                "removed"
            };
            if !args.json {
                for e in &chosen {
                    println!(
                        "{verb} {}  {}",
                        crate::output::sanitize_line(&e.path),
                        human(e.bytes)
                    );
                }
            }
            let bytes = if args.dry_run {
                chosen.iter().map(|e| e.bytes).sum()
            } else {
                cache_usage::remove(cache.dir(), &chosen).map_err(Failure::failed)?
            };
            let why = match &policy {
                Policy::All => "everything".to_owned(),
                Policy::OlderThan { .. } => format!(
                    "not used for {} days; the built-in lock's and image's files are kept",
                    args.older_than
                ),
            };
            if args.json {
                let files: Vec<serde_json::Value> = chosen
                    .iter()
                    .map(|e| serde_json::json!({"path": e.path, "kind": e.kind.name(), "bytes": e.bytes}))
                    .collect();
                super::print_json(&serde_json::json!({
                    "dry_run": args.dry_run,
                    "policy": match &policy {
                        Policy::All => serde_json::json!({"all": true}),
                        Policy::OlderThan { .. } => serde_json::json!({"older_than_days": args.older_than}),
                    },
                    "removed": files,
                    "files": chosen.len(),
                    "bytes": bytes,
                }))?;
                return Ok(0);
            }
            println!("{verb} {} files, {} ({why})", chosen.len(), human(bytes));
            Ok(0)
        }
    }
}
