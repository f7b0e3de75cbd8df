//! Memory and process limits.

use std::time::{Duration, Instant};

use stratus_sandbox::Exit;

use crate::util::{Lines, cgroup_dir, collect, host, processes_of_uid, program, sh};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_hog_is_oom_killed() {
    let Some(host) = host() else { return };
    let mut spec = sh("x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo done ${#x}");
    spec.memory_mb = 64;
    let mut s = host.spawn(spec).expect("spawn");
    let stdout = s.stdout.take().expect("stdout");
    let stderr = s.stderr.take().expect("stderr");
    let exit = tokio::time::timeout(Duration::from_secs(20), s.wait())
        .await
        .expect("the hog ends");
    let out = crate::util::read_all(stdout).await;
    let _ = crate::util::read_all(stderr).await;
    assert_eq!(exit, Exit::Signal(libc::SIGKILL), "stdout: {out}");
    assert!(!out.contains("done"), "{out}");
    assert!(s.oom_killed(), "the OOM kill is reported");
    let peak = s.memory_peak_bytes().expect("a peak");
    assert!(peak > 32 << 20 && peak <= 65 << 20, "peak {peak}");
    // The host is fine.
    let out = collect(host.spawn(sh("echo alive")).expect("spawn")).await;
    assert_eq!(out.stdout, "alive\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_bomb_hits_the_process_limit_and_kill_cleans_up() {
    let Some(host) = host() else { return };
    let perl = std::path::Path::new("/usr/bin/perl").exists();
    let mut spec = if perl {
        program(
            "/usr/bin/perl",
            &[
                "-e",
                "$| = 1; print \"uid $<\\n\"; my $n = 0; for (1..5000) { my $p = fork; \
                 if (!defined $p) { print \"fork failed after $n: $!\\n\"; last } \
                 if ($p == 0) { sleep 30; exit 0 } $n++ } print \"spawned $n\\n\"; sleep 30",
            ],
        )
    } else {
        sh(
            "echo uid $(id -u); i=0; while [ $i -lt 5000 ]; do sleep 30 & i=$((i+1)); done; echo spawned $i; sleep 30",
        )
    };
    spec.max_pids = 32;
    let mut sandbox = host.spawn(spec).expect("spawn");
    let mut lines = Lines::new(sandbox.stdout.take().expect("stdout"));
    let _stderr = sandbox.stderr.take();
    let uid: u32 = lines
        .until(|l| l.starts_with("uid "))
        .await
        .trim_start_matches("uid ")
        .parse()
        .expect("uid");
    let pids_dir = cgroup_dir(sandbox.pid(), "pids").expect("a pids cgroup");
    let memory_dir = cgroup_dir(sandbox.pid(), "memory").expect("a memory cgroup");
    let freezer_dir = cgroup_dir(sandbox.pid(), "freezer").expect("a freezer cgroup");
    assert_eq!(
        std::fs::read_to_string(pids_dir.join("pids.max"))
            .expect("pids.max")
            .trim(),
        "32"
    );
    if perl {
        let failed = lines
            .until(|l| l.starts_with("fork failed") || l.starts_with("spawned"))
            .await;
        assert!(
            failed.contains("fork failed") && failed.contains("Resource temporarily unavailable"),
            "{failed}"
        );
    }
    let current: u32 = std::fs::read_to_string(pids_dir.join("pids.current"))
        .expect("pids.current")
        .trim()
        .parse()
        .expect("a number");
    assert!(current <= 32 && current > 10, "pids.current {current}");
    assert!(!processes_of_uid(uid).is_empty());

    let start = Instant::now();
    sandbox.kill();
    let exit = tokio::time::timeout(Duration::from_secs(10), sandbox.wait())
        .await
        .expect("killed");
    assert_eq!(exit, Exit::Signal(libc::SIGKILL));
    assert!(start.elapsed() < Duration::from_secs(5));
    for dir in [&pids_dir, &memory_dir, &freezer_dir] {
        assert!(!dir.exists(), "{} is removed after wait()", dir.display());
    }
    assert!(
        processes_of_uid(uid).is_empty(),
        "nothing of uid {uid} is left"
    );
}
