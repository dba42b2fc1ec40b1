//! Secrets, passwords, roles and who is calling.
//!
//! Invitation tokens, session cookies and API tokens are 256-bit random values
//! shown once and stored as SHA-256 hashes; passwords are argon2id PHC strings.
//! A caller is either a bearer token (scoped) or a session cookie (the user's
//! whole role; unsafe methods then need the session's CSRF token in
//! `X-CSRF-Token`).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use base64::Engine;
use cx_store::server::{ServerStore, User};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::{Shared, unix_now};

/// The session cookie.
pub const SESSION_COOKIE: &str = "cx_session";
/// Sessions last this long (seconds).
pub const SESSION_SECONDS: i64 = 12 * 3600;

/// A fresh 256-bit secret, URL-safe base64 (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides random bytes");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a secret, hex: what the database keeps.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An argon2id hash of `password` with a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&bytes).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the stored PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A password hash that no password matches, verified when the user does not
/// exist so that a wrong name takes as long as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

/// Roles (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything.
    Admin,
    /// Read, export, tasks.
    Analyst,
    /// Read.
    Viewer,
}

impl Role {
    /// Parses `admin`, `analyst` or `viewer`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "analyst" => Some(Role::Analyst),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Viewer => "viewer",
        }
    }

    /// Whether the role may do what `need` asks.
    pub fn allows(self, need: Need) -> bool {
        match need {
            Need::Read => true,
            Need::Export | Need::Submit | Need::Tasks => {
                matches!(self, Role::Admin | Role::Analyst)
            }
            Need::Manage => self == Role::Admin,
        }
    }
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Read surveys and metrics.
    Read,
    /// List and export responses.
    Export,
    /// Submit responses through the API.
    Submit,
    /// Work on follow-up tasks (status, notes, resolution).
    Tasks,
    /// Create, change and delete surveys, invitations, imports, tokens.
    Manage,
}

/// An API token's scope: `read`, `submit` or `write` (all the role allows),
/// optionally narrowed to surveys with `survey:ID_OR_SLUG` items, comma-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    level: Level,
    surveys: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Read,
    Submit,
    Write,
}

impl Scope {
    /// Parses a scope string.
    pub fn parse(text: &str) -> Result<Scope, String> {
        let mut level = None;
        let mut surveys = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let l = match item {
                "read" => Level::Read,
                "submit" => Level::Submit,
                "write" => Level::Write,
                _ => match item.strip_prefix("survey:") {
                    Some(s) if !s.is_empty() => {
                        surveys.push(s.to_string());
                        continue;
                    }
                    _ => {
                        return Err(format!(
                            "scope {item:?}: use read, submit or write, and optionally survey:ID items"
                        ));
                    }
                },
            };
            if level.replace(l).is_some() {
                return Err(format!("scope {text:?}: name one of read, submit, write"));
            }
        }
        Ok(Scope {
            level: level.unwrap_or(Level::Write),
            surveys,
        })
    }

    fn allows(&self, need: Need) -> bool {
        match self.level {
            Level::Write => true,
            Level::Read => matches!(need, Need::Read | Need::Export),
            Level::Submit => need == Need::Submit,
        }
    }
}

/// Who is calling the API.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: User,
    /// Their role.
    pub role: Role,
    /// The token's scope (none for a session).
    pub scope: Option<Scope>,
}

impl Caller {
    /// Refuses what the role or the token's scope does not allow.
    pub fn require(&self, need: Need) -> Result<(), ApiError> {
        if !self.role.allows(need) {
            return Err(ApiError::forbidden(format!(
                "the {} role cannot do this",
                self.role.as_str()
            )));
        }
        if let Some(scope) = &self.scope
            && !scope.allows(need)
        {
            return Err(ApiError::forbidden("the token's scope does not allow this"));
        }
        Ok(())
    }

