//! Signing faults and key rotation as a resource server verifying against
//! the issuer's JWKS sees them: faulty signatures are refused, and rotated
//! keys stay published exactly as long as their grace period.

mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mock_provider::admin::RotateKeys;
use mock_provider::faults::{Endpoint, FaultAction, FaultRule, SigningFault};
use reqwest::StatusCode;
use serde_json::Value;
use support::fault_fixture::{assert_last, client_credentials, fixture, token_filter};
use support::{APP, jwt_header};

/// Why a resource server refused a token.
#[derive(Debug)]
enum Refusal {
    /// The header did not parse (e.g. `alg: none` is no algorithm).
    Header(String),
    /// No `kid`.
    NoKid,
    /// The `kid` is not in the JWKS.
    KidNotPublished(String),
    /// `jsonwebtoken` refused it.
    Jwt(ErrorKind),
}

async fn jwks(http: &reqwest::Client, issuer_url: &str) -> JwkSet {
    http.get(format!("{issuer_url}/jwks"))
        .send()
        .await
        .expect("jwks request")
        .json()
        .await
        .expect("a JWK set")
}

fn kids(set: &JwkSet) -> Vec<String> {
    set.keys
        .iter()
        .filter_map(|k| k.common.key_id.clone())
        .collect()
}

/// Verifies with `key` the way a careful resource server does: the
/// algorithm is the one the issuer uses, never the one the token names
/// (RFC 8725 3.1), and `iss`, `aud`, `exp` are checked (RFC 9068 4).
fn decode_with(
    token: &str,
    key: &DecodingKey,
    alg: Algorithm,
    issuer_url: &str,
) -> Result<Value, Refusal> {
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[issuer_url]);
    validation.set_audience(&[format!("{issuer_url}/api")]);
    jsonwebtoken::decode::<Value>(token, key, &validation)
        .map(|d| d.claims)
        .map_err(|e| Refusal::Jwt(e.into_kind()))
}

/// Verifies an access token against the issuer's JWKS, fetched now.
async fn verify(
    http: &reqwest::Client,
    issuer_url: &str,
    alg: Algorithm,
    token: &str,
) -> Result<Value, Refusal> {
    let set = jwks(http, issuer_url).await;
    let header = jsonwebtoken::decode_header(token).map_err(|e| Refusal::Header(e.to_string()))?;
    let kid = header.kid.ok_or(Refusal::NoKid)?;
    let jwk = set
        .find(&kid)
        .ok_or_else(|| Refusal::KidNotPublished(kid.clone()))?;
    let key = DecodingKey::from_jwk(jwk).expect("usable JWK");
    decode_with(token, &key, alg, issuer_url)
}

// ---- signing ---------------------------------------------------------------

