//! Mini App launch data (`initData`), checked the way Telegram prescribes for first-party
//! backends: HMAC-SHA256 over the sorted `key=value` lines, keyed with
//! `HMAC_SHA256(key = "WebAppData", msg = bot token)`, compared in constant time, and not older
//! than the configured age (`reference/telegram.md` §3). Nothing in it is trusted before that.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::time::Duration;
use teledesk_adapter::Secret;

type HmacSha256 = Hmac<Sha256>;

/// How far in the future `auth_date` may be: clocks of phones and servers disagree a little.
const CLOCK_SKEW: i64 = 300;

/// The fields teledesk uses, from launch data that passed the check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitData {
    pub user: WebAppUser,
    /// Seconds since the epoch when Telegram signed the data.
    pub auth_date: i64,
    /// The `startapp` parameter of the link the app was opened with.
    pub start_param: Option<String>,
}

/// `WebAppUser`: who opened the app.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct WebAppUser {
    pub id: i64,
    pub first_name: String,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub language_code: Option<String>,
    /// Whether the bot may write to the user (they started it, or allowed it in a Mini App).
    #[serde(default)]
    pub allows_write_to_pm: Option<bool>,
}

/// Why launch data was refused. The messages never echo the data itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InitDataError {
    #[error("no launch data")]
    Missing,
    #[error("malformed launch data: {0}")]
    Malformed(&'static str),
    #[error("launch data signature does not match")]
    BadSignature,
    #[error("launch data is {age_secs} s old; at most {max_secs} s is accepted")]
    Expired { age_secs: i64, max_secs: u64 },
    #[error("launch data is dated in the future")]
    FromTheFuture,
}

