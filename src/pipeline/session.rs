//! The sandbox stage: one build container in the prepared environment, and the driver's steps
//! that run in it. Each step's output is checked (a requirement the lock lacks is named as
//! such), its one artifact fetched, and what it ran kept for the manifest.

use std::collections::BTreeMap;
use std::sync::Mutex;

use bollard::Docker;

use crate::archive::tree::{Entry, Tree};
use crate::engine::janitor::Janitor;
use crate::engine::sandbox::{Limits, Sandbox, Spec, StepOutput};
use crate::output::Reporter;

use super::prepare::{PrepareOptions, Prepared, prepare};
use super::{BUILD_USER, BuildError, DRIVER, record};

/// `prepare`, then a container in the environment it made: how `build`, `rebuild` and
/// `verify --index` all begin.
pub async fn prepare_session<'a>(
    docker: &'a Docker,
    janitor: &Janitor,
    opts: &PrepareOptions<'_>,
    setup: SessionSetup<'_>,
    reporter: &Reporter,
) -> Result<(Prepared, Session<'a>), BuildError> {
    let prepared = prepare(docker, janitor, opts, reporter).await?;
    let session = Session::start(docker, janitor, &prepared, setup, reporter).await?;
    Ok((prepared, session))
}

/// How a build container is set up.
pub struct SessionSetup<'s> {
    pub env: BTreeMap<String, String>,
    pub limits: Limits,
    /// The project's files, for the sdist step (none when building from a given sdist).
    pub source: Option<&'s Tree>,
    /// The time stamped on files handed in.
    pub mtime: u64,
}

/// One build container, with the steps that can run in it.
pub struct Session<'a> {
    sandbox: Sandbox<'a>,
    lockfile_label: String,
    reporter: Reporter,
    /// Every command run so far, as the manifest records them. A lock because the steps take
    /// `&self`, and the futures that borrow a session must stay `Send`.
    ran: Mutex<Vec<Vec<String>>>,
}

