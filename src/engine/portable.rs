//! The container settings engines choose differently when left to them, pinned for every
//! container hermit creates (build sandboxes and image-build containers alike).
//!
//! Left unset, these come from the engine's own defaults, which are part of the build
//! environment and differ between Docker and Podman, between versions, and with the host's
//! limits. Podman, for one, asks for `nofile` and `nproc` limits of about a million: where its
//! process may not raise its hard limits that far (inside another container, say), every
//! container fails to start with "error setting rlimits". So hermit asks for values at or below
//! what any engine's process already has, and the same on every engine:
//!
//! | setting | value | why |
//! | --- | --- | --- |
//! | `nofile` | 4096 | at or below every engine's hard limit; builds open files one at a time |
//! | `nproc` | 4096 | counts the build user's processes on the whole host; the cgroup pids limit is the real bound |
//! | `core` | 0 | a crashing tool leaves no core file in the output |
//! | `memlock` | 64 KiB | the kernel's long-standing default; nothing in a build locks memory |
//! | `stack` | 8 MiB | Python's recursion depth depends on it |
//! | `/dev/shm` | 64 MiB | multiprocessing's semaphores live there (compileall `-j0`) |
//! | IPC namespace | private | not shared with the host or other containers |
//! | init | none | hermit's own first process; an engine configured to inject one would differ |
//! | log driver | json-file | hermit reads image-build logs through the API; `none` or `journald` defaults would break or leak them |
//!
//! Not pinned, and why: the seccomp profile (each engine ships its own and has no portable
//! name for "the same one"); the user namespace (forcing `host` would undo a user-namespace
//! remap the administrator chose, and rootless Podman has no other); the cgroup namespace
//! (nothing in a build reads cgroups, and `private` is refused on some cgroup v1 hosts).

use bollard::models::{HostConfig, HostConfigLogConfig, ResourcesUlimits};

/// Limit on open files, soft and hard.
pub const NOFILE: i64 = 4096;
/// Limit on the build user's processes, soft and hard.
pub const NPROC: i64 = 4096;
/// Locked memory, in bytes.
pub const MEMLOCK: i64 = 64 << 10;
/// Stack size, in bytes.
pub const STACK: i64 = 8 << 20;
/// Size of `/dev/shm`, in bytes.
pub const SHM_BYTES: i64 = 64 << 20;

/// A host config with every setting above filled in; callers add their own (mounts, user
/// limits, network, capabilities) with struct update syntax.
pub fn host_config() -> HostConfig {
    let ulimit = |name: &str, value: i64| ResourcesUlimits {
        name: Some(name.to_owned()),
        soft: Some(value),
        hard: Some(value),
    };
    HostConfig {
        ulimits: Some(vec![
            ulimit("core", 0),
            ulimit("memlock", MEMLOCK),
            ulimit("nofile", NOFILE),
            ulimit("nproc", NPROC),
            ulimit("stack", STACK),
        ]),
        shm_size: Some(SHM_BYTES),
        ipc_mode: Some("private".to_owned()),
        init: Some(false),
        log_config: Some(HostConfigLogConfig {
            typ: Some("json-file".to_owned()),
            config: Some([("max-size".to_owned(), "10m".to_owned())].into()),
        }),
        privileged: Some(false),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_is_explicit_and_within_what_engines_allow() {
        let c = host_config();
        let limits = c.ulimits.unwrap();
        let names: Vec<&str> = limits.iter().map(|u| u.name.as_deref().unwrap()).collect();
        assert_eq!(names, ["core", "memlock", "nofile", "nproc", "stack"]);
        for u in &limits {
            // Soft = hard: a build cannot raise its own limit, so every build sees one value.
            assert_eq!(u.soft, u.hard, "{:?}", u.name);
        }
        // Podman's defaults (about a million) are what failed: a runtime cannot raise a
        // limit above its own hard limit. These must fit under this machine's (where the
        // tests' engine runs), read as the kernel reports them.
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let hard = |row: &str| -> Option<i64> {
            let line = limits.lines().find(|l| l.starts_with(row))?;
            let field = line[row.len()..].split_whitespace().nth(1)?;
            Some(if field == "unlimited" {
                i64::MAX
            } else {
                field.parse().ok()?
            })
        };
        for (row, ours) in [
            ("Max open files", NOFILE),
            ("Max processes", NPROC),
            ("Max locked memory", MEMLOCK),
            ("Max stack size", STACK),
        ] {
            if let Some(h) = hard(row) {
                assert!(
                    ours <= h,
                    "{row}: {ours} is above this machine's hard limit {h}"
                );
            }
        }
        assert_eq!(c.init, Some(false));
        assert_eq!(c.shm_size, Some(64 << 20));
    }
}
