//! `parse_mode=HTML`, parsed the way TDLib's `parse_html` does it, so the fake accepts and rejects
//! the same markup as the real server and reports the same error reasons.
//!
//! Notable TDLib behaviour kept on purpose: a `&` that does not start a known entity (`&lt;`,
//! `&gt;`, `&amp;`, `&quot;`, numeric) is taken literally, and the trailing `;` of an entity is
//! optional; any `<` must start a supported tag.

use serde_json::{Value, json};

/// A formatting entity with offsets in UTF-16 code units, as the Bot API reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entity {
    pub kind: &'static str,
    pub offset: usize,
    pub length: usize,
    /// `url` for text links, `language` for pre, `custom_emoji_id` for custom emoji.
    pub argument: Option<String>,
}

impl Entity {
    pub(crate) fn to_json(&self) -> Value {
        let mut value = json!({"type": self.kind, "offset": self.offset, "length": self.length});
        if let Some(argument) = &self.argument {
            let key = match self.kind {
                "text_link" => "url",
                "pre" => "language",
                "custom_emoji" => "custom_emoji_id",
                _ => return value,
            };
            value[key] = json!(argument);
        }
        value
    }
}

/// Text plus entities after parsing and Telegram's whitespace trimming.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Formatted {
    pub text: String,
    pub entities: Vec<Entity>,
}

impl Formatted {
    /// Plain text without markup, trimmed like every text the server accepts.
    pub(crate) fn plain(text: &str) -> Formatted {
        trim(Formatted {
            text: text.to_owned(),
            entities: Vec::new(),
        })
    }

    pub(crate) fn utf16_len(&self) -> usize {
        utf16_len(&self.text)
    }

    pub(crate) fn entities_json(&self) -> Vec<Value> {
        self.entities.iter().map(Entity::to_json).collect()
    }
}

pub(crate) fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

const TAGS: &[&str] = &[
    "a",
    "b",
    "strong",
    "i",
    "em",
    "s",
    "strike",
    "del",
    "u",
    "ins",
    "tg-spoiler",
    "tg-emoji",
    "span",
    "pre",
    "code",
    "blockquote",
];

struct Open {
    tag: String,
    argument: Option<String>,
    offset: usize,
    byte_start: usize,
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

/// Decodes the entity at `pos` (which holds `&`), returning the character and the position after
/// it, or `None` when TDLib would keep the `&` literally.
fn decode_entity(bytes: &[u8], pos: usize) -> Option<(char, usize)> {
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let mut end = pos + 1;
    let code: u32;
    if at(pos + 1) == b'#' {
        end += 1;
        let mut value: u64 = 0;
        if at(pos + 2) == b'x' {
            end += 1;
            while at(end).is_ascii_hexdigit() {
                value = value * 16 + u64::from((at(end) as char).to_digit(16).unwrap_or(0));
                value = value.min(u64::from(u32::MAX));
                end += 1;
            }
        } else {
            while at(end).is_ascii_digit() {
                value = value * 10 + u64::from(at(end) - b'0');
                value = value.min(u64::from(u32::MAX));
                end += 1;
            }
        }
        if value == 0 || value >= 0x10ffff || end - pos >= 10 {
            return None;
        }
        code = value as u32;
    } else {
        while at(end).is_ascii_alphabetic() {
            end += 1;
        }
        code = match &bytes[pos + 1..end] {
            b"lt" => '<' as u32,
            b"gt" => '>' as u32,
            b"amp" => '&' as u32,
            b"quot" => '"' as u32,
            _ => return None,
        };
    }
    if at(end) == b';' {
        end += 1;
    }
    // Lone surrogates decode to no char; TDLib refuses them with its own message.
    let ch = char::from_u32(code).unwrap_or('\u{fffd}');
    Some((ch, end))
}

fn normalize_url(url: &str) -> Option<String> {
    let url = url.trim();
    if url.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let lower = url.to_ascii_lowercase();
    let with_scheme = if let Some(pos) = lower.find("://") {
        let scheme = &lower[..pos];
        if !matches!(scheme, "http" | "https" | "tg" | "ton" | "ftp") {
            return None;
        }
        url.to_owned()
    } else if lower.starts_with("tg:") || lower.starts_with("mailto:") {
        return Some(url.to_owned());
    } else {
        format!("http://{url}")
    };
    let rest = &with_scheme[with_scheme.find("://")? + 3..];
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..host_end];
    if host.is_empty() {
        return None;
    }
    if host_end == rest.len() && !with_scheme.starts_with("tg:") {
        // The server canonicalises a bare host to end with "/", as URL parsers do.
        return Some(format!("{with_scheme}/"));
    }
    Some(with_scheme)
}

