//! The variations a real rebuild meets (reprotest's list): another path, another owner and
//! user, another umask, other file times, files created in another order, another time zone,
//! locale and host name. Each alone, then all at once, must give the same bytes as a plain
//! build: the artifacts and the manifest.

use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use crate::util::*;

#[derive(Clone)]
struct Variation {
    nested_path: &'static str,
    owner: Option<u32>,
    user: &'static str,
    umask: u32,
    mtime: Option<u64>,
    reverse_creation: bool,
    tz: &'static str,
    lang: &'static str,
    hostname: Option<&'static str>,
}

const PLAIN: Variation = Variation {
    nested_path: "p",
    owner: None,
    user: "root",
    umask: 0o022,
    mtime: None,
    reverse_creation: false,
    tz: "UTC",
    lang: "C.UTF-8",
    hostname: None,
};

const FIXTURE: &str = "setuptools-app";

/// A git config that trusts repositories owned by another user, as a CI checkout needs;
/// hermit itself never weakens git's checks.
fn git_config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("gitconfig");
    std::fs::write(&path, "[safe]\n\tdirectory = *\n").unwrap();
    path
}

fn build(v: &Variation) -> Vec<(String, Vec<u8>)> {
    ensure_default_image();
    let tmp = tempfile::tempdir().unwrap();
    let gitconfig = git_config(tmp.path());
    let project = tmp.path().join(v.nested_path);
    std::fs::create_dir_all(&project).unwrap();

    // Copy the fixture, in reverse order if asked (directory entry order follows creation on
    // many file systems), with modes as the umask would leave them.
    let from = repo_root().join("tests/fixtures").join(FIXTURE);
    let mut files: Vec<_> = walkdir::WalkDir::new(&from)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(&from).unwrap().to_owned())
        .collect();
    if v.reverse_creation {
        files.reverse();
    }
    for rel in &files {
        let dest = project.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(from.join(rel), &dest).unwrap();
        let mode = 0o666 & !v.umask;
        std::fs::set_permissions(&dest, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .unwrap();
    }
    git_init(&project);
    if let Some(t) = v.mtime {
        for rel in &files {
            let f = std::fs::File::options()
                .write(true)
                .open(project.join(rel))
                .unwrap();
            f.set_modified(UNIX_EPOCH + Duration::from_secs(t)).unwrap();
        }
    }
    if let Some(uid) = v.owner {
        let ok = Command::new("chown")
            .args(["-R", &format!("{uid}:{uid}")])
            .arg(&project)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    let run_id = new_run_id("var");
    let script = format!(
        "{}umask {:03o} && exec \"$0\" build .",
        v.hostname
            .map(|h| format!("hostname {h} && "))
            .unwrap_or_default(),
        v.umask
    );
    let mut cmd = match v.hostname {
        Some(_) => {
            let mut c = Command::new("unshare");
            c.args(["--uts", "sh", "-c", &script]);
            c
        }
        None => {
            let mut c = Command::new("sh");
            c.args(["-c", &script]);
            c
        }
    };
    let out = cmd
        .arg(env!("CARGO_BIN_EXE_hermit"))
        .current_dir(&project)
        .env("HERMIT_RUN_ID", &run_id)
        .env("HERMIT_CACHE_DIR", shared_cache())
        .env("GIT_CONFIG_GLOBAL", &gitconfig)
        .env("TZ", v.tz)
        .env("LANG", v.lang)
        .env("LC_ALL", v.lang)
        .env("USER", v.user)
        .env("LOGNAME", v.user)
        .env("HOME", tmp.path())
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_nothing_left(&run_id);
    files_in(&project.join("dist"))
}

fn assert_same_as_plain(v: Variation) {
    let plain = build(&PLAIN);
    let varied = build(&v);
    assert_eq!(plain.len(), 3);
    assert_eq!(
        plain.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        varied.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for ((name, a), (_, b)) in plain.iter().zip(&varied) {
        assert!(a == b, "{name} differs under this variation");
    }
}

#[test]
fn another_path() {
    assert_same_as_plain(Variation {
        nested_path: "a/much/deeper/and/Other Path",
        ..PLAIN
    });
}

#[test]
fn another_owner_and_user() {
    assert_same_as_plain(Variation {
        owner: Some(4321),
        user: "somebody",
        ..PLAIN
    });
}

#[test]
fn umask_002() {
    assert_same_as_plain(Variation {
        umask: 0o002,
        ..PLAIN
    });
}

#[test]
fn umask_077() {
    assert_same_as_plain(Variation {
        umask: 0o077,
        ..PLAIN
    });
}

#[test]
fn every_file_time_changed() {
    assert_same_as_plain(Variation {
        mtime: Some(1_234_567_890),
        ..PLAIN
    });
}

#[test]
fn files_created_in_another_order() {
    assert_same_as_plain(Variation {
        reverse_creation: true,
        ..PLAIN
    });
}

#[test]
fn another_time_zone() {
    assert_same_as_plain(Variation {
        tz: "Pacific/Chatham",
        ..PLAIN
    });
}

#[test]
fn another_locale() {
    assert_same_as_plain(Variation {
        lang: "fr_FR.ISO-8859-1",
        ..PLAIN
    });
}

#[test]
fn another_host_name() {
    assert_same_as_plain(Variation {
        hostname: Some("elsewhere"),
        ..PLAIN
    });
}

#[test]
fn all_at_once() {
    assert_same_as_plain(Variation {
        nested_path: "x/y/z",
        owner: Some(4321),
        user: "somebody",
        umask: 0o077,
        mtime: Some(1_111_111_111),
        reverse_creation: true,
        tz: "Asia/Kathmandu",
        lang: "de_DE.UTF-8",
        hostname: Some("rebuilder"),
    });
}
