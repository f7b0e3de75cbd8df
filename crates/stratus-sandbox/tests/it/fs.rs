//! The filesystem view: read-only root, binds, /tmp, hidden paths.

use std::path::PathBuf;

use stratus_sandbox::{Bind, Exit};

use crate::util::{host, program, run, sh, tree};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_is_read_only_and_binds_are_visible() {
    let Some(host) = host() else { return };
    let task = tree(&[
        ("hello.txt", "hello from the host\n"),
        ("sub/deep.txt", "deep\n"),
    ]);
    let data = tree(&[]);
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
    }
    let mut spec = sh(
        "for p in /usr/x /var/task/x /x /etc/x /bin/x /dev/x /proc/x; do touch $p 2>&1; done; \
         cat /var/task/hello.txt /var/task/sub/deep.txt; \
         echo ok > /tmp/t && cat /tmp/t; echo shm > /dev/shm/t && cat /dev/shm/t; \
         echo rw > /data/written && echo wrote; \
         stat -c '%a' /tmp /dev/shm; \
         test -e /etc/resolv.conf && echo resolv; test -e /etc/hosts && echo hosts; \
         test -e /root && echo root-visible; echo end",
    );
    spec.binds = vec![
        Bind {
            source: task.path().to_path_buf(),
            target: PathBuf::from("/var/task"),
            read_only: true,
        },
        Bind {
            source: data.path().to_path_buf(),
            target: PathBuf::from("/data"),
            read_only: false,
        },
    ];
    let out = run(&host, spec).await;
    assert_eq!(out.exit, Exit::Code(0), "{out:?}");
    for p in ["/usr/x", "/var/task/x", "/x", "/etc/x", "/bin/x", "/dev/x"] {
        assert!(
            out.stdout
                .contains(&format!("touch: cannot touch '{p}': Read-only file system")),
            "{p}: {out:?}"
        );
    }
    assert!(
        out.stdout.contains("touch: cannot touch '/proc/x'"),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains("hello from the host\ndeep\nok\nshm\nwrote\n1777\n1777\n"),
        "{out:?}"
    );
    assert!(out.stdout.contains("resolv\nhosts\n"), "{out:?}");
    assert!(
        !out.stdout.contains("root-visible"),
        "/root is not bound: {out:?}"
    );
    assert!(!task.path().join("x").exists());
    assert_eq!(
        std::fs::read_to_string(data.path().join("written")).expect("written through the rw bind"),
        "rw\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmp_is_private_and_size_limited() {
    let Some(host) = host() else { return };
    let marker = format!("/tmp/stratus-it-marker-{}", std::process::id());
    std::fs::write(&marker, "host").expect("marker");
    let mut spec = sh(&format!(
        "test -e {marker} && echo host-tmp-visible; \
         dd if=/dev/zero of=/tmp/big bs=1M count=16 2>&1; echo rc=$?; \
         df -k /tmp | tail -1"
    ));
    spec.tmp_mb = 8;
    let out = run(&host, spec).await;
    let _ = std::fs::remove_file(&marker);
    assert!(!out.stdout.contains("host-tmp-visible"), "{out:?}");
    assert!(out.stdout.contains("No space left on device"), "{out:?}");
    assert!(out.stdout.contains("rc=1"), "{out:?}");
    let size_kb: u64 = out
        .stdout
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("df size");
    assert_eq!(size_kb, 8 * 1024, "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_paths_are_empty() {
    let Some(host) = host() else { return };
    let task = tree(&[
        ("visible.txt", "v\n"),
        ("secret/key.txt", "k\n"),
        ("private.txt", "p\n"),
    ]);
    let mut spec = sh(
        "ls -A /var/task/secret | wc -l; ls /var/task; cat /var/task/private.txt | wc -c; \
         touch /var/task/secret/x 2>&1 | grep -c 'Read-only'",
    );
    spec.binds = vec![Bind {
        source: task.path().to_path_buf(),
        target: PathBuf::from("/var/task"),
        read_only: true,
    }];
    spec.hide = vec![
        task.path().join("secret"),
        task.path().join("private.txt"),
        // Not visible inside, or missing: nothing to do.
        PathBuf::from("/root"),
        PathBuf::from("/nonexistent/hidden"),
    ];
    let out = run(&host, spec).await;
    assert_eq!(
        out.stdout, "0\nprivate.txt\nsecret\nvisible.txt\n0\n1\n",
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(task.path().join("secret/key.txt")).expect("host file intact"),
        "k\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_bind_targets_and_a_real_interpreter() {
    let Some(host) = host() else { return };
    // A pyenv Python bound at its own (deep, under /root) path, as the
    // Lambda runtime does.
    let Some(python) = std::fs::read_dir("/root/.pyenv/versions")
        .ok()
        .and_then(|d| {
            d.flatten().map(|e| e.path()).find(|p| {
                p.join("bin/python3").exists()
                    && p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("3.11"))
            })
        })
    else {
        eprintln!("note: no pyenv python 3.11; skipping");
        return;
    };
    let task = tree(&[(
        "app.py",
        "import os, sys\nprint('py', sys.version_info[0], os.getcwd())\n",
    )]);
    let mut spec = program(
        &python.join("bin/python3").display().to_string(),
        &["/var/task/app.py"],
    );
    spec.cwd = PathBuf::from("/var/task");
    spec.binds = vec![
        Bind {
            source: python.clone(),
            target: python.clone(),
            read_only: true,
        },
        Bind {
            source: task.path().to_path_buf(),
            target: PathBuf::from("/var/task"),
            read_only: true,
        },
    ];
    let out = run(&host, spec).await;
    assert_eq!(out.exit, Exit::Code(0), "{out:?}");
    assert_eq!(out.stdout, "py 3 /var/task\n", "{out:?}");
}