/// Parses `html` like the Bot API with `parse_mode=HTML`. The error is the reason that follows
/// "Bad Request: can't parse entities: ".
pub(crate) fn parse(html: &str) -> Result<Formatted, String> {
    let bytes = html.as_bytes();
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let mut result = String::with_capacity(html.len());
    let mut utf16_offset = 0usize;
    let mut entities: Vec<Entity> = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    let mut i = 0usize;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'&'
            && let Some((ch, next)) = decode_entity(bytes, i)
        {
            if ch == '\u{fffd}' {
                return Err(
                    "Text contains invalid Unicode characters after decoding HTML \
                                entities, check for unmatched surrogate code units"
                        .to_owned(),
                );
            }
            result.push(ch);
            utf16_offset += ch.len_utf16();
            i = next;
            continue;
        }
        if c != b'<' {
            // Copy one whole UTF-8 character.
            let ch = html[i..].chars().next().unwrap_or('\u{fffd}');
            result.push(ch);
            utf16_offset += ch.len_utf16();
            i += ch.len_utf8();
            continue;
        }
        let begin = i;
        i += 1;
        if at(i) != b'/' {
            while at(i) != 0 && !is_space(at(i)) && at(i) != b'>' {
                i += 1;
            }
            if at(i) == 0 {
                return Err(format!("Unclosed start tag at byte offset {begin}"));
            }
            let tag = String::from_utf8_lossy(&bytes[begin + 1..i]).to_lowercase();
            if !TAGS.contains(&tag.as_str()) {
                return Err(format!(
                    "Unsupported start tag \"{tag}\" at byte offset {begin}"
                ));
            }
            let mut argument: Option<String> = None;
            while at(i) != b'>' {
                while at(i) != 0 && is_space(at(i)) {
                    i += 1;
                }
                if at(i) == b'>' {
                    break;
                }
                let name_start = i;
                while at(i) != 0 && !is_space(at(i)) && at(i) != b'=' && at(i) != b'>' {
                    i += 1;
                }
                let name = String::from_utf8_lossy(&bytes[name_start..i]).to_string();
                if name.is_empty() {
                    return Err(format!(
                        "Empty attribute name in the tag \"{tag}\" at byte offset {begin}"
                    ));
                }
                while at(i) != 0 && is_space(at(i)) {
                    i += 1;
                }
                if at(i) != b'=' {
                    if tag == "blockquote" && name == "expandable" {
                        argument = Some(String::new());
                        continue;
                    }
                    if at(i) == 0 {
                        return Err(format!(
                            "Unclosed start tag \"{tag}\" at byte offset {begin}"
                        ));
                    }
                    return Err(format!(
                        "Expected equal sign in declaration of an attribute of the tag \"{tag}\" \
                         at byte offset {begin}"
                    ));
                }
                i += 1;
                while at(i) != 0 && is_space(at(i)) {
                    i += 1;
                }
                if at(i) == 0 {
                    return Err(format!(
                        "Unclosed start tag \"{tag}\" at byte offset {begin}"
                    ));
                }
                let mut value = String::new();
                if at(i) != b'\'' && at(i) != b'"' {
                    let token_start = i;
                    while at(i).is_ascii_alphanumeric() || at(i) == b'.' || at(i) == b'-' {
                        i += 1;
                    }
                    value = String::from_utf8_lossy(&bytes[token_start..i]).to_lowercase();
                    if !is_space(at(i)) && at(i) != b'>' {
                        return Err(format!(
                            "Unexpected end of name token at byte offset {token_start}"
                        ));
                    }
                } else {
                    let quote = at(i);
                    i += 1;
                    let mut raw: Vec<u8> = Vec::new();
                    while at(i) != quote && at(i) != 0 {
                        if at(i) == b'&'
                            && let Some((ch, next)) = decode_entity(bytes, i)
                        {
                            let mut buf = [0u8; 4];
                            raw.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            i = next;
                            continue;
                        }
                        raw.push(at(i));
                        i += 1;
                    }
                    if at(i) == quote {
                        i += 1;
                    }
                    value.push_str(&String::from_utf8_lossy(&raw));
                }
                if at(i) == 0 {
                    return Err(format!("Unclosed start tag at byte offset {begin}"));
                }
                match (tag.as_str(), name.as_str()) {
                    ("a", "href") => argument = Some(value),
                    ("code", "class") => {
                        if let Some(language) = value.strip_prefix("language-") {
                            argument = Some(language.to_owned());
                        }
                    }
                    ("span", "class") => {
                        if let Some(class) = value.strip_prefix("tg-") {
                            argument = Some(class.to_owned());
                        }
                    }
                    ("tg-emoji", "emoji-id") => argument = Some(value),
                    _ => {}
                }
            }
            i += 1;
            if tag == "span" && argument.as_deref() != Some("spoiler") {
                return Err(format!(
                    "Tag \"span\" must have class \"tg-spoiler\" at byte offset {begin}"
                ));
            }
            open.push(Open {
                tag,
                argument,
                offset: utf16_offset,
                byte_start: result.len(),
            });
        } else {
            let Some(top) = open.pop() else {
                return Err(format!("Unexpected end tag at byte offset {begin}"));
            };
            i += 1;
            let name_start = i;
            while at(i) != 0 && !is_space(at(i)) && at(i) != b'>' {
                i += 1;
            }
            let end_name = String::from_utf8_lossy(&bytes[name_start..i]).to_string();
            while at(i) != 0 && is_space(at(i)) {
                i += 1;
            }
            if at(i) != b'>' {
                return Err(format!("Unclosed end tag at byte offset {begin}"));
            }
            i += 1;
            if !end_name.is_empty() && end_name != top.tag {
                return Err(format!(
                    "Unmatched end tag at byte offset {begin}, expected \"</{}>\", found \"</{end_name}>\"",
                    top.tag
                ));
            }
            if utf16_offset > top.offset {
                close_entity(&mut entities, top, utf16_offset, &result);
            }
        }
    }
    if let Some(top) = open.last() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{}\"",
            top.tag
        ));
    }
    for entity in &mut entities {
        if entity.kind == "code" {
            entity.argument = None;
        }
    }
    // Stable sort keeps inner-before-outer order for entities with equal spans, as TDLib does.
    entities.sort_by(|a, b| a.offset.cmp(&b.offset).then(b.length.cmp(&a.length)));
    Ok(trim(Formatted {
        text: result,
        entities,
    }))
}