impl<'a> Session<'a> {
    /// Starts the container; `source` (if any) is what the sdist step builds.
    pub async fn start(
        docker: &'a Docker,
        janitor: &Janitor,
        prepared: &Prepared,
        setup: SessionSetup<'_>,
        reporter: &Reporter,
    ) -> Result<Session<'a>, BuildError> {
        Self::start_in(
            docker,
            janitor,
            prepared.env_id,
            &prepared.requirements.lockfile,
            setup,
            reporter,
        )
        .await
    }

    /// Starts a container on `env_id`; a missing requirement is named as missing from
    /// `lockfile_label`.
    pub async fn start_in(
        docker: &'a Docker,
        janitor: &Janitor,
        env_id: crate::image::ImageId,
        lockfile_label: &str,
        setup: SessionSetup<'_>,
        reporter: &Reporter,
    ) -> Result<Session<'a>, BuildError> {
        let SessionSetup {
            env,
            limits,
            source,
            mtime,
        } = setup;
        let mut input = Tree::new();
        if let Some(source) = source {
            for (path, entry) in source.entries() {
                if let Entry::File { mode, data } = entry {
                    input
                        .insert_file(&format!("source/{path}"), *mode, data.clone())
                        .expect("paths were checked when read");
                }
            }
        }
        let spec = Spec {
            image: env_id.to_string(),
            env,
            user: BUILD_USER.into(),
            limits,
        };
        let sandbox = Sandbox::start(docker, janitor, &spec, input.to_tar(mtime)).await?;
        Ok(Session {
            sandbox,
            lockfile_label: lockfile_label.to_owned(),
            reporter: reporter.clone(),
            ran: Mutex::new(Vec::new()),
        })
    }

    /// Builds the sdist from the source; returns its name and the backend's bytes.
    pub async fn sdist(&self) -> Result<(String, Vec<u8>), BuildError> {
        self.run_driver("sdist", &["sdist"]).await?;
        single_output(
            self.sandbox.download("/out/sdist").await?,
            "sdist",
            ".tar.gz",
        )
    }

    /// Builds the sdist and then the wheel from it in one step, as `python -m build` does:
    /// one interpreter instead of two. The wheel is the right one only if the sdist is
    /// published as the backend wrote it; otherwise build again with `wheel_from`.
    pub async fn sdist_and_wheel(&self) -> Result<[(String, Vec<u8>); 2], BuildError> {
        self.run_driver("sdist", &["both"]).await?;
        let mut both = self.sandbox.download("/out").await?;
        let mut part = |dir: &str| {
            let mut tree = Tree::new();
            let prefix = format!("{dir}/");
            let names: Vec<String> = both
                .entries()
                .filter(|(p, _)| p.starts_with(&prefix))
                .map(|(p, _)| p.clone())
                .collect();
            for name in names {
                if let Some(Entry::File { mode, data }) = both.remove(&name) {
                    let _ = tree.insert_file(&name[prefix.len()..], mode, data);
                }
            }
            tree
        };
        let sdist = single_output(part("sdist"), "sdist", ".tar.gz")?;
        let wheel = single_output(part("wheel"), "wheel", ".whl")?;
        Ok([sdist, wheel])
    }

    /// Builds the wheel from `sdist` (unpacked inside the container, as an installer would);
    /// returns its name and the backend's bytes.
    pub async fn wheel_from(
        &self,
        sdist_name: &str,
        sdist: &[u8],
        mtime: u64,
    ) -> Result<(String, Vec<u8>), BuildError> {
        let sdist_path = self.hand_in("sdist", sdist_name, sdist, mtime).await?;
        // A directory of its own: an earlier `sdist_and_wheel` may have used /out/wheel.
        let outdir = "/out/wheel-from-sdist";
        self.run_driver("wheel", &["wheel", &sdist_path, outdir])
            .await?;
        single_output(self.sandbox.download(outdir).await?, "wheel", ".whl")
    }

    /// Repairs the platform tag of the wheel `name` with the tools in `tools` (see
    /// [`super::repair`]): both are handed into `/src`, and the tools are on the path of the
    /// repair step only. Returns the repaired wheel's name and bytes.
    pub async fn repair(
        &self,
        name: &str,
        wheel: &[u8],
        mut tools: Tree,
        mtime: u64,
    ) -> Result<(String, Vec<u8>), BuildError> {
        let bad_name = || BuildError::UnexpectedOutput {
            step: "repair",
            what: ".whl",
            found: crate::output::sanitize_line(name),
        };
        tools
            .insert_file(&format!("repair/{name}"), 0o644, wheel.to_vec())
            .map_err(|_| bad_name())?;
        self.sandbox.upload("/src", tools.to_tar(mtime)).await?;
        let outdir = "/out/repaired";
        let wheel_path = format!("/src/repair/{name}");
        self.run_driver("repair", &["repair", &wheel_path, outdir])
            .await?;
        single_output(self.sandbox.download(outdir).await?, "repair", ".whl")
    }

    /// What the backend's `get_requires_for_build_*` hooks ask for on top of
    /// `build-system.requires`: for the project's sdist and wheel, or for the wheel of a
    /// given sdist. Not recorded among the build's commands: it decides the lock, and a build
    /// with a lock already made runs without it.
    pub async fn requires(
        &self,
        sdist: Option<(&str, &[u8])>,
        mtime: u64,
    ) -> Result<Vec<String>, BuildError> {
        let mut argv = vec![
            "python3".to_owned(),
            "-c".into(),
            DRIVER.into(),
            "requires".into(),
        ];
        if let Some((name, bytes)) = sdist {
            argv.push(self.hand_in("requires", name, bytes, mtime).await?);
        }
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = self.sandbox.exec("requires", &argv).await?;
        self.reporter.detail(&out.log);
        check_step("requires", &out, &self.lockfile_label)?;
        out.log
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("HERMIT-REQUIRES "))
            .and_then(|json| serde_json::from_str(json).ok())
            .ok_or(BuildError::NoDriverRecord { step: "requires" })
    }

    /// Puts an sdist into `/src/sdist/` and returns its path there.
    async fn hand_in(
        &self,
        step: &'static str,
        name: &str,
        bytes: &[u8],
        mtime: u64,
    ) -> Result<String, BuildError> {
        let mut handoff = Tree::new();
        handoff
            .insert_file(&format!("sdist/{name}"), 0o644, bytes.to_vec())
            .map_err(|_| BuildError::UnexpectedOutput {
                step,
                what: ".tar.gz",
                found: name.to_owned(),
            })?;
        self.sandbox.upload("/src", handoff.to_tar(mtime)).await?;
        Ok(format!("/src/sdist/{name}"))
    }

    /// The commands run in this container so far, in order, as the manifest records them.
    pub fn commands(&self) -> Vec<Vec<String>> {
        self.ran.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs the driver's `args` step, checks it succeeded and notes what it ran.
    async fn run_driver(&self, step: &'static str, args: &[&str]) -> Result<(), BuildError> {
        let argv: Vec<&str> = ["python3", "-c", DRIVER]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        let out = self.sandbox.exec(step, &argv).await?;
        self.reporter.detail(&out.log);
        check_step(step, &out, &self.lockfile_label)?;
        let calls = record::driver_calls(&out.log).ok_or(BuildError::NoDriverRecord { step })?;
        let mut ran = self.ran.lock().unwrap_or_else(|e| e.into_inner());
        ran.push(record::as_recorded(&argv));
        ran.extend(calls);
        Ok(())
    }
}

