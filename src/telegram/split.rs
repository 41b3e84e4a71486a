//! Cutting HTML (Telegram `parse_mode=HTML`) into messages Telegram accepts.
//!
//! Telegram measures a text after entity parsing, in UTF-16 code units: 4096 for a message, 1024
//! for a caption. Markup costs nothing (`<b>` is free, `&amp;` is one unit) and an emoji outside
//! the Basic Multilingual Plane costs two, so neither byte nor `char` counts give the right
//! answer. Every text the bot sends goes through [`split_html`]; it never escapes anything, it
//! only cuts between visible characters and closes and reopens tags at the cuts.

/// Longest message text Telegram accepts, in UTF-16 units after entity parsing.
pub const TEXT_LIMIT: usize = 4096;
/// Longest media caption Telegram accepts, in UTF-16 units after entity parsing.
pub const CAPTION_LIMIT: usize = 1024;

/// One piece of the HTML: markup, or one visible character with the bytes that spell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token<'a> {
    /// `<name ...>`; `name` is lower-cased only in comparisons.
    Open { raw: &'a str, name: &'a str },
    /// `</name>`.
    Close { raw: &'a str, name: &'a str },
    /// A visible character: itself or an entity (`&lt;`, `&#128512;`).
    Char { raw: &'a str, ch: char },
}

impl Token<'_> {
    fn raw(&self) -> &str {
        match self {
            Token::Open { raw, .. } | Token::Close { raw, .. } | Token::Char { raw, .. } => raw,
        }
    }
}

/// The name of a tag from what stands between `<` (or `</`) and `>`.
fn tag_name(inner: &str) -> &str {
    let end = inner
        .find(|c: char| c.is_whitespace() || c == '/')
        .unwrap_or(inner.len());
    &inner[..end]
}

/// Decodes `&...` at the start of `rest` the way Telegram's HTML parser does (named `lt`, `gt`,
/// `amp`, `quot` and numeric entities, `;` optional); `None` means the `&` is a literal.
fn entity(rest: &str) -> Option<(char, usize)> {
    let bytes = rest.as_bytes();
    let mut end = 1;
    let ch = if bytes.get(1) == Some(&b'#') {
        end = 2;
        let hex = bytes.get(2) == Some(&b'x');
        if hex {
            end = 3;
        }
        let digits_start = end;
        while bytes.get(end).is_some_and(|b| {
            if hex {
                b.is_ascii_hexdigit()
            } else {
                b.is_ascii_digit()
            }
        }) {
            end += 1;
        }
        let digits = &rest[digits_start..end];
        let value = u32::from_str_radix(digits, if hex { 16 } else { 10 }).ok()?;
        if value == 0 || end >= 10 {
            return None;
        }
        char::from_u32(value)?
    } else {
        while bytes.get(end).is_some_and(u8::is_ascii_alphabetic) {
            end += 1;
        }
        match &rest[1..end] {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            _ => return None,
        }
    };
    if bytes.get(end) == Some(&b';') {
        end += 1;
    }
    Some((ch, end))
}

fn tokenize(html: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < html.len() {
        let rest = &html[at..];
        let len = if rest.starts_with('<') {
            // A tag runs to the first `>` outside quotes; an unterminated one is literal text,
            // which Telegram would refuse anyway.
            let mut quote = None;
            let end = rest
                .char_indices()
                .skip(1)
                .find_map(|(i, c)| match (quote, c) {
                    (None, '"' | '\'') => {
                        quote = Some(c);
                        None
                    }
                    (Some(q), c) if c == q => {
                        quote = None;
                        None
                    }
                    (None, '>') => Some(i + 1),
                    _ => None,
                });
            match end {
                Some(end) => {
                    let raw = &rest[..end];
                    let inner = &raw[1..end - 1];
                    if let Some(closing) = inner.strip_prefix('/') {
                        tokens.push(Token::Close {
                            raw,
                            name: tag_name(closing.trim()),
                        });
                    } else {
                        tokens.push(Token::Open {
                            raw,
                            name: tag_name(inner.trim()),
                        });
                    }
                    end
                }
                None => {
                    tokens.push(Token::Char {
                        raw: &rest[..1],
                        ch: '<',
                    });
                    1
                }
            }
        } else if rest.starts_with('&')
            && let Some((ch, end)) = entity(rest)
        {
            tokens.push(Token::Char {
                raw: &rest[..end],
                ch,
            });
            end
        } else {
            let ch = rest.chars().next().expect("not at the end");
            let end = ch.len_utf8();
            tokens.push(Token::Char {
                raw: &rest[..end],
                ch,
            });
            end
        };
        at += len;
    }
    tokens
}