/// RFC 8725 3.1-3.2, RFC 9068 4: each signing fault yields a token that a
/// resource server verifying against the issuer's JWKS refuses, while an
/// honest token of the same issuer verifies. Both key types (RS256, ES256).
#[tokio::test]
async fn signing_faults_fail_verification_against_the_jwks() {
    let f = fixture().await;
    for (name, url, alg) in [
        ("default", f.issuer.clone(), Algorithm::RS256),
        ("other", f.other.clone(), Algorithm::ES256),
    ] {
        let active_kid = f.admin.keys(name).await.unwrap().active_kid;
        let honest = client_credentials(&f, &url, None).await;
        let claims = verify(&f.http, &url, alg, honest.str("access_token"))
            .await
            .unwrap_or_else(|r| panic!("{name}: the honest token verifies: {r:?}"));
        assert_eq!(claims["client_id"], APP.0);

        for fault in [
            SigningFault::UnknownKid,
            SigningFault::BadSignature,
            SigningFault::AlgNone,
            SigningFault::Hs256WithPublicKey,
            SigningFault::RotatedOutKey,
        ] {
            let id = f
                .add_fault(
                    FaultRule::new(Endpoint::Token, FaultAction::Signing { fault })
                        .issuer(name)
                        .times(1),
                )
                .await;
            let a = client_credentials(&f, &url, None).await;
            assert_eq!(a.status, StatusCode::OK, "{name} {fault:?}: {a:?}");
            let token = a.str("access_token");
            assert_last(
                &f.admin,
                token_filter().issuer(name),
                &[&format!("signing#{id}")],
                "ok",
                200,
            )
            .await;
            // The claims are the honest ones; only the signature lies.
            assert_eq!(support::jwt_payload(token)["iss"], url.as_str());
            let header = jwt_header(token);
            let Err(refusal) = verify(&f.http, &url, alg, token).await else {
                panic!("{name}: a {fault:?} token must not verify");
            };
            match fault {
                SigningFault::UnknownKid | SigningFault::RotatedOutKey => {
                    // Never rotated: the rotated-out key is one never
                    // published either.
                    assert_eq!(header["alg"], format!("{alg:?}"), "{header}");
                    assert_ne!(header["kid"], active_kid.as_str());
                    assert!(
                        matches!(&refusal, Refusal::KidNotPublished(kid) if header["kid"] == kid.as_str()),
                        "{fault:?}: {refusal:?}"
                    );
                }
                SigningFault::BadSignature => {
                    assert_eq!(header["kid"], active_kid.as_str());
                    assert!(
                        matches!(refusal, Refusal::Jwt(ErrorKind::InvalidSignature)),
                        "{refusal:?}"
                    );
                }
                SigningFault::AlgNone => {
                    assert_eq!(header["alg"], "none", "{header}");
                    assert!(token.ends_with('.'), "empty signature: {token}");
                    assert_eq!(token.split('.').count(), 3);
                    assert!(
                        matches!(&refusal, Refusal::Header(why) if why.contains("none")),
                        "{refusal:?}"
                    );
                }
                SigningFault::Hs256WithPublicKey => {
                    assert_eq!(header["alg"], "HS256", "{header}");
                    assert_eq!(header["kid"], active_kid.as_str());
                    // Refused: the issuer's algorithm is asymmetric.
                    assert!(
                        matches!(refusal, Refusal::Jwt(ErrorKind::InvalidAlgorithm)),
                        "{refusal:?}"
                    );
                    // ...yet it is a real confusion token: HMAC keyed with
                    // the public key PEM verifies it.
                    let pem = f
                        .provider
                        .issuer(name)
                        .unwrap()
                        .keys()
                        .await
                        .unwrap()
                        .active()
                        .public_key_pem();
                    let hmac = DecodingKey::from_secret(pem.as_bytes());
                    decode_with(token, &hmac, Algorithm::HS256, &url)
                        .unwrap_or_else(|r| panic!("HMAC with the PEM verifies: {r:?}"));
                }
            }
        }
    }
}

// ---- key rotation ----------------------------------------------------------

/// RFC 7517 / RFC 8414 `jwks_uri`: after a rotation with a grace period the
/// JWKS holds both keys, tokens signed before still verify, new tokens
/// carry the new kid; when the grace ends the old key leaves the JWKS.
#[tokio::test]
async fn rotation_with_grace_keeps_the_old_key_until_it_ends() {
    let f = fixture().await;
    let before = client_credentials(&f, &f.issuer, None).await;
    let old_token = before.str("access_token").to_owned();
    let old_kid = jwt_header(&old_token)["kid"].as_str().unwrap().to_owned();

    let keys = f
        .admin
        .rotate_keys("default", &RotateKeys::with_grace(2))
        .await
        .unwrap();
    assert_ne!(keys.active_kid, old_kid);
    let new_kid = keys.active_kid.clone();
    assert_eq!(keys.published_kids, [new_kid.clone(), old_kid.clone()]);
    let set = kids(&jwks(&f.http, &f.issuer).await);
    assert!(set.contains(&old_kid) && set.contains(&new_kid), "{set:?}");
    verify(&f.http, &f.issuer, Algorithm::RS256, &old_token)
        .await
        .expect("a token signed before the rotation still verifies");

    let after = client_credentials(&f, &f.issuer, None).await;
    let new_token = after.str("access_token").to_owned();
    assert_eq!(jwt_header(&new_token)["kid"], new_kid.as_str());
    verify(&f.http, &f.issuer, Algorithm::RS256, &new_token)
        .await
        .expect("a new token verifies");

    // The provider's clock ticks in whole seconds and rounds the end of a
    // grace period up (never shorter than asked): a 2 s grace ends within 3 s.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let set = kids(&jwks(&f.http, &f.issuer).await);
    assert_eq!(set, [new_kid.as_str()], "the grace period is over");
    assert_eq!(
        f.admin.keys("default").await.unwrap().published_kids,
        [new_kid]
    );
    assert!(matches!(
        verify(&f.http, &f.issuer, Algorithm::RS256, &old_token).await,
        Err(Refusal::KidNotPublished(kid)) if kid == old_kid
    ));
    verify(&f.http, &f.issuer, Algorithm::RS256, &new_token)
        .await
        .expect("the new token still verifies");
}