fn close_entity(entities: &mut Vec<Entity>, top: Open, end: usize, result: &str) {
    let offset = top.offset;
    let length = end - offset;
    let same_span = |e: &Entity| e.offset == offset && e.length == length;
    let (kind, argument): (&'static str, Option<String>) = match top.tag.as_str() {
        "b" | "strong" => ("bold", None),
        "i" | "em" => ("italic", None),
        "u" | "ins" => ("underline", None),
        "s" | "strike" | "del" => ("strikethrough", None),
        "tg-spoiler" | "span" => ("spoiler", None),
        "tg-emoji" => match top.argument {
            Some(id) if !id.is_empty() => ("custom_emoji", Some(id)),
            _ => return,
        },
        "blockquote" if top.argument.is_some() => ("expandable_blockquote", None),
        "blockquote" => ("blockquote", None),
        "a" => {
            let url = top
                .argument
                .filter(|url| !url.is_empty())
                .unwrap_or_else(|| result[top.byte_start..].to_owned());
            // An invalid URL silently drops the link, as on the real server.
            match normalize_url(&url) {
                Some(url) => ("text_link", Some(url)),
                None => return,
            }
        }
        "pre" => {
            if let Some(last) = entities.last_mut()
                && last.kind == "code"
                && same_span(last)
                && last.argument.as_deref().is_some_and(|l| !l.is_empty())
            {
                last.kind = "pre";
                return;
            }
            ("pre", None)
        }
        "code" => {
            if let Some(last) = entities.last_mut()
                && last.kind == "pre"
                && same_span(last)
                && let Some(language) = top.argument.as_ref().filter(|l| !l.is_empty())
            {
                last.argument = Some(language.clone());
                return;
            }
            ("code", top.argument)
        }
        _ => return,
    };
    entities.push(Entity {
        kind,
        offset,
        length,
        argument,
    });
}

