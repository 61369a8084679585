//! rubric: scorecards for internal developer portals.
//!
//! Data flows one way through the stages, one module each:
//! [`catalog`] (descriptors → entities) → [`mapping`] (entity → repository → coverage project)
//! → [`providers`] (Codecov, Datadog; cached HTTP) → [`cql`] (rules → compiled programs)
//! → [`scorecard`] (levels, points, explanations) → [`store`] → [`server`] / [`jobs`] / [`cli`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod coverage;
pub mod cql;
pub mod demo;
pub mod diag;
pub mod facts;
pub mod jobs;
pub mod mapping;
pub mod pipeline;
pub mod providers;
pub mod scorecard;
pub mod server;
pub mod store;
pub mod value;
/// YAML (and JSON) documents as trees of nodes that keep their line and column, parsed with
/// budgets against hostile input, and a reader of typed fields with positioned diagnostics;
/// shared by the catalog's descriptors and the scorecards.
pub(crate) mod yaml;

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The modules from the bottom up: each may use only those before it. The foundation
    /// (`value` to `config`) imports no stage, and `cql` imports nothing of the domain (catalog
    /// facts reach it through `facts::Lookup`).
    const LAYERS: &[&str] = &[
        "value",
        "clock",
        "diag",
        "coverage",
        "yaml",
        "facts",
        "config",
        "cql",
        "catalog",
        "mapping",
        "providers",
        "scorecard",
        "pipeline",
        "store",
        "demo",
        "jobs",
        "server",
        "cli",
    ];

    /// Every `crate::<module>` a file names outside its `#[cfg(test)] mod tests`.
    fn uses(path: &Path, found: &mut Vec<(String, String)>) {
        if path.is_dir() {
            for entry in std::fs::read_dir(path).unwrap() {
                uses(&entry.unwrap().path(), found);
            }
            return;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            return;
        }
        let text = std::fs::read_to_string(path).unwrap();
        let code = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        let file = path.display().to_string();
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            found.push((file.clone(), name));
        }
    }

    #[test]
    fn stages_import_one_way() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut wrong = Vec::new();
        for (rank, module) in LAYERS.iter().enumerate() {
            let file = src.join(format!("{module}.rs"));
            let dir = src.join(module);
            let mut found = Vec::new();
            for path in [file, dir].iter().filter(|p| p.exists()) {
                uses(path, &mut found);
            }
            for (file, used) in found {
                let at = LAYERS.iter().position(|m| *m == used);
                if at.is_some_and(|at| at > rank) {
                    wrong.push(format!("{file}: {module} uses crate::{used}"));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "imports against the stage order:\n{}",
            wrong.join("\n")
        );
        let top: Vec<String> = std::fs::read_dir(&src)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "rs"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .filter(|m| !["lib", "main"].contains(&m.as_str()))
            .collect();
        for m in &top {
            assert!(
                LAYERS.contains(&m.as_str()),
                "module {m} has no place in LAYERS"
            );
        }
    }
}