    /// Refuses a survey outside a survey-scoped token.
    pub fn require_survey(&self, id: i64, slug: &str) -> Result<(), ApiError> {
        match &self.scope {
            Some(s) if !s.surveys.is_empty() => {
                if s.surveys.iter().any(|x| x == slug || *x == id.to_string()) {
                    Ok(())
                } else {
                    Err(ApiError::forbidden(
                        "the token is not scoped to this survey",
                    ))
                }
            }
            _ => Ok(()),
        }
    }

    /// Refuses a survey-scoped token for figures that mix every survey's
    /// answers (account scores, team times, actions).
    pub fn require_all_surveys(&self) -> Result<(), ApiError> {
        match &self.scope {
            Some(s) if !s.surveys.is_empty() => Err(ApiError::forbidden(
                "a survey-scoped token cannot read figures that combine every survey",
            )),
            _ => Ok(()),
        }
    }

    /// Whether every survey is visible (no survey-scoped token).
    pub fn sees(&self, id: i64, slug: &str) -> bool {
        self.require_survey(id, slug).is_ok()
    }
}

/// The value of cookie `name`.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path `/`.
pub fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The signed-in user of a browser session, with the session's CSRF token.
pub async fn session_user(
    state: &Shared,
    headers: &HeaderMap,
) -> Result<Option<(User, String)>, ApiError> {
    let Some(secret) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(state
        .store
        .session(&hash_secret(secret), unix_now())
        .await?)
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Caller, ApiError> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        if let Some(token) = bearer {
            let hash = hash_secret(token.trim());
            let found = match state.tokens.get(&hash) {
                Some(hit) => Some(hit),
                None => {
                    let found = state.store.token_user(&hash).await?;
                    if let Some(f) = &found {
                        state.tokens.put(&hash, f.clone());
                    }
                    found
                }
            };
            let Some((user, scope)) = found else {
                return Err(ApiError::unauthorized());
            };
            let role = Role::parse(&user.role).ok_or_else(ApiError::unauthorized)?;
            let scope = Scope::parse(&scope).map_err(|_| ApiError::unauthorized())?;
            return Ok(Caller {
                user,
                role,
                scope: Some(scope),
            });
        }
        let Some((user, csrf)) = session_user(state, &parts.headers).await? else {
            return Err(ApiError::unauthorized());
        };
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !same_secret(sent, &csrf) {
                return Err(ApiError::forbidden(
                    "a signed-in browser must send the session's X-CSRF-Token",
                ));
            }
        }
        let role = Role::parse(&user.role).ok_or_else(ApiError::unauthorized)?;
        Ok(Caller {
            user,
            role,
            scope: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_hashed() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_secret("abc").len(), 64);
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(same_secret("xyz", "xyz"));
        assert!(!same_secret("xyz", "xya"));
        assert!(!same_secret("xyz", "xyzz"));
    }

    #[test]
    fn passwords_verify() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn roles_and_scopes() {
        let s = Scope::parse("read,survey:nps-2026").expect("valid");
        assert!(s.allows(Need::Read) && s.allows(Need::Export));
        assert!(!s.allows(Need::Submit) && !s.allows(Need::Manage));
        assert!(Scope::parse("submit").expect("valid").allows(Need::Submit));
        assert!(!Scope::parse("submit").expect("valid").allows(Need::Read));
        assert!(Scope::parse("write").expect("valid").allows(Need::Manage));
        assert!(Scope::parse("read,write").is_err());
        assert!(Scope::parse("admin").is_err());
        assert!(!Role::Viewer.allows(Need::Export));
        assert!(Role::Analyst.allows(Need::Export) && !Role::Analyst.allows(Need::Manage));
        let caller = Caller {
            user: User {
                id: 1,
                username: "a".into(),
                password_hash: String::new(),
                role: "analyst".into(),
            },
            role: Role::Analyst,
            scope: Some(s),
        };
        assert!(caller.require_survey(3, "nps-2026").is_ok());
        assert!(caller.require_survey(4, "other").is_err());
        assert!(caller.require(Need::Manage).is_err());
    }
}
