//! Mini App launches as Telegram makes them: `initData` signed with the bot's token (HMAC-SHA256
//! keyed with `HMAC_SHA256("WebAppData", token)` over the sorted `key=value` lines), handed to the
//! page in the URL fragment with the theme. Tests open the daemon's page with these, forge them,
//! and let a user grant the bot write access as the app's `requestWriteAccess` prompt would.

use super::FakeTelegram;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Telegram's light and dark theme parameters (as Telegram Desktop sends them).
#[derive(Clone, Copy, Debug)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    /// The `ThemeParams` JSON.
    pub fn params(self) -> Value {
        match self {
            Theme::Light => json!({
                "bg_color": "#ffffff", "text_color": "#000000", "hint_color": "#999999",
                "link_color": "#2481cc", "button_color": "#2481cc", "button_text_color": "#ffffff",
                "secondary_bg_color": "#efeff3", "header_bg_color": "#ffffff",
                "accent_text_color": "#2481cc", "section_bg_color": "#ffffff",
                "section_header_text_color": "#6d6d71", "subtitle_text_color": "#999999",
                "destructive_text_color": "#ff3b30"
            }),
            Theme::Dark => json!({
                "bg_color": "#212121", "text_color": "#ffffff", "hint_color": "#aaaaaa",
                "link_color": "#8774e1", "button_color": "#8774e1", "button_text_color": "#ffffff",
                "secondary_bg_color": "#0f0f0f", "header_bg_color": "#212121",
                "accent_text_color": "#8774e1", "section_bg_color": "#212121",
                "section_header_text_color": "#aaaaaa", "subtitle_text_color": "#aaaaaa",
                "destructive_text_color": "#e53935"
            }),
        }
    }
}

/// Signs launch fields the way Telegram does and returns the `initData` query string.
pub fn sign_init_data(bot_token: &str, fields: &[(&str, String)]) -> String {
    let mut sorted: Vec<&(&str, String)> = fields.iter().collect();
    sorted.sort_by_key(|(key, _)| *key);
    let check_string = sorted
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut secret = HmacSha256::new_from_slice(b"WebAppData").expect("any key length");
    secret.update(bot_token.as_bytes());
    let secret = secret.finalize().into_bytes();
    let mut mac = HmacSha256::new_from_slice(&secret).expect("any key length");
    mac.update(check_string.as_bytes());
    let hash = hex::encode(mac.finalize().into_bytes());
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in fields {
        query.append_pair(key, value);
    }
    query.append_pair("hash", &hash);
    query.finish()
}

/// The URL fragment (without `#`) Telegram opens the app with.
pub fn launch_fragment(init_data: &str, theme: Theme) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("tgWebAppData", init_data)
        .append_pair("tgWebAppVersion", "8.0")
        .append_pair("tgWebAppPlatform", "tdesktop")
        .append_pair("tgWebAppThemeParams", &theme.params().to_string())
        .finish()
}

impl FakeTelegram {
    /// The launch data Telegram gives the bot's Mini App opened by `user_id` from a direct link
    /// with `startapp=<start_param>` in a channel, signed at `auth_date` (seconds since the epoch).
    pub fn mini_app_init_data(&self, user_id: i64, start_param: &str, auth_date: i64) -> String {
        let (user, chat_instance) = {
            let world = self.shared.world();
            let rec = world
                .users
                .get(&user_id)
                .unwrap_or_else(|| panic!("mini_app_init_data: unknown user {user_id}"));
            let mut user = json!({
                "id": rec.id,
                "first_name": rec.first_name,
                "language_code": "ru",
                "allows_write_to_pm": rec.can_dm,
            });
            if let Some(last) = &rec.last_name {
                user["last_name"] = json!(last);
            }
            if let Some(username) = &rec.username {
                user["username"] = json!(username);
            }
            (user, format!("-{}", 4_000_000_000_000_000_000i64 + user_id))
        };
        sign_init_data(
            &self.token(),
            &[
                ("user", user.to_string()),
                ("chat_instance", chat_instance),
                ("chat_type", "channel".to_owned()),
                ("start_param", start_param.to_owned()),
                ("auth_date", auth_date.to_string()),
                (
                    "signature",
                    "fake-ed25519-signature-not-checked-by-first-party".to_owned(),
                ),
            ],
        )
    }

    /// The user answers the Mini App's write-access prompt with «Allow»: the bot may DM them and
    /// receives `write_access_allowed` in their private chat.
    pub fn grant_write_access(&self, user_id: i64) -> i32 {
        self.mutate(true, |w| w.grant_write_access(user_id))
    }
}
