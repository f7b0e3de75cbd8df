//! What the template process relies on: `keep_root`, `pass_fd` and
//! per-instance cgroups that processes join by themselves.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use stratus_sandbox::{Exit, Host, InstanceCgroups};

use crate::util::{Lines, host, read_all, run, sh};

/// A close-on-exec pipe: (read end, write end).
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fresh descriptors owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// The inode of a descriptor.
fn inode(fd: &OwnedFd) -> u64 {
    // SAFETY: fstat into a zeroed stat on a valid descriptor.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        assert_eq!(libc::fstat(fd.as_raw_fd(), &mut st), 0);
        st.st_ino
    }
}

/// The `key:` line of `/proc/<pid>/status`-style text, trimmed.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim_start_matches(':').trim())
}

/// The host pids whose parent is `ppid`.
fn children_of(ppid: u32) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        if field(&status, "PPid") == Some(ppid.to_string().as_str()) {
            pids.push(pid);
        }
    }
    pids
}

/// The pids listed in a cgroup's `cgroup.procs`.
fn procs_of(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// The instance directory holding `file` (`memory.limit_in_bytes`, ...).
fn dir_with(cgroups: &InstanceCgroups, file: &str) -> PathBuf {
    cgroups
        .dirs()
        .into_iter()
        .find(|d| d.join(file).exists())
        .unwrap_or_else(|| panic!("no instance cgroup has {file}: {:?}", cgroups.dirs()))
}

fn read_trim(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

const IDENTITY: &str = "id -u; grep -E '^(NoNewPrivs|CapEff):' /proc/self/status; \
     grep -E '^Max (processes|open files)' /proc/self/limits; \
     cat /proc/sys/kernel/hostname; echo pid $$; \
     if touch /x 2>/dev/null; then echo root-writable; else echo root-read-only; fi";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_root_keeps_uid_0_and_capabilities_but_not_the_host() {
    let Some(host) = host() else { return };

    let mut spec = sh(IDENTITY);
    spec.keep_root = true;
    let out = run(&host, spec).await;
    assert_eq!(out.exit, Exit::Code(0), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first().copied(), Some("0"), "{out:?}");
    assert_eq!(field(&out.stdout, "NoNewPrivs"), Some("0"), "{out:?}");
    let caps = u64::from_str_radix(field(&out.stdout, "CapEff").expect("CapEff"), 16).expect("hex");
    assert!(caps & (1 << 21) != 0, "CAP_SYS_ADMIN is kept: {out:?}");
    let nproc = lines
        .iter()
        .find(|l| l.starts_with("Max processes"))
        .expect("Max processes");
    assert!(
        !nproc.split_whitespace().any(|w| w == "64"),
        "no RLIMIT_NPROC with keep_root: {nproc}"
    );
    let nofile = lines
        .iter()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files");
    assert!(
        nofile.contains("1024"),
        "RLIMIT_NOFILE still applies: {nofile}"
    );
    // Still in the namespaces, on the read-only root.
    assert!(lines.contains(&"stratus"), "{out:?}");
    assert!(lines.contains(&"pid 2"), "{out:?}");
    assert!(lines.contains(&"root-read-only"), "{out:?}");

    let out = run(&host, sh(IDENTITY)).await;
    assert_eq!(out.exit, Exit::Code(0), "{out:?}");
    let uid: u32 = out
        .stdout
        .lines()
        .next()
        .and_then(|l| l.parse().ok())
        .expect("a uid");
    assert_ne!(uid, 0, "{out:?}");
    assert_eq!(field(&out.stdout, "NoNewPrivs"), Some("1"), "{out:?}");
    assert_eq!(
        field(&out.stdout, "CapEff"),
        Some("0000000000000000"),
        "{out:?}"
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("Max processes") && l.split_whitespace().any(|w| w == "64")),
        "RLIMIT_NPROC without keep_root: {out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_fd_is_fd_3_and_nothing_else_leaks() {
    let Some(host) = host() else { return };
    let (rd, wr) = pipe();
    let ino = inode(&wr);
    let mut spec =
        sh("echo hi >&3; ls /proc/self/fd | tr '\\n' ' '; echo; readlink /proc/self/fd/3");
    spec.pass_fd = Some(Arc::new(wr));
    let sandbox = host.spawn(spec).expect("spawn");
    // Only the program holds the write end now (not the caller, the spawn
    // machinery or the sandbox's init): end of file comes with its exit.
    let reader = tokio::spawn(read_all(rd));
    let out = crate::util::collect(sandbox).await;
    assert_eq!(out.exit, Exit::Code(0), "{out:?}");
    let passed = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("end of file on the pipe")
        .expect("reader");
    assert_eq!(passed, "hi\n");
    let lines: Vec<&str> = out.stdout.lines().collect();
    let fds: Vec<u32> = lines[0]
        .split_whitespace()
        .map(|f| f.parse().expect("a number"))
        .collect();
    // 0, 1, 2, the passed 3, and the directory ls reads (the lowest free
    // number).
    assert_eq!(fds, [0, 1, 2, 3, 4], "{out:?}");
    assert_eq!(lines[1], format!("pipe:[{ino}]"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_fd_is_closed_everywhere_else() {
    let Some(host) = host() else { return };
    let (rd, wr) = pipe();
    let mut spec = sh("echo hi >&3; exec 3>&-; echo closed; sleep 30");
    spec.pass_fd = Some(Arc::new(wr));
    let mut sandbox = host.spawn(spec).expect("spawn");
    let mut lines = Lines::new(sandbox.stdout.take().expect("stdout"));
    lines.until(|l| l == "closed").await;
    // The program still runs, yet the pipe has reached end of file.
    let passed = tokio::time::timeout(Duration::from_secs(5), read_all(rd))
        .await
        .expect("nobody but the program held the write end");
    assert_eq!(passed, "hi\n");
    assert!(sandbox.try_exit().is_none());
    sandbox.kill();
    assert_eq!(sandbox.wait().await, Exit::Signal(libc::SIGKILL));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_fd_without_namespaces() {
    if !crate::util::is_root() {
        return;
    }
    let host = Host::detect_unsandboxed(&format!("stratus-it-tdirect-{}", std::process::id()));
    let (rd, wr) = pipe();
    let mut spec = sh("echo hi >&3; ls /proc/self/fd | tr '\\n' ' '");
    spec.pass_fd = Some(Arc::new(wr));
    spec.keep_root = true;
    let sandbox = host.spawn(spec).expect("spawn");
    let reader = tokio::spawn(read_all(rd));
    let out = crate::util::collect(sandbox).await;
    assert_eq!(out.exit, Exit::Code(0), "{out:?}");
    assert_eq!(out.stdout.trim(), "0 1 2 3 4", "{out:?}");
    let passed = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("end of file on the pipe")
        .expect("reader");
    assert_eq!(passed, "hi\n");
}

#[test]
fn instance_cgroups_is_send_sync_debug() {
    fn check<T: Send + Sync + std::fmt::Debug>() {}
    check::<InstanceCgroups>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_cgroups_limit_freeze_and_kill_a_joined_process() {
    let Some(host) = host() else { return };
    let cgroups = host.instance_cgroups(48, 7).expect("instance cgroups");
    let dirs = cgroups.dirs();
    assert!(dirs.iter().all(|d| d.is_dir()), "{dirs:?}");
    assert!(cgroups.has_freezer());
    let memory = dir_with(&cgroups, "memory.limit_in_bytes");
    assert_eq!(
        read_trim(&memory.join("memory.limit_in_bytes")),
        (48u64 << 20).to_string()
    );
    if memory.join("memory.memsw.limit_in_bytes").exists() {
        assert_eq!(
            read_trim(&memory.join("memory.memsw.limit_in_bytes")),
            (48u64 << 20).to_string()
        );
    }
    let pids = dir_with(&cgroups, "pids.max");
    assert_eq!(read_trim(&pids.join("pids.max")), "7");
    let freezer = dir_with(&cgroups, "freezer.state");

    let files = cgroups.procs_files().expect("procs files");
    // v1: memory, pids, freezer, in that order.
    assert_eq!(files.len(), 3);
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("sleep");
    let pid = child.id() as i32;
    for mut file in files {
        file.write_all(pid.to_string().as_bytes())
            .expect("join a cgroup");
    }
    assert_eq!(cgroups.pids(), [pid]);
    for dir in [&memory, &pids, &freezer] {
        assert_eq!(procs_of(dir), [pid], "{}", dir.display());
    }
    assert!(cgroups.memory_current_bytes().is_some());
    assert!(cgroups.memory_peak_bytes().is_some());
    assert!(!cgroups.oom_killed());

    cgroups.freeze().expect("freeze");
    assert_eq!(read_trim(&freezer.join("freezer.state")), "FROZEN");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    assert!(
        !field(&status, "State").unwrap_or("").starts_with('R'),
        "{status}"
    );
    cgroups.thaw().expect("thaw");
    assert_eq!(read_trim(&freezer.join("freezer.state")), "THAWED");

    // Killing works on a frozen instance too.
    cgroups.freeze().expect("freeze again");
    let start = Instant::now();
    cgroups.kill_all();
    assert!(start.elapsed() < Duration::from_secs(1));
    let status = child.wait().expect("wait");
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    assert!(cgroups.pids().is_empty());

    drop(cgroups);
    for dir in &dirs {
        assert!(!dir.exists(), "{} is removed", dir.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_instance_cgroups_kills_what_is_left() {
    let Some(host) = host() else { return };
    let cgroups = host.instance_cgroups(0, 0).expect("instance cgroups");
    let dirs = cgroups.dirs();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("sleep");
    for mut file in cgroups.procs_files().expect("procs files") {
        file.write_all(child.id().to_string().as_bytes())
            .expect("join");
    }
    cgroups.freeze().expect("freeze");
    drop(cgroups);
    let status = child.wait().expect("wait");
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    // The zombie was only reaped now; the directories may have needed that.
    let deadline = Instant::now() + Duration::from_secs(2);
    while dirs.iter().any(|d| d.exists()) {
        assert!(Instant::now() < deadline, "{dirs:?} are removed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Spawns `script` with the first of `cgroups`' procs files as fd 3, waits
/// for the line `joined` and returns the sandbox and its program's host pid.
async fn spawn_joiner(
    host: &Host,
    cgroups: &InstanceCgroups,
    keep_root: bool,
) -> (stratus_sandbox::Sandboxed, Lines, i32) {
    let file = cgroups
        .procs_files()
        .expect("procs files")
        .into_iter()
        .next()
        .expect("a procs file");
    let mut spec =
        sh("if echo 0 >&3; then echo joined; else echo failed; fi; exec 3>&-; sleep 30; echo done");
    spec.keep_root = keep_root;
    spec.pass_fd = Some(Arc::new(OwnedFd::from(file)));
    let mut sandbox = host.spawn(spec).expect("spawn");
    let stderr = tokio::spawn(read_all(sandbox.stderr.take().expect("stderr")));
    let mut lines = Lines::new(sandbox.stdout.take().expect("stdout"));
    let mut line = None;
    while let Some(l) = lines.next().await {
        if l == "joined" || l == "failed" {
            line = Some(l);
            break;
        }
    }
    if line.as_deref() != Some("joined") {
        let exit = sandbox.wait().await;
        panic!(
            "keep_root {keep_root}: {line:?}, {exit}, stderr {:?}",
            stderr.await
        );
    }
    let program = children_of(sandbox.pid());
    assert_eq!(program.len(), 1, "the init has one child: {program:?}");
    (sandbox, lines, program[0])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandboxed_process_joins_instance_cgroups_through_a_passed_fd() {
    let Some(host) = host() else { return };
    let cgroups = host.instance_cgroups(64, 16).expect("instance cgroups");
    // The first file is the memory hierarchy's with v1.
    let memory = dir_with(&cgroups, "memory.limit_in_bytes");

    for keep_root in [true, false] {
        let (sandbox, _lines, program) = spawn_joiner(&host, &cgroups, keep_root).await;
        let joined = procs_of(&memory);
        assert!(joined.contains(&program), "{program} in {joined:?}");
        assert!(
            !joined.contains(&(sandbox.pid() as i32)),
            "the init stays out"
        );
        assert!(cgroups.pids().contains(&program));
        // The sleep forked after joining is in it too.
        let deadline = Instant::now() + Duration::from_secs(5);
        let sleep = loop {
            let sleep = children_of(program as u32);
            if !sleep.is_empty() {
                break sleep;
            }
            assert!(Instant::now() < deadline, "the program forks sleep");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let joined = procs_of(&memory);
        assert!(
            sleep.iter().all(|p| joined.contains(p)),
            "{sleep:?} in {joined:?}"
        );
        sandbox.kill();
        assert_eq!(sandbox.wait().await, Exit::Signal(libc::SIGKILL));
        let deadline = Instant::now() + Duration::from_secs(2);
        while !cgroups.pids().is_empty() {
            assert!(Instant::now() < deadline, "{:?} left", cgroups.pids());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    // kill_all reaches a joined sandboxed program; its sandbox then ends.
    let (sandbox, _lines, program) = spawn_joiner(&host, &cgroups, true).await;
    assert!(cgroups.pids().contains(&program));
    cgroups.kill_all();
    let exit = tokio::time::timeout(Duration::from_secs(5), sandbox.wait())
        .await
        .expect("the sandbox ends once its program is killed");
    assert_eq!(exit, Exit::Signal(libc::SIGKILL));
    let dirs = cgroups.dirs();
    drop(cgroups);
    assert!(dirs.iter().all(|d| !d.exists()), "{dirs:?}");
}
