//! Exit statuses, environment, pid namespace, users, descriptors, errors.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use stratus_sandbox::{Bind, Exit, SandboxError};

use crate::util::{host, program, run, sh};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_and_signals() {
    let Some(host) = host() else { return };
    for line in host.report() {
        eprintln!("{line}");
    }
    let out = run(&host, sh("echo hi; echo err >&2; exit 3")).await;
    assert_eq!(out.exit, Exit::Code(3), "{out:?}");
    assert_eq!(out.stdout, "hi\n");
    assert_eq!(out.stderr, "err\n");
    assert_eq!(out.exit.to_string(), "exit status 3");

    let out = run(&host, sh("exit 137")).await;
    assert_eq!(
        out.exit,
        Exit::Code(137),
        "an exit status is not a signal: {out:?}"
    );

    let out = run(&host, sh("kill -KILL $$")).await;
    assert_eq!(out.exit, Exit::Signal(libc::SIGKILL), "{out:?}");
    assert_eq!(out.exit.to_string(), "signal 9 (SIGKILL)");

    let out = run(&host, sh("kill -SEGV $$")).await;
    assert_eq!(out.exit, Exit::Signal(libc::SIGSEGV), "{out:?}");

    let out = run(&host, sh("true")).await;
    assert!(out.exit.success(), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_and_cwd_are_exactly_as_given() {
    let Some(host) = host() else { return };
    let mut spec =
        sh("tr '\\0' '\\n' < /proc/$$/environ; echo \"cwd=$(pwd -P)\"; echo \"argv0=$0\"");
    spec.env = vec![
        ("PATH".into(), "/usr/bin:/bin".into()),
        ("FOO".into(), "bar baz".into()),
        ("EMPTY".into(), "".into()),
        ("AWS_LAMBDA_RUNTIME_API".into(), "overridden".into()),
    ];
    spec.cwd = PathBuf::from("/usr/lib");
    spec.listener_env = Some("AWS_LAMBDA_RUNTIME_API".into());
    let out = run(&host, spec).await;
    assert_eq!(out.exit, Exit::Code(0), "{out:?}");
    let mut lines: Vec<&str> = out.stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001",
            "EMPTY=",
            "FOO=bar baz",
            "PATH=/usr/bin:/bin",
            "argv0=/bin/sh",
            "cwd=/usr/lib",
        ],
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn program_is_pid_2_of_its_own_pid_namespace() {
    let Some(host) = host() else { return };
    let out = run(
        &host,
        sh("read -r stat < /proc/self/stat; echo \"$$ ${stat%% *}\"; ls /proc | grep -c '^[0-9]'; hostname"),
    )
    .await;
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"2 2"), "{out:?}");
    let count: u32 = lines
        .get(1)
        .and_then(|l| l.parse().ok())
        .expect("a process count");
    assert!(
        count <= 5,
        "only the sandbox's processes are visible: {out:?}"
    );
    assert_eq!(lines.get(2), Some(&"stratus"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_as_distinct_unprivileged_users() {
    let Some(host) = host() else { return };
    let script = "id -u; id -g; id -G; grep -E '^(CapEff|CapPrm|NoNewPrivs)' /proc/self/status";
    let a = run(&host, sh(script)).await;
    let b = run(&host, sh(script)).await;
    let uid = |out: &crate::util::Output| -> u32 {
        out.stdout
            .lines()
            .next()
            .and_then(|l| l.parse().ok())
            .expect("a uid")
    };
    assert_ne!(uid(&a), 0, "{a:?}");
    assert_ne!(uid(&a), uid(&b), "instances get different uids");
    let lines: Vec<&str> = a.stdout.lines().collect();
    assert_eq!(
        lines.get(1),
        Some(&uid(&a).to_string().as_str()),
        "gid = uid: {a:?}"
    );
    assert_eq!(
        lines.get(2),
        Some(&uid(&a).to_string().as_str()),
        "no supplementary groups: {a:?}"
    );
    assert!(a.stdout.contains("CapEff:\t0000000000000000"), "{a:?}");
    assert!(a.stdout.contains("CapPrm:\t0000000000000000"), "{a:?}");
    assert!(a.stdout.contains("NoNewPrivs:\t1"), "{a:?}");
    // A program cannot signal another instance.
    let c = run(&host, sh("kill -0 1; echo rc=$?")).await;
    assert!(
        c.stdout.contains("rc=1"),
        "init (root) cannot be signalled: {c:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_descriptors_leak_into_the_program() {
    let Some(host) = host() else { return };
    for isolate in [true, false] {
        let mut spec = program("/bin/ls", &["/proc/self/fd"]);
        spec.isolate_network = isolate;
        spec.listener_env = Some("AWS_LAMBDA_RUNTIME_API".into());
        let out = run(&host, spec).await;
        assert_eq!(
            out.stdout, "0\n1\n2\n3\n",
            "only stdio and ls's own dir fd: {out:?}"
        );
        let out = run(&host, sh("readlink /proc/self/fd/0")).await;
        assert_eq!(out.stdout, "/dev/null\n");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_errors_are_precise() {
    let Some(host) = host() else { return };
    let err = host
        .spawn(program("/nonexistent/prog", &[]))
        .expect_err("no such program");
    assert!(matches!(err, SandboxError::Setup { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "execve /nonexistent/prog: No such file or directory (os error 2)"
    );

    let mut spec = sh("true");
    spec.cwd = PathBuf::from("/nope");
    let err = host.spawn(spec).expect_err("no such cwd");
    assert_eq!(
        err.to_string(),
        "chdir /nope: No such file or directory (os error 2)"
    );

    let mut spec = sh("true");
    spec.binds.push(Bind {
        source: PathBuf::from("/nonexistent/src"),
        target: PathBuf::from("/var/task"),
        read_only: true,
    });
    let err = host.spawn(spec).expect_err("no such bind source");
    assert!(
        err.to_string()
            .starts_with("bind source /nonexistent/src: No such file"),
        "{err}"
    );

    let mut spec = sh("true");
    spec.binds.push(Bind {
        source: PathBuf::from("/usr"),
        target: PathBuf::from("/var/../etc"),
        read_only: true,
    });
    let err = host.spawn(spec).expect_err("bad target");
    assert!(matches!(err, SandboxError::InvalidSpec(_)), "{err:?}");

    // The host is fine afterwards.
    let out = run(&host, sh("echo still")).await;
    assert_eq!(out.stdout, "still\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_spawns() {
    let Some(host) = host() else { return };
    let host = std::sync::Arc::new(host);
    let start = Instant::now();
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let host = host.clone();
            tokio::spawn(async move { run(&host, sh(&format!("echo {i}"))).await })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let out = task.await.expect("task");
        assert_eq!(out.stdout, format!("{i}\n"), "{out:?}");
    }
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_are_reset_for_the_program() {
    let Some(host) = host() else { return };
    // Rust ignores SIGPIPE in the parent; the program must get the default
    // (yes dies quietly of SIGPIPE instead of reporting EPIPE).
    let out = run(
        &host,
        sh("yes | head -n 1; grep -E '^Sig(Blk|Ign)' /proc/self/status"),
    )
    .await;
    assert_eq!(out.stderr, "", "{out:?}");
    assert!(out.stdout.starts_with("y\n"), "{out:?}");
    assert!(out.stdout.contains("SigBlk:\t0000000000000000"), "{out:?}");
    assert!(out.stdout.contains("SigIgn:\t0000000000000000"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_is_idempotent_and_spawning_afterwards_works() {
    let Some(host) = host() else { return };
    let out = run(&host, sh("echo one")).await;
    assert_eq!(out.stdout, "one\n");
    host.cleanup();
    host.cleanup();
    let out = run(&host, sh("echo two")).await;
    assert_eq!(out.stdout, "two\n", "{out:?}");
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<stratus_sandbox::Host>();
    check::<stratus_sandbox::Sandboxed>();
    check::<SandboxError>();
}

#[test]
fn spawn_outside_a_runtime_is_an_error() {
    let host = stratus_sandbox::Host::detect_unsandboxed(&format!(
        "stratus-it-nort-{}",
        std::process::id()
    ));
    let err = host.spawn(sh("true")).expect_err("no runtime");
    assert!(matches!(err, SandboxError::NoRuntime), "{err:?}");
}
