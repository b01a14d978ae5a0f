//! `hermit doctor`: what hermit would use, and where each setting came from. Exit 1 when
//! something a build needs is missing.

use serde::Serialize;

use crate::cli::DoctorArgs;
use crate::commands::Failure;

/// One line of the report: what was checked, whether it is usable, and what was found.
#[derive(Debug, Serialize)]
struct Check {
    check: String,
    ok: bool,
    detail: String,
}

pub async fn run(args: DoctorArgs) -> Result<u8, Failure> {
    let json = args.json;
    let args = args.endpoints;
    let mut checks: Vec<Check> = Vec::new();
    let mut line = |good: bool, what: &str, detail: String| {
        checks.push(Check {
            check: what.to_owned(),
            ok: good,
            detail,
        });
    };
    match crate::engine::docker::connect().await {
        Ok(docker) => {
            let version = docker.version().await.ok();
            let engine = version
                .as_ref()
                .and_then(|v| v.version.clone())
                .unwrap_or_else(|| "?".into());
            let api = version
                .as_ref()
                .and_then(|v| v.api_version.clone())
                .unwrap_or_else(|| "?".into());
            line(
                true,
                "engine",
                format!(
                    "version {engine}, API {api} (hermit speaks {})",
                    docker.client_version()
                ),
            );
            let stale =
                crate::engine::janitor::stale(&docker, crate::engine::docker::is_local()).await;
            line(
                true,
                "left behind",
                if stale.is_empty() {
                    "nothing from killed runs".to_owned()
                } else {
                    let names: Vec<String> = stale
                        .iter()
                        .map(|(kind, name, owner)| format!("{kind} {name} (pid {})", owner.pid))
                        .collect();
                    format!(
                        "{} (the next build or verify removes them): {}",
                        names.len(),
                        names.join(", ")
                    )
                },
            );
            let pinned = crate::image::default_recipe_pinned_id().to_string();
            let present = docker.inspect_image(&pinned).await.is_ok();
            line(
                true,
                "default image",
                format!(
                    "{pinned} {}",
                    if present {
                        "present"
                    } else {
                        "not built yet (the first build makes it, or run `hermit image build`)"
                    }
                ),
            );
        }
        Err(e) => line(false, "engine", e.to_string()),
    }
    match crate::index::endpoints::index_url(args.index_url.as_deref()) {
        Ok(e) => line(
            true,
            "package index",
            format!("{} (from {})", e.url, e.origin),
        ),
        Err(e) => line(false, "package index", e.to_string()),
    }
    match crate::index::endpoints::debian_mirror(args.debian_mirror.as_deref()) {
        Ok(e) => line(
            true,
            "debian mirror",
            format!("{} (from {})", e.url, e.origin),
        ),
        Err(e) => line(false, "debian mirror", e.to_string()),
    }
    match crate::index::cache::Cache::open(args.cache_dir.as_deref()) {
        Ok(c) => line(true, "cache", c.dir().display().to_string()),
        Err(e) => line(false, "cache", e.to_string()),
    }
    let (lock_path, _) = crate::lock::default_lock();
    line(true, "default lock", format!("builtin:{lock_path}"));
    let ok = checks.iter().all(|c| c.ok);
    if json {
        super::print_json(&serde_json::json!({ "ok": ok, "checks": checks }))?;
    } else {
        let text: String = checks
            .iter()
            .map(|c| {
                format!(
                    "{} {:<16} {}\n",
                    if c.ok { "ok  " } else { "FAIL" },
                    c.check,
                    crate::output::sanitize_line(&c.detail)
                )
            })
            .collect();
        super::write_stdout(text.as_bytes())?;
    }
    Ok(if ok { 0 } else { 1 })
}
