//! Deployment packages: a zip with the function's code and its vendored
//! dependencies, as Lambda takes them, unpacked once per content hash into a
//! task directory that instances see read-only at `/var/task`.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Lambda's limit on a zipped package.
pub const MAX_ZIPPED_BYTES: usize = 50 * 1024 * 1024;
/// Lambda's limit on the unzipped package.
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;
/// Most entries accepted in one package.
pub const MAX_ENTRIES: usize = 100_000;

/// Why a package was refused; the message is for the user who deployed it.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error(
        "the package is {0} bytes; Lambda packages are limited to {MAX_ZIPPED_BYTES} bytes zipped"
    )]
    TooLarge(usize),
    #[error("the package is not a zip archive: {0}")]
    NotZip(String),
    #[error("the package unzips to more than {MAX_UNZIPPED_BYTES} bytes (Lambda's limit)")]
    UnzippedTooLarge,
    #[error("the package has more than {MAX_ENTRIES} entries")]
    TooManyEntries,
    #[error("entry `{0}` has a path that leaves the package")]
    UnsafePath(String),
    #[error("entry `{0}` is a symbolic link pointing outside the package")]
    UnsafeLink(String),
    #[error("entry `{name}` could not be read: {reason}")]
    BadEntry { name: String, reason: String },
    #[error("could not unpack the package into {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PackageError + '_ {
    move |source| PackageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Unpacks `zip` into `dest`, atomically: into a temporary sibling first,
/// renamed into place when complete. An existing `dest` is kept as is.
pub fn unpack(zip: &[u8], dest: &Path) -> Result<(), PackageError> {
    if zip.len() > MAX_ZIPPED_BYTES {
        return Err(PackageError::TooLarge(zip.len()));
    }
    if dest.is_dir() {
        return Ok(());
    }
    let parent = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let staging = parent.join(format!(
        ".unpack-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let result = unpack_into(zip, &staging).and_then(|()| {
        match std::fs::rename(&staging, dest) {
            Ok(()) => Ok(()),
            // Another upload of the same package won the race.
            Err(_) if dest.is_dir() => Ok(()),
            Err(e) => Err(io(dest)(e)),
        }
    });
    if staging.exists() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

fn unpack_into(zip: &[u8], root: &Path) -> Result<(), PackageError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip))
        .map_err(|e| PackageError::NotZip(e.to_string()))?;
    if archive.len() > MAX_ENTRIES {
        return Err(PackageError::TooManyEntries);
    }
    std::fs::create_dir_all(root).map_err(io(root))?;
    let mut budget = MAX_UNZIPPED_BYTES;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|e| PackageError::BadEntry {
                name: format!("#{index}"),
                reason: e.to_string(),
            })?;
        let name = entry
            .name()
            .map_err(|e| PackageError::BadEntry {
                name: format!("#{index}"),
                reason: e.to_string(),
            })?
            .to_string();
        let relative = safe_relative(&name)?;
        if relative.as_os_str().is_empty() {
            continue;
        }
        let path = root.join(&relative);
        let mode = entry.unix_mode();
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(io(&path))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let is_link = mode.is_some_and(|m| m & 0o170000 == 0o120000);
        if is_link {
            let mut target = String::new();
            entry
                .by_ref()
                .take(4096)
                .read_to_string(&mut target)
                .map_err(|e| PackageError::BadEntry {
                    name: name.clone(),
                    reason: e.to_string(),
                })?;
            check_link(&relative, &target).map_err(|()| PackageError::UnsafeLink(name.clone()))?;
            std::os::unix::fs::symlink(&target, &path).map_err(io(&path))?;
            continue;
        }
        let mut file = std::fs::File::create(&path).map_err(io(&path))?;
        let copied =
            std::io::copy(&mut entry.by_ref().take(budget + 1), &mut file).map_err(|e| {
                PackageError::BadEntry {
                    name: name.clone(),
                    reason: e.to_string(),
                }
            })?;
        if copied > budget {
            return Err(PackageError::UnzippedTooLarge);
        }
        budget -= copied;
        // Keep the executable bit (a `bootstrap` must stay runnable); the
        // rest is readable by all, writable by none once mounted.
        let executable = mode.is_some_and(|m| m & 0o111 != 0);
        let permissions = if executable { 0o755 } else { 0o644 };
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(permissions))
            .map_err(io(&path))?;
    }
    Ok(())
}

/// The entry's path relative to the package root; refuses absolute paths and
/// `..` that would leave it.
fn safe_relative(name: &str) -> Result<PathBuf, PackageError> {
    let mut out = PathBuf::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(PackageError::UnsafePath(name.to_string()));
            }
        }
    }
    Ok(out)
}

/// A link may point anywhere inside the package, relative to its own folder.
fn check_link(relative: &Path, target: &str) -> Result<(), ()> {
    if target.starts_with('/') {
        return Err(());
    }
    let mut depth: i64 = relative.components().count() as i64 - 1;
    for component in Path::new(target).components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return Err(());
                }
            }
            _ => return Err(()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        {
            let mut writer = zip::ZipWriter::new(&mut out);
            for (name, data, mode) in entries {
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated)
                    .unix_permissions(*mode);
                writer.start_file(*name, options).expect("start");
                writer.write_all(data).expect("write");
            }
            writer.finish().expect("finish");
        }
        out.into_inner()
    }

    #[test]
    fn unpacks_files_with_modes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("task");
        let zip = zip_of(&[
            ("bootstrap", b"#!/bin/sh\n", 0o755),
            ("lib/app.py", b"x = 1\n", 0o644),
        ]);
        unpack(&zip, &dest).expect("unpack");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dest.join("bootstrap"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            std::fs::read(dest.join("lib/app.py")).expect("read"),
            b"x = 1\n"
        );
        // Idempotent.
        unpack(&zip, &dest).expect("again");
    }

    #[test]
    fn refuses_bad_packages() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"not a zip".to_vec(), "not a zip archive"),
            (zip_of(&[("../evil", b"x", 0o644)]), "leaves the package"),
            (zip_of(&[("/abs", b"x", 0o644)]), "leaves the package"),
        ];
        for (index, (zip, expected)) in cases.into_iter().enumerate() {
            let dest = dir.path().join(format!("t{index}"));
            let error = unpack(&zip, &dest).expect_err(expected).to_string();
            assert!(error.contains(expected), "{error}");
            assert!(!dest.exists());
        }
    }

    #[test]
    fn links_must_stay_inside() {
        assert!(check_link(Path::new("node_modules/.bin/tool"), "../tool/cli.js").is_ok());
        assert!(check_link(Path::new("a"), "../../etc/passwd").is_err());
        assert!(check_link(Path::new("a"), "/etc/passwd").is_err());
    }
}
