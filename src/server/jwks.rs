//! The signed-in user's Backstage token: Backstage front-ends send it (a JWT) as a bearer token to
//! the backends they discover. It is verified against the keys of Backstage's JWKS
//! (`[server.backstage]`): a signature by the key its `kid` names, with an asymmetric algorithm
//! that key allows, then `exp` and `nbf` (with [`LEEWAY_SECS`]), `iss` and `aud`.
//!
//! The keys are fetched with a bounded request and kept for `cache_secs`. A token signed by a
//! key they lack fetches them again at once, but at most once per `refetch_interval_secs` (a
//! flood of made-up `kid`s costs one fetch), and so is a failed fetch retried; meanwhile the
//! keys fetched before are kept. Nothing here logs or answers a token.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};

use crate::config::{BackstageAuthConfig, redact_url};

/// Seconds of clock difference allowed on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;

/// Longest token verified; a longer one is refused unread.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Largest JWKS answer read.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Most keys kept from one JWKS.
const MAX_KEYS: usize = 64;

/// Backstage's user tokens say so in their header; its other tokens (plugin-to-plugin, limited
/// cookie tokens) are not the user's read access.
const USER_TOKEN_TYPE: &str = "vnd.backstage.user";

/// Why a token was not accepted, said to the caller (never containing the token).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejected(String);

/// A configuration that cannot verify anything.
#[derive(Debug, thiserror::Error)]
#[error("[server.backstage] {0}")]
pub struct JwksConfigError(String);

/// Verifies Backstage user tokens against the Backstage JWKS.
pub struct BackstageJwks {
    url: String,
    issuer: String,
    audience: String,
    cache_for: Duration,
    refetch_interval: Duration,
    client: reqwest::Client,
    keys: RwLock<Option<Arc<KeySet>>>,
    /// Held while fetching, so that concurrent requests wait for one fetch.
    fetching: tokio::sync::Mutex<FetchState>,
}

impl std::fmt::Debug for BackstageJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackstageJwks")
            .field("url", &redact_url(&self.url))
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

struct KeySet {
    keys: HashMap<String, Key>,
    fetched_at: Instant,
}

struct Key {
    decoding: DecodingKey,
    /// The algorithms this key verifies: the one its JWK declares, or those of its type.
    algorithms: Vec<Algorithm>,
}

#[derive(Default)]
struct FetchState {
    /// When a token with an unknown `kid` last caused a fetch.
    last_unknown_kid_fetch: Option<Instant>,
    /// The last fetch's failure while the JWKS stays unreadable: when, and why.
    failure: Option<(Instant, String)>,
}

/// The parts of a JWT header read before its key is known.
#[derive(serde::Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
}

#[derive(serde::Deserialize)]
struct Claims {
    /// Optional here so that a missing `sub` is reported as such by the validation.
    #[serde(default)]
    sub: Option<String>,
}

/// Whether a bearer token has the shape of a JWT (three base64url parts), so that it is worth
/// verifying rather than looking up among the static tokens.
pub fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ")
        && token.bytes().filter(|&b| b == b'.').count() == 2
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
}

