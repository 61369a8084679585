//! Loading descriptor files from a folder: every `*.yaml` / `*.yml`, recursively, multi-document,
//! following Backstage `kind: Location` targets; parsed in parallel (the mapping stage maps them after).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Field;
use super::confine::{self, ReadError, Resolved, Roots};
use super::read::{self, Ctx, Document};
use super::{Catalog, Entity, MapEntity, MappingSources, SourceLocation};
use crate::diag::Diagnostic;
use crate::yaml;

/// What one file gave: entities (mapped when read with a [`MapEntity`]), diagnostics, and
/// Location targets to follow. Entities are shared, so a cached result is handed out again
/// without copying them.
#[derive(Clone, Debug, Default)]
pub(crate) struct FileResult {
    /// The path shown in messages about this file.
    pub display: PathBuf,
    pub entities: Vec<Arc<Entity>>,
    /// Where the fields each entity's mapping used were read (parallel to `entities`).
    pub sources: Vec<Arc<MappingSources>>,
    /// The source line each entity starts on (for messages about the entity as a whole).
    pub heads: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
    /// The mapping's diagnostics about each entity (parallel to `entities`; empty when the
    /// file was read without mapping). They join the catalog's after every reading diagnostic.
    pub mapped: Vec<Vec<Diagnostic>>,
    pub locations: Vec<Field>,
}

/// Maps each entity of `r` with `map`, keeping the diagnostics beside the entity; their source
/// lines come from `source`, the file's text, when there is one.
pub(crate) fn map_result(r: &mut FileResult, map: &MapEntity<'_>, source: Option<&str>) {
    r.mapped = r
        .entities
        .iter_mut()
        .zip(&r.sources)
        .map(|(e, s)| map(Arc::make_mut(e), s.spec.as_ref()))
        .collect();
    if let Some(source) = source {
        for diags in &mut r.mapped {
            attach_source_lines(diags, source, &r.display);
        }
    }
}

/// Reads and validates one file's text, mapping its entities with `map` when given.
/// `display` is the path shown in messages, `rel` the path recorded on entities.
pub(crate) fn read_file_text(
    source: &str,
    display: &Path,
    rel: &Path,
    map: Option<&MapEntity<'_>>,
) -> FileResult {
    let docs = match yaml::parse_documents(source, display) {
        Ok(docs) => docs,
        Err(d) => {
            return FileResult {
                display: display.to_path_buf(),
                diagnostics: vec![*d],
                ..FileResult::default()
            };
        }
    };
    let mut out = read_nodes(&docs, display, rel, Some(source));
    attach_source_lines(&mut out.diagnostics, source, display);
    if let Some(map) = map {
        map_result(&mut out, map, Some(source));
    }
    out
}

/// Reads parsed documents (from a file, or JSON from an HTTP source).
pub(crate) fn read_nodes(
    docs: &[yaml::Node],
    display: &Path,
    rel: &Path,
    source: Option<&str>,
) -> FileResult {
    let mut out = FileResult {
        display: display.to_path_buf(),
        ..FileResult::default()
    };
    let mut ctx = Ctx::new(display, rel);
    for doc in docs {
        match read::read_document(doc, &mut ctx) {
            Document::Entity(read) => {
                let read = *read;
                out.sources.push(Arc::new(mapping_sources(&read)));
                let entity = read.entity;
                let head = source
                    .and_then(|s| s.lines().nth(entity.source.line.checked_sub(1)?))
                    .unwrap_or_default();
                out.heads.push(head.trim_end_matches('\r').to_string());
                out.entities.push(Arc::new(entity));
            }
            Document::Location(targets) => out.locations.extend(targets),
            Document::Skipped => {}
        }
    }
    out.diagnostics = std::mem::take(&mut ctx.diags);
    out
}

fn mapping_sources(read: &read::ReadEntity) -> MappingSources {
    let mut m = MappingSources {
        spec: read.spec.clone(),
        repository: read.repo_at.clone(),
        ..MappingSources::default()
    };
    if let Some(spec) = &read.spec {
        m.codecov = Some(spec.at.clone());
        for (name, field) in [
            ("owner", &spec.owner),
            ("repo", &spec.repo),
            ("provider", &spec.provider),
            ("flag", &spec.flag),
            ("account", &spec.account),
        ] {
            if let Some(f) = field {
                m.fields.insert(name.to_string(), f.at.clone());
            }
        }
    }
    m
}

/// Fills the offending line of every diagnostic about `display` that has a line but no text.
pub(crate) fn attach_source_lines(diags: &mut [Diagnostic], source: &str, display: &Path) {
    if !diags.iter().any(|d| d.source_line.is_none() && d.line > 0) {
        return;
    }
    let lines: Vec<&str> = source.lines().collect();
    for d in diags.iter_mut() {
        if d.source_line.is_none()
            && d.line > 0
            && d.file.as_deref() == Some(display)
            && let Some(text) = lines.get(d.line - 1)
        {
            let text = text.trim_end_matches('\r');
            let width = text
                .chars()
                .skip(d.column.saturating_sub(1))
                .take_while(|c| !c.is_whitespace() && *c != ':')
                .count();
            *d = d.clone().with_source_line(text, width);
        }
    }
}

