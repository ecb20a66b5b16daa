//! Resource indicators (RFC 8707): validating `resource` parameters and
//! turning the chosen ones into the access token's `aud`.

use url::Url;

use crate::protocol::oauth_error::OAuthError;

/// Validates every `resource` value: an absolute URI without a fragment
/// or query (RFC 8707 2) that can name a server (no `javascript:`,
/// `mailto:`...). When `allowed` is not empty, each must also be one of
/// them.
pub fn validate(resources: &[&str], allowed: &[String]) -> Result<Vec<String>, OAuthError> {
    let mut out: Vec<String> = Vec::with_capacity(resources.len());
    for r in resources {
        let parsed = Url::parse(r).map_err(|_| {
            OAuthError::invalid_target(format!("resource `{r}` is not an absolute URI"))
        })?;
        if parsed.fragment().is_some() || r.contains('#') {
            return Err(OAuthError::invalid_target(format!(
                "resource `{r}` must not have a fragment (RFC 8707 2)"
            )));
        }
        // RFC 8707 2: "It SHOULD NOT include a query component"; a resource
        // server is named by where it lives, and a query makes one server
        // look like many audiences.
        if parsed.query().is_some() || r.contains('?') {
            return Err(OAuthError::invalid_target(format!(
                "resource `{r}` must not have a query (RFC 8707 2)"
            )));
        }
        if matches!(
            parsed.scheme(),
            "javascript" | "vbscript" | "data" | "mailto" | "file" | "blob" | "about"
        ) {
            return Err(OAuthError::invalid_target(format!(
                "resource `{r}` does not name a resource server (scheme `{}`)",
                parsed.scheme()
            )));
        }
        if !allowed.is_empty() && !allowed.iter().any(|a| a == r) {
            return Err(OAuthError::invalid_target(format!(
                "resource `{r}` is not served by this authorization server"
            )));
        }
        if !out.iter().any(|o| o == r) {
            out.push((*r).to_owned());
        }
    }
    Ok(out)
}

/// Under [`crate::config::issuer_policy::IssuerPolicy::require_resource`]: a
/// request without `resource` is refused. MCP authorization (2025-06-18
/// on): "MCP clients MUST include the `resource` parameter in
/// authorization requests and token requests".
pub fn require(resources: &[&str], required: bool) -> Result<(), OAuthError> {
    if required && resources.is_empty() {
        return Err(OAuthError::invalid_target(
            "this authorization server requires the `resource` parameter (RFC 8707; MCP clients MUST send it)",
        ));
    }
    Ok(())
}

/// At the token endpoint: the resources asked for must be among those the
/// grant was given for (RFC 8707 2.2). Nothing asked means all of them.
pub fn narrow(granted: &[String], asked: &[String]) -> Result<Vec<String>, OAuthError> {
    if asked.is_empty() {
        return Ok(granted.to_vec());
    }
    for a in asked {
        if !granted.iter().any(|g| g == a) {
            return Err(OAuthError::invalid_target(format!(
                "resource `{a}` was not part of the original grant"
            )));
        }
    }
    Ok(asked.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_examples() {
        assert!(validate(&["https://mcp.example/mcp"], &[]).is_ok());
        assert!(validate(&["mcp.example"], &[]).is_err());
        assert!(validate(&["https://mcp.example/#frag"], &[]).is_err());
        assert!(validate(&["https://mcp.example/mcp?tenant=a"], &[]).is_err());
        assert!(validate(&["javascript:alert(1)"], &[]).is_err());
    }

    #[test]
    fn allow_list_is_enforced() {
        let allowed = vec!["https://a.example/mcp".to_owned()];
        assert!(validate(&["https://a.example/mcp"], &allowed).is_ok());
        let e = validate(&["https://b.example/mcp"], &allowed).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidTarget);
    }

    #[test]
    fn narrowing_refuses_a_new_resource() {
        let granted = vec!["https://a".to_owned(), "https://b".to_owned()];
        assert_eq!(narrow(&granted, &[]).unwrap(), granted);
        assert_eq!(
            narrow(&granted, &["https://b".to_owned()]).unwrap(),
            vec!["https://b"]
        );
        assert!(narrow(&granted, &["https://c".to_owned()]).is_err());
    }
}
