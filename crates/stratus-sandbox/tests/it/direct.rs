//! The fallback without namespaces (forced with `detect_unsandboxed`).

use std::time::Duration;

use stratus_sandbox::{Exit, Host};

use crate::util::{Lines, cgroup_dir, is_root, run, sh};

fn direct_host() -> Host {
    let host = Host::detect_unsandboxed(&format!("stratus-it-direct-{}", std::process::id()));
    let e = host.enforced();
    assert!(
        !e.namespaces && !e.private_tmp && !e.unprivileged_user,
        "{:#?}",
        host.report()
    );
    assert!(
        host.report()
            .iter()
            .any(|l| l.contains("namespaces") && l.contains("NOT enforced"))
    );
    host
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_mode_runs_programs_on_the_host() {
    let host = direct_host();
    let mut spec = sh(
        "echo \"$AWS_LAMBDA_RUNTIME_API\"; ls /proc/self/fd | tr '\\n' ' '; echo; pwd -P; exit 4",
    );
    spec.cwd = std::env::temp_dir();
    spec.listener_env = Some("AWS_LAMBDA_RUNTIME_API".into());
    let mut sandbox = host.spawn(spec).expect("spawn");
    let listener = sandbox.listener.take().expect("a host listener");
    let port = listener.local_addr().expect("addr").port();
    let out = crate::util::collect(sandbox).await;
    assert_eq!(out.exit, Exit::Code(4), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(format!("127.0.0.1:{port}").as_str())
    );
    assert_eq!(
        lines.get(1).copied(),
        Some("0 1 2 3 "),
        "no fd leak: {out:?}"
    );
    let tmp = std::env::temp_dir().canonicalize().expect("tmp");
    assert_eq!(lines.get(2).copied(), Some(tmp.to_str().expect("utf-8")));

    let err = host
        .spawn(sh("true").tap_program("/nonexistent"))
        .expect_err("missing");
    assert_eq!(
        err.to_string(),
        "execve /nonexistent: No such file or directory (os error 2)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_mode_freeze_kill_and_stragglers() {
    let host = direct_host();
    let mut sandbox = host
        .spawn(sh(
            "sleep 30 & echo bg $!; echo ready; while :; do sleep 0.05; done",
        ))
        .expect("spawn");
    let mut lines = Lines::new(sandbox.stdout.take().expect("stdout"));
    let bg: u32 = lines
        .until(|l| l.starts_with("bg "))
        .await
        .trim_start_matches("bg ")
        .parse()
        .expect("pid");
    lines.until(|l| l == "ready").await;
    if is_root() {
        assert!(cgroup_dir(sandbox.pid(), "freezer").is_some_and(|d| d.ends_with("i0")));
    }
    sandbox.freeze().expect("freeze");
    sandbox.thaw().expect("thaw");
    sandbox.terminate(Duration::from_millis(100)).await;
    assert!(matches!(
        sandbox.try_exit(),
        Some(Exit::Code(_) | Exit::Signal(_))
    ));
    // The background sleep of the program's group is gone too.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{bg}")).exists() {
        let zombie = std::fs::read_to_string(format!("/proc/{bg}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true);
        if zombie {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "background process killed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let out = run(&host, sh("echo fine")).await;
    assert_eq!(out.stdout, "fine\n");
}

trait TapProgram {
    fn tap_program(self, program: &str) -> Self;
}

impl TapProgram for stratus_sandbox::Spec {
    fn tap_program(mut self, program: &str) -> Self {
        self.program = program.into();
        self
    }
}