impl BackstageJwks {
    /// From `[server.backstage]`; `None` when `jwks_url` is empty.
    pub fn from_config(
        cfg: &BackstageAuthConfig,
    ) -> Result<Option<BackstageJwks>, JwksConfigError> {
        let url = cfg.jwks_url.trim();
        if url.is_empty() {
            return Ok(None);
        }
        let err = |m: String| JwksConfigError(m);
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| err(format!("jwks_url {:?}: {e}", redact_url(url))))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(err(format!(
                "jwks_url {:?}: expected an http:// or https:// URL",
                redact_url(url)
            )));
        }
        let issuer = match cfg.issuer.trim() {
            "" => url
                .strip_suffix("/.well-known/jwks.json")
                .map(str::to_string)
                .ok_or_else(|| {
                    err(format!(
                        "issuer is empty and jwks_url {:?} does not end in /.well-known/jwks.json: \
                         set issuer to the `iss` of Backstage's tokens (its external base URL + \
                         /api/auth)",
                        redact_url(url)
                    ))
                })?,
            given => given.to_string(),
        };
        if cfg.audience.trim().is_empty() {
            return Err(err(
                "audience is empty: set the `aud` of Backstage's tokens (\"backstage\")".into(),
            ));
        }
        let timeout = Duration::from_secs(cfg.timeout_secs.max(1));
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("rubric/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| err(format!("cannot build the HTTP client: {e}")))?;
        Ok(Some(BackstageJwks {
            url: url.to_string(),
            issuer,
            audience: cfg.audience.trim().to_string(),
            cache_for: Duration::from_secs(cfg.cache_secs),
            refetch_interval: Duration::from_secs(cfg.refetch_interval_secs),
            client,
            keys: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(FetchState::default()),
        }))
    }

    /// The user (`sub`, e.g. `user:default/jane`) of a valid Backstage token.
    pub async fn verify(&self, token: &str) -> Result<String, Rejected> {
        let no = |m: &str| Err(Rejected(m.to_string()));
        if token.len() > MAX_TOKEN_BYTES {
            return no("it is longer than a Backstage token can be");
        }
        let Some(header) = raw_header(token) else {
            return no("its header is not a JWT header");
        };
        let alg = match Algorithm::from_str(&header.alg) {
            Ok(alg) if alg.family() != AlgorithmFamily::Hmac => alg,
            _ => {
                return Err(Rejected(format!(
                    "its algorithm {} is refused: only signatures by the keys of the Backstage \
                     JWKS are accepted",
                    shown(&header.alg)
                )));
            }
        };
        if let Some(typ) = &header.typ
            && typ.starts_with("vnd.backstage.")
            && typ != USER_TOKEN_TYPE
        {
            return Err(Rejected(format!(
                "it is a Backstage token of type {}, not a user's ({USER_TOKEN_TYPE})",
                shown(typ)
            )));
        }
        let Some(kid) = header.kid else {
            return no("its header names no key (kid)");
        };
        let keys = self.keys_with(&kid).await?;
        let Some(key) = keys.keys.get(&kid) else {
            return no("it is signed by a key that the Backstage JWKS does not hold");
        };
        if !key.algorithms.contains(&alg) {
            return Err(Rejected(format!(
                "its algorithm {alg:?} is not one its key allows ({:?})",
                key.algorithms
            )));
        }
        let mut validation = Validation::new(alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map_err(|e| self.explain(e))?
            .claims;
        claims
            .sub
            .ok_or_else(|| Rejected("it lacks the claim sub".into()))
    }

    fn explain(&self, e: jsonwebtoken::errors::Error) -> Rejected {
        use jsonwebtoken::errors::ErrorKind as K;
        Rejected(match e.kind() {
            K::InvalidSignature => {
                "its signature does not verify with the Backstage JWKS key it names".into()
            }
            K::ExpiredSignature => "it has expired".into(),
            K::ImmatureSignature => "it is not valid yet (nbf)".into(),
            K::InvalidIssuer => format!("it was not issued by {}", self.issuer),
            K::InvalidAudience => format!("it is not meant for the audience {}", self.audience),
            K::MissingRequiredClaim(claim) => format!("it lacks the claim {claim}"),
            K::InvalidClaimFormat(claim) => format!("its claim {claim} is malformed"),
            K::Json(_) | K::Base64(_) | K::Utf8(_) | K::InvalidToken => {
                "it is not a well-formed JWT".into()
            }
            _ => "its signature cannot be verified with the Backstage JWKS key it names".into(),
        })
    }

    /// The keys to verify a token signed by `kid` with: those cached while fresh and holding
    /// it; otherwise fetched again, unless that was done too recently.
    async fn keys_with(&self, kid: &str) -> Result<Arc<KeySet>, Rejected> {
        let arrived = Instant::now();
        let fresh = |set: &KeySet| set.fetched_at.elapsed() < self.cache_for;
        let cached = self.cached();
        if let Some(set) = &cached
            && fresh(set)
            && set.keys.contains_key(kid)
        {
            return Ok(set.clone());
        }
        let mut state = self.fetching.lock().await;
        let cached = self.cached();
        let recently =
            |at: Option<Instant>| at.is_some_and(|t| t.elapsed() < self.refetch_interval);
        match &cached {
            // Fetched while this request waited, or recently for another unknown key: the key
            // is not there.
            Some(set)
                if set.fetched_at >= arrived || (set.keys.contains_key(kid) && fresh(set)) =>
            {
                return Ok(set.clone());
            }
            Some(set) if fresh(set) => {
                if recently(state.last_unknown_kid_fetch) {
                    return Ok(set.clone());
                }
                state.last_unknown_kid_fetch = Some(Instant::now());
            }
            _ => {}
        }
        if let Some((at, why)) = &state.failure
            && recently(Some(*at))
        {
            return cached.ok_or_else(|| self.unreadable(why));
        }
        match self.fetch().await {
            Ok(set) => {
                if state.failure.take().is_some() {
                    tracing::info!(jwks = %redact_url(&self.url), "the Backstage JWKS is readable again");
                }
                let set = Arc::new(set);
                *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Some(set.clone());
                Ok(set)
            }
            Err(why) => {
                if state.failure.is_none() {
                    tracing::warn!(
                        jwks = %redact_url(&self.url),
                        error = %why,
                        "the Backstage JWKS cannot be read: Backstage tokens signed by keys not \
                         fetched before are refused"
                    );
                }
                let answer = cached.ok_or_else(|| self.unreadable(&why));
                state.failure = Some((Instant::now(), why));
                answer
            }
        }
    }

    fn cached(&self) -> Option<Arc<KeySet>> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn unreadable(&self, why: &str) -> Rejected {
        Rejected(format!(
            "the Backstage JWKS ({}) could not be read to verify it: {why}",
            redact_url(&self.url)
        ))
    }

    /// Reads the JWKS: bounded in time and size; keys without a `kid`, not for signatures or
    /// symmetric are left out.
    async fn fetch(&self) -> Result<KeySet, String> {
        let resp = self
            .client
            .get(&self.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !resp.status().is_success() {
            return Err(format!("it answered HTTP {}", resp.status().as_u16()));
        }
        let body = crate::catalog::read_capped(resp, MAX_JWKS_BYTES)
            .await
            .map_err(|e| match e {
                Some(e) => e.without_url().to_string(),
                None => format!("it answered more than {} KiB", MAX_JWKS_BYTES / 1024),
            })?;
        #[derive(serde::Deserialize)]
        struct Set {
            keys: Vec<serde_json::Value>,
        }
        let set: Set = serde_json::from_str(&body)
            .map_err(|e| format!("it answered something other than a JWKS ({e})"))?;
        let keys: HashMap<String, Key> = set
            .keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, key(&jwk)?)))
            .take(MAX_KEYS)
            .collect();
        if keys.is_empty() {
            return Err(
                "it holds no signing key with a kid of a supported type (EC P-256 or P-384, RSA, \
                 Ed25519)"
                    .into(),
            );
        }
        Ok(KeySet {
            keys,
            fetched_at: Instant::now(),
        })
    }
}

