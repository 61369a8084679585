//! Tokens: read from the environment or a secrets file, held as [`SecretString`], shown as
//! their last four characters at most.

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use crate::config::ConfigError;

/// Where tokens come from: the environment first, then the `[http] secrets_file`.
#[derive(Debug, Default)]
pub struct SecretSource {
    file: Vec<(String, SecretString)>,
}

impl SecretSource {
    /// Reads the secrets file (`NAME=value` lines, `#` comments, optional quotes), if one is named.
    pub fn load(path: &Path) -> Result<SecretSource, ConfigError> {
        if path.as_os_str().is_empty() {
            return Ok(SecretSource::default());
        }
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut file = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((name, value)) = line.split_once('=') else {
                return Err(ConfigError::Invalid(format!(
                    "{}:{}: expected NAME=value (the value is not shown)",
                    path.display(),
                    i + 1
                )));
            };
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            file.push((
                name.trim().to_string(),
                SecretString::from(value.to_string()),
            ));
        }
        Ok(SecretSource { file })
    }

    /// The secret in environment variable `name`, else in the secrets file; empty counts as unset.
    pub fn get(&self, name: &str) -> Option<SecretString> {
        if name.is_empty() {
            return None;
        }
        if let Ok(v) = std::env::var(name)
            && !v.trim().is_empty()
        {
            return Some(SecretString::from(v.trim().to_string()));
        }
        self.file
            .iter()
            .rev()
            .find(|(n, v)| n == name && !v.expose_secret().is_empty())
            .map(|(_, v)| v.clone())
    }
}

/// `…abcd`: the last four characters of a secret, for people to tell tokens apart. A token of
/// eight characters or fewer shows at most half of itself (`…yz` for `wxyz`), so that the
/// shown part never gives away most of a short secret; a one-character secret shows as `…`.
pub fn last_four(secret: &SecretString) -> String {
    let s = secret.expose_secret();
    let n = s.chars().count();
    let shown = 4.min(n / 2);
    format!("…{}", s.chars().skip(n - shown).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_read_and_tokens_show_four_characters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.env");
        std::fs::write(
            &path,
            "# tokens\nRUBRIC_TEST_SECRET_A=\"abcdefgh-1234\"\nexport RUBRIC_TEST_SECRET_B=xyz\n",
        )
        .unwrap();
        let s = SecretSource::load(&path).unwrap();
        let a = s.get("RUBRIC_TEST_SECRET_A").unwrap();
        assert_eq!(a.expose_secret(), "abcdefgh-1234");
        assert_eq!(last_four(&a), "…1234");
        assert_eq!(last_four(&s.get("RUBRIC_TEST_SECRET_B").unwrap()), "…z");
        assert!(s.get("RUBRIC_TEST_SECRET_MISSING").is_none());

        std::fs::write(&path, "RUBRIC_TEST_SECRET_A\n").unwrap();
        let e = SecretSource::load(&path).unwrap_err().to_string();
        assert!(e.contains(":1: expected NAME=value"), "{e}");
    }

    #[test]
    fn short_tokens_show_at_most_half_of_themselves() {
        let shown = |t: &str| last_four(&SecretString::from(t.to_string()));
        assert_eq!(shown("0123456789"), "…6789");
        assert_eq!(shown("12345678"), "…5678");
        assert_eq!(shown("123456"), "…456");
        assert_eq!(shown("wxyz"), "…yz");
        assert_eq!(shown("ab"), "…b");
        assert_eq!(shown("a"), "…");
        assert_eq!(shown(""), "…");
        assert_eq!(shown("jeton-é€ü"), "…-é€ü");
    }
}