/// The grace period runs from the rotation, not from the start of the
/// wall-clock second it happened in: 1.5 s after a rotation with
/// `grace_secs = 2` the old key is still published (RFC 7517 key rollover;
/// the admin API documents "keep the old key in the JWKS this long").
#[tokio::test]
async fn rotation_grace_lasts_the_whole_period() {
    let f = fixture().await;
    let old_kid = f.admin.keys("other").await.unwrap().active_kid;
    // Rotate late in a wall-clock second (ES256 keys are made at once), so
    // that a clock truncated to seconds would end the grace early.
    loop {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_millis();
        if (800..850).contains(&ms) {
            break;
        }
        let wait = if ms < 800 { 800 - ms } else { 1800 - ms };
        tokio::time::sleep(Duration::from_millis(u64::from(wait))).await;
    }
    let asked = Instant::now();
    let keys = f
        .admin
        .rotate_keys("other", &RotateKeys::with_grace(2))
        .await
        .unwrap();
    assert!(keys.published_kids.contains(&old_kid), "{keys:?}");
    tokio::time::sleep_until((asked + Duration::from_millis(1500)).into()).await;
    let published = kids(&jwks(&f.http, &f.other).await);
    let elapsed = asked.elapsed();
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert!(
        published.contains(&old_kid),
        "{elapsed:?} after a rotation with a 2 s grace the old key `{old_kid}` is gone: {published:?}"
    );
}

/// A rotation without grace drops the old key at once; `signing:
/// rotated_out_key` then signs with exactly that old key (RFC 8725 3.2:
/// a resource server must not accept it).
#[tokio::test]
async fn rotation_without_grace_drops_the_old_key_and_rotated_out_key_uses_it() {
    let f = fixture().await;
    let before = client_credentials(&f, &f.issuer, None).await;
    let old_token = before.str("access_token").to_owned();
    let old_kid = jwt_header(&old_token)["kid"].as_str().unwrap().to_owned();
    let old_jwk: Jwk = jwks(&f.http, &f.issuer)
        .await
        .find(&old_kid)
        .cloned()
        .expect("the old key is published");

    let keys = f
        .admin
        .rotate_keys("default", &RotateKeys::default())
        .await
        .unwrap();
    assert_eq!(keys.published_kids, [keys.active_kid.as_str()]);
    assert_eq!(
        kids(&jwks(&f.http, &f.issuer).await),
        [keys.active_kid.as_str()]
    );
    assert!(matches!(
        verify(&f.http, &f.issuer, Algorithm::RS256, &old_token).await,
        Err(Refusal::KidNotPublished(kid)) if kid == old_kid
    ));

    let id = f
        .add_fault(
            FaultRule::new(
                Endpoint::Token,
                FaultAction::Signing {
                    fault: SigningFault::RotatedOutKey,
                },
            )
            .times(1),
        )
        .await;
    let a = client_credentials(&f, &f.issuer, None).await;
    let token = a.str("access_token");
    assert_eq!(jwt_header(token)["kid"], old_kid.as_str());
    assert!(matches!(
        verify(&f.http, &f.issuer, Algorithm::RS256, token).await,
        Err(Refusal::KidNotPublished(kid)) if kid == old_kid
    ));
    // Signed by the old key indeed: its saved public JWK verifies it.
    let key = DecodingKey::from_jwk(&old_jwk).unwrap();
    decode_with(token, &key, Algorithm::RS256, &f.issuer).expect("signed by the rotated-out key");
    assert_last(
        &f.admin,
        token_filter(),
        &[&format!("signing#{id}")],
        "ok",
        200,
    )
    .await;
}
