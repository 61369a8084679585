//! Coverage uploads in the store: project tokens (kept as SHA-256 digests), the uploads
//! themselves, and per commit and flag the merged report. An upload is written in one
//! transaction: rejected or failed, it leaves nothing behind. Uploads of the same commit are
//! serialised by the commit's row, which each one writes first.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Store, StoreError, StoreResult, from_ms, ms};
use crate::coverage::report::{decode_lines, encode_lines};
use crate::coverage::{FileCoverage, Format, Report, Totals};

/// An upload to record.
#[derive(Debug)]
pub struct NewUpload<'a> {
    /// `service/owner/repo` (`github/acme/api`).
    pub repository: &'a str,
    /// The commit it measures.
    pub commit: &'a str,
    /// Its branch, when the uploader said.
    pub branch: Option<&'a str>,
    /// Its flags (none: it counts for the commit's whole report only).
    pub flags: &'a [String],
    /// The format it was read as.
    pub format: Format,
    /// Who sent it: the token's name.
    pub uploaded_by: &'a str,
    /// Whether the commit's report is complete with it (false for Codacy's `partial=true`
    /// until `coverageFinal`).
    pub complete: bool,
    /// The report, paths already relative to the repository.
    pub report: Report,
    /// When it arrived.
    pub at: DateTime<Utc>,
}

/// What an accepted upload did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UploadReceipt {
    /// Its id.
    pub upload_id: i64,
    /// Its own totals.
    pub totals: Totals,
}

/// The merged coverage of one commit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommitCoverage {
    /// `service/owner/repo`.
    pub repository: String,
    /// The commit.
    pub commit: String,
    /// Its branch, when an uploader said.
    pub branch: Option<String>,
    /// The last upload.
    pub uploaded_at: DateTime<Utc>,
    /// Whether an upload (or a final call) said the report is complete.
    pub complete: bool,
    /// Every upload merged.
    pub totals: Totals,
    /// Per flag, that flag's uploads merged.
    pub flags: BTreeMap<String, Totals>,
}

/// Which commit to read.
#[derive(Clone, Copy, Debug, Default)]
pub struct CommitQuery<'a> {
    /// This commit.
    pub commit: Option<&'a str>,
    /// Else the latest on one of these branches (any branch when empty).
    pub branches: &'a [String],
    /// Whether a commit whose uploads named no branch (Codacy's never do) counts as on them.
    pub unknown_branch_matches: bool,
    /// Only complete commits.
    pub complete_only: bool,
    /// Only commits uploaded at or before this time.
    pub before: Option<DateTime<Utc>>,
}

/// A two-step upload waiting for its report.
#[derive(Clone, Debug, PartialEq)]
pub struct UploadSession {
    /// `service/owner/repo`.
    pub repository: String,
    /// The commit.
    pub commit: String,
    /// Its branch, when named.
    pub branch: Option<String>,
    /// Its flags.
    pub flags: Vec<String>,
    /// Who opened it.
    pub uploaded_by: String,
}

/// A project token, as listed (never the token itself).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UploadToken {
    /// Its id, for `rubric tokens revoke`.
    pub id: i64,
    /// The repository it may upload to.
    pub repository: String,
    /// Its name.
    pub name: String,
    /// Its last four characters.
    pub last_four: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new token: a random UUID (version 4), the shape Codecov and Codacy tokens have, so every
