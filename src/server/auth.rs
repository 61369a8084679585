//! Bearer tokens with the roles `read`, `upload` and `admin`, read from the environment variable that
//! `[auth] tokens_env` names. Only SHA-256 digests of tokens are kept in memory; logs name the
//! token's configured name, never the token.

use std::sync::Arc;

use secrecy::SecretString;
use sha2::{Digest, Sha256};

use super::jwks::{self, BackstageJwks};
use crate::config::AuthConfig;

/// What a caller may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read the API, pages, badges and metrics.
    Read,
    /// Upload coverage for any repository (an account token for CI), and nothing else.
    Upload,
    /// Everything `read` and `upload` may, plus evaluate and anything that writes.
    Admin,
}

impl Role {
    /// Whether a token with this role may do what `need` allows.
    pub fn grants(self, need: Role) -> bool {
        self == need || self == Role::Admin
    }
}

#[derive(Clone)]
struct TokenEntry {
    name: String,
    role: Role,
    digest: [u8; 32],
}

/// The configured tokens, whether anonymous callers may read, and the Backstage JWKS that
/// signed-in users' Backstage tokens are verified against (they read).
#[derive(Clone, Default)]
pub struct Auth {
    anonymous_read: bool,
    tokens: Vec<TokenEntry>,
    backstage: Option<Arc<BackstageJwks>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.tokens.iter().map(|t| (&t.name, t.role)).collect();
        f.debug_struct("Auth")
            .field("anonymous_read", &self.anonymous_read)
            .field("tokens", &names)
            .field("backstage", &self.backstage)
            .finish()
    }
}

/// A malformed token list. Never contains a token.
#[derive(Debug, thiserror::Error)]
#[error(
    "{env}: entry {index}: {reason} (expected name:role:token, role read, upload or admin, entries separated by commas)"
)]
pub struct AuthConfigError {
    env: String,
    index: usize,
    reason: &'static str,
}

/// Who made a request, once authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token's configured name, or `anonymous`.
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// No token, or an unknown one: 401.
    Unauthenticated,
    /// A valid token without the role: 403.
    Forbidden,
}

/// A refusal, with why a Backstage token was not accepted (to tell the caller).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// 401 or 403.
    pub denied: Denied,
    /// Why the bearer token was refused, when it was a Backstage token; never the token.
    pub reason: Option<String>,
}

impl From<Denied> for Refusal {
    fn from(denied: Denied) -> Refusal {
        Refusal {
            denied,
            reason: None,
        }
    }
}

impl Auth {
    /// Reads the tokens from the environment variable `cfg.tokens_env` (none when unset).
    pub fn from_config(cfg: &AuthConfig) -> Result<Auth, AuthConfigError> {
        let list = std::env::var(&cfg.tokens_env).unwrap_or_default();
        Auth::parse(cfg.anonymous_read, &cfg.tokens_env, &list)
    }

    /// Parses `name:role:token` entries separated by commas; `env` names their source in errors.
    pub fn parse(anonymous_read: bool, env: &str, list: &str) -> Result<Auth, AuthConfigError> {
        let mut tokens = Vec::new();
        for (i, entry) in list
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let err = |reason| AuthConfigError {
                env: env.to_string(),
                index: i + 1,
                reason,
            };
            let mut parts = entry.splitn(3, ':');
            let (Some(name), Some(role), Some(token)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(err("not three parts"));
            };
            let role = match role.trim() {
                "read" => Role::Read,
                "upload" => Role::Upload,
                "admin" => Role::Admin,
                _ => return Err(err("unknown role")),
            };
            if token.len() < 8 {
                return Err(err("token shorter than 8 characters"));
            }
            tokens.push(TokenEntry {
                name: name.trim().to_string(),
                role,
                digest: digest(token),
            });
        }
        Ok(Auth {
            anonymous_read,
            tokens,
            backstage: None,
        })
    }

    /// These tokens, and Backstage user tokens verified against `backstage` (none: refused as
    /// any unknown token is).
    pub fn with_backstage(self, backstage: Option<BackstageJwks>) -> Auth {
        Auth {
            backstage: backstage.map(Arc::new),
            ..self
        }
    }

    /// Whether no token is configured, no Backstage JWKS either and anonymous read is off
    /// (nobody can call the API).
    pub fn is_closed(&self) -> bool {
        self.tokens.is_empty() && !self.anonymous_read && self.backstage.is_none()
    }

    /// Checks the `Authorization` header value (if any) against the role `need`.
    /// Only the static tokens: see [`Auth::authenticate`] for Backstage's.
    pub fn check(&self, authorization: Option<&str>, need: Role) -> Result<Caller, Denied> {
        let bearer = bearer(authorization);
        let anonymous = || Caller {
            name: "anonymous".into(),
            role: Role::Read,
        };
        match bearer {
            // With no tokens configured there is nothing to check a token against: a portal
            // that sends its own user's token (Backstage always does) reads as anyone would.
            Some(_) if self.tokens.is_empty() && need == Role::Read && self.anonymous_read => {
                Ok(anonymous())
            }
            Some(token) => {
                let caller = self.caller(token).ok_or(Denied::Unauthenticated)?;
                if caller.role.grants(need) {
                    Ok(caller)
                } else {
                    Err(Denied::Forbidden)
                }
            }
            None if need == Role::Read && self.anonymous_read => Ok(anonymous()),
            None => Err(Denied::Unauthenticated),
        }
    }
}