/// Whether the backend's sdist is usually published as it is (so building the wheel in the
/// same step as the sdist saves an interpreter start). setuptools copies file times into its
/// sdists, so hermit always rewrites them and builds the wheel from the rewrite.
pub fn sdist_usually_kept(backend: &str) -> bool {
    !backend.starts_with("setuptools")
}

fn check_step(step: &'static str, out: &StepOutput, lockfile: &str) -> Result<(), BuildError> {
    if out.exit_code == 0 {
        return Ok(());
    }
    if let Some(names) = missing_dependencies(&out.log) {
        return Err(BuildError::MissingRequirement {
            names,
            lockfile: lockfile.to_owned(),
        });
    }
    if let Some(why) = out.limit_hit() {
        return Err(BuildError::LimitHit { step, why });
    }
    if step == "repair"
        && let Some(reason) = super::repair::refusal(&out.log)
    {
        return Err(BuildError::RepairRefused { reason });
    }
    let lines: Vec<&str> = out.log.lines().collect();
    let tail = lines[lines.len().saturating_sub(30)..].join("\n");
    if compiler_missing(&out.log) {
        return Err(BuildError::NoCompiler {
            step,
            code: out.exit_code,
            tail,
        });
    }
    Err(BuildError::StepFailed {
        step,
        code: out.exit_code,
        tail,
    })
}

/// Whether a failed step's log says the backend looked for a C compiler and found none:
/// setuptools names the triplet-prefixed gcc it took from sysconfig, shells and make say
/// `gcc: not found`, meson and CMake say they found no C compiler.
pub fn compiler_missing(log: &str) -> bool {
    let compilers = ["gcc'", "cc'", "g++'", "c++'"];
    log.lines().any(|l| {
        (l.contains("error: command '") && l.contains("gcc' failed"))
            || (l.contains("No such file or directory: '")
                && compilers.iter().any(|c| l.trim_end().ends_with(c)))
            || (l.contains("error: command '") && l.contains("cc' failed: No such file"))
            || l.contains("gcc: not found")
            || l.contains("cc: not found")
            || l.contains("Unknown compiler(s)")
            || l.contains("No CMAKE_C_COMPILER could be found")
    })
}

/// `build` reports requirements the backend asked for but the environment lacks after an
/// "ERROR Missing dependencies:" (older) or "ERROR Unmet dependencies (…):" (newer) line, one
/// requirement per tab-indented line, newer versions adding `found:` details below each.
pub fn missing_dependencies(log: &str) -> Option<String> {
    let mut lines = log
        .lines()
        .skip_while(|l| !(l.contains("Missing dependencies") || l.contains("Unmet dependencies")));
    lines.next()?;
    let mut names: Vec<String> = Vec::new();
    for line in lines {
        if let Some(detail) = line.strip_prefix("\t\t") {
            if let (Some(found), Some(last)) =
                (detail.trim().strip_prefix("found: "), names.last_mut())
            {
                if found == "not installed" {
                    last.push_str(" (not in the lock)");
                } else {
                    last.push_str(&format!(" (the lock has {found})"));
                }
            }
        } else if let Some(name) = line.strip_prefix('\t').or_else(|| line.strip_prefix("  ")) {
            names.push(format!("`{}`", name.trim()));
        } else {
            break;
        }
    }
    (!names.is_empty()).then(|| names.join(", "))
}