/// Whether a cut right before `next` (after `prev`) would tear a character people see as one:
/// a skin tone, variation selector or joiner belongs to the emoji before it.
fn glued(prev: char, next: char) -> bool {
    prev == '\u{200d}'
        || matches!(next, '\u{200d}' | '\u{fe0e}' | '\u{fe0f}' | '\u{20e3}')
        || ('\u{1f3fb}'..='\u{1f3ff}').contains(&next)
        || ('\u{0300}'..='\u{036f}').contains(&next)
        || ('\u{e0020}'..='\u{e007f}').contains(&next)
}

/// The visible text of `html` as Telegram's HTML parser reads it (before its whitespace trim).
pub fn visible_text(html: &str) -> String {
    tokenize(html)
        .into_iter()
        .filter_map(|t| match t {
            Token::Char { ch, .. } => Some(ch),
            _ => None,
        })
        .collect()
}

/// The length Telegram checks: UTF-16 units of the visible text after trimming.
pub fn visible_len(html: &str) -> usize {
    visible_text(html).trim().encode_utf16().count()
}

/// Shortens plain text (not HTML) to at most `max` UTF-16 units, ending with "…" when cut, and
/// never inside an emoji sequence. The counterpart of [`split_html`] for text that must stay in
/// one message, such as the fields of a ticket card.
pub fn truncate_units(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.encode_utf16().count() <= max {
        return text.to_owned();
    }
    let budget = max.saturating_sub(1);
    let mut width = 0;
    let mut end = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, ch)) = chars.next() {
        width += ch.len_utf16();
        if width > budget {
            break;
        }
        match chars.peek() {
            Some((_, next)) if glued(ch, *next) => {}
            _ => end = i + ch.len_utf8(),
        }
    }
    let mut cut = text[..end].trim_end().to_owned();
    cut.push('…');
    cut
}

