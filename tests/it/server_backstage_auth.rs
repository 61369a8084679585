//! `rubric serve` accepts the signed-in user's Backstage token (a JWT signed by a key of the
//! Backstage JWKS, `[server.backstage] jwks_url`) as a read token, refuses any other JWT with a
//! reason and never logs one. The keys are made here, the JWKS served by a fake on 127.0.0.1.

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::support::{BOUND, fixture, rubric};

/// An EC P-256 signing key made for the test, with its `kid`.
struct TestKey {
    kid: String,
    pair: EcdsaKeyPair,
}

impl TestKey {
    fn new(kid: &str) -> TestKey {
        TestKey {
            kid: kid.into(),
            pair: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        }
    }

    /// The public key as Backstage's JWKS lists it.
    fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
               "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])})
    }

    /// A token signed by this key, naming `kid`.
    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.into());
        header.typ = Some("vnd.backstage.user".into());
        let der = self.pair.to_pkcs8v1().unwrap();
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(der.as_ref())).unwrap()
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }
}

/// A fake Backstage auth backend serving a JWKS (switchable) and counting its reads.
#[derive(Clone, Default)]
struct FakeJwks {
    keys: Arc<Mutex<Vec<Value>>>,
    hits: Arc<AtomicUsize>,
}

impl FakeJwks {
    async fn start(keys: Vec<Value>) -> (FakeJwks, String) {
        let fake = FakeJwks::default();
        *fake.keys.lock().unwrap() = keys;
        let state = fake.clone();
        let app = axum::Router::new().route(
            "/api/auth/.well-known/jwks.json",
            axum::routing::get(move || {
                let state = state.clone();
                async move {
                    state.hits.fetch_add(1, Ordering::SeqCst);
                    axum::Json(json!({ "keys": *state.keys.lock().unwrap() }))
                }
            }),
        );
        let url = crate::support::serve(app).await;
        (fake, url)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The claims of a Backstage user token from the backend at `base`.
fn claims(base: &str) -> Value {
    json!({"iss": format!("{base}/api/auth"), "sub": "user:default/jane", "aud": "backstage",
           "ent": ["user:default/jane"], "iat": now(), "exp": now() + 3600})
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

const READ: &str = "portal-read-token-1";
const ADMIN: &str = "ci-admin-token-22";

/// A running `rubric serve` and everything it wrote to stderr so far.
struct Served {
    _child: tokio::process::Child,
    url: String,
    stderr: Arc<Mutex<String>>,
    http: reqwest::Client,
}

impl Served {
    /// `rubric serve` on the eval fixture, its JWKS at `jwks_url`, `tokens` as static tokens.
    async fn start(jwks_url: &str, tokens: &str, anonymous_read: bool) -> Served {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let basic = fixture("eval").join("basic");
        let dir = tempfile::tempdir().unwrap().keep();
        let mut child = rubric()
            .args(["serve", "--bind", "127.0.0.1:0", "--store"])
            .arg(format!("sqlite://{}", dir.join("h.db").display()))
            .arg("--catalog")
            .arg(basic.join("catalog"))
            .arg("--scorecards")
            .arg(basic.join("scorecards"))
            .env("RUBRIC_CODECOV_URL", "http://127.0.0.1:9")
            .env("RUBRIC_HTTP_MAX_RETRIES", "0")
            .env("RUBRIC_SCHEDULE_ENABLED", "false")
            .env("RUBRIC_AUTH_ANONYMOUS_READ", anonymous_read.to_string())
            .env("RUBRIC_API_TOKENS", tokens)
            .env("RUBRIC_SERVER_BACKSTAGE_JWKS_URL", jwks_url)
            .env("RUBRIC_LOG", "rubric=trace,tower_http=trace")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .into_tokio()
            .kill_on_drop(true)
            .spawn()
            .expect("rubric serve starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let log = stderr.clone();
        tokio::spawn(async move {
            let mut tx = Some(tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.strip_prefix("rubric serve: http://")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(format!(
                        "http://{}",
                        rest.split_whitespace().next().unwrap()
                    ));
                }
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let url = tokio::time::timeout(BOUND, rx)
            .await
            .expect("rubric serve listens in time")
            .unwrap_or_else(|_| panic!("rubric serve exited: {}", stderr.lock().unwrap()));
        Served {
            _child: child,
            url,
            stderr,
            http: reqwest::Client::builder().timeout(BOUND).build().unwrap(),
        }
    }

    /// Status and JSON body of `GET /api/v1/scorecards` with this bearer token.
    async fn read(&self, token: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}/api/v1/scorecards", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// 401 with a reason that contains `why` (and not the token).
    async fn refused(&self, token: &str, why: &str) {
        let (status, body) = self.read(token).await;
        let error = body["error"].as_str().unwrap_or_default();
        assert_eq!(status, 401, "{body}");
        assert!(error.contains(why), "expected {why:?} in {body}");
        assert!(!error.contains(token), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backstage_tokens_read_and_other_jwts_are_refused_with_a_reason() {
    let key = TestKey::new("backstage-key-1");
    let other = TestKey::new("attacker-key");
    let (_jwks, base) = FakeJwks::start(vec![key.jwk()]).await;
    let served = Served::start(
        &format!("{base}/api/auth/.well-known/jwks.json"),
        &format!("portal:read:{READ},ci:admin:{ADMIN}"),
        false,
    )
    .await;
    let good = claims(&base);
    let jane = key.sign(&good);
    let (status, body) = served.read(&jane).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["scorecards"].is_array() || body.is_array(), "{body}");

    let mut tokens = vec![jane.clone()];
    let mut refused = |token: String| {
        tokens.push(token.clone());
        token
    };
    served
        .refused(
            &refused(other.sign_as(&key.kid, &good)),
            "signature does not verify",
        )
        .await;
    served
        .refused(&refused(other.sign(&good)), "does not hold")
        .await;
    let expired = with(good.clone(), "exp", json!(now() - 3600));
    served
        .refused(&refused(key.sign(&expired)), "expired")
        .await;
    let later = with(good.clone(), "nbf", json!(now() + 3600));
    served
        .refused(&refused(key.sign(&later)), "not valid yet")
        .await;
    let elsewhere = with(
        good.clone(),
        "iss",
        json!("https://evil.example.com/api/auth"),
    );
    served
        .refused(&refused(key.sign(&elsewhere)), "not issued by")
        .await;
    let other_aud = with(good.clone(), "aud", json!("another-app"));
    served
        .refused(&refused(key.sign(&other_aud)), "audience")
        .await;
    let mut no_sub = good.clone();
    no_sub.as_object_mut().unwrap().remove("sub");
    served
        .refused(&refused(key.sign(&no_sub)), "claim sub")
        .await;
    // `alg: none`, and HS256 with the public key as the secret (the classic confusion).
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"backstage-key-1"}"#);
    let payload = URL_SAFE_NO_PAD.encode(good.to_string());
    served
        .refused(
            &refused(format!("{none_header}.{payload}.")),
            "algorithm none is refused",
        )
        .await;
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(key.kid.clone());
    let public = key.pair.public_key().as_ref().to_vec();
    let confused =
        jsonwebtoken::encode(&hs, &good, &EncodingKey::from_secret(&public).unwrap()).unwrap();
    served
        .refused(&refused(confused), "algorithm HS256 is refused")
        .await;
    served
        .refused(
            &refused(format!(
                "{}.bm90LWpzb24.c2ln",
                jane.split('.').next().unwrap()
            )),
            "signature does not verify",
        )
        .await;
    served
        .refused(&refused("eyJub3Q.a.b".into()), "header is not a JWT header")
        .await;
    served
        .refused(
            &refused(format!("eyJ{}.{payload}.sig", "A".repeat(20_000))),
            "longer than",
        )
        .await;
    let (status, _) = served.read(&format!("eyJ{}.a.b", "A".repeat(70_000))).await;
    assert_eq!(status, 431, "a token beyond the header limit");

    // A Backstage token reads and never more; static tokens keep their roles.
    let evaluate = format!(
        "{}/api/v1/scorecards/coverage/entities/payments-api/evaluate",
        served.url
    );
    let resp = served
        .http
        .post(&evaluate)
        .bearer_auth(&jane)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(served.read(READ).await.0, 200);
    assert_eq!(served.read(ADMIN).await.0, 200);
    served
        .refused("not-a-token-at-all", "bearer token is required")
        .await;

    let logs = served.stderr.lock().unwrap().clone();
    assert!(logs.contains("Backstage token refused"), "{logs}");
    assert!(logs.contains("user:default/jane"), "the caller is logged");
    for token in tokens.iter().chain([&READ.to_string(), &ADMIN.to_string()]) {
        assert!(!logs.contains(token.as_str()), "a token reached the logs");
        let signature = token.rsplit('.').next().unwrap();
        assert!(
            signature.len() < 8 || !logs.contains(signature),
            "a token's signature reached the logs"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_fetch_the_jwks_again_at_most_once_per_interval() {
    let first = TestKey::new("key-1");
    let rotated = TestKey::new("key-2");
    let (jwks, base) = FakeJwks::start(vec![first.jwk()]).await;
    let served = Served::start(
        &format!("{base}/api/auth/.well-known/jwks.json"),
        &format!("portal:read:{READ}"),
        false,
    )
    .await;
    let good = claims(&base);
    assert_eq!(served.read(&first.sign(&good)).await.0, 200);
    assert_eq!(served.read(&first.sign(&good)).await.0, 200);
    assert_eq!(jwks.hits(), 1, "the keys are cached");

    // Backstage rotates its key: a token signed by the new one fetches the keys again.
    jwks.keys.lock().unwrap().push(rotated.jwk());
    assert_eq!(served.read(&rotated.sign(&good)).await.0, 200);
    assert_eq!(jwks.hits(), 2);

    // A flood of made-up kids, some at once, causes no further fetch within the interval.
    let flood = (0..20).map(|i| {
        let token = rotated.sign_as(&format!("made-up-{i}"), &good);
        let served = &served;
        async move { served.read(&token).await }
    });
    for (status, body) in futures::future::join_all(flood).await {
        assert_eq!(status, 401, "{body}");
        assert!(
            body["error"].as_str().unwrap().contains("does not hold"),
            "{body}"
        );
    }
    assert_eq!(jwks.hits(), 2, "no fetch per unknown kid");
    assert_eq!(served.read(&first.sign(&good)).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_jwks_is_a_401_that_says_so() {
    // A port nothing listens on (bound, then released).
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let key = TestKey::new("k");
    let served = Served::start(
        &format!("http://{closed}/api/auth/.well-known/jwks.json"),
        &format!("portal:read:{READ}"),
        false,
    )
    .await;
    let token = key.sign(&claims(&format!("http://{closed}")));
    for _ in 0..3 {
        served.refused(&token, "JWKS").await;
        served.refused(&token, "could not be read").await;
    }
    assert_eq!(served.read(READ).await.0, 200, "static tokens keep working");
    let logs = served.stderr.lock().unwrap().clone();
    assert_eq!(
        logs.matches("the Backstage JWKS cannot be read").count(),
        1,
        "one warning per outage: {logs}"
    );

    // A JWKS that answers something else, or too much, is unreadable too.
    let app = axum::Router::new()
        .route(
            "/a/api/auth/.well-known/jwks.json",
            axum::routing::get(|| async { "<html>sign in</html>" }),
        )
        .route(
            "/b/api/auth/.well-known/jwks.json",
            axum::routing::get(|| async { "x".repeat(1024 * 1024) }),
        );
    let base = crate::support::serve(app).await;
    for (path, why) in [("a", "other than a JWKS"), ("b", "more than 256 KiB")] {
        let served = Served::start(
            &format!("{base}/{path}/api/auth/.well-known/jwks.json"),
            &format!("portal:read:{READ}"),
            false,
        )
        .await;
        let token = key.sign(&claims(&format!("{base}/{path}")));
        served.refused(&token, why).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tokens_a_backstage_user_reads_by_name_and_other_bearers_as_anyone() {
    let key = TestKey::new("k");
    let (_jwks, base) = FakeJwks::start(vec![key.jwk()]).await;
    let served = Served::start(&format!("{base}/api/auth/.well-known/jwks.json"), "", true).await;
    let good = claims(&base);
    assert_eq!(served.read(&key.sign(&good)).await.0, 200);
    let expired = key.sign(&with(good, "exp", json!(now() - 3600)));
    assert_eq!(
        served.read(&expired).await.0,
        200,
        "as anonymous, as before"
    );
    assert_eq!(served.read("some-portal-token").await.0, 200);
    let logs = served.stderr.lock().unwrap().clone();
    assert!(logs.contains("user:default/jane"), "{logs}");
}

#[test]
fn a_jwks_url_without_an_issuer_to_derive_is_a_usage_error() {
    let out = rubric()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env(
            "RUBRIC_SERVER_BACKSTAGE_JWKS_URL",
            "https://idp.example.com/keys",
        )
        .run()
        .expect_code(2);
    assert!(
        out.stderr().contains("[server.backstage] issuer is empty"),
        "{}",
        out.stderr()
    );
}
