//! Signed chat tokens for deep links (`/start new_<token>`) and the pinned «Новая заявка» post:
//! the chat a new ticket is for comes from a token teledesk signed, never from what a client
//! typed. The key is derived from the bot token, so nothing extra is configured and a token made
//! for one bot is worthless for another.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use teledesk_adapter::Secret;

type HmacSha256 = Hmac<Sha256>;

/// `/start` payloads allow `A-Z a-z 0-9 _ -` and 64 characters; this stays well within both.
const TAG_BYTES: usize = 8;

fn mac(bot_token: &Secret, chat_id: i64) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(bot_token.expose().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"teledesk chat token\0");
    mac.update(chat_id.to_string().as_bytes());
    mac
}

/// The token for `chat_id`: `n1001234567890_<16 hex>` (`n` for a negative id).
pub fn sign(bot_token: &Secret, chat_id: i64) -> String {
    let tag = mac(bot_token, chat_id).finalize().into_bytes();
    let id = if chat_id < 0 {
        format!("n{}", chat_id.unsigned_abs())
    } else {
        chat_id.to_string()
    };
    format!("{id}_{}", hex::encode(&tag[..TAG_BYTES]))
}

/// The chat a token was signed for, or `None` for anything forged, truncated or malformed.
pub fn verify(bot_token: &Secret, token: &str) -> Option<i64> {
    let (id, tag) = token.split_once('_')?;
    let chat_id: i64 = match id.strip_prefix('n') {
        Some(digits) => -digits.parse::<i64>().ok()?,
        None => id.parse().ok()?,
    };
    let tag = hex::decode(tag).ok()?;
    if tag.len() != TAG_BYTES {
        return None;
    }
    // Constant-time comparison of the truncated tag.
    mac(bot_token, chat_id).verify_truncated_left(&tag).ok()?;
    Some(chat_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_token_verifies_and_fits_a_start_payload() {
        let key = Secret::new("123:abc".to_owned());
        let token = sign(&key, -1001234567890);
        assert_eq!(verify(&key, &token), Some(-1001234567890));
        let payload = format!("new_{token}");
        assert!(payload.len() <= 64, "{payload}");
        assert!(
            payload
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        );
    }

    #[test]
    fn forged_and_foreign_tokens_are_refused() {
        let key = Secret::new("123:abc".to_owned());
        let token = sign(&key, -1001234567890);
        let other_chat = token.replacen("n1001234567890", "n1001234567891", 1);
        assert_eq!(verify(&key, &other_chat), None);
        assert_eq!(verify(&Secret::new("456:def".to_owned()), &token), None);
        assert_eq!(verify(&key, &token[..token.len() - 2]), None);
        assert_eq!(verify(&key, "n1001234567890"), None);
        assert_eq!(verify(&key, "garbage_zz"), None);
    }
}
