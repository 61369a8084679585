//! The facts file `rubric sync --out FILE` writes and `rubric eval --facts FILE` reads, so
//! changed scorecards can be re-evaluated offline with no requests:
//!
//! ```json
//! {"generated_at": "2026-11-22T05:30:00Z",
//!  "entities": {"payments-api": {"codecov.codeCoverage()": {"value": 97.42, "status": "ok",
//!                                                            "origin": "github/acme/payments-api"}}}}
//! ```
//!
//! Entities are keyed by tag, facts by the [`FactKey`]'s `Display` (the CQL call it stands for).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use futures::future::BoxFuture;

use super::Provider;
use crate::catalog::{Catalog, Entity};
use crate::facts::{Fact, FactKey, Source};
use crate::value::Value;

/// Fetched facts by entity tag, then by fact key text.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FactsFile {
    /// When the facts were fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_at: Option<DateTime<Utc>>,
    /// `tag → (FactKey text → Fact)`.
    pub entities: BTreeMap<String, BTreeMap<String, Fact>>,
}

/// Why a facts file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FactsFileError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a facts file.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

impl FactsFile {
    /// The file for what [`super::Providers::fetch`] returned (`facts[i][j]` answers
    /// `keys[j]` for `entities[i]`).
    pub fn from_fetch(
        entities: &[&Entity],
        keys: &[FactKey],
        facts: &[Vec<Fact>],
        at: DateTime<Utc>,
    ) -> Self {
        let entities = entities
            .iter()
            .zip(facts)
            .map(|(e, row)| {
                (
                    e.tag.clone(),
                    keys.iter()
                        .map(|k| k.to_string())
                        .zip(row.iter().cloned())
                        .collect(),
                )
            })
            .collect();
        FactsFile {
            generated_at: Some(at),
            entities,
        }
    }

    /// The stored fact for `key` of the entity tagged `tag`.
    pub fn get(&self, tag: &str, key: &FactKey) -> Option<&Fact> {
        self.entities.get(tag)?.get(&key.to_string())
    }

    /// The facts of `tag` for `keys`, in key order; a fact the file lacks is an error fact
    /// that says so (`rubric sync` did not fetch it).
    pub fn facts_for(&self, tag: &str, keys: &[FactKey]) -> Vec<Fact> {
        keys.iter()
            .map(|k| {
                self.get(tag, k).cloned().unwrap_or_else(|| {
                    Fact::error(format!(
                        "{k} is not in the facts file for {tag}; run rubric sync again"
                    ))
                })
            })
            .collect()
    }
}

/// A facts file stands in for every provider but the catalog: it answers what `rubric sync`
/// fetched, with no request.
impl Provider for FactsFile {
    fn source(&self) -> Source {
        Source::Other("facts file".into())
    }

    fn answers(&self, source: &Source) -> bool {
        *source != Source::Catalog
    }

    fn answer<'a>(
        &'a self,
        key: &'a FactKey,
        entity: &'a Entity,
        _catalog: &'a Catalog,
    ) -> BoxFuture<'a, Fact> {
        let fact = self
            .facts_for(&entity.tag, std::slice::from_ref(key))
            .pop()
            .unwrap_or_else(|| Fact::error("the facts file gave no answer"));
        Box::pin(std::future::ready(fact))
    }
}

/// Reads a facts file; errors carry file, line and column.
pub fn load_facts_file(path: &Path) -> Result<FactsFile, FactsFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| FactsFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut file: FactsFile = serde_json::from_str(&text).map_err(|e| FactsFileError::Invalid {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_string(),
    })?;
    // JSON has no timestamps: a fact whose whole value is RFC 3339 text was one
    // (`codecov.lastUploadAt()`); providers give no other values of that form.
    for fact in file.entities.values_mut().flat_map(|m| m.values_mut()) {
        if let Value::String(s) = &fact.value
            && s.len() >= 20
            && s.as_bytes().get(10) == Some(&b'T')
            && let Ok(t) = DateTime::parse_from_rfc3339(s)
        {
            fact.value = Value::Timestamp(t.with_timezone(&Utc));
        }
    }
    Ok(file)
}

/// Writes a facts file (pretty JSON), replacing it atomically.
pub fn save_facts_file(path: &Path, file: &FactsFile) -> Result<(), FactsFileError> {
    let io = |source| FactsFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let text = serde_json::to_string_pretty(file).map_err(|e| io(std::io::Error::other(e)))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text + "\n").map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_round_trips_and_missing_facts_say_so() {
        let k1 = FactKey::new("codecov", "codecov", "codeCoverage");
        let k2 = FactKey::new("codecov", "codecov", "lastUploadAt");
        let t = "2026-11-20T10:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let mut file = FactsFile::default();
        file.entities.insert(
            "api".into(),
            [
                (
                    k1.to_string(),
                    Fact::ok(97.42).from_origin("github/acme/api"),
                ),
                (k2.to_string(), Fact::ok(Value::Timestamp(t))),
            ]
            .into_iter()
            .collect(),
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("facts.json");
        save_facts_file(&path, &file).unwrap();
        let back = load_facts_file(&path).unwrap();
        assert_eq!(
            back.get("api", &k1),
            Some(&Fact::ok(97.42).from_origin("github/acme/api"))
        );
        assert_eq!(back.get("api", &k2).unwrap().value, Value::Timestamp(t));
        let facts = back.facts_for("web", &[k1]);
        assert_eq!(
            facts[0].null_reason(),
            Some("codecov.codeCoverage() is not in the facts file for web; run rubric sync again")
        );

        std::fs::write(&path, "{\"entities\": {\"api\": 3}}").unwrap();
        let e = load_facts_file(&path).unwrap_err().to_string();
        assert!(
            e.contains("facts.json:1:") && e.contains("invalid type"),
            "{e}"
        );
    }
}