/// Fills the source lines of diagnostics made after reading (the mapping stage's), reading
/// each descriptor file they point at once.
pub(crate) fn attach_source_lines_from_files(diags: &mut [Diagnostic]) {
    let mut files: Vec<PathBuf> = diags
        .iter()
        .filter(|d| d.source_line.is_none() && d.line > 0)
        .filter_map(|d| d.file.clone())
        .collect();
    files.sort();
    files.dedup();
    for file in files {
        let text = confine::read_capped(&file)
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        if let Some(text) = text {
            attach_source_lines(diags, text.strip_prefix('\u{feff}').unwrap_or(&text), &file);
        }
    }
}

/// Every `*.yaml` / `*.yml` file under `dir`, sorted, skipping hidden folders. Symlinked
/// folders are not entered (a warning; so no loops); a symlinked file is read only when it
/// resolves inside `roots` (else an error naming its target). Unreadable folders are warnings.
pub(crate) fn find_files(dir: &Path, roots: &Roots, diags: &mut Vec<Diagnostic>) -> Vec<FileJob> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) => {
                diags.push(Diagnostic::warning(format!("cannot read folder: {e}")).in_file(&d));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            let real = if ft.is_dir() {
                if !hidden {
                    stack.push(path);
                }
                continue;
            } else if ft.is_symlink() {
                match follow_link(&path, hidden, roots, diags) {
                    Some(real) => real,
                    None => continue,
                }
            } else if ft.is_file() && is_yaml(&path) {
                path.clone()
            } else {
                continue;
            };
            out.push(FileJob {
                rel: path.strip_prefix(dir).unwrap_or(&path).to_path_buf(),
                path,
                real,
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The file to read for a symlink met in the walk: a YAML file inside `roots`, or `None`
/// (a folder is not entered, a broken link or a loop is skipped, both with a warning; a link
/// leading outside the roots is an error, and its target is not opened).
fn follow_link(
    link: &Path,
    hidden: bool,
    roots: &Roots,
    diags: &mut Vec<Diagnostic>,
) -> Option<PathBuf> {
    if link.is_dir() {
        if !hidden {
            diags.push(
                Diagnostic::warning("symlinked folder is not entered")
                    .in_file(link)
                    .with_hint("point [catalog] path at the real folder, or copy the files in"),
            );
        }
        return None;
    }
    if !is_yaml(link) {
        return None;
    }
    match roots.resolve(link) {
        Resolved::Inside(real) => real.is_file().then_some(real),
        Resolved::Missing => {
            diags.push(
                Diagnostic::warning(
                    "symlink leads nowhere (a broken link or a loop of links); skipped",
                )
                .in_file(link),
            );
            None
        }
        Resolved::Outside(target) => {
            diags.push(outside(
                Diagnostic::error(format!(
                    "symlink leads outside the catalog folder, to `{}`; not read",
                    target.display()
                ))
                .in_file(link),
            ));
            None
        }
    }
}

/// The hint of every refusal to read a file outside the catalog.
fn outside(d: Diagnostic) -> Diagnostic {
    d.with_hint(
        "only files under the catalog folder or a folder listed in [catalog] allowed_roots are read",
    )
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// One file to read: its path as found (shown in messages), the path recorded on entities, and
/// the file opened (a symlink's resolved target, checked to be inside the catalog's roots).
#[derive(Clone, Debug)]
pub(crate) struct FileJob {
    pub path: PathBuf,
    pub rel: PathBuf,
    pub real: PathBuf,
}

/// Reads the bytes of each job in parallel (bounded by the machine's cores) and hands them,
/// with the job, to `f`; results come back in job order.
pub(crate) fn parallel_map<T: Send>(jobs: &[FileJob], f: impl Fn(&FileJob) -> T + Sync) -> Vec<T> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len())
        .max(1);
    if workers == 1 {
        return jobs.iter().map(&f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, T)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        mine.push((i, f(job)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, t)| t).collect()
}

/// Reads a file from disk into a [`FileResult`], mapped with `map` when given (unreadable, too
/// large or non-UTF-8 files are one error).
pub(crate) fn read_file(job: &FileJob, map: Option<&MapEntity<'_>>) -> FileResult {
    match confine::read_capped(&job.real) {
        Ok(bytes) => read_bytes(&bytes, job, map),
        Err(e) => unreadable(job, &e),
    }
}

/// The result of a file that could not be read.
pub(crate) fn unreadable(job: &FileJob, e: &ReadError) -> FileResult {
    FileResult {
        display: job.path.clone(),
        diagnostics: vec![e.diagnostic(&job.path)],
        ..FileResult::default()
    }
}

/// Reads already-loaded bytes of a file, mapping its entities with `map` when given.
pub(crate) fn read_bytes(bytes: &[u8], job: &FileJob, map: Option<&MapEntity<'_>>) -> FileResult {
    match std::str::from_utf8(bytes) {
        Ok(text) => read_file_text(
            text.strip_prefix('\u{feff}').unwrap_or(text),
            &job.path,
            &job.rel,
            map,
        ),
        Err(e) => {
            let (line, column, _) = crate::diag::locate(
                &String::from_utf8_lossy(&bytes[..e.valid_up_to()]),
                e.valid_up_to(),
            );
            FileResult {
                diagnostics: vec![
                    Diagnostic::error("descriptor is not valid UTF-8")
                        .in_file(&job.path)
                        .at(line, column)
                        .with_hint("save the file as UTF-8"),
                ],
                ..FileResult::default()
            }
        }
    }
}

/// The jobs for a catalog path: every YAML file of a folder, or the one file named.
pub(crate) fn jobs_for(dir: &Path, roots: &Roots, diags: &mut Vec<Diagnostic>) -> Vec<FileJob> {
    match std::fs::metadata(dir) {
        Err(e) => {
            diags.push(
                Diagnostic::error(format!("cannot read the catalog folder: {e}"))
                    .in_file(dir)
                    .with_hint("pass --catalog DIR or set [catalog] path in plugin.toml"),
            );
            Vec::new()
        }
        // The file the configuration names is read wherever its link leads.
        Ok(m) if m.is_file() => vec![FileJob {
            path: dir.to_path_buf(),
            rel: dir
                .file_name()
                .map_or_else(|| dir.to_path_buf(), PathBuf::from),
            real: dir.to_path_buf(),
        }],
        Ok(_) => find_files(dir, roots, diags),
    }
}

/// Follows Location targets: files not loaded yet are read (relative to the file naming them),
/// missing ones are errors, and so are ones outside `roots` (those are not opened).
/// `loaded` holds canonical paths already read.
pub(crate) fn follow_locations(
    root: &Path,
    roots: &Roots,
    mut pending: Vec<(PathBuf, Field)>,
    loaded: &mut HashSet<PathBuf>,
    mut read: impl FnMut(&FileJob) -> Arc<FileResult>,
    results: &mut Vec<Arc<FileResult>>,
) {
    let mut guard = 0usize;
    while let Some((from, target)) = pending.pop() {
        guard += 1;
        if guard > 100_000 {
            break;
        }
        let dir = from.parent().unwrap_or(Path::new(""));
        let Some(path) = read::location_target_path(dir, &target.value) else {
            results.push(Arc::new(FileResult {
                diagnostics: vec![place(
                    Diagnostic::warning(format!(
                        "Location target `{}` is a URL; only relative files are followed",
                        target.value
                    )),
                    &target.at,
                )],
                ..FileResult::default()
            }));
            continue;
        };
        if target.value.contains('*') {
            results.push(Arc::new(FileResult {
                diagnostics: vec![place(
                    Diagnostic::warning(format!(
                        "Location target `{}` is a glob; only single files are followed",
                        target.value
                    ))
                    .with_hint(
                        "files under the catalog folder are read anyway; list others one by one",
                    ),
                    &target.at,
                )],
                ..FileResult::default()
            }));
            continue;
        }
        let canonical = match roots.resolve(&path) {
            Resolved::Inside(c) if c.is_file() => c,
            Resolved::Outside(real) => {
                results.push(Arc::new(FileResult {
                    diagnostics: vec![place(
                        outside(Diagnostic::error(format!(
                            "Location target `{}` is outside the catalog folder (it leads to {}); not read",
                            target.value,
                            real.display()
                        ))),
                        &target.at,
                    )],
                    ..FileResult::default()
                }));
                continue;
            }
            Resolved::Inside(_) | Resolved::Missing => {
                results.push(Arc::new(FileResult {
                    diagnostics: vec![place(
                        Diagnostic::error(format!(
                            "Location target `{}` does not exist ({})",
                            target.value,
                            path.display()
                        ))
                        .with_hint("targets are relative to the file that names them"),
                        &target.at,
                    )],
                    ..FileResult::default()
                }));
                continue;
            }
        };
        if !loaded.insert(canonical.clone()) {
            continue;
        }
        let job = FileJob {
            rel: path.strip_prefix(root).unwrap_or(&path).to_path_buf(),
            path: path.clone(),
            real: canonical,
        };
        let r = read(&job);
        pending.extend(r.locations.iter().cloned().map(|t| (path.clone(), t)));
        results.push(r);
    }
}

/// Places a diagnostic at a field, with the field's source line read back from its file.
fn place(d: Diagnostic, at: &SourceLocation) -> Diagnostic {
    if at.file.as_os_str().is_empty() {
        return d;
    }
    let d = d.in_file(&at.file).at(at.line, at.column);
    let text = confine::read_capped(&at.file)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.lines()
                .nth(at.line.checked_sub(1)?)
                .map(|l| l.trim_end_matches('\r').to_string())
        });
    match text {
        Some(t) => {
            let width = t.chars().skip(at.column.saturating_sub(1)).count();
            d.with_source_line(t, width)
        }
        None => d,
    }
}

/// Reads every file of `dir` (in parallel, mapping each entity with `map` when given) and the
/// files its Location entities name, reading nothing outside `dir` and the `allowed` roots.
pub(crate) fn load_files(
    dir: &Path,
    allowed: &[PathBuf],
    map: Option<&MapEntity<'_>>,
) -> (Vec<Arc<FileResult>>, Vec<Diagnostic>) {
    load_files_with(dir, allowed, |job| Arc::new(read_file(job, map)))
}

/// [`load_files`] with the function reading one file (the cache reuses unchanged results).
pub(crate) fn load_files_with(
    dir: &Path,
    allowed: &[PathBuf],
    read: impl Fn(&FileJob) -> Arc<FileResult> + Sync,
) -> (Vec<Arc<FileResult>>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let roots = Roots::new(dir, allowed, &mut diagnostics);
    let jobs = jobs_for(dir, &roots, &mut diagnostics);
    let mut results = parallel_map(&jobs, &read);
    let pending: Vec<_> = jobs
        .iter()
        .zip(&results)
        .flat_map(|(j, r)| r.locations.iter().cloned().map(|t| (j.path.clone(), t)))
        .collect();
    if !pending.is_empty() {
        let mut loaded: HashSet<PathBuf> = jobs
            .iter()
            .filter_map(|j| std::fs::canonicalize(&j.path).ok())
            .collect();
        let mut followed = Vec::new();
        follow_locations(dir, &roots, pending, &mut loaded, &read, &mut followed);
        results.extend(followed);
    }
    (results, diagnostics)
}

/// Puts file results together: entities in order (shared with the results, not copied), a
/// repeated tag is an error naming both sources (the later entity is left out), the reading
/// diagnostics in order, then the mapping's diagnostics about the entities kept.
pub(crate) fn assemble(results: Vec<Arc<FileResult>>, mut diagnostics: Vec<Diagnostic>) -> Catalog {
    let count = results.iter().map(|r| r.entities.len()).sum();
    let mut entities: Vec<Arc<Entity>> = Vec::with_capacity(count);
    let mut sources: Vec<Arc<MappingSources>> = Vec::with_capacity(count);
    let mut mapped: Vec<Diagnostic> = Vec::new();
    // Where each tag was first seen: the file's display path, line and column.
    let mut seen: HashMap<&str, (&Path, usize, usize)> = HashMap::with_capacity(count);
    for r in &results {
        diagnostics.extend(r.diagnostics.iter().cloned());
        for (i, e) in r.entities.iter().enumerate() {
            let (line, column) = (e.source.line, e.source.column);
            if let Some(&(file, l, c)) = seen.get(e.tag.as_str()) {
                let at = |file: &Path, line, column| SourceLocation {
                    file: file.to_path_buf(),
                    line,
                    column,
                };
                let mut d = duplicate(&e.tag, &at(&r.display, line, column), &at(file, l, c));
                if let Some(head) = r.heads.get(i).filter(|_| line > 0) {
                    d = d.with_source_line(head.clone(), head.trim_end().chars().count().max(1));
                }
                diagnostics.push(d);
                continue;
            }
            seen.insert(&e.tag, (&r.display, line, column));
            sources.push(r.sources.get(i).cloned().unwrap_or_default());
            mapped.extend(r.mapped.get(i).into_iter().flatten().cloned());
            entities.push(Arc::clone(e));
        }
    }
    diagnostics.extend(mapped);
    Catalog::from_shared(entities.into(), diagnostics).with_mapping_sources(sources)
}

/// The error for an entity whose tag is already taken by the entity at `first`.
pub(crate) fn duplicate(tag: &str, src: &SourceLocation, first: &SourceLocation) -> Diagnostic {
    let first_place = if first.line > 0 {
        format!("{}:{}:{}", first.file.display(), first.line, first.column)
    } else {
        first.file.display().to_string()
    };
    let mut d = Diagnostic::error(format!(
        "duplicate tag `{tag}`: also defined at {first_place}; this one is left out"
    ))
    .in_file(&src.file)
    .with_hint("tags must be unique across the catalog; rename one of them");
    if src.line > 0 {
        d = d.at(src.line, src.column);
    }
    d
}
