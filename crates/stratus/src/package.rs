//! Zipping a Lambda function's package directory for upload.
//!
//! The zip is deterministic: entries in sorted order, a fixed timestamp,
//! the files' Unix modes kept (so `bootstrap` stays executable), symbolic
//! links stored as links. The same directory always gives the same bytes,
//! hence the same SHA-256, so an unchanged package deploys as `unchanged`.
//! `.git` and `__pycache__` folders are left out.

use anyhow::{Context, Result, bail};
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use zip::write::SimpleFileOptions;

/// Folders never packaged.
const SKIPPED: &[&str] = &[".git", "__pycache__"];

/// Zips the contents of `dir` (paths relative to it).
pub fn zip_dir(dir: &Path) -> Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let base = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    let mut entries = Vec::new();
    walk(dir, dir, &mut entries)?;
    entries.sort();
    for relative in entries {
        let path = dir.join(&relative);
        let name = relative.to_string_lossy().replace('\\', "/");
        let meta =
            std::fs::symlink_metadata(&path).with_context(|| format!("read {}", path.display()))?;
        let mode = meta.permissions().mode() & 0o7777;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path)
                .with_context(|| format!("read link {}", path.display()))?;
            writer
                .add_symlink(name, target.to_string_lossy(), base.unix_permissions(0o777))
                .with_context(|| format!("add link {}", path.display()))?;
        } else if meta.is_dir() {
            writer
                .add_directory(format!("{name}/"), base.unix_permissions(mode | 0o755))
                .with_context(|| format!("add folder {}", path.display()))?;
        } else if meta.is_file() {
            let bytes = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
            // Readable by the sandbox's unprivileged user, as Lambda needs.
            writer
                .start_file(name, base.unix_permissions(mode | 0o444))
                .with_context(|| format!("add {}", path.display()))?;
            writer
                .write_all(&bytes)
                .with_context(|| format!("add {}", path.display()))?;
        } else {
            bail!(
                "{} is neither a file, a folder nor a link; packages hold only those",
                path.display()
            );
        }
    }
    let cursor = writer.finish().context("finish the zip")?;
    Ok(cursor.into_inner())
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<()> {
    let mut children: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("list {}", dir.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("list {}", dir.display()))?;
    children.sort_by_key(|e| e.file_name());
    for child in children {
        let name = child.file_name();
        let path = child.path();
        let file_type = child
            .file_type()
            .with_context(|| format!("read {}", path.display()))?;
        if file_type.is_dir() && SKIPPED.iter().any(|s| name == *s) {
            continue;
        }
        let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        out.push(relative);
        if file_type.is_dir() {
            walk(root, &path, out)?;
        }
    }
    Ok(())
}
