//! Who may call kubecs: access keys, their secrets and optional session tokens, the account and
//! principal each one acts as, the TOML file they are configured in, and the well-known local
//! default (`test`/`test`).
//!
//! Secrets and session tokens are zeroed when dropped and never shown by `Debug`.
//!
//! The file format:
//!
//! ```toml
//! [[credentials]]
//! access_key_id = "AKIAEXAMPLE"
//! secret_access_key = "..."
//! session_token = "..."        # optional: requests must then carry it as X-Amz-Security-Token
//! account_id = "123456789012"  # optional: the caller-supplied default otherwise
//! principal = "user/alice"     # optional: "root" otherwise -> arn:aws:iam::<account>:root
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The access key id accepted when nothing is configured (the local-emulator convention).
pub const DEFAULT_ACCESS_KEY_ID: &str = "test";
/// Its secret.
pub const DEFAULT_SECRET_ACCESS_KEY: &str = "test";
/// The account kubecs reports when none is configured.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";

/// A secret string (secret access key or session token): zeroed on drop, redacted in `Debug`,
/// compared only in constant time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself; callers must not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with presented bytes. The length is not hidden (tokens and
    /// secrets have public, fixed shapes).
    pub fn ct_eq_bytes(&self, other: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(other).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Gives every credential a process-unique number, so caches can tell a replaced secret from
/// the one they derived a key from without keeping or hashing the secret.
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

/// One configured access key.
#[derive(Debug, Clone)]
pub struct Credential {
    access_key_id: String,
    secret_access_key: Secret,
    session_token: Option<Secret>,
    account_id: String,
    principal_arn: String,
    serial: u64,
}

impl Credential {
    /// A long-term key acting as the account's root.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        account_id: impl Into<String>,
    ) -> Self {
        let account_id = account_id.into();
        let principal_arn = principal_arn(&account_id, "root");
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: Secret::new(secret_access_key),
            session_token: None,
            account_id,
            principal_arn,
            serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Requires requests signed with this key to carry `token` as `X-Amz-Security-Token`.
    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(Secret::new(token));
        self
    }

    /// Acts as `principal` (`root`, `user/alice`, `role/deployer`,
    /// `assumed-role/deployer/session`) instead of the root.
    pub fn with_principal(mut self, principal: &str) -> Self {
        self.principal_arn = principal_arn(&self.account_id, principal);
        self
    }

    /// The access key id.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The secret access key.
    pub fn secret_access_key(&self) -> &Secret {
        &self.secret_access_key
    }

    /// The session token, if this is a temporary credential.
    pub fn session_token(&self) -> Option<&Secret> {
        self.session_token.as_ref()
    }

    /// The 12-digit account id.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The principal's ARN.
    pub fn principal_arn(&self) -> &str {
        &self.principal_arn
    }

    /// A process-unique number for this credential value (see [`crate::key::KeyCache`]).
    pub fn serial(&self) -> u64 {
        self.serial
    }
}

/// `root` → `arn:aws:iam::<account>:root`; `assumed-role/...` is an STS principal; anything
/// else (`user/alice`, `role/x`) is an IAM one.
fn principal_arn(account_id: &str, principal: &str) -> String {
    if principal.starts_with("assumed-role/") {
        format!("arn:aws:sts::{account_id}:{principal}")
    } else {
        format!("arn:aws:iam::{account_id}:{principal}")
    }
}

/// Looks credentials up by access key id. The verifier calls it only after every check that
/// needs no secret has passed.
pub trait CredentialsProvider {
    /// The credential for `access_key_id`, if configured.
    fn lookup(&self, access_key_id: &str) -> Option<&Credential>;
}

/// A fixed set of credentials (from the file, or the local default).
#[derive(Debug, Clone, Default)]
pub struct StaticCredentials {
    by_key: HashMap<String, Credential>,
}

impl CredentialsProvider for StaticCredentials {
    fn lookup(&self, access_key_id: &str) -> Option<&Credential> {
        self.by_key.get(access_key_id)
    }
}

/// Why a credentials file was refused. Messages name the file, the entry (1-based) and its
/// access key id, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsFileError {
    /// The file could not be read.
    #[error("cannot read credentials file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not valid TOML, or not the expected shape (unknown keys are refused, to catch typos).
    #[error("credentials file{}: {message}", in_path(.path))]
    Syntax {
        /// The file, when known.
        path: Option<String>,
        /// The parser's explanation, with line and column.
        message: String,
    },
    /// An entry is present but unusable.
    #[error("credentials file{}: entry {index} ({access_key_id}): {problem}", in_path(.path))]
    Invalid {
        /// The file, when known.
        path: Option<String>,
        /// 1-based position in the file.
        index: usize,
        /// The entry's access key id (or `?` if that is what is wrong).
        access_key_id: String,
        /// What is wrong.
        problem: String,
    },
    /// The file has no `[[credentials]]` entry at all, which would lock everyone out.
    #[error("credentials file{}: no [[credentials]] entries", in_path(.path))]
    Empty {
        /// The file, when known.
        path: Option<String>,
    },
}

