//! `env:NAME` / `file:/path` secret references.
//!
//! Every message built here names the variable or the file, never the value: these strings end up
//! in `teledesk check` output, logs and bug reports.

use crate::telegram::texts::ops::ConfigText;
use teledesk_adapter::Secret;

/// Keys whose values are credentials, in daemon and adapter tables alike.
///
/// The rule is by name so that adapters get `env:`/`file:` support without declaring anything,
/// and so that `Debug` of a helpdesk table can redact the same keys.
pub(crate) fn is_secret_key(key: &str) -> bool {
    matches!(
        key,
        "token" | "password" | "api_key" | "secret" | "user_token" | "app_token"
    ) || key.ends_with("_token")
        || key.ends_with("_secret")
        || key.ends_with("_password")
}

/// A resolved secret, and whether it was written literally (which deserves a warning).
pub(crate) struct Resolved {
    pub(crate) secret: Secret,
    pub(crate) literal: bool,
}

/// Resolves a secret reference. `Err` carries a message that is safe to print.
pub(crate) fn resolve(
    raw: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, ConfigText> {
    if let Some(name) = raw.strip_prefix("env:") {
        if name.is_empty() {
            return Err(ConfigText::EnvNeedsName);
        }
        let name = name.to_owned();
        return match env(&name) {
            None => Err(ConfigText::EnvNotSet { name }),
            Some(value) if value.is_empty() => Err(ConfigText::EnvEmpty { name }),
            Some(value) => Ok(Resolved {
                secret: Secret::new(value),
                literal: false,
            }),
        };
    }
    if let Some(path) = raw.strip_prefix("file:") {
        if path.is_empty() {
            return Err(ConfigText::FileNeedsPath);
        }
        let content = std::fs::read_to_string(path).map_err(|err| ConfigText::FileUnreadable {
            path: path.to_owned(),
            why: err.kind().to_string(),
        })?;
        // Editors and `echo` add a trailing newline that is never part of the credential.
        let value = content.trim_end_matches(['\n', '\r']);
        if value.is_empty() {
            return Err(ConfigText::FileEmpty {
                path: path.to_owned(),
            });
        }
        return Ok(Resolved {
            secret: Secret::new(value),
            literal: false,
        });
    }
    if raw.is_empty() {
        return Err(ConfigText::SecretEmpty);
    }
    Ok(Resolved {
        secret: Secret::new(raw),
        literal: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn secret_keys_by_name() {
        for key in [
            "token",
            "password",
            "api_key",
            "secret",
            "user_token",
            "app_token",
            "bot_token",
            "client_secret",
            "admin_password",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "url",
            "tokens",
            "token_url",
            "board_id",
            "secretary",
            "kind",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn env_reference() {
        let env = |name: &str| (name == "TOKEN").then(|| "s3cr3t".to_string());
        let resolved = resolve("env:TOKEN", &env).unwrap();
        assert_eq!(resolved.secret.expose(), "s3cr3t");
        assert!(!resolved.literal);
    }

    #[test]
    fn env_missing_names_the_variable() {
        let err = resolve("env:KAITEN_TOKEN", &no_env).err().unwrap();
        assert_eq!(
            err.to_string(),
            "environment variable `KAITEN_TOKEN` is not set"
        );
    }

    #[test]
    fn env_empty_is_an_error() {
        let env = |_: &str| Some(String::new());
        let err = resolve("env:X", &env).err().unwrap();
        assert_eq!(err.to_string(), "environment variable `X` is empty");
        assert!(resolve("env:", &no_env).is_err());
    }

    #[test]
    fn file_reference_trims_the_trailing_newline() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "s3cr3t").unwrap();
        let raw = format!("file:{}", file.path().display());
        let resolved = resolve(&raw, &no_env).unwrap();
        assert_eq!(resolved.secret.expose(), "s3cr3t");
        assert!(!resolved.literal);
    }

    #[test]
    fn file_unreadable_names_the_path_and_the_error_kind() {
        let err = resolve("file:/nonexistent/teledesk/token", &no_env)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "cannot read secret file `/nonexistent/teledesk/token`: entity not found"
        );
    }

    #[test]
    fn file_empty_is_an_error() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let err = resolve(&format!("file:{}", file.path().display()), &no_env)
            .err()
            .unwrap();
        assert!(err.to_string().ends_with("is empty"), "{err}");
    }

    #[test]
    fn literal_is_accepted_and_flagged() {
        let resolved = resolve("123:ABC", &no_env).unwrap();
        assert_eq!(resolved.secret.expose(), "123:ABC");
        assert!(resolved.literal);
        assert!(resolve("", &no_env).is_err());
    }
}