/// The verifying key of a JWK and the algorithms it allows; `None` for symmetric keys, keys for
/// encryption and types that cannot verify.
fn key(jwk: &Jwk) -> Option<Key> {
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    let by_type: &[Algorithm] = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => &[Algorithm::ES256],
            EllipticCurve::P384 => &[Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa.algorithms(),
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            &[Algorithm::EdDSA]
        }
        _ => return None,
    };
    let algorithms: Vec<Algorithm> = match jwk.common.key_algorithm {
        Some(declared) => {
            let declared = Algorithm::try_from(declared).ok()?;
            by_type.iter().copied().filter(|a| *a == declared).collect()
        }
        None => by_type.to_vec(),
    };
    if algorithms.is_empty() {
        return None;
    }
    Some(Key {
        decoding: DecodingKey::from_jwk(jwk).ok()?,
        algorithms,
    })
}

/// The header of a JWT, read without trusting it.
fn raw_header(token: &str) -> Option<RawHeader> {
    let encoded = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A value from a token's header, shown only when short and plain.
fn shown(value: &str) -> &str {
    let plain = value.len() <= 40
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if plain { value } else { "(not shown)" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str, issuer: &str) -> BackstageAuthConfig {
        BackstageAuthConfig {
            jwks_url: url.into(),
            issuer: issuer.into(),
            audience: "backstage".into(),
            cache_secs: 600,
            refetch_interval_secs: 30,
            timeout_secs: 5,
        }
    }

    #[test]
    fn the_issuer_is_derived_from_a_backstage_jwks_url_or_must_be_given() {
        assert!(
            BackstageJwks::from_config(&config("", ""))
                .unwrap()
                .is_none()
        );
        let j = BackstageJwks::from_config(&config(
            "https://backstage.example.com/api/auth/.well-known/jwks.json",
            "",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(j.issuer, "https://backstage.example.com/api/auth");
        let err = BackstageJwks::from_config(&config("https://idp.example.com/keys", ""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("set issuer"), "{err}");
        let j = BackstageJwks::from_config(&config(
            "https://idp.example.com/keys",
            "https://b.example.com/api/auth",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(j.issuer, "https://b.example.com/api/auth");
        let err = BackstageJwks::from_config(&config("file:///etc/keys.json", "x"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("http:// or https://"), "{err}");
    }

    #[test]
    fn only_jwt_shaped_tokens_are_verified() {
        assert!(looks_like_jwt("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"));
        assert!(looks_like_jwt("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."));
        assert!(!looks_like_jwt("read-token-1234"));
        assert!(!looks_like_jwt("eyJ.a.b.c"));
        assert!(!looks_like_jwt("eyJhbGciOiJ9.eyJ zdWIi.c2ln"));
    }

    #[test]
    fn symmetric_and_encryption_keys_are_left_out() {
        let jwk = |v: serde_json::Value| serde_json::from_value::<Jwk>(v).unwrap();
        let ec = serde_json::json!({"kty": "EC", "crv": "P-256", "kid": "a",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
        assert_eq!(
            key(&jwk(ec.clone())).unwrap().algorithms,
            [Algorithm::ES256]
        );
        let mut enc = ec.clone();
        enc["use"] = "enc".into();
        assert!(key(&jwk(enc)).is_none());
        let mut mismatched = ec;
        mismatched["alg"] = "ES384".into();
        assert!(
            key(&jwk(mismatched)).is_none(),
            "a P-256 key declared ES384"
        );
        let oct = serde_json::json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0LWtleS0xMjM0"});
        assert!(key(&jwk(oct)).is_none());
    }

    #[test]
    fn header_values_are_shown_only_when_plain() {
        assert_eq!(shown("HS256"), "HS256");
        assert_eq!(shown("<script>"), "(not shown)");
        assert_eq!(shown(&"A".repeat(41)), "(not shown)");
    }
}
