//! What the catalog may read: files under the catalog folder, or under a folder listed in
//! `[catalog] allowed_roots`, judged by where they really are (symlinks and `..` resolved)
//! before they are opened; and reading one with a size cap.
//!
//! Descriptors come from repositories anyone may commit to, so a Location target or a
//! `*.yaml` symlink must not make rubric read (and quote in its errors) `/etc/passwd`.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;

/// Largest descriptor file read; a larger one is an error on that file and is not read.
pub(crate) const MAX_DESCRIPTOR_BYTES: u64 = 8 * 1024 * 1024;

/// The folders a catalog load may read from.
#[derive(Clone, Debug, Default)]
pub(crate) struct Roots {
    /// Each root with every symlink resolved: a resolved file under one of them is admitted.
    real: Vec<PathBuf>,
    /// Each root as written (absolute, `..` folded): tells a missing file inside a root
    /// ("does not exist") from one outside (refused without saying whether it exists).
    written: Vec<PathBuf>,
}

/// Where a path really is, as far as [`Roots`] is concerned.
#[derive(Debug, PartialEq)]
pub(crate) enum Resolved {
    /// Inside a root; the resolved path (to open instead of the one written).
    Inside(PathBuf),
    /// Outside every root: the resolved path, or the written one when it does not exist.
    Outside(PathBuf),
    /// Inside a root as written, but nothing is there.
    Missing,
}

impl Roots {
    /// The roots of a catalog at `catalog` (a folder, or a single file: its folder) plus
    /// `allowed` (relative ones from the working directory). An allowed root that does not
    /// exist is a warning and admits nothing.
    pub fn new(catalog: &Path, allowed: &[PathBuf], diags: &mut Vec<Diagnostic>) -> Roots {
        let mut roots = Roots::default();
        let folder = match std::fs::metadata(catalog) {
            Ok(m) if m.is_file() => catalog.parent().unwrap_or(Path::new("")),
            _ => catalog,
        };
        // A missing catalog folder is reported by the walk; it simply admits nothing here.
        roots.push(folder);
        for root in allowed {
            if !roots.push(root) {
                diags.push(
                    Diagnostic::warning(format!(
                        "[catalog] allowed_roots: folder `{}` does not exist; ignored",
                        root.display()
                    ))
                    .with_hint("list folders that exist, relative to the working directory"),
                );
            }
        }
        roots
    }

    /// Adds a root; false when it cannot be resolved.
    fn push(&mut self, root: &Path) -> bool {
        let root = if root.as_os_str().is_empty() {
            Path::new(".")
        } else {
            root
        };
        self.written.push(written(root));
        match std::fs::canonicalize(root) {
            Ok(real) => {
                self.real.push(real);
                true
            }
            Err(_) => false,
        }
    }

    /// Resolves `path` and says whether it lies under a root.
    pub fn resolve(&self, path: &Path) -> Resolved {
        match std::fs::canonicalize(path) {
            Ok(real) if self.real.iter().any(|r| real.starts_with(r)) => Resolved::Inside(real),
            Ok(real) => Resolved::Outside(real),
            Err(_) => {
                let path = written(path);
                if self.written.iter().any(|r| path.starts_with(r)) {
                    Resolved::Missing
                } else {
                    Resolved::Outside(path)
                }
            }
        }
    }
}

/// `path` made absolute with `.` and `..` folded, without touching the file system.
fn written(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    super::read::normalize(&absolute)
}

/// Why a descriptor file was not read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The file could not be opened or read.
    Io(std::io::Error),
    /// The file is larger than [`MAX_DESCRIPTOR_BYTES`] (its size, when known).
    TooLarge(u64),
}