/// A wheel or sdist file name as the specs allow them (distribution name, version and tags
/// are letters, digits and `._+!-`): nothing that could be a path, a control sequence or a
/// line of its own when printed.
fn is_artifact_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '!'))
}

fn single_output(
    tree: Tree,
    step: &'static str,
    suffix: &'static str,
) -> Result<(String, Vec<u8>), BuildError> {
    let files: Vec<(String, Vec<u8>)> = tree
        .into_entries()
        .into_iter()
        .filter_map(|(p, e)| match e {
            Entry::File { data, .. } => Some((p, data)),
            _ => None,
        })
        .collect();
    match files.as_slice() {
        [(name, _)] if name.ends_with(suffix) && is_artifact_name(name) => {
            Ok(files.into_iter().next().expect("one"))
        }
        _ => Err(BuildError::UnexpectedOutput {
            step,
            what: suffix,
            found: format!(
                "[{}]",
                // One line whatever the names hold: a newline in a name could fake a line.
                files
                    .iter()
                    .map(|(n, _)| crate::output::sanitize_line(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_compiler_is_recognised_in_the_log() {
        for log in [
            "building 'cext' extension\nerror: command 'x86_64-linux-gnu-gcc' failed: No such file or directory\n",
            "error: command 'gcc' failed: No such file or directory",
            "error: [Errno 2] No such file or directory: 'x86_64-linux-gnu-gcc'",
            "sh: 1: gcc: not found",
            "meson.build:1:0: ERROR: Unknown compiler(s): [['cc'], ['gcc']]",
        ] {
            assert!(compiler_missing(log), "{log}");
        }
        assert!(!compiler_missing(
            "ERROR Backend subprocess exited when trying to invoke build_wheel"
        ));
        assert!(!compiler_missing(
            "cext.c:3:1: error: expected ';' before '}' token"
        ));
    }

    #[test]
    fn finds_missing_dependencies_in_build_output() {
        let log = "* Getting build dependencies for sdist...\nERROR Missing dependencies:\n\tnot-locked-pkg>=1\n\tother\n";
        assert_eq!(
            missing_dependencies(log).as_deref(),
            Some("`not-locked-pkg>=1`, `other`")
        );
        let newer = "ERROR Unmet dependencies (checked against /usr/bin/python3):\n\tflit_core<4,>=3.4\n\t\twanted: <4,>=3.4\n\t\tfound: 4.2.0\n\tx>=1\n\t\twanted: >=1\n\t\tfound: not installed\n";
        assert_eq!(
            missing_dependencies(newer).as_deref(),
            Some("`flit_core<4,>=3.4` (the lock has 4.2.0), `x>=1` (not in the lock)")
        );
        assert_eq!(missing_dependencies("all fine"), None);
    }

    #[test]
    fn output_must_be_exactly_one_artifact() {
        let mut t = Tree::new();
        t.insert_file("x-1.tar.gz", 0o644, b"s".to_vec()).unwrap();
        assert_eq!(
            single_output(t.clone(), "sdist", ".tar.gz").unwrap().0,
            "x-1.tar.gz"
        );
        t.insert_file("y-1.tar.gz", 0o644, b"s".to_vec()).unwrap();
        let mut hostile = Tree::new();
        hostile
            .insert_file("x\n\u{1b}[2J-1.tar.gz", 0o644, b"s".to_vec())
            .unwrap();
        assert!(single_output(hostile, "sdist", ".tar.gz").is_err());
        assert!(single_output(t, "sdist", ".tar.gz").is_err());
    }
}