/// Telegram strips leading and trailing whitespace from every text and caption, and entities
/// follow the trimmed text.
fn trim(formatted: Formatted) -> Formatted {
    let text = formatted.text;
    let trimmed_start = text.trim_start_matches(|c: char| c.is_whitespace());
    let cut_front = utf16_len(&text[..text.len() - trimmed_start.len()]);
    let trimmed = trimmed_start.trim_end_matches(|c: char| c.is_whitespace());
    let new_len = utf16_len(trimmed);
    let entities = formatted
        .entities
        .into_iter()
        .filter_map(|mut e| {
            let start = e.offset.saturating_sub(cut_front);
            let end = (e.offset + e.length).saturating_sub(cut_front).min(new_len);
            if end <= start {
                return None;
            }
            e.offset = start;
            e.length = end - start;
            Some(e)
        })
        .collect();
    Formatted {
        text: trimmed.to_owned(),
        entities,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(html: &str) -> (String, Vec<(&'static str, usize, usize)>) {
        let f = parse(html).unwrap_or_else(|e| panic!("{html}: {e}"));
        (
            f.text,
            f.entities
                .iter()
                .map(|e| (e.kind, e.offset, e.length))
                .collect(),
        )
    }

    #[test]
    fn errors_match_tdlib() {
        let cases = [
            ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
            (
                "🏟 🏟&lt;<abac aba>",
                "Unsupported start tag \"abac\" at byte offset 13",
            ),
            (
                "🏟 🏟&lt;<i   =aba>",
                "Empty attribute name in the tag \"i\" at byte offset 13",
            ),
            (
                "🏟 🏟&lt;<i    aba>",
                "Expected equal sign in declaration of an attribute of the tag \"i\" at byte offset 13",
            ),
            (
                "🏟 🏟&lt;<i    aba  =  ",
                "Unclosed start tag \"i\" at byte offset 13",
            ),
            (
                "🏟 🏟&lt;<i    aba  =  190azAz-.,",
                "Unexpected end of name token at byte offset 27",
            ),
            ("🏟 🏟&lt;</", "Unexpected end tag at byte offset 13"),
            ("🏟 🏟&lt;<b></b></", "Unexpected end tag at byte offset 20"),
            ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
            (
                "🏟 🏟&lt;<i>a</em   >",
                "Unmatched end tag at byte offset 17, expected \"</i>\", found \"</em>\"",
            ),
            ("a < b", "Unsupported start tag \"\" at byte offset 2"),
            (
                "<b>open",
                "Can't find end tag corresponding to start tag \"b\"",
            ),
            ("<br>", "Unsupported start tag \"br\" at byte offset 0"),
        ];
        for (html, reason) in cases {
            assert_eq!(parse(html).unwrap_err(), reason, "{html}");
        }
    }

    #[test]
    fn entities_and_text_match_tdlib() {
        assert_eq!(
            ok("&lt;&gt;&amp;&quot;&laquo;&raquo;&#12345678;").0,
            "<>&\"&laquo;&raquo;&#12345678;"
        );
        assert_eq!(
            ok("➡️ ➡️<i>➡️ ➡️</i>"),
            ("➡️ ➡️➡️ ➡️".into(), vec![("italic", 5, 5)])
        );
        assert_eq!(
            ok("🏟 🏟<i>🏟 &lt🏟</i>"),
            ("🏟 🏟🏟 <🏟".into(), vec![("italic", 5, 6)])
        );
        assert_eq!(
            ok("🏟 🏟<i>🏟 &gt;<b aba   =   caba>&lt🏟</b></i>"),
            ("🏟 🏟🏟 ><🏟".into(), vec![("italic", 5, 7), ("bold", 9, 3)])
        );
        assert_eq!(
            ok("x&lt;<i>a</    >"),
            ("x<a".into(), vec![("italic", 2, 1)])
        );
        assert_eq!(
            ok(
                "<u>u</u><s>s</s><del>d</del><tg-spoiler>p</tg-spoiler><span class=\"tg-spoiler\">q</span>"
            ),
            (
                "usdpq".into(),
                vec![
                    ("underline", 0, 1),
                    ("strikethrough", 1, 1),
                    ("strikethrough", 2, 1),
                    ("spoiler", 3, 1),
                    ("spoiler", 4, 1)
                ]
            )
        );
        assert_eq!(
            ok("<blockquote>q</blockquote><blockquote expandable>e</blockquote>").1,
            vec![("blockquote", 0, 1), ("expandable_blockquote", 1, 1)]
        );
        assert_eq!(ok("  <b> x </b>  "), ("x".into(), vec![("bold", 0, 1)]));
        assert_eq!(ok("<b></b>x"), ("x".into(), vec![]));
    }

    #[test]
    fn links_and_pre_code() {
        let f = parse(
            "<a href=\"https://example.com/t?a=1&amp;b=2\">link</a> <a href=telegram.org>t</a>",
        )
        .unwrap();
        assert_eq!(
            f.entities_json(),
            vec![
                json!({"type":"text_link","offset":0,"length":4,"url":"https://example.com/t?a=1&b=2"}),
                json!({"type":"text_link","offset":5,"length":1,"url":"http://telegram.org/"}),
            ]
        );
        let f = parse("<pre><code class=\"language-rust\">fn x</code></pre><code class=\"language-x\">y</code>")
            .unwrap();
        assert_eq!(
            f.entities_json(),
            vec![
                json!({"type":"pre","offset":0,"length":4,"language":"rust"}),
                json!({"type":"code","offset":4,"length":1}),
            ]
        );
        assert_eq!(ok("<pre>p</pre>").1, vec![("pre", 0, 1)]);
    }

    #[test]
    fn utf16_offsets() {
        let f = parse("😀 <b>ж😀</b>").unwrap();
        assert_eq!(
            f.entities_json(),
            vec![json!({"type":"bold","offset":3,"length":3})]
        );
        assert_eq!(f.utf16_len(), 6);
    }
}
