//! Loading data-driven case files.

use std::path::{Path, PathBuf};

/// The files with extension `ext` under `tests/cases/<dir>`, sorted.
pub fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("reading {}: {e}", root.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .{ext} cases in {}", root.display());
    files
}

/// The short name of a case file.
pub fn name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whether expected outputs should be rewritten.
pub fn bless() -> bool {
    std::env::var_os("STRATUS_BLESS").is_some_and(|v| v == "1")
}

/// Panics listing every failure, if any.
pub fn report(kind: &str, total: usize, failures: Vec<String>) {
    if !failures.is_empty() {
        panic!(
            "{} of {total} {kind} cases failed:\n\n{}",
            failures.len(),
            failures.join("\n\n")
        );
    }
}
