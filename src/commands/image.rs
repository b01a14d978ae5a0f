//! `hermit image build|lock|ls|prune`.

use crate::cli::ImageCommand;
use crate::commands::{Failure, with_cleanup};
use crate::engine::janitor::Janitor;
use crate::output::Reporter;

pub async fn run(cmd: ImageCommand, reporter: &Reporter) -> Result<u8, Failure> {
    let docker = super::connect(reporter).await?;
    let janitor = Janitor::for_new_run();
    match cmd {
        ImageCommand::Build(args) => {
            let cache = crate::index::cache::Cache::open(args.endpoints.cache_dir.as_deref())
                .map_err(Failure::usage)?;
            let mirror = args.endpoints.debian_mirror.clone();
            let id = with_cleanup(&docker, &janitor, reporter, async {
                match &args.recipe {
                    Some(dir) => crate::image::build_recipe(
                        &docker,
                        &janitor,
                        cache.dir(),
                        dir,
                        mirror.as_deref(),
                        reporter,
                    )
                    .await
                    .map_err(Failure::failed),
                    None if args.if_missing => crate::image::ensure_builtin(
                        &docker,
                        &janitor,
                        cache.dir(),
                        args.python,
                        mirror.as_deref(),
                        reporter,
                    )
                    .await
                    .map(|d| d.id)
                    .map_err(Failure::failed),
                    None => {
                        let embedded = args.python.embedded();
                        let dir = tempfile::tempdir().map_err(Failure::failed)?;
                        std::fs::write(dir.path().join("recipe.toml"), embedded.recipe)
                            .and_then(|()| {
                                std::fs::write(dir.path().join("recipe.lock"), embedded.lock)
                            })
                            .map_err(Failure::failed)?;
                        crate::image::build_recipe(
                            &docker,
                            &janitor,
                            cache.dir(),
                            dir.path(),
                            mirror.as_deref(),
                            reporter,
                        )
                        .await
                        .map_err(Failure::failed)
                    }
                }
            })
            .await?;
            reporter.info(format!("image {id} has the pinned digest"));
            if args.json {
                super::print_json(&serde_json::json!({
                    "id": id,
                    "recipe": args.recipe.as_ref().map(|d| d.display().to_string()),
                }))?;
            }
            Ok(0)
        }
        ImageCommand::Lock(args) => {
            let cache = crate::index::cache::Cache::open(args.endpoints.cache_dir.as_deref())
                .map_err(Failure::usage)?;
            let options = crate::image::LockOptions {
                mirror: args.endpoints.debian_mirror.clone(),
                skip_signature: args.insecure_skip_release_signature,
            };
            let lock = with_cleanup(&docker, &janitor, reporter, async {
                crate::image::lock_recipe(
                    &docker,
                    &janitor,
                    cache.dir(),
                    &args.recipe,
                    &options,
                    reporter,
                )
                .await
                .map_err(Failure::failed)
            })
            .await?;
            if args.json {
                let packages: Vec<_> = lock
                    .packages
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "name": p.name,
                            "version": p.version,
                            "path": p.path,
                            "size": p.size,
                            "sha256": p.sha256,
                        })
                    })
                    .collect();
                super::print_json(&serde_json::json!({
                    "recipe": args.recipe.display().to_string(),
                    "image_id": lock.image_id,
                    "recipe_sha256": lock.recipe_sha256,
                    "packages": packages,
                }))?;
            }
            Ok(0)
        }
        ImageCommand::Prune(args) => {
            let cache = crate::index::cache::Cache::open(args.cache_dir.as_deref())
                .map_err(Failure::usage)?;
            let images = crate::image::list(&docker).await.map_err(Failure::failed)?;
            let needed = crate::image::prune::needed(cache.dir());
            let plan = crate::image::prune::plan(&images, &needed, args.all);
            let human = crate::index::cache_usage::human;
            if !args.json {
                for (image, why) in &plan.keep {
                    println!("kept {}  {}  ({why})", image.id, image.tags.join(", "));
                }
            }
            let verb = if args.dry_run {
                "would remove"
            } else {
                "removed"
            };
            // Layers, to count what images share once; an image that vanished meanwhile
            // shares nothing.
            let mut layers = std::collections::BTreeMap::new();
            for image in plan.remove.iter().chain(plan.keep.iter().map(|(i, _)| i)) {
                let found = docker
                    .inspect_image(&image.id.to_string())
                    .await
                    .ok()
                    .and_then(|i| i.root_fs?.layers)
                    .unwrap_or_default();
                layers.insert(image.id, found);
            }
            let stack = |i: &crate::image::ListedImage| (i.size, layers[&i.id].clone());
            let freed = crate::image::prune::freed(
                &plan.remove.iter().map(stack).collect::<Vec<_>>(),
                &plan.keep.iter().map(|(i, _)| stack(i)).collect::<Vec<_>>(),
            );
            let (mut count, mut bytes) = (0, 0);
            let mut failed = Vec::new();
            let mut removed = Vec::new();
            for (image, size) in plan.remove.iter().zip(freed) {
                if !args.dry_run
                    && let Err(e) = crate::image::prune::remove(&docker, image).await
                {
                    reporter.info(format!("warning: could not remove {}: {e}", image.id));
                    failed.push(serde_json::json!({"id": image.id, "error": e.to_string()}));
                    continue;
                }
                if !args.json {
                    println!(
                        "{verb} {}  {}  {}",
                        image.id,
                        human(size),
                        image.tags.join(", ")
                    );
                }
                removed
                    .push(serde_json::json!({"id": image.id, "tags": image.tags, "bytes": size}));
                count += 1;
                bytes += size;
            }
            if args.json {
                let kept: Vec<serde_json::Value> = plan
                    .keep
                    .iter()
                    .map(|(i, why)| serde_json::json!({"id": i.id, "tags": i.tags, "why": why.to_string()}))
                    .collect();
                super::print_json(&serde_json::json!({
                    "dry_run": args.dry_run,
                    "kept": kept,
                    "removed": removed,
                    "failed": failed,
                    "images": count,
                    "bytes": bytes,
                }))?;
            } else {
                println!(
                    "{verb} {count} images, {} (shared layers counted once)",
                    human(bytes)
                );
            }
            Ok(u8::from(!failed.is_empty()))
        }
        ImageCommand::Ls(args) => {
            let images = crate::image::list(&docker).await.map_err(Failure::failed)?;
            if args.json {
                let images: Vec<_> = images
                    .iter()
                    .map(|i| {
                        serde_json::json!({
                            "id": i.id,
                            "size": i.size,
                            "tags": i.tags,
                        })
                    })
                    .collect();
                super::print_json(&serde_json::json!({ "images": images }))?;
                return Ok(0);
            }
            let text: String = images
                .iter()
                .map(|image| {
                    format!(
                        "{}  {:>6} MB  {}\n",
                        image.id,
                        image.size / 1_000_000,
                        crate::output::sanitize_line(&image.tags.join(", "))
                    )
                })
                .collect();
            super::write_stdout(text.as_bytes())?;
            Ok(0)
        }
    }
}