impl Auth {
    /// [`Auth::check`], and a bearer token that is no static token but a JWT is verified as a
    /// Backstage user token: valid, its user (`sub`) reads; invalid, it is refused with the
    /// reason, or reads as anonymous where no token is configured and anonymous callers read.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        need: Role,
    ) -> Result<Caller, Refusal> {
        let Some((backstage, token)) = self.backstage_token(authorization) else {
            return self.check(authorization, need).map_err(Refusal::from);
        };
        match backstage.verify(token).await {
            Ok(user) if Role::Read.grants(need) => Ok(Caller {
                name: user,
                role: Role::Read,
            }),
            Ok(_) => Err(Denied::Forbidden.into()),
            Err(why) => {
                let token_end = crate::providers::secrets::last_four(&SecretString::from(token));
                tracing::debug!(%token_end, reason = %why, "Backstage token refused");
                match self.check(authorization, need) {
                    Err(Denied::Unauthenticated) => Err(Refusal {
                        denied: Denied::Unauthenticated,
                        reason: Some(format!("the Backstage token was refused: {why}")),
                    }),
                    other => other.map_err(Refusal::from),
                }
            }
        }
    }

    /// [`Auth::authenticate`] at once, when no Backstage token is to be verified (`None` when one
    /// is): the common case answers without an `await`.
    pub fn authenticate_now(
        &self,
        authorization: Option<&str>,
        need: Role,
    ) -> Option<Result<Caller, Refusal>> {
        match self.backstage_token(authorization) {
            Some(_) => None,
            None => Some(self.check(authorization, need).map_err(Refusal::from)),
        }
    }

    /// The Backstage JWKS and the bearer token to verify against it: a JWT that is no static
    /// token, when a JWKS is configured.
    fn backstage_token<'a>(
        &self,
        authorization: Option<&'a str>,
    ) -> Option<(&BackstageJwks, &'a str)> {
        let backstage = self.backstage.as_deref()?;
        let token = bearer(authorization)?;
        (jwks::looks_like_jwt(token) && self.caller(token).is_none()).then_some((backstage, token))
    }

    /// The configured token `token`, however it was sent (a bearer token, or an uploader's own
    /// header).
    pub fn caller(&self, token: &str) -> Option<Caller> {
        let d = digest(token.trim());
        self.tokens.iter().find(|t| t.digest == d).map(|t| Caller {
            name: t.name.clone(),
            role: t.role,
        })
    }
}

/// The token of an `Authorization: Bearer ...` header.
fn bearer(authorization: Option<&str>) -> Option<&str> {
    let (scheme, token) = authorization?.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_anonymous_read() {
        let a = Auth::parse(false, "T", "portal:read:readtoken1, ci:admin:admintoken1").unwrap();
        assert_eq!(
            a.check(Some("Bearer readtoken1"), Role::Read).unwrap().name,
            "portal"
        );
        assert_eq!(
            a.check(Some("bearer readtoken1"), Role::Admin),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            a.check(Some("Bearer admintoken1"), Role::Admin)
                .unwrap()
                .role,
            Role::Admin
        );
        assert_eq!(
            a.check(Some("Bearer wrongtoken"), Role::Read),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(a.check(None, Role::Read), Err(Denied::Unauthenticated));
        assert_eq!(
            a.check(Some("Basic abc"), Role::Read),
            Err(Denied::Unauthenticated)
        );
        let up = Auth::parse(false, "T", "ci:upload:uploadtoken1").unwrap();
        assert_eq!(up.caller("uploadtoken1").unwrap().role, Role::Upload);
        assert_eq!(
            up.check(Some("Bearer uploadtoken1"), Role::Read),
            Err(Denied::Forbidden),
            "an upload token does not read"
        );
        assert!(Role::Admin.grants(Role::Upload));
        assert!(!Role::Read.grants(Role::Upload));
        let open = Auth::parse(true, "T", "").unwrap();
        assert_eq!(open.check(None, Role::Read).unwrap().name, "anonymous");
        assert_eq!(open.check(None, Role::Admin), Err(Denied::Unauthenticated));
        assert!(Auth::parse(false, "T", "").unwrap().is_closed());
        // No tokens configured: a portal's own bearer token is not refused for being sent.
        assert_eq!(
            open.check(Some("Bearer eyJhbGciOi.backstage.jwt"), Role::Read)
                .unwrap()
                .name,
            "anonymous"
        );
        assert_eq!(
            open.check(Some("Bearer eyJhbGciOi.backstage.jwt"), Role::Admin),
            Err(Denied::Unauthenticated)
        );
    }

    #[test]
    fn bad_entries_are_named_without_the_token() {
        let err = Auth::parse(
            false,
            "RUBRIC_API_TOKENS",
            "a:read:longenough1,b:root:supersecret1",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("RUBRIC_API_TOKENS: entry 2: unknown role"),
            "{text}"
        );
        assert!(!text.contains("supersecret1"));
        assert!(Auth::parse(false, "T", "a:read:short").is_err());
        assert!(Auth::parse(false, "T", "justatoken").is_err());
    }

    #[test]
    fn debug_shows_names_not_tokens() {
        let a = Auth::parse(false, "T", "portal:read:readtoken1").unwrap();
        let shown = format!("{a:?}");
        assert!(
            shown.contains("portal") && !shown.contains("readtoken1"),
            "{shown}"
        );
    }
}