/// Checks `raw` (the query string the app got as `Telegram.WebApp.initData`) with the bot's
/// token, at `now` (seconds since the epoch).
pub fn validate(
    raw: &str,
    bot_token: &Secret,
    now: i64,
    max_age: Duration,
) -> Result<InitData, InitDataError> {
    if raw.trim().is_empty() {
        return Err(InitDataError::Missing);
    }
    let mut fields = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        if fields
            .insert(key.into_owned(), value.into_owned())
            .is_some()
        {
            // Two values for one key: which one did Telegram sign? Neither is safe to pick.
            return Err(InitDataError::Malformed("a field appears twice"));
        }
    }
    let hash = fields
        .remove("hash")
        .ok_or(InitDataError::Malformed("no hash"))?;
    let hash = hex::decode(&hash).map_err(|_| InitDataError::Malformed("hash is not hex"))?;
    // Every other field is signed, `signature` included (the BTreeMap keeps them sorted by key).
    let check_string = fields
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut secret = HmacSha256::new_from_slice(b"WebAppData").expect("HMAC takes any key");
    secret.update(bot_token.expose().as_bytes());
    let secret = secret.finalize().into_bytes();
    let mut mac = HmacSha256::new_from_slice(&secret).expect("HMAC takes any key");
    mac.update(check_string.as_bytes());
    mac.verify_slice(&hash)
        .map_err(|_| InitDataError::BadSignature)?;

    let auth_date: i64 = fields
        .get("auth_date")
        .and_then(|d| d.parse().ok())
        .ok_or(InitDataError::Malformed("no auth_date"))?;
    let age = now - auth_date;
    if age < -CLOCK_SKEW {
        return Err(InitDataError::FromTheFuture);
    }
    if age > max_age.as_secs() as i64 {
        return Err(InitDataError::Expired {
            age_secs: age,
            max_secs: max_age.as_secs(),
        });
    }
    let user: WebAppUser = fields
        .get("user")
        .and_then(|u| serde_json::from_str(u).ok())
        .ok_or(InitDataError::Malformed("no user"))?;
    Ok(InitData {
        user,
        auth_date,
        start_param: fields.remove("start_param"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "123456789:TEST_ONLY_fake_token_for_vectors";
    /// The synthetic direct-link vector of `reference/telegram.md` §3.
    const VECTOR: &str = "auth_date=1700000000&user=%7B%22id%22%3A42%2C%22first_name%22%3A%22Ann%22%2C%22username%22%3A%22ann%22%7D&start_param=c_17&chat_type=channel&chat_instance=-4242424242&hash=1cad89128289411e561ca48301d74141412ec70bf27b953c25c345eec151af16";
    const HOUR: Duration = Duration::from_secs(3600);

    fn token() -> Secret {
        Secret::new(TOKEN.to_owned())
    }

    fn check(raw: &str) -> Result<InitData, InitDataError> {
        validate(raw, &token(), 1_700_000_060, HOUR)
    }

    #[test]
    fn the_reference_vector_validates() {
        let data = check(VECTOR).expect("valid");
        assert_eq!(data.user.id, 42);
        assert_eq!(data.user.first_name, "Ann");
        assert_eq!(data.user.username.as_deref(), Some("ann"));
        assert_eq!(data.start_param.as_deref(), Some("c_17"));
        assert_eq!(data.auth_date, 1_700_000_000);
    }

    #[test]
    fn field_order_does_not_matter() {
        let mut parts: Vec<&str> = VECTOR.split('&').collect();
        parts.reverse();
        assert!(check(&parts.join("&")).is_ok());
    }

    #[test]
    fn tampered_fields_are_refused() {
        for (from, to) in [
            ("start_param=c_17", "start_param=c_18"),
            ("%22id%22%3A42", "%22id%22%3A43"),
            ("auth_date=1700000000", "auth_date=1700000001"),
            ("chat_type=channel", "chat_type=group"),
            ("hash=1cad", "hash=0cad"),
        ] {
            let forged = VECTOR.replace(from, to);
            assert_ne!(forged, VECTOR);
            assert_eq!(check(&forged), Err(InitDataError::BadSignature), "{from}");
        }
        // An added field is covered by the signature too.
        let added = VECTOR.replace("&hash=", "&query_id=AAA&hash=");
        assert_eq!(check(&added), Err(InitDataError::BadSignature));
        // A dropped field as well.
        let dropped = VECTOR.replace("chat_type=channel&", "");
        assert_eq!(check(&dropped), Err(InitDataError::BadSignature));
    }

    #[test]
    fn another_bots_token_does_not_validate() {
        let other = Secret::new("987654321:another".to_owned());
        assert_eq!(
            validate(VECTOR, &other, 1_700_000_060, HOUR),
            Err(InitDataError::BadSignature)
        );
    }

    #[test]
    fn the_reversed_key_derivation_does_not_validate() {
        // The doc's `HMAC_SHA256(<bot_token>, "WebAppData")` read the wrong way round.
        let mut secret = HmacSha256::new_from_slice(TOKEN.as_bytes()).unwrap();
        secret.update(b"WebAppData");
        let secret = secret.finalize().into_bytes();
        let check_string = "auth_date=1700000000\nchat_instance=-4242424242\nchat_type=channel\nstart_param=c_17\nuser={\"id\":42,\"first_name\":\"Ann\",\"username\":\"ann\"}";
        let mut mac = HmacSha256::new_from_slice(&secret).unwrap();
        mac.update(check_string.as_bytes());
        let wrong = hex::encode(mac.finalize().into_bytes());
        let forged = VECTOR.replace(
            "1cad89128289411e561ca48301d74141412ec70bf27b953c25c345eec151af16",
            &wrong,
        );
        assert_eq!(check(&forged), Err(InitDataError::BadSignature));
    }

    #[test]
    fn stale_and_future_data_is_refused() {
        assert_eq!(
            validate(VECTOR, &token(), 1_700_000_000 + 3601, HOUR),
            Err(InitDataError::Expired {
                age_secs: 3601,
                max_secs: 3600
            })
        );
        assert!(validate(VECTOR, &token(), 1_700_000_000 + 3600, HOUR).is_ok());
        assert_eq!(
            validate(VECTOR, &token(), 1_700_000_000 - 301, HOUR),
            Err(InitDataError::FromTheFuture)
        );
        assert!(validate(VECTOR, &token(), 1_700_000_000 - 299, HOUR).is_ok());
    }

    #[test]
    fn malformed_data_is_refused_without_echoing_it() {
        assert_eq!(check(""), Err(InitDataError::Missing));
        assert_eq!(
            check("auth_date=1700000000&user=%7B%7D"),
            Err(InitDataError::Malformed("no hash"))
        );
        assert_eq!(
            check(&VECTOR.replace("hash=1cad", "hash=zzad")),
            Err(InitDataError::Malformed("hash is not hex"))
        );
        let doubled = format!("{VECTOR}&auth_date=1");
        assert_eq!(
            check(&doubled),
            Err(InitDataError::Malformed("a field appears twice"))
        );
        let message = check(&VECTOR.replace("c_17", "c_19"))
            .unwrap_err()
            .to_string();
        assert!(
            !message.contains("Ann") && !message.contains("c_19"),
            "{message}"
        );
    }
}
