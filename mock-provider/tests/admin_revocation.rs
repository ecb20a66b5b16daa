//! Taking tokens away through the admin API: revocation by token, subject
//! or client, and early expiry of a client's access tokens, which leaves
//! its refresh tokens working.

mod support;

use mock_provider::admin::{MintRequest, RevokeRequest, SeedGrant};
use reqwest::StatusCode;
use serde_json::json;
use support::admin_api::{assert_refused, client_credentials, introspect, refresh};
use support::{APP, POST_APP, http};

#[tokio::test]
async fn revoke_by_token_subject_or_client() {
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();

    // An access token: only it stops working.
    let access = client_credentials(&issuer, APP).await;
    let other_access = client_credentials(&issuer, APP).await;
    let out = admin
        .revoke(
            "default",
            &RevokeRequest {
                token: Some(access.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(out.access_token_revoked);
    assert_eq!(out.families_revoked, 0);
    assert_eq!(introspect(&issuer, &access).await["active"], false);
    assert_eq!(introspect(&issuer, &other_access).await["active"], true);

    // A refresh token: its family goes, access tokens included (RFC 7009 2.1).
    let tokens = support::code_flow_tokens(&http(), &issuer, &[]).await;
    let (rt, at) = (tokens.str("refresh_token"), tokens.str("access_token"));
    assert_eq!(introspect(&issuer, rt).await["active"], true);
    let out = admin
        .revoke(
            "default",
            &RevokeRequest {
                token: Some(rt.to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.families_revoked, 1);
    assert!(!out.access_token_revoked);
    let answer = refresh(&issuer, APP, rt).await;
    assert_eq!(answer.error(), Some("invalid_grant"), "{answer:?}");
    assert_eq!(introspect(&issuer, rt).await["active"], false);
    assert_eq!(introspect(&issuer, at).await["active"], false);

    // Not a token of this issuer: 404.
    assert_refused(
        admin
            .revoke(
                "default",
                &RevokeRequest {
                    token: Some("not-a-token".into()),
                    ..Default::default()
                },
            )
            .await,
        StatusCode::NOT_FOUND,
        &["token"],
    );

    // By subject: every grant and access token of that user.
    let seed = |client: &str, subject: &str| SeedGrant {
        client_id: client.into(),
        subject: Some(subject.into()),
        ..Default::default()
    };
    let carol_app = admin
        .seed_grant("default", &seed(APP.0, "carol"))
        .await
        .unwrap();
    let carol_post = admin
        .seed_grant("default", &seed(POST_APP.0, "carol"))
        .await
        .unwrap();
    let dave = admin
        .seed_grant("default", &seed(APP.0, "dave"))
        .await
        .unwrap();
    let carol_minted = admin
        .mint_token(
            "default",
            &MintRequest {
                subject: Some("carol".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .access_token;
    let out = admin
        .revoke(
            "default",
            &RevokeRequest {
                subject: Some("carol".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.families_revoked, 2);
    assert_eq!(
        refresh(&issuer, APP, &carol_app.refresh_token)
            .await
            .error(),
        Some("invalid_grant")
    );
    assert_eq!(
        refresh(&issuer, POST_APP, &carol_post.refresh_token)
            .await
            .error(),
        Some("invalid_grant")
    );
    assert_eq!(introspect(&issuer, &carol_minted).await["active"], false);
    let dave_answer = refresh(&issuer, APP, &dave.refresh_token).await;
    assert_eq!(dave_answer.status, StatusCode::OK, "{dave_answer:?}");

    // By client: every grant and access token of that client, no other's.
    let post_grant = admin
        .seed_grant("default", &seed(POST_APP.0, "erin"))
        .await
        .unwrap();
    let app_grant = admin
        .seed_grant("default", &seed(APP.0, "erin"))
        .await
        .unwrap();
    let post_access = client_credentials(&issuer, POST_APP).await;
    let app_access = client_credentials(&issuer, APP).await;
    let out = admin
        .revoke(
            "default",
            &RevokeRequest {
                client_id: Some(POST_APP.0.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.families_revoked, 1);
    assert_eq!(introspect(&issuer, &post_access).await["active"], false);
    assert_eq!(introspect(&issuer, &app_access).await["active"], true);
    assert_eq!(
        introspect(&issuer, &post_grant.refresh_token).await["active"],
        false
    );
    assert_eq!(
        refresh(&issuer, APP, &app_grant.refresh_token).await.status,
        StatusCode::OK
    );

    // Exactly one of token, subject, client_id.
    for request in [
        RevokeRequest::default(),
        RevokeRequest {
            token: Some(app_access.clone()),
            subject: Some("erin".into()),
            client_id: None,
        },
        RevokeRequest {
            token: None,
            subject: Some("erin".into()),
            client_id: Some(APP.0.into()),
        },
    ] {
        assert_refused(
            admin.revoke("default", &request).await,
            StatusCode::BAD_REQUEST,
            &["exactly one"],
        );
    }
    // The refused requests revoked nothing.
    assert_eq!(introspect(&issuer, &app_access).await["active"], true);
}

#[tokio::test]
async fn expire_access_tokens_leaves_refresh_tokens_working() {
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();
    let api = format!("{issuer}/api/me");
    let seeded = admin
        .seed_grant(
            "default",
            &SeedGrant {
                client_id: APP.0.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let first = refresh(&issuer, APP, &seeded.refresh_token).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    let user_token = first.str("access_token").to_owned();
    let rt = first.str("refresh_token").to_owned();
    let machine_token = client_credentials(&issuer, APP).await;
    let bystander = client_credentials(&issuer, POST_APP).await;
    let upstream = |token: String| {
        let api = api.clone();
        async move {
            http()
                .get(&api)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(upstream(user_token.clone()).await, StatusCode::OK);

    let expired = admin.expire_access_tokens("default", APP.0).await.unwrap();
    assert_eq!(expired, 2);
    for token in [&user_token, &machine_token] {
        assert_eq!(introspect(&issuer, token).await, json!({"active": false}));
        assert_eq!(upstream(token.clone()).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(introspect(&issuer, &bystander).await["active"], true);
    assert_eq!(upstream(bystander).await, StatusCode::OK);

    // The refresh token still works and its new access token is live.
    assert_eq!(introspect(&issuer, &rt).await["active"], true);
    let next = refresh(&issuer, APP, &rt).await;
    assert_eq!(next.status, StatusCode::OK, "{next:?}");
    let fresh = next.str("access_token").to_owned();
    assert_eq!(introspect(&issuer, &fresh).await["active"], true);
    assert_eq!(upstream(fresh).await, StatusCode::OK);
    // Nothing live left to expire for a client without tokens.
    assert_eq!(
        admin
            .expire_access_tokens("default", "nobody")
            .await
            .unwrap(),
        0
    );
}