/// The open-tag stack after `tokens`, starting from `stack`.
fn walk<'a>(mut stack: Vec<Token<'a>>, tokens: &[Token<'a>]) -> Vec<Token<'a>> {
    for token in tokens {
        match token {
            Token::Open { .. } => stack.push(*token),
            Token::Close { name, .. } => {
                // Close the innermost tag of that name; a stray closing tag changes nothing.
                if let Some(i) = stack.iter().rposition(
                    |t| matches!(t, Token::Open { name: open, .. } if open.eq_ignore_ascii_case(name)),
                ) {
                    stack.truncate(i);
                }
            }
            Token::Char { .. } => {}
        }
    }
    stack
}

fn closing(stack: &[Token<'_>]) -> String {
    stack
        .iter()
        .rev()
        .map(|t| match t {
            Token::Open { name, .. } => format!("</{name}>"),
            _ => String::new(),
        })
        .collect()
}

/// Cuts `html` into parts whose visible text is at most `limit` UTF-16 units each, in as few
/// parts as the limit allows: a part is filled up to the limit, and the cut moves back to the
/// last line break (or else the last space) only when that costs at most a quarter of the part.
///
/// Cuts fall between visible characters, never inside a tag, an `&entity;`, a surrogate pair or
/// an emoji sequence; tags open at a cut are closed at the end of the part and reopened, with
/// their attributes, at the start of the next. Nothing is escaped. A whitespace-only part, which
/// Telegram would refuse as empty, is left out. `limit` must be at least 2 (one astral
/// character).
pub fn split_html(html: &str, limit: usize) -> Vec<String> {
    assert!(limit >= 2, "a limit below one emoji cannot be met");
    if visible_len(html) <= limit {
        return vec![html.to_owned()];
    }
    let tokens = tokenize(html);
    let mut parts = Vec::new();
    let mut start = 0;
    let mut carried: Vec<Token<'_>> = Vec::new();
    while start < tokens.len() {
        let mut width = 0;
        let mut cut = None;
        let (mut last_line, mut last_space, mut last_any) = (None, None, None);
        // The previous visible character and the token index right after it: a cut there
        // leaves tags that open before the next character to the next part.
        let mut prev: Option<(char, usize)> = None;
        for (i, token) in tokens.iter().enumerate().skip(start) {
            let Token::Char { ch, .. } = token else {
                continue;
            };
            if let Some((p, after)) = prev
                && !glued(p, *ch)
            {
                last_any = Some(after);
            }
            let units = ch.len_utf16();
            if width + units > limit {
                // Prefer a natural boundary if it is in the last quarter of the part.
                let near = |at: Option<(usize, usize)>| {
                    at.filter(|(_, w)| *w >= limit - limit / 4).map(|(i, _)| i)
                };
                // An emoji sequence longer than the whole limit has to be torn somewhere.
                cut = near(last_line)
                    .or(near(last_space))
                    .or(last_any)
                    .or(prev.map(|(_, after)| after));
                break;
            }
            width += units;
            match ch {
                '\n' => last_line = Some((i + 1, width)),
                ' ' | '\t' => last_space = Some((i + 1, width)),
                _ => {}
            }
            prev = Some((*ch, i + 1));
        }
        let mut end = cut.unwrap_or(tokens.len());
        // Closing tags right at the cut end the part they close, so the next part does not open
        // with an empty entity.
        while matches!(tokens.get(end), Some(Token::Close { .. })) {
            end += 1;
        }
        let mut part: String = carried.iter().map(Token::raw).collect();
        part.extend(tokens[start..end].iter().map(Token::raw));
        let stack = walk(carried, &tokens[start..end]);
        part.push_str(&closing(&stack));
        if !visible_text(&part).trim().is_empty() {
            parts.push(part);
        }
        carried = stack;
        start = end;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(html: &str) -> usize {
        visible_text(html).encode_utf16().count()
    }

    /// Each part's tags close in the order they opened, and nothing is left open.
    fn balanced(html: &str) -> bool {
        let mut stack = Vec::new();
        for token in tokenize(html) {
            match token {
                Token::Open { name, .. } => stack.push(name.to_ascii_lowercase()),
                Token::Close { name, .. } => {
                    if stack.pop().as_deref() != Some(&name.to_ascii_lowercase()) {
                        return false;
                    }
                }
                Token::Char { .. } => {}
            }
        }
        stack.is_empty()
    }

    #[test]
    fn exactly_the_limit_is_one_part() {
        let cyrillic = "ж".repeat(TEXT_LIMIT);
        assert_eq!(split_html(&cyrillic, TEXT_LIMIT), vec![cyrillic.clone()]);
        let emoji = "😀".repeat(TEXT_LIMIT / 2);
        assert_eq!(split_html(&emoji, TEXT_LIMIT).len(), 1);
        let cjk = "漢".repeat(CAPTION_LIMIT);
        assert_eq!(split_html(&cjk, CAPTION_LIMIT).len(), 1);
        // Markup is free and an entity is one unit.
        let marked = format!("<b>{}</b>&amp;", "ж".repeat(TEXT_LIMIT - 1));
        assert_eq!(split_html(&marked, TEXT_LIMIT), vec![marked.clone()]);
        let over = format!("{}&lt;", "ж".repeat(TEXT_LIMIT));
        assert_eq!(split_html(&over, TEXT_LIMIT).len(), 2);
    }

    #[test]
    fn emoji_count_two_units_and_are_never_torn() {
        let text = "😀".repeat(3000);
        let parts = split_html(&text, TEXT_LIMIT);
        assert_eq!(parts.len(), 2, "6000 units fit in two messages");
        assert_eq!(units(&parts[0]), TEXT_LIMIT);
        assert_eq!(parts.concat(), text);
        // An odd limit cannot take half an emoji.
        let parts = split_html(&"😀".repeat(5), 5);
        assert_eq!(parts, vec!["😀😀", "😀😀", "😀"]);
    }

    #[test]
    fn emoji_sequences_stay_whole() {
        let family = "👨\u{200d}👩\u{200d}👧";
        let thumbs = "👍\u{1f3fd}";
        let text = format!("{family}{thumbs}{family}{thumbs}");
        for limit in 8..units(&text) {
            for part in split_html(&text, limit) {
                assert!(units(&part) <= limit);
                let first = part.chars().next().unwrap();
                assert!(!glued('x', first), "part starts with a joiner: {part:?}");
                assert!(
                    !part.ends_with('\u{200d}'),
                    "part ends with a joiner: {part:?}"
                );
            }
        }
    }

    #[test]
    fn cuts_at_line_then_word_boundaries() {
        let line = format!("{}\n", "а".repeat(30));
        let text = line.repeat(3);
        let parts = split_html(&text, 40);
        assert_eq!(parts, vec![line.clone(), line.clone(), line.clone()]);
        let words = "слово ".repeat(20);
        for part in split_html(&words, 40) {
            assert!(part.ends_with(' ') || part.ends_with("слово"), "{part:?}");
        }
        // A boundary far back is not worth an extra message.
        let text = format!("{} {}", "a".repeat(5), "b".repeat(60));
        let parts = split_html(&text, 40);
        assert_eq!(parts.len(), 2);
        assert_eq!(units(&parts[0]), 40);
    }

    #[test]
    fn tags_close_and_reopen_with_their_attributes() {
        let html = format!(
            "<b>bold <a href=\"https://e.x/?a=1&amp;b=2\">{}</a></b> tail",
            "l".repeat(30)
        );
        let parts = split_html(&html, 20);
        assert!(parts.len() >= 2);
        for part in &parts {
            assert!(balanced(part), "{part}");
            assert!(units(part) <= 20);
        }
        assert!(parts[1].starts_with("<b><a href=\"https://e.x/?a=1&amp;b=2\">"));
        let joined: String = parts.iter().map(|p| visible_text(p)).collect();
        assert_eq!(joined, visible_text(&html));
    }

    #[test]
    fn never_cuts_inside_an_entity_and_never_escapes() {
        let html = "&lt;&gt;&amp;&quot;&#128512;&#x1F600;".repeat(10);
        let parts = split_html(&html, 7);
        assert_eq!(parts.concat(), html, "cuts only, no rewriting");
        for part in &parts {
            assert!(units(part) <= 7);
            assert!(!part.contains("&amp;lt;"));
        }
        // An unknown entity is literal text, as Telegram reads it.
        assert_eq!(visible_text("&nbsp;&amp"), "&nbsp;&");
    }

    #[test]
    fn whitespace_only_parts_are_left_out() {
        let html = format!("a{}b", " ".repeat(50));
        let parts = split_html(&html, 10);
        assert!(parts.iter().all(|p| !p.trim().is_empty()));
        assert_eq!(parts.first().map(|p| p.trim()), Some("a"));
        assert_eq!(parts.last().map(|p| p.trim()), Some("b"));
    }

    #[test]
    fn truncates_in_units_without_tearing_emoji() {
        assert_eq!(truncate_units("abcdef", 4), "abc…");
        assert_eq!(truncate_units("  ab ", 4), "ab");
        assert_eq!(truncate_units(&"😀".repeat(10), 6), "😀😀…");
        let family = "👨\u{200d}👩\u{200d}👧";
        assert_eq!(truncate_units(&format!("ab{family}"), 6), "ab…");
        for max in 1..40 {
            let cut = truncate_units(&format!("{family} привет 漢字 {family}"), max);
            assert!(cut.encode_utf16().count() <= max, "{max}: {cut}");
        }
    }

    /// A small deterministic generator, so a failing case can be replayed from its seed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Random HTML of the kind the bot sends: escaped text of emoji, Cyrillic, CJK, ASCII and
    /// single spaces or line breaks, wrapped in nested tags.
    fn random_html(rng: &mut Rng) -> String {
        const WORDS: &[&str] = &[
            "😀",
            "👍\u{1f3fd}",
            "👨\u{200d}👩\u{200d}👧",
            "привет",
            "Ж",
            "漢字",
            "テスト",
            "abc",
            "&amp;",
            "&lt;",
            "&gt;",
            "&quot;",
            "&#128512;",
            "1",
        ];
        const TAGS: &[(&str, &str)] = &[
            ("<b>", "</b>"),
            ("<i>", "</i>"),
            ("<code>", "</code>"),
            ("<a href=\"https://e.x/?q=1&amp;r=2\">", "</a>"),
            ("<blockquote expandable>", "</blockquote>"),
            ("<tg-spoiler>", "</tg-spoiler>"),
        ];
        let mut html = String::new();
        let mut open: Vec<&str> = Vec::new();
        for _ in 0..rng.below(400) + 1 {
            match rng.below(10) {
                0 if open.len() < 3 => {
                    let (o, c) = TAGS[rng.below(TAGS.len())];
                    html.push_str(o);
                    open.push(c);
                }
                1 => {
                    if let Some(c) = open.pop() {
                        html.push_str(c);
                    }
                }
                2 => html.push(if rng.below(3) == 0 { '\n' } else { ' ' }),
                _ => html.push_str(WORDS[rng.below(WORDS.len())]),
            }
        }
        while let Some(c) = open.pop() {
            html.push_str(c);
        }
        html
    }

    #[test]
    fn property_parts_fit_keep_the_text_and_balance_tags() {
        for seed in 1..=400u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let html = random_html(&mut rng);
            let limit = 16 + rng.below(200);
            let parts = split_html(&html, limit);
            for part in &parts {
                assert!(
                    units(part) <= limit,
                    "seed {seed}: part of {} units over {limit}",
                    units(part)
                );
                assert!(balanced(part), "seed {seed}: unbalanced {part}");
                assert!(!visible_text(part).trim().is_empty(), "seed {seed}");
            }
            let joined: String = parts.iter().map(|p| visible_text(p)).collect();
            assert_eq!(joined, visible_text(&html), "seed {seed}");
            // As few parts as the limit allows: each cut gives up at most a quarter of a part,
            // and no emoji sequence in the generator is longer than 8 units.
            let total = units(&html);
            let worst = total / (limit - limit / 4 - 8) + 1;
            assert!(parts.len() <= worst, "seed {seed}: {} parts", parts.len());
            if visible_len(&html) <= limit {
                assert_eq!(parts.len(), 1, "seed {seed}");
            }
        }
    }
}
