//! Repository-relative paths. Reports written on CI machines name files by absolute paths
//! (`/home/runner/work/app/app/src/x.py`), relative to a source root (Cobertura's `<source>`),
//! or by Go import path (`github.com/acme/app/pkg/x.go`); the store keeps each file once, by
//! its path in the repository, so that the same file from two uploads is one file.

use super::report::{FileCoverage, Report};

/// What is known about where a report's files live.
#[derive(Clone, Copy, Debug, Default)]
pub struct PathContext<'a> {
    /// The repository's owner (`acme`), for Go import paths.
    pub owner: &'a str,
    /// The repository's name (`app`): an absolute path is cut after its last `/app/`.
    pub repo: &'a str,
    /// The repository's files, when the uploader sent them (Codecov's `network_files`): a
    /// report path becomes the listed file it ends with.
    pub files: &'a [String],
}

/// Rewrites the paths of `report` to repository-relative ones, in this order: the listed file a
/// path ends with; a relative path joined to the report's first source root; an absolute path
/// cut after its last folder named like the repository; a Go import path cut after
/// `owner/repo/`; otherwise the folders every absolute path shares are dropped. Files that end
/// up with the same path are merged.
pub fn normalize(report: &mut Report, context: &PathContext<'_>) {
    let root = report.source_roots.first().map(|r| clean(r));
    let joined: Vec<String> = report
        .files
        .iter()
        .map(|f| match &root {
            Some(root) if !is_absolute(&f.path) => {
                format!("{}/{}", root.trim_end_matches('/'), f.path)
            }
            _ => f.path.clone(),
        })
        .collect();
    let shared = shared_folder(joined.iter().filter(|p| is_absolute(p)).map(String::as_str));
    let files = std::mem::take(&mut report.files);
    let mut renamed = Report::default();
    for (file, path) in files.into_iter().zip(joined) {
        let path = relative(&path, context, shared.as_deref());
        renamed.merge(Report {
            files: vec![FileCoverage {
                path,
                lines: file.lines,
            }],
            ..Report::default()
        });
    }
    report.files = renamed.files;
}

fn relative(path: &str, context: &PathContext<'_>, shared: Option<&str>) -> String {
    if let Some(listed) = listed_suffix(path, context.files) {
        return listed.to_string();
    }
    if is_absolute(path) {
        if !context.repo.is_empty()
            && let Some(at) = path.rfind(&format!("/{}/", context.repo))
        {
            return path[at + context.repo.len() + 2..].to_string();
        }
        if let Some(shared) = shared {
            return path[shared.len()..].trim_start_matches('/').to_string();
        }
        return path.trim_start_matches('/').to_string();
    }
    if !context.owner.is_empty() && !context.repo.is_empty() {
        let module = format!("{}/{}/", context.owner, context.repo);
        if let Some(at) = path.find(&module)
            && path[..at]
                .split('/')
                .next()
                .is_some_and(|host| host.contains('.'))
        {
            return path[at + module.len()..].to_string();
        }
    }
    path.to_string()
}

/// The listed file `path` ends with (on a folder boundary), the longest when several do.
fn listed_suffix<'a>(path: &str, files: &'a [String]) -> Option<&'a str> {
    files
        .iter()
        .map(String::as_str)
        .filter(|f| {
            !f.is_empty()
                && (path == *f
                    || path
                        .strip_suffix(*f)
                        .is_some_and(|head| head.ends_with('/')))
        })
        .max_by_key(|f| f.len())
}

/// `/x` or `C:/x`.
fn is_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    path.starts_with('/') || (bytes.len() > 2 && bytes[1] == b':' && bytes[2] == b'/')
}

fn clean(path: &str) -> String {
    path.trim().replace('\\', "/")
}

/// The longest folder (ending in `/`) that every path is in, when there are paths; a single
/// path's own folder.
fn shared_folder<'a>(mut paths: impl Iterator<Item = &'a str>) -> Option<String> {
    let first = paths.next()?;
    let mut shared = first.rfind('/').map_or("", |i| &first[..=i]);
    for path in paths {
        while !path.starts_with(shared) {
            let cut = shared[..shared.len().saturating_sub(1)].rfind('/')?;
            shared = &shared[..=cut];
        }
    }
    (!shared.is_empty()).then(|| shared.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage::Line;

    fn report(paths: &[&str], roots: &[&str]) -> Report {
        Report {
            files: paths
                .iter()
                .map(|p| FileCoverage {
                    path: p.to_string(),
                    lines: vec![Line {
                        number: 1,
                        hits: 1,
                        ..Line::default()
                    }],
                })
                .collect(),
            source_roots: roots.iter().map(|r| r.to_string()).collect(),
        }
    }

    fn paths(r: &Report) -> Vec<&str> {
        r.files.iter().map(|f| f.path.as_str()).collect()
    }

    const APP: PathContext<'static> = PathContext {
        owner: "acme",
        repo: "app",
        files: &[],
    };

    #[test]
    fn ci_paths_become_repository_paths() {
        let mut r = report(
            &[
                "/home/runner/work/app/app/src/x.py",
                "/home/runner/work/app/app/lib/y.py",
            ],
            &[],
        );
        normalize(&mut r, &APP);
        assert_eq!(paths(&r), ["lib/y.py", "src/x.py"]);

        let mut r = report(&["x.py", "pkg/y.py"], &["/builds/acme/app/src"]);
        normalize(&mut r, &APP);
        assert_eq!(paths(&r), ["src/pkg/y.py", "src/x.py"]);

        let mut r = report(&["github.com/acme/app/pkg/x.go", "src/main.rs"], &[]);
        normalize(&mut r, &APP);
        assert_eq!(paths(&r), ["pkg/x.go", "src/main.rs"]);

        // No folder named like the repository: the folders all paths share are dropped.
        let mut r = report(
            &[
                "C:\\agent\\_work\\1\\s\\src\\A.cs",
                "C:/agent/_work/1/s/test/B.cs",
            ],
            &[],
        );
        for f in &mut r.files {
            f.path = f.path.replace('\\', "/");
        }
        normalize(&mut r, &APP);
        assert_eq!(paths(&r), ["src/A.cs", "test/B.cs"]);
    }

    #[test]
    fn the_uploaders_file_list_wins_and_the_same_file_is_one_file() {
        let files = ["src/app/x.py".to_string(), "x.py".to_string()];
        let context = PathContext {
            files: &files,
            ..APP
        };
        let mut r = report(
            &["/tmp/build/src/app/x.py", "/opt/ci/checkout/src/app/x.py"],
            &[],
        );
        normalize(&mut r, &context);
        assert_eq!(paths(&r), ["src/app/x.py"]);
        assert_eq!(r.files[0].lines[0].hits, 2, "merged, hits added");
    }
}