impl ReadError {
    /// The error diagnostic on `file`.
    pub fn diagnostic(&self, file: &Path) -> Diagnostic {
        match self {
            ReadError::Io(e) => {
                Diagnostic::error(format!("cannot read descriptor: {e}")).in_file(file)
            }
            ReadError::TooLarge(size) => Diagnostic::error(format!(
                "descriptor is {} MiB, more than the {} MiB a descriptor may be; not read",
                size.div_ceil(1024 * 1024),
                MAX_DESCRIPTOR_BYTES / (1024 * 1024)
            ))
            .in_file(file)
            .with_hint("split it into several files, one or a few entities each"),
        }
    }
}

/// The bytes of a descriptor file, at most [`MAX_DESCRIPTOR_BYTES`] of them.
pub(crate) fn read_capped(path: &Path) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let size = file.metadata().map_err(ReadError::Io)?.len();
    if size > MAX_DESCRIPTOR_BYTES {
        return Err(ReadError::TooLarge(size));
    }
    // The size can change between the check and the read (or lie, for special files).
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(MAX_DESCRIPTOR_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > MAX_DESCRIPTOR_BYTES {
        return Err(ReadError::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_judged_where_they_really_are() {
        let dir = tempfile::tempdir().unwrap();
        let cat = dir.path().join("cat");
        let extra = dir.path().join("extra");
        std::fs::create_dir_all(cat.join("sub")).unwrap();
        std::fs::create_dir_all(&extra).unwrap();
        std::fs::write(cat.join("sub/a.yaml"), "a: 1\n").unwrap();
        std::fs::write(dir.path().join("secret.yaml"), "s: 1\n").unwrap();
        std::fs::write(extra.join("e.yaml"), "e: 1\n").unwrap();
        let mut diags = Vec::new();
        let roots = Roots::new(&cat, &[], &mut diags);
        assert!(diags.is_empty());

        let inside = roots.resolve(&cat.join("sub/../sub/a.yaml"));
        assert!(matches!(inside, Resolved::Inside(p) if p.ends_with("cat/sub/a.yaml")));
        let up = roots.resolve(&cat.join("sub/../../secret.yaml"));
        assert!(matches!(up, Resolved::Outside(p) if p.ends_with("secret.yaml")));
        assert_eq!(roots.resolve(&cat.join("sub/none.yaml")), Resolved::Missing);
        // Outside and missing: refused all the same, so errors do not reveal what exists.
        assert!(matches!(
            roots.resolve(&cat.join("../none.yaml")),
            Resolved::Outside(_)
        ));
        assert!(matches!(
            roots.resolve(&extra.join("e.yaml")),
            Resolved::Outside(_)
        ));

        let roots = Roots::new(&cat, &[extra.clone(), dir.path().join("gone")], &mut diags);
        assert!(matches!(
            roots.resolve(&extra.join("e.yaml")),
            Resolved::Inside(_)
        ));
        assert_eq!(diags.len(), 1);
        assert!(
            diags[0].message.contains("gone` does not exist"),
            "{}",
            diags[0]
        );
    }

    #[test]
    fn a_single_file_catalog_is_rooted_at_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "a: 1\n").unwrap();
        std::fs::write(dir.path().join("b.yaml"), "b: 1\n").unwrap();
        let roots = Roots::new(&dir.path().join("a.yaml"), &[], &mut Vec::new());
        assert!(matches!(
            roots.resolve(&dir.path().join("b.yaml")),
            Resolved::Inside(_)
        ));
    }

    #[test]
    fn large_files_are_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.yaml");
        let f = std::fs::File::create(&big).unwrap();
        // Sparse: the size is there without writing the bytes.
        f.set_len(MAX_DESCRIPTOR_BYTES + 1).unwrap();
        let err = read_capped(&big).unwrap_err();
        assert!(matches!(err, ReadError::TooLarge(_)), "{err:?}");
        let d = err.diagnostic(&big);
        assert!(d.message.contains("more than the 8 MiB"), "{d}");
        std::fs::write(&big, "a: 1\n").unwrap();
        assert_eq!(read_capped(&big).unwrap(), b"a: 1\n");
    }
}
