//! Freezing, terminating, killing, dropping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use stratus_sandbox::{Exit, SandboxError};

use crate::util::{Lines, cgroup_dir, host, sh};

const COUNTER: &str = "i=0; while :; do i=$((i+1)); echo $i; sleep 0.01; done";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeze_stops_the_tree_and_thaw_resumes_it() {
    let Some(host) = host() else { return };
    let mut sandbox = host.spawn(sh(COUNTER)).expect("spawn");
    let mut lines = Lines::new(sandbox.stdout.take().expect("stdout"));
    let last = Arc::new(AtomicU64::new(0));
    let reader = {
        let last = last.clone();
        tokio::spawn(async move {
            while let Some(line) = lines.next().await {
                if let Ok(n) = line.parse() {
                    last.store(n, Ordering::SeqCst);
                }
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while last.load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "the counter runs");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(sandbox.memory_current_bytes().is_some_and(|b| b > 0));
    let freezer = cgroup_dir(sandbox.pid(), "freezer").expect("freezer cgroup");

    sandbox.freeze().expect("freeze");
    assert_eq!(
        std::fs::read_to_string(freezer.join("freezer.state"))
            .expect("state")
            .trim(),
        "FROZEN"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let frozen_at = last.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        last.load(Ordering::SeqCst),
        frozen_at,
        "no progress while frozen"
    );

    sandbox.thaw().expect("thaw");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        last.load(Ordering::SeqCst) > frozen_at + 3,
        "progress after thaw"
    );

    // Killing a frozen tree works too.
    sandbox.freeze().expect("freeze again");
    sandbox.kill();
    let exit = tokio::time::timeout(Duration::from_secs(5), sandbox.wait())
        .await
        .expect("a frozen tree dies when killed");
    assert_eq!(exit, Exit::Signal(libc::SIGKILL));
    assert!(!freezer.exists());
    assert!(matches!(sandbox.freeze(), Err(SandboxError::Exited(_))));
    sandbox
        .thaw()
        .expect("thawing an exited sandbox is a no-op");
    reader.await.expect("reader");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_delivers_sigterm_within_the_grace() {
    let Some(host) = host() else { return };
    let mut sandbox = host
        .spawn(sh(
            "trap 'echo bye; exit 0' TERM; echo ready; while :; do sleep 0.05; done",
        ))
        .expect("spawn");
    let mut lines = Lines::new(sandbox.stdout.take().expect("stdout"));
    lines.until(|l| l == "ready").await;
    let start = Instant::now();
    sandbox.terminate(Duration::from_secs(5)).await;
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(sandbox.try_exit(), Some(Exit::Code(0)));
    assert_eq!(lines.rest().await, "bye\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_kills_after_the_grace() {
    let Some(host) = host() else { return };
    let mut sandbox = host
        .spawn(sh("trap '' TERM; echo ready; while :; do sleep 0.05; done"))
        .expect("spawn");
    let mut lines = Lines::new(sandbox.stdout.take().expect("stdout"));
    lines.until(|l| l == "ready").await;
    // Frozen first: terminate thaws.
    sandbox.freeze().expect("freeze");
    let start = Instant::now();
    sandbox.terminate(Duration::from_millis(300)).await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(sandbox.wait().await, Exit::Signal(libc::SIGKILL));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_kills_the_tree_and_removes_its_cgroups() {
    let Some(host) = host() else { return };
    let mut sandbox = host
        .spawn(sh("sleep 30 & sleep 30; echo never"))
        .expect("spawn");
    let mut lines = Lines::new(sandbox.stdout.take().expect("stdout"));
    let pid = sandbox.pid();
    let dirs: Vec<_> = ["memory", "pids", "freezer"]
        .iter()
        .map(|c| cgroup_dir(pid, c).expect("cgroup"))
        .collect();
    assert!(dirs.iter().all(|d| d.exists()));
    drop(sandbox);
    // The pipe's write ends die with the tree.
    assert_eq!(lines.next().await, None);
    let deadline = Instant::now() + Duration::from_secs(5);
    while dirs.iter().any(|d| d.exists()) || std::path::Path::new(&format!("/proc/{pid}")).exists()
    {
        assert!(
            Instant::now() < deadline,
            "the dropped sandbox is cleaned up"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The body of the helper process of
/// `a_dead_hosts_frozen_sandbox_dies_and_is_collected` (does nothing when
/// run on its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper process of a_dead_hosts_frozen_sandbox_dies_and_is_collected"]
async fn orphan_helper() {
    use std::io::Write;
    if std::env::var_os("STRATUS_IT_ORPHAN_HELPER").is_none() {
        return;
    }
    let host = stratus_sandbox::Host::detect(&format!("stratus-itgc-{}", std::process::id()));
    let mut sandbox = host
        .spawn(sh("echo ready; while :; do sleep 0.01; done"))
        .expect("spawn");
    let mut lines = Lines::new(sandbox.stdout.take().expect("stdout"));
    lines.until(|l| l == "ready").await;
    sandbox.freeze().expect("freeze");
    let dirs: Vec<String> = ["memory", "pids", "freezer"]
        .iter()
        .map(|c| {
            cgroup_dir(sandbox.pid(), c)
                .expect("cgroup")
                .display()
                .to_string()
        })
        .collect();
    println!("orphan {} {}", sandbox.pid(), dirs.join(" "));
    std::io::stdout().flush().expect("flush");
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_hosts_frozen_sandbox_dies_and_is_collected() {
    use std::io::BufRead;
    if host().is_none() {
        return;
    }
    let mut helper = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "control::orphan_helper",
            "--ignored",
            "--nocapture",
        ])
        .env("STRATUS_IT_ORPHAN_HELPER", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("helper");
    let stdout = helper.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.starts_with("orphan "))
    });
    let line = tokio::time::timeout(Duration::from_secs(20), line)
        .await
        .expect("the helper reports")
        .expect("reader")
        .expect("an orphan line");
    let mut words = line.split_whitespace().skip(1);
    let init: u32 = words.next().and_then(|w| w.parse().ok()).expect("pid");
    let dirs: Vec<std::path::PathBuf> = words.map(std::path::PathBuf::from).collect();
    assert_eq!(dirs.len(), 3, "{line}");
    let freezer = &dirs[2];
    assert_eq!(
        std::fs::read_to_string(freezer.join("freezer.state"))
            .expect("state")
            .trim(),
        "FROZEN"
    );

    // The host process dies (no cleanup, no Drop).
    helper.kill().expect("kill the helper");
    helper.wait().expect("reap the helper");

    // The sandbox's init notices, thaws and kills the frozen tree.
    let gone = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let procs = dirs
            .iter()
            .map(|d| std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default())
            .collect::<String>();
        if gone(init) && procs.trim().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the orphaned tree is gone: {procs}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Its cgroups are left behind, until the next host of that prefix
    // collects them.
    assert!(dirs.iter().all(|d| d.exists()));
    let helper_marker = format!("/run/.stratus-itgc-{}-sandbox-root", helper.id());
    assert!(std::path::Path::new(&helper_marker).is_dir());
    let _collector = stratus_sandbox::Host::detect(&format!("stratus-itgc-{}", std::process::id()));
    assert!(!std::path::Path::new(&helper_marker).exists());
    for dir in &dirs {
        assert!(!dir.exists(), "{} was collected", dir.display());
        assert!(
            !dir.parent().expect("parent").exists(),
            "the dead host's parent was collected"
        );
    }
}