/// uploader accepts it.
pub fn new_token() -> String {
    use rand::Rng;
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The SHA-256 of a token, in hex: what is stored and looked up.
pub fn token_digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Store {
    /// Stores a new project token for `repository`; returns its id.
    pub async fn create_upload_token(
        &self,
        repository: &str,
        name: &str,
        token: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let last_four: String = {
            let chars: Vec<char> = token.chars().collect();
            chars[chars.len().saturating_sub(4)..].iter().collect()
        };
        let row = sqlx::query(
            "INSERT INTO upload_tokens (repository, name, digest, last_four, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(repository)
        .bind(name)
        .bind(token_digest(token))
        .bind(last_four)
        .bind(ms(at))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Every project token, oldest first.
    pub async fn upload_tokens(&self) -> StoreResult<Vec<UploadToken>> {
        let rows = sqlx::query(
            "SELECT id, repository, name, last_four, created_at, revoked_at FROM upload_tokens ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UploadToken {
                    id: r.try_get("id")?,
                    repository: r.try_get("repository")?,
                    name: r.try_get("name")?,
                    last_four: r.try_get("last_four")?,
                    created_at: from_ms(r.try_get("created_at")?, "upload_tokens.created_at")?,
                    revoked_at: r
                        .try_get::<Option<i64>, _>("revoked_at")?
                        .map(|t| from_ms(t, "upload_tokens.revoked_at"))
                        .transpose()?,
                })
            })
            .collect()
    }

    /// Revokes token `id`; false when there is no such token or it was revoked already.
    pub async fn revoke_upload_token(&self, id: i64, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE upload_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(ms(at))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The repository and name of a live project token.
    pub async fn upload_token(&self, token: &str) -> StoreResult<Option<(String, String)>> {
        let row = sqlx::query(
            "SELECT repository, name FROM upload_tokens WHERE digest = $1 AND revoked_at IS NULL",
        )
        .bind(token_digest(token))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get("repository")?, r.try_get("name")?)))
            .transpose()
    }

    /// Records an upload and merges it into its commit's reports (the flag's and the
    /// commit's whole), in one transaction.
    pub async fn save_upload(&self, upload: NewUpload<'_>) -> StoreResult<UploadReceipt> {
        let totals = upload.report.totals();
        let mut tx = self.pool.begin().await?;
        // The whole report ("") first, then each flag, in one order for every upload.
        let mut flags: Vec<&str> = vec![""];
        flags.extend(
            upload
                .flags
                .iter()
                .map(|f| f.trim())
                .filter(|f| !f.is_empty()),
        );
        flags.sort_unstable();
        flags.dedup();
        // Written first, so that uploads of the same commit wait for each other here.
        for flag in &flags {
            sqlx::query(
                "INSERT INTO coverage_commits (repository, commit_sha, flag, branch, complete, uploaded_at, totals_json) \
                 VALUES ($1, $2, $3, $4, $5, $6, '{}') ON CONFLICT (repository, commit_sha, flag) DO UPDATE SET \
                 branch = COALESCE(excluded.branch, coverage_commits.branch), \
                 complete = CASE WHEN excluded.complete = 1 THEN 1 ELSE coverage_commits.complete END, \
                 uploaded_at = excluded.uploaded_at",
            )
            .bind(upload.repository)
            .bind(upload.commit)
            .bind(*flag)
            .bind(upload.branch)
            .bind(i64::from(upload.complete))
            .bind(ms(upload.at))
            .execute(&mut *tx)
            .await?;
        }
        let row = sqlx::query(
            "INSERT INTO coverage_uploads (repository, commit_sha, branch, flag, format, uploaded_by, uploaded_at, files, lines, hits) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(upload.repository)
        .bind(upload.commit)
        .bind(upload.branch)
        .bind(upload.flags.join(","))
        .bind(upload.format.as_str())
        .bind(upload.uploaded_by)
        .bind(ms(upload.at))
        .bind(totals.files as i64)
        .bind(totals.lines as i64)
        .bind(totals.hits as i64)
        .fetch_one(&mut *tx)
        .await?;
        let upload_id: i64 = row.try_get(0)?;
        // The files this upload changes, found by path in each merged report (a set: a report
        // of thousands of files is not searched file by file).
        let touched: std::collections::HashSet<&str> = upload
            .report
            .files
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        for flag in &flags {
            let mut merged = read_files(&mut tx, upload.repository, upload.commit, flag).await?;
            merged.merge(upload.report.clone());
            for file in merged
                .files
                .iter()
                .filter(|f| touched.contains(f.path.as_str()))
            {
                sqlx::query(
                    "INSERT INTO coverage_files (repository, commit_sha, flag, path, lines_text) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (repository, commit_sha, flag, path) \
                     DO UPDATE SET lines_text = excluded.lines_text",
                )
                .bind(upload.repository)
                .bind(upload.commit)
                .bind(*flag)
                .bind(&file.path)
                .bind(encode_lines(&file.lines))
                .execute(&mut *tx)
                .await?;
            }
            let all = serde_json::to_string(&merged.totals()).map_err(|e| StoreError::Corrupt {
                column: "coverage_commits.totals_json",
                reason: e.to_string(),
            })?;
            sqlx::query(
                "UPDATE coverage_commits SET totals_json = $1 WHERE repository = $2 AND commit_sha = $3 AND flag = $4",
            )
            .bind(all)
            .bind(upload.repository)
            .bind(upload.commit)
            .bind(*flag)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(UploadReceipt { upload_id, totals })
    }

    /// Marks a commit's report complete (Codacy's `coverageFinal`); false when nothing was
    /// uploaded for it.
    pub async fn complete_commit(&self, repository: &str, commit: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE coverage_commits SET complete = 1 WHERE repository = $1 AND commit_sha = $2",
        )
        .bind(repository)
        .bind(commit)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The merged coverage of the commit `query` picks, when there is one.
    pub async fn commit_coverage(
        &self,
        repository: &str,
        query: CommitQuery<'_>,
    ) -> StoreResult<Option<CommitCoverage>> {
        Ok(self
            .commits_coverage(&[repository], query)
            .await?
            .remove(repository))
    }

    /// [`Store::commit_coverage`] of many repositories at once (a few queries whatever their
    /// number), by repository; a repository without such a commit is left out.
    pub async fn commits_coverage(
        &self,
        repositories: &[&str],
        query: CommitQuery<'_>,
    ) -> StoreResult<HashMap<String, CommitCoverage>> {
        let mut out = HashMap::new();
        for chunk in repositories.chunks(REPOSITORIES_PER_QUERY) {
            let mut marks = Marks::new(self.backend);
            let repos = marks.list(chunk.len());
            // The commit picked: the given one, or the latest whole report (ties by commit)
            // of the query's kind; then every flag's row of it.
            let pick = match query.commit {
                Some(_) => format!("commit_sha = {}", marks.next()),
                None => {
                    let mut pick = format!(
                        "complete >= {} AND uploaded_at <= {}",
                        marks.next(),
                        marks.next()
                    );
                    if !query.branches.is_empty() {
                        pick.push_str(&format!(
                            " AND (branch IN ({}) OR (branch IS NULL AND {} = 1))",
                            marks.list(query.branches.len()),
                            marks.next()
                        ));
                    }
                    pick
                }
            };
            let sql = format!(
                "SELECT c.repository, c.commit_sha, c.flag, c.branch, c.complete, c.uploaded_at, c.totals_json \
                 FROM coverage_commits c JOIN (SELECT repository, commit_sha FROM (SELECT repository, commit_sha, \
                 ROW_NUMBER() OVER (PARTITION BY repository ORDER BY uploaded_at DESC, commit_sha) AS n \
                 FROM coverage_commits WHERE flag = '' AND repository IN ({repos}) AND {pick}) ranked \
                 WHERE n = 1) picked ON picked.repository = c.repository AND picked.commit_sha = c.commit_sha \
                 ORDER BY c.repository, c.flag"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                q = q.bind(r.to_string());
            }
            q = match query.commit {
                Some(commit) => q.bind(commit.to_string()),
                None => {
                    q = q
                        .bind(i64::from(query.complete_only))
                        .bind(query.before.map_or(i64::MAX, ms));
                    if !query.branches.is_empty() {
                        for b in query.branches {
                            q = q.bind(b.clone());
                        }
                        q = q.bind(i64::from(query.unknown_branch_matches));
                    }
                    q
                }
            };
            // Rows come by repository, the whole report ("") before its flags.
            for r in &q.fetch_all(&self.pool).await? {
                let repository: String = r.try_get("repository")?;
                let flag: String = r.try_get("flag")?;
                let totals = stored_totals(r.try_get("totals_json")?)?;
                if flag.is_empty() {
                    let whole = CommitCoverage {
                        repository: repository.clone(),
                        commit: r.try_get("commit_sha")?,
                        branch: r.try_get("branch")?,
                        uploaded_at: from_ms(
                            r.try_get("uploaded_at")?,
                            "coverage_commits.uploaded_at",
                        )?,
                        complete: r.try_get::<i64, _>("complete")? != 0,
                        totals,
                        flags: BTreeMap::new(),
                    };
                    out.insert(repository, whole);
                } else if let Some(whole) = out.get_mut(&repository) {
                    whole.flags.insert(flag, totals);
                }
            }
        }
        Ok(out)
    }

    /// The files of a commit's report (of `flag`, `""` for all), sorted by path.
    pub async fn commit_files(
        &self,
        repository: &str,
        commit: &str,
        flag: &str,
    ) -> StoreResult<Vec<FileCoverage>> {
        let mut conn = self.pool.acquire().await?;
        Ok(read_files(&mut conn, repository, commit, flag).await?.files)
    }

    /// The coverage of each day since `since` on which a complete commit of `branches` (or one
    /// without a branch) was uploaded: that day's last such commit, oldest day first.
    pub async fn daily_coverage(
        &self,
        repository: &str,
        branches: &[String],
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<(chrono::NaiveDate, f64)>> {
        Ok(self
            .daily_coverage_of(&[repository], branches, since)
            .await?
            .remove(repository)
            .unwrap_or_default())
    }

    /// [`Store::daily_coverage`] of many repositories at once, by repository; a repository
    /// without such a day is left out.
    pub async fn daily_coverage_of(
        &self,
        repositories: &[&str],
        branches: &[String],
        since: DateTime<Utc>,
    ) -> StoreResult<HashMap<String, Vec<(chrono::NaiveDate, f64)>>> {
        let mut out: HashMap<String, Vec<(chrono::NaiveDate, f64)>> = HashMap::new();
        for chunk in repositories.chunks(REPOSITORIES_PER_QUERY) {
            let mut marks = Marks::new(self.backend);
            let repos = marks.list(chunk.len());
            let sql = format!(
                "SELECT repository, branch, uploaded_at, totals_json FROM coverage_commits \
                 WHERE repository IN ({repos}) AND flag = '' AND complete = 1 AND uploaded_at >= {} \
                 ORDER BY repository, uploaded_at",
                marks.next()
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                q = q.bind(r.to_string());
            }
            for r in &q.bind(ms(since)).fetch_all(&self.pool).await? {
                let branch: Option<String> = r.try_get("branch")?;
                if branch.is_some_and(|b| !branches.contains(&b)) {
                    continue;
                }
                let at = from_ms(r.try_get("uploaded_at")?, "coverage_commits.uploaded_at")?;
                let Some(coverage) = stored_totals(r.try_get("totals_json")?)?.coverage else {
                    continue;
                };
                let day = at.date_naive();
                let days = out.entry(r.try_get("repository")?).or_default();
                match days.last_mut() {
                    Some(last) if last.0 == day => last.1 = coverage,
                    _ => days.push((day, coverage)),
                }
            }
        }
        Ok(out)
    }

    /// When coverage was last uploaded for `repository`, any branch.
    pub async fn last_upload_at(&self, repository: &str) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(self
            .last_uploads_at(&[repository])
            .await?
            .remove(repository))
    }

    /// [`Store::last_upload_at`] of many repositories at once, by repository; a repository
    /// without uploads is left out.
    pub async fn last_uploads_at(
        &self,
        repositories: &[&str],
    ) -> StoreResult<HashMap<String, DateTime<Utc>>> {
        let mut out = HashMap::new();
        for chunk in repositories.chunks(REPOSITORIES_PER_QUERY) {
            let repos = Marks::new(self.backend).list(chunk.len());
            let sql = format!(
                "SELECT repository, MAX(uploaded_at) AS at FROM coverage_uploads \
                 WHERE repository IN ({repos}) GROUP BY repository"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                q = q.bind(r.to_string());
            }
            for r in &q.fetch_all(&self.pool).await? {
                let at = from_ms(r.try_get("at")?, "coverage_uploads.uploaded_at")?;
                out.insert(r.try_get("repository")?, at);
            }
        }
        Ok(out)
    }

    /// Opens a two-step upload under `id` (random: it is the capability to send the report, once,
    /// within a day).
    pub async fn open_upload_session(&self, id: &str, upload: &NewUpload<'_>) -> StoreResult<()> {
        // Sessions never used expire after a day: drop them as new ones open.
        sqlx::query("DELETE FROM upload_sessions WHERE created_at < $1")
            .bind(ms(upload.at - chrono::TimeDelta::days(1)))
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO upload_sessions (id, repository, commit_sha, branch, flags, uploaded_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(upload.repository)
        .bind(upload.commit)
        .bind(upload.branch)
        .bind(upload.flags.join(","))
        .bind(upload.uploaded_by)
        .bind(ms(upload.at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes the upload session `id` (it can be used once): repository, commit, branch, flags
    /// and uploader; `None` when unknown, used or older than a day.
    pub async fn take_upload_session(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UploadSession>> {
        let row = sqlx::query(
            "DELETE FROM upload_sessions WHERE id = $1 AND created_at >= $2 \
             RETURNING repository, commit_sha, branch, flags, uploaded_by",
        )
        .bind(id)
        .bind(ms(now - chrono::TimeDelta::days(1)))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let flags: String = r.try_get("flags")?;
            Ok(UploadSession {
                repository: r.try_get("repository")?,
                commit: r.try_get("commit_sha")?,
                branch: r.try_get("branch")?,
                flags: flags
                    .split(',')
                    .filter(|f| !f.is_empty())
                    .map(str::to_string)
                    .collect(),
                uploaded_by: r.try_get("uploaded_by")?,
            })
        })
        .transpose()
    }

    /// Remembers the branch an uploader named for a commit before uploading to it.
    pub async fn set_commit_branch(
        &self,
        repository: &str,
        commit: &str,
        branch: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO commit_branches (repository, commit_sha, branch) VALUES ($1, $2, $3) \
             ON CONFLICT (repository, commit_sha) DO UPDATE SET branch = excluded.branch",
        )
        .bind(repository)
        .bind(commit)
        .bind(branch)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The branch remembered for a commit.
    pub async fn commit_branch(
        &self,
        repository: &str,
        commit: &str,
    ) -> StoreResult<Option<String>> {
        let row = sqlx::query(
            "SELECT branch FROM commit_branches WHERE repository = $1 AND commit_sha = $2",
        )
        .bind(repository)
        .bind(commit)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok(r.try_get("branch")?)).transpose()
    }

    /// The branches uploads were made on for `repository` (for "no upload on main" reasons).
    pub async fn upload_branches(&self, repository: &str) -> StoreResult<Vec<String>> {
        Ok(self
            .upload_branches_of(&[repository])
            .await?
            .remove(repository)
            .unwrap_or_default())
    }

    /// [`Store::upload_branches`] of many repositories at once, by repository; a repository
    /// without named branches is left out.
    pub async fn upload_branches_of(
        &self,
        repositories: &[&str],
    ) -> StoreResult<HashMap<String, Vec<String>>> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for chunk in repositories.chunks(REPOSITORIES_PER_QUERY) {
            let repos = Marks::new(self.backend).list(chunk.len());
            let sql = format!(
                "SELECT DISTINCT repository, branch FROM coverage_commits \
                 WHERE repository IN ({repos}) AND branch IS NOT NULL ORDER BY repository, branch"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                q = q.bind(r.to_string());
            }
            for r in &q.fetch_all(&self.pool).await? {
                out.entry(r.try_get("repository")?)
                    .or_default()
                    .push(r.try_get("branch")?);
            }
        }
        Ok(out)
    }
}

/// Repositories named in one query of the batch reads: their parameters stay far below both
/// backends' limits.
const REPOSITORIES_PER_QUERY: usize = 1_000;

/// Numbered placeholders of one statement in the backend's syntax: `?` on SQLite (whose parser
/// looks each `$N` up in a list, quadratic in a long statement), `$N` on PostgreSQL.
struct Marks {
    backend: super::Backend,
    used: usize,
}

impl Marks {
    fn new(backend: super::Backend) -> Marks {
        Marks { backend, used: 0 }
    }

    /// The next placeholder.
    fn next(&mut self) -> String {
        self.used += 1;
        match self.backend {
            super::Backend::Sqlite => "?".to_string(),
            super::Backend::Postgres => format!("${}", self.used),
        }
    }

    /// The next `n` placeholders, comma-separated.
    fn list(&mut self, n: usize) -> String {
        (0..n).map(|_| self.next()).collect::<Vec<_>>().join(", ")
    }
}

/// A stored `totals_json`.
fn stored_totals(text: String) -> StoreResult<Totals> {
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
        column: "coverage_commits.totals_json",
        reason: e.to_string(),
    })
}

/// A commit's stored report of one flag.
async fn read_files(
    conn: &mut sqlx::AnyConnection,
    repository: &str,
    commit: &str,
    flag: &str,
) -> StoreResult<Report> {
    let rows = sqlx::query(
        "SELECT path, lines_text FROM coverage_files WHERE repository = $1 AND commit_sha = $2 AND flag = $3 ORDER BY path",
    )
    .bind(repository)
    .bind(commit)
    .bind(flag)
    .fetch_all(&mut *conn)
    .await?;
    let files = rows
        .iter()
        .map(|r| {
            let text: String = r.try_get("lines_text")?;
            let lines = decode_lines(&text).ok_or(StoreError::Corrupt {
                column: "coverage_files.lines_text",
                reason: "not an encoding of lines".into(),
            })?;
            Ok(FileCoverage {
                path: r.try_get("path")?,
                lines,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Report {
        files,
        ..Report::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_version_4_uuids() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }
}