fn in_path(path: &Option<String>) -> String {
    path.as_ref().map(|p| format!(" {p}")).unwrap_or_default()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    #[serde(default)]
    credentials: Vec<FileEntry>,
}

#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    access_key_id: String,
    secret_access_key: String,
    #[serde(default)]
    session_token: Option<String>,
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    principal: Option<String>,
}

impl StaticCredentials {
    /// An empty set (every request is refused as an unknown key).
    pub fn new() -> Self {
        Self::default()
    }

    /// Only the well-known local pair `test`/`test`, as root of `account_id`.
    pub fn local_default(account_id: &str) -> Self {
        let mut s = Self::new();
        s.insert(Credential::new(
            DEFAULT_ACCESS_KEY_ID,
            DEFAULT_SECRET_ACCESS_KEY,
            account_id,
        ));
        s
    }

    /// Adds or replaces a credential.
    pub fn insert(&mut self, c: Credential) {
        self.by_key.insert(c.access_key_id.clone(), c);
    }

    /// Number of access keys.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Whether the only credential is the well-known `test`/`test` pair — the server refuses to
    /// listen on a non-loopback address in that state.
    pub fn is_only_local_default(&self) -> bool {
        self.by_key.len() == 1
            && self.by_key.get(DEFAULT_ACCESS_KEY_ID).is_some_and(|c| {
                c.secret_access_key
                    .ct_eq_bytes(DEFAULT_SECRET_ACCESS_KEY.as_bytes())
                    && c.session_token.is_none()
            })
    }

    /// Access key ids, sorted (for startup logs; never secrets).
    pub fn access_key_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.by_key.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }

    /// Parses the TOML format in the module docs. `default_account_id` applies to entries
    /// without `account_id`.
    pub fn from_toml_str(
        text: &str,
        default_account_id: &str,
    ) -> Result<Self, CredentialsFileError> {
        Self::parse(text, default_account_id, None)
    }

    /// Reads and parses a credentials file.
    pub fn load_file(path: &Path, default_account_id: &str) -> Result<Self, CredentialsFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CredentialsFileError::Read {
            path: shown.clone(),
            source,
        })?;
        let text = zeroize::Zeroizing::new(text);
        Self::parse(&text, default_account_id, Some(shown))
    }

    fn parse(
        text: &str,
        default_account_id: &str,
        path: Option<String>,
    ) -> Result<Self, CredentialsFileError> {
        let shape: FileShape = toml::from_str(text).map_err(|e| CredentialsFileError::Syntax {
            path: path.clone(),
            // toml's message quotes the offending line; for a misplaced secret that line is a
            // secret, so keep only the first line of the explanation plus its position.
            message: syntax_message(&e),
        })?;
        if shape.credentials.is_empty() {
            return Err(CredentialsFileError::Empty { path });
        }
        let mut out = Self::new();
        for (i, e) in shape.credentials.iter().enumerate() {
            let invalid = |problem: &str| CredentialsFileError::Invalid {
                path: path.clone(),
                index: i + 1,
                access_key_id: if valid_access_key_id(&e.access_key_id) {
                    e.access_key_id.clone()
                } else {
                    "?".to_owned()
                },
                problem: problem.to_owned(),
            };
            if !valid_access_key_id(&e.access_key_id) {
                return Err(invalid(
                    "access_key_id must be 1-128 printable ASCII characters without '/', spaces or ','",
                ));
            }
            if e.secret_access_key.is_empty() {
                return Err(invalid("secret_access_key is empty"));
            }
            if e.session_token.as_deref() == Some("") {
                return Err(invalid("session_token is empty (omit it instead)"));
            }
            let account = e.account_id.as_deref().unwrap_or(default_account_id);
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("account_id must be exactly 12 digits"));
            }
            let principal = e.principal.as_deref().unwrap_or("root");
            if !valid_principal(principal) {
                return Err(invalid(
                    "principal must be 'root' or a path such as 'user/alice' or 'role/deployer'",
                ));
            }
            if out.by_key.contains_key(&e.access_key_id) {
                return Err(invalid("access_key_id appears more than once"));
            }
            let mut c = Credential::new(
                e.access_key_id.clone(),
                e.secret_access_key.clone(),
                account,
            )
            .with_principal(principal);
            if let Some(t) = &e.session_token {
                c = c.with_session_token(t.clone());
            }
            out.insert(c);
        }
        Ok(out)
    }
}

fn syntax_message(e: &toml::de::Error) -> String {
    let msg = e.message().to_owned();
    match e.span() {
        Some(span) => format!("{msg} (at byte {})", span.start),
        None => msg,
    }
}

/// The access key id appears inside `Credential=akid/date/...`, so it cannot contain the
/// separators of that header.
fn valid_access_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b',' && b != b'=')
}

fn valid_principal(p: &str) -> bool {
    if p == "root" {
        return true;
    }
    let mut parts = p.split('/');
    let kind_ok = matches!(
        parts.next(),
        Some("user" | "role" | "assumed-role" | "federated-user")
    );
    let rest: Vec<&str> = parts.collect();
    kind_ok
        && !rest.is_empty()
        && rest.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "000000000000";

    #[test]
    fn a_full_file_is_loaded_with_defaults_applied() {
        let s = StaticCredentials::from_toml_str(
            r#"
            [[credentials]]
            access_key_id = "AKIDALICE"
            secret_access_key = "alice-secret"
            account_id = "123456789012"
            principal = "user/alice"

            [[credentials]]
            access_key_id = "ASIATEMP"
            secret_access_key = "temp-secret"
            session_token = "tok"
            "#,
            ACCOUNT,
        )
        .unwrap();
        assert_eq!(s.access_key_ids(), vec!["AKIDALICE", "ASIATEMP"]);
        let alice = s.lookup("AKIDALICE").unwrap();
        assert_eq!(alice.account_id(), "123456789012");
        assert_eq!(
            alice.principal_arn(),
            "arn:aws:iam::123456789012:user/alice"
        );
        assert!(alice.session_token().is_none());
        let temp = s.lookup("ASIATEMP").unwrap();
        assert_eq!(temp.principal_arn(), "arn:aws:iam::000000000000:root");
        assert_eq!(temp.session_token().unwrap().expose(), "tok");
        assert!(s.lookup("nobody").is_none());
        assert!(!s.is_only_local_default());
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let s = StaticCredentials::from_toml_str(
            r#"[[credentials]]
            access_key_id = "AKID"
            secret_access_key = "very-secret-value"
            session_token = "very-secret-token""#,
            ACCOUNT,
        )
        .unwrap();
        let shown = format!("{s:?}");
        assert!(shown.contains("AKID"));
        assert!(!shown.contains("very-secret"), "{shown}");
    }

    #[test]
    fn the_local_default_is_recognised() {
        let s = StaticCredentials::local_default(ACCOUNT);
        assert!(s.is_only_local_default());
        let c = s.lookup("test").unwrap();
        assert_eq!(c.secret_access_key().expose(), "test");
        assert_eq!(c.principal_arn(), "arn:aws:iam::000000000000:root");
    }

    #[test]
    fn assumed_roles_are_sts_principals() {
        let c = Credential::new("A", "s", "111111111111").with_principal("assumed-role/r/sess");
        assert_eq!(
            c.principal_arn(),
            "arn:aws:sts::111111111111:assumed-role/r/sess"
        );
    }

    fn error_of(text: &str) -> String {
        StaticCredentials::from_toml_str(text, ACCOUNT)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn bad_files_are_refused_with_a_clear_message_and_no_secret() {
        let e = error_of("[[credentials]]\naccess_key_id = \"A\"\n");
        assert!(e.contains("secret_access_key"), "{e}");

        let e = error_of(
            "[[credentials]]\naccess_key_id = \"A\"\nsecret_key = \"oops-secret\"\nsecret_access_key = \"x\"\n",
        );
        assert!(e.contains("secret_key"), "{e}");
        assert!(!e.contains("oops-secret"), "{e}");

        let e =
            error_of("[[credentials]]\naccess_key_id = \"A/B\"\nsecret_access_key = \"hidden\"\n");
        assert!(e.contains("entry 1 (?)") && e.contains("'/'"), "{e}");

        let e = error_of(
            "[[credentials]]\naccess_key_id = \"A\"\nsecret_access_key = \"s\"\naccount_id = \"12\"\n",
        );
        assert!(e.contains("entry 1 (A)") && e.contains("12 digits"), "{e}");

        let e = error_of(
            "[[credentials]]\naccess_key_id = \"A\"\nsecret_access_key = \"s\"\nprincipal = \"alice\"\n",
        );
        assert!(e.contains("principal"), "{e}");

        let e = error_of(
            "[[credentials]]\naccess_key_id = \"A\"\nsecret_access_key = \"s\"\n[[credentials]]\naccess_key_id = \"A\"\nsecret_access_key = \"t\"\n",
        );
        assert!(
            e.contains("entry 2 (A)") && e.contains("more than once"),
            "{e}"
        );

        let e = error_of("");
        assert!(e.contains("no [[credentials]]"), "{e}");

        let e = error_of("this is = = not toml");
        assert!(e.starts_with("credentials file:"), "{e}");
    }

    #[test]
    fn load_file_names_the_path() {
        let missing = Path::new("/nonexistent/kubecs/credentials.toml");
        let e = StaticCredentials::load_file(missing, ACCOUNT)
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/kubecs/credentials.toml"), "{e}");
    }
}
