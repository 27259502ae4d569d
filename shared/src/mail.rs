//! Email: composing RFC 5322 messages safely, and sending them through SES or into the local
//! outbox. Both paths send the same bytes, so what tests read in the outbox is what SES gets.
//! A message with an HTML rendering goes out as `multipart/alternative`: the text part as
//! written, the HTML part base64-encoded, between a random boundary.
//!
//! Nothing a person typed reaches a header unchecked: addresses must parse, and every other
//! header value has its control characters (CR and LF above all) replaced by spaces.
//! Long values are folded (CRLF + space) so header lines stay within 78 characters where
//! they have somewhere to fold; non-ASCII text becomes RFC 2047 encoded-words of at most 75
//! characters, each holding whole UTF-8 characters. The only line breaks in a header block
//! are the ones this module writes.

use std::path::PathBuf;

use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{EmailContent, RawMessage};
use chrono::{DateTime, Utc};

use crate::ids::random_bytes;

/// An address that passed [`Mailbox::parse`], with an optional display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an email address")]
pub struct InvalidAddress(pub String);

impl Mailbox {
    /// Accepts one plain `local@domain` address; refuses whitespace, control characters,
    /// brackets, commas and quotes, which is what header injection needs.
    pub fn parse(raw: &str) -> Result<Self, InvalidAddress> {
        let address = raw.trim();
        let invalid = || InvalidAddress(raw.to_owned());
        if address.len() > 254 || address.chars().any(|c| !is_address_char(c)) {
            return Err(invalid());
        }
        let (local, domain) = address.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(invalid());
        }
        Ok(Self {
            name: None,
            address: address.to_lowercase(),
        })
    }

    /// Parses `Name <address>` or a bare address, as configured senders are written.
    pub fn parse_with_name(raw: &str) -> Result<Self, InvalidAddress> {
        match raw
            .trim()
            .strip_suffix('>')
            .and_then(|rest| rest.rsplit_once('<'))
        {
            Some((name, address)) => Ok(Self::parse(address)?.named(name.trim().trim_matches('"'))),
            None => Self::parse(raw),
        }
    }

    pub fn named(mut self, name: &str) -> Self {
        let name = header_text(name);
        self.name = (!name.is_empty()).then_some(name);
        self
    }

    /// Adds this mailbox to a header being folded: the display name (quoted, or as
    /// encoded-words) and then the address, which never breaks.
    fn push_to(&self, lines: &mut HeaderLines, separator: &str) {
        // The fields are public, so a name set without `named` is cleaned here as well.
        let name = self.name.as_deref().map(header_text).unwrap_or_default();
        if name.is_empty() {
            lines.push(&format!("{}{separator}", self.address));
            return;
        }
        if name.is_ascii() {
            let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
            // Folding whitespace is allowed between the words of a quoted string, and
            // unfolding gives back the single space that stood there.
            lines.push_words(&format!("\"{escaped}\""));
        } else {
            lines.push_encoded(&name);
        }
        lines.push(&format!("<{}>{separator}", self.address));
    }

    /// The mailbox as a `From` header carries it, without the header's name.
    #[cfg(test)]
    fn header(&self) -> String {
        let mut lines = HeaderLines::new("From");
        self.push_to(&mut lines, "");
        let folded = lines.finish();
        folded.strip_prefix("From: ").unwrap_or(&folded).to_owned()
    }
}

fn is_address_char(c: char) -> bool {
    c.is_ascii_graphic()
        && !matches!(
            c,
            '<' | '>' | '(' | ')' | ',' | ';' | ':' | '"' | '\\' | '[' | ']'
        )
}

/// Text made safe for a header: control characters become spaces, runs of spaces collapse.
pub fn header_text(raw: &str) -> String {
    let replaced: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    replaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Header lines are kept to RFC 5322's recommended 78 characters (before CRLF) wherever a
/// value has somewhere to fold.
const MAX_HEADER_LINE: usize = 78;
/// RFC 2047: one encoded-word is at most 75 characters, frame included.
const MAX_ENCODED_WORD: usize = 75;
const WORD_START: &str = "=?UTF-8?B?";
const WORD_END: &str = "?=";

/// One header as it is written: pieces joined by a space, and the space before a piece
/// turned into CRLF + space where the piece would take the line past the limit. Unfolding
/// (removing each CRLF) gives back the value with single spaces between the pieces.
struct HeaderLines {
    done: String,
    line: String,
    /// Whether the current line holds a piece yet. Folding a line that holds none would
    /// only make an empty line, so a piece too long for any line stays where it is.
    has_piece: bool,
}

impl HeaderLines {
    fn new(name: &str) -> Self {
        Self {
            done: String::new(),
            line: format!("{name}:"),
            has_piece: false,
        }
    }

    fn fold(&mut self) {
        self.done.push_str(&self.line);
        self.done.push_str("\r\n");
        self.line.clear();
        self.has_piece = false;
    }

    /// Adds one piece that must not be broken (ASCII without spaces).
    fn push(&mut self, piece: &str) {
        if self.has_piece && self.line.len() + 1 + piece.len() > MAX_HEADER_LINE {
            self.fold();
        }
        self.line.push(' ');
        self.line.push_str(piece);
        self.has_piece = true;
    }

    /// Adds ASCII text that may fold at its spaces.
    fn push_words(&mut self, text: &str) {
        for word in text.split(' ') {
            self.push(word);
        }
    }

    /// Adds non-ASCII text as RFC 2047 encoded-words: each at most 75 characters and
    /// holding whole UTF-8 characters (a decoder must be able to decode each word alone),
    /// as much as fits on the current line before the next line starts. Decoders drop the
    /// whitespace between adjacent encoded-words, so the text comes back unchanged.
    fn push_encoded(&mut self, text: &str) {
        let mut rest = text;
        while !rest.is_empty() {
            let room = MAX_HEADER_LINE.saturating_sub(self.line.len() + 1);
            let mut take = whole_chars_within(rest, word_capacity(room));
            if take == 0 {
                if self.has_piece {
                    self.fold();
                    continue;
                }
                // Only a header name longer than a line could leave no room on a fresh
                // line; the word then goes on it anyway, still within RFC 2047's 75.
                take = whole_chars_within(rest, word_capacity(MAX_ENCODED_WORD));
            }
            // Some decoders keep the space between two encoded-words, against RFC 2047;
            // a word that ends just after a space of the text reads right in those too.
            if take < rest.len()
                && let Some(space) = rest[..take].rfind(' ').filter(|at| *at >= take / 2)
            {
                take = space + 1;
            }
            let (word, after) = rest.split_at(take);
            self.push(&encode_word(word));
            rest = after;
        }
    }

    fn finish(mut self) -> String {
        self.done.push_str(&self.line);
        self.done
    }
}

/// How many bytes of text one encoded-word of at most `width` characters can carry.
fn word_capacity(width: usize) -> usize {
    let frame = WORD_START.len() + WORD_END.len();
    // Base64 carries 3 bytes in every 4 characters, and a word holds whole groups.
    width.min(MAX_ENCODED_WORD).saturating_sub(frame) / 4 * 3
}

/// The length of the longest prefix of `text` that ends on a character boundary and has at
/// most `max` bytes.
fn whole_chars_within(text: &str, max: usize) -> usize {
    text.char_indices()
        .map(|(at, c)| at + c.len_utf8())
        .take_while(|end| *end <= max)
        .last()
        .unwrap_or(0)
}

/// One RFC 2047 base64 encoded-word; callers keep it within [`MAX_ENCODED_WORD`].
fn encode_word(text: &str) -> String {
    format!("{WORD_START}{}{WORD_END}", base64(text.as_bytes()))
}

/// Standard base64 with padding (RFC 4648), as MIME and API Gateway events use it.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An email: always a plain-text body, and optionally an HTML rendering of the same message.
/// With both, the message is `multipart/alternative` and mail clients pick the part they show.
#[derive(Debug, Clone)]
pub struct Email {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub reply_to: Option<Mailbox>,
    pub subject: String,
    pub body: String,
    /// A complete HTML document; build it with maud so every value in it is escaped.
    pub html: Option<String>,
    /// RFC 8058 one-click unsubscribe: the `https` URL a mail client POSTs to. Sent as
    /// `List-Unsubscribe` with `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
    pub unsubscribe: Option<String>,
}

/// Lines of base64 in a MIME body stay within RFC 2045's 76 characters.
const BASE64_LINE: usize = 76;

impl Email {
    /// The message as RFC 5322 bytes, with CRLF line ends.
    pub fn to_rfc5322(&self, date: DateTime<Utc>, message_id: &str) -> String {
        let mailboxes = |name: &str, list: &[&Mailbox]| {
            let mut lines = HeaderLines::new(name);
            for (i, mailbox) in list.iter().enumerate() {
                mailbox.push_to(&mut lines, if i + 1 < list.len() { "," } else { "" });
            }
            lines.finish()
        };
        let mut headers = vec![
            format!("Date: {}", date.to_rfc2822()),
            mailboxes("From", &[&self.from]),
            mailboxes("To", &self.to.iter().collect::<Vec<_>>()),
        ];
        if let Some(reply_to) = &self.reply_to {
            headers.push(mailboxes("Reply-To", &[reply_to]));
        }
        let subject = header_text(&self.subject);
        let mut lines = HeaderLines::new("Subject");
        if subject.is_ascii() {
            lines.push_words(&subject);
        } else {
            lines.push_encoded(&subject);
        }
        headers.push(lines.finish());
        headers.push(format!("Message-ID: <{message_id}>"));
        if let Some(url) = &self.unsubscribe {
            // Built by us from ids and a hex token; the check keeps a header line one line.
            let url = header_text(url);
            headers.push(format!("List-Unsubscribe: <{url}>"));
            headers.push("List-Unsubscribe-Post: List-Unsubscribe=One-Click".into());
        }
        headers.push("MIME-Version: 1.0".into());
        let text = crlf_lines(&self.body);
        let Some(html) = &self.html else {
            headers.push("Content-Type: text/plain; charset=utf-8".into());
            headers.push("Content-Transfer-Encoding: 8bit".into());
            return format!("{}\r\n\r\n{text}\r\n", headers.join("\r\n"));
        };

        // The HTML travels as base64, so only the 8-bit text part could hold the boundary.
        let boundary = loop {
            let candidate = format!("=_porchlight_{}", hex::encode(random_bytes::<16>()));
            if !text.contains(&candidate) {
                break candidate;
            }
        };
        headers.push(format!(
            "Content-Type: multipart/alternative; boundary=\"{boundary}\""
        ));
        let encoded = base64(html.as_bytes());
        let html_lines: Vec<&str> = encoded
            .as_bytes()
            .chunks(BASE64_LINE)
            .map(|chunk| std::str::from_utf8(chunk).unwrap_or_default())
            .collect();
        format!(
            "{head}\r\n\r\n\
             --{boundary}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: 8bit\r\n\r\n\
             {text}\r\n\
             --{boundary}\r\n\
             Content-Type: text/html; charset=utf-8\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n\
             {html}\r\n\
             --{boundary}--\r\n",
            head = headers.join("\r\n"),
            html = html_lines.join("\r\n"),
        )
    }
}

/// A body with its line ends made CRLF, as RFC 5322 requires.
fn crlf_lines(body: &str) -> String {
    body.lines().collect::<Vec<_>>().join("\r\n")
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("writing to the outbox failed")]
    Outbox(#[source] std::io::Error),
    #[error("SES SendEmail failed")]
    Ses(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    /// Every message becomes one `.eml` file in this folder (the local stack and tests).
    Outbox(PathBuf),
    Ses(aws_sdk_sesv2::Client),
}

impl Mailer {
    pub fn outbox(dir: PathBuf) -> Self {
        Mailer::Outbox(dir)
    }

    pub fn ses(client: aws_sdk_sesv2::Client) -> Self {
        Mailer::Ses(client)
    }

    /// Sends one message and returns its Message-ID.
    pub async fn send(&self, email: &Email, now: DateTime<Utc>) -> Result<String, MailError> {
        let message_id = format!("{}@porchlight", hex::encode(random_bytes::<12>()));
        let raw = email.to_rfc5322(now, &message_id);
        match self {
            Mailer::Outbox(dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(MailError::Outbox)?;
                let name = format!("{}-{}", now.format("%Y%m%dT%H%M%S%.3fZ"), &message_id[..8]);
                let partial = dir.join(format!(".{name}.partial"));
                tokio::fs::write(&partial, raw.as_bytes())
                    .await
                    .map_err(MailError::Outbox)?;
                // A rename is atomic, so a reader never sees half a message.
                tokio::fs::rename(&partial, dir.join(format!("{name}.eml")))
                    .await
                    .map_err(MailError::Outbox)?;
            }
            Mailer::Ses(client) => {
                let raw = RawMessage::builder()
                    .data(Blob::new(raw.into_bytes()))
                    .build()
                    .map_err(|e| MailError::Ses(Box::new(e)))?;
                client
                    .send_email()
                    .content(EmailContent::builder().raw(raw).build())
                    .send()
                    .await
                    .map_err(|e| MailError::Ses(Box::new(e)))?;
            }
        }
        tracing::info!(message_id = %message_id, recipients = email.to.len(), "email sent");
        Ok(message_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(address: &str) -> Mailbox {
        Mailbox::parse(address).expect("test addresses are valid")
    }

    #[test]
    fn addresses_with_line_breaks_or_lists_are_refused() {
        for bad in [
            "pat@example.com\nCc: x@example.org",
            "pat@example.com\r\nBcc: x@example.org",
            "a@b.com, c@d.com",
            "Pat <pat@example.com>",
            "no-at-sign",
            "@example.com",
            "pat@localhost",
            "pat@exa..mple.com",
        ] {
            assert!(Mailbox::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(mailbox(" Pat@Example.com ").address, "pat@example.com");
    }

    #[test]
    fn names_cannot_add_headers() {
        let email = Email {
            from: mailbox("portal@example.com").named("Greenridge Lawn Co."),
            to: vec![mailbox("office@example.net")],
            reply_to: Some(mailbox("pat@example.com").named("Pat Lee\r\nBcc: list@example.org")),
            subject: "New request from Pat Lee\r\nBcc: list@example.org".into(),
            body: "Hello\nBcc: in the body is harmless".into(),
            unsubscribe: None,
            html: None,
        };
        let raw = email.to_rfc5322(Utc::now(), "id@porchlight");
        let (head, _) = raw
            .split_once("\r\n\r\n")
            .expect("headers end with a blank line");
        let names: Vec<&str> = head
            .split("\r\n")
            .map(|line| line.split(':').next().unwrap_or(""))
            .collect();
        assert_eq!(
            names,
            [
                "Date",
                "From",
                "To",
                "Reply-To",
                "Subject",
                "Message-ID",
                "MIME-Version",
                "Content-Type",
                "Content-Transfer-Encoding"
            ]
        );
        assert!(head.contains("Reply-To: \"Pat Lee Bcc: list@example.org\" <pat@example.com>"));
        assert!(!head.contains('\n') || head.matches('\n').count() == names.len() - 1);
    }

    #[test]
    fn non_ascii_names_are_encoded() {
        let from = mailbox("p@example.com").named("Jardín Ñandú");
        assert_eq!(
            from.header(),
            "=?UTF-8?B?SmFyZMOtbiDDkWFuZMO6?= <p@example.com>"
        );
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }

    /// Standard base64 back to bytes, for reading parts the way a mail client does.
    fn unbase64(text: &str) -> Vec<u8> {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = 0u32;
        let mut count = 0;
        let mut out = Vec::new();
        for byte in text
            .bytes()
            .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        {
            let value = ALPHABET.iter().position(|c| *c == byte).expect("base64");
            bits = (bits << 6) | value as u32;
            count += 6;
            if count >= 8 {
                count -= 8;
                out.push((bits >> count) as u8);
            }
        }
        out
    }

    fn with_html(subject: &str, body: &str, html: &str) -> Email {
        Email {
            from: mailbox("portal@example.com").named("Greenridge Lawn Co."),
            to: vec![mailbox("dana@example.net")],
            reply_to: None,
            subject: subject.into(),
            body: body.into(),
            unsubscribe: None,
            html: Some(html.into()),
        }
    }

    #[test]
    fn html_goes_beside_the_text_in_multipart_alternative() {
        let html = "<!DOCTYPE html><p>Ol\u{e1}, Dana &amp; family</p>";
        let email = with_html("Proposal", "Hello Dana\nSee you soon", html);
        let raw = email.to_rfc5322(Utc::now(), "id@porchlight");

        let (head, body) = raw.split_once("\r\n\r\n").expect("a header block");
        let content_type = head
            .split("\r\n")
            .find(|h| h.starts_with("Content-Type: "))
            .expect("a content type");
        let boundary = content_type
            .strip_prefix("Content-Type: multipart/alternative; boundary=\"")
            .and_then(|rest| rest.strip_suffix('"'))
            .expect("multipart/alternative with a quoted boundary");
        assert!(!head.contains("Content-Transfer-Encoding"));

        let parts: Vec<&str> = body.split(&format!("--{boundary}")).collect();
        assert_eq!(parts.len(), 4, "preamble, two parts, closing: {body}");
        assert!(parts[3].starts_with("--"), "the last delimiter closes");
        let (text_head, text) = parts[1].split_once("\r\n\r\n").expect("text part");
        assert!(text_head.contains("Content-Type: text/plain; charset=utf-8"));
        assert_eq!(text, "Hello Dana\r\nSee you soon\r\n");
        let (html_head, encoded) = parts[2].split_once("\r\n\r\n").expect("html part");
        assert!(html_head.contains("Content-Type: text/html; charset=utf-8"));
        assert!(html_head.contains("Content-Transfer-Encoding: base64"));
        assert!(encoded.lines().all(|line| line.len() <= 76));
        assert_eq!(String::from_utf8(unbase64(encoded)).expect("utf-8"), html);
    }

    #[test]
    fn each_message_gets_its_own_boundary() {
        let email = with_html("Proposal", "Hello", "<p>Hello</p>");
        let boundary = |raw: &str| {
            raw.split("boundary=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .map(str::to_owned)
                .expect("a boundary")
        };
        let one = boundary(&email.to_rfc5322(Utc::now(), "a@porchlight"));
        let two = boundary(&email.to_rfc5322(Utc::now(), "b@porchlight"));
        assert_ne!(one, two);
        assert!(one.len() > 32, "128 random bits in the boundary");
    }

    #[test]
    fn multipart_messages_keep_headers_safe() {
        let mut email = with_html(
            "Hello\r\nBcc: list@example.org",
            "--not-a-boundary\nBcc: in the body is harmless",
            "<p>Hi</p>\r\nBcc: list@example.org",
        );
        email.reply_to = Some(mailbox("pat@example.com").named("Pat\nCc: x@example.org"));
        let raw = email.to_rfc5322(Utc::now(), "id@porchlight");
        let (head, _) = raw.split_once("\r\n\r\n").expect("a header block");
        let names: Vec<&str> = head
            .split("\r\n")
            .map(|line| line.split(':').next().unwrap_or(""))
            .collect();
        assert_eq!(
            names,
            [
                "Date",
                "From",
                "To",
                "Reply-To",
                "Subject",
                "Message-ID",
                "MIME-Version",
                "Content-Type"
            ]
        );
        assert!(head.contains("Subject: Hello Bcc: list@example.org"));
        assert!(
            !raw.contains("\r\nBcc: list@example.org"),
            "the HTML part is encoded"
        );
    }

    /// The header block with each continuation line joined to the line it continues, as
    /// RFC 5322 unfolds them: every CRLF followed by a space is removed.
    fn unfolded(head: &str) -> Vec<String> {
        head.replace("\r\n ", " ")
            .split("\r\n")
            .map(str::to_owned)
            .collect()
    }

    /// The text of a value made only of encoded-words, each checked and decoded by itself,
    /// as a decoder must be able to.
    fn decoded_words(value: &str) -> String {
        value
            .split(' ')
            .map(|word| {
                assert!(
                    word.len() <= 75,
                    "an encoded-word of {} characters",
                    word.len()
                );
                let encoded = word
                    .strip_prefix("=?UTF-8?B?")
                    .and_then(|w| w.strip_suffix("?="))
                    .unwrap_or_else(|| panic!("{word:?} is not an encoded-word"));
                String::from_utf8(unbase64(encoded)).expect("each word holds whole characters")
            })
            .collect()
    }

    /// Text with two-, three- and four-byte characters, so a split by bytes alone would
    /// land inside one.
    fn long_text(chars: usize) -> String {
        "Jardín ñandú 木の庭 🌳🌷 — "
            .chars()
            .cycle()
            .take(chars)
            .collect()
    }

    fn header_block(email: &Email) -> String {
        let raw = email.to_rfc5322(Utc::now(), "id@porchlight");
        let (head, _) = raw.split_once("\r\n\r\n").expect("a header block");
        for line in head.split("\r\n") {
            assert!(line.len() <= 78, "{} characters: {line:?}", line.len());
            assert!(
                !line.trim().is_empty(),
                "no blank line inside the header block"
            );
        }
        head.to_owned()
    }

    fn plain(subject: &str) -> Email {
        Email {
            from: mailbox("portal@example.com").named("Greenridge Lawn Co."),
            to: vec![mailbox("dana@example.net")],
            reply_to: None,
            subject: subject.into(),
            body: "Hello".into(),
            unsubscribe: None,
            html: None,
        }
    }

    #[test]
    fn long_non_ascii_subjects_become_several_encoded_words() {
        // With spaces words end after one where they can; without, only characters split.
        let spaced = long_text(200);
        let unspaced = spaced.replace(' ', "木");
        for subject in [spaced, unspaced] {
            assert_eq!(subject.chars().count(), 200);
            let head = header_block(&plain(&subject));

            let continued = head.split("\r\n").filter(|l| l.starts_with(' ')).count();
            assert!(continued >= 4, "folded onto continuation lines:\n{head}");
            let headers = unfolded(&head);
            let value = headers
                .iter()
                .find_map(|h| h.strip_prefix("Subject: "))
                .expect("a subject");
            assert!(value.split(' ').count() >= 5, "several words: {value}");
            assert_eq!(decoded_words(value), header_text(&subject));
        }
    }

    #[test]
    fn long_non_ascii_names_fold_and_keep_the_address_whole() {
        let name = long_text(120);
        let mut email = plain("Proposal");
        email.from = mailbox("portal@example.com").named(&name);
        email.reply_to = Some(mailbox("pat@example.com").named(&long_text(90)));
        let head = header_block(&email);

        let headers = unfolded(&head);
        let value = |prefix: &str| {
            headers
                .iter()
                .find_map(|h| h.strip_prefix(prefix))
                .unwrap_or_else(|| panic!("no {prefix}"))
                .to_owned()
        };
        let from = value("From: ");
        let words = from
            .strip_suffix(" <portal@example.com>")
            .expect("the address, unbroken, after the name");
        assert!(words.split(' ').count() >= 3, "several words: {words}");
        assert_eq!(decoded_words(words), header_text(&name));
        let reply_to = value("Reply-To: ");
        let words = reply_to
            .strip_suffix(" <pat@example.com>")
            .expect("the address");
        assert_eq!(decoded_words(words), header_text(&long_text(90)));
    }

    #[test]
    fn folding_never_starts_a_header() {
        let subject = format!(
            "{}\r\nBcc: list@example.org\r\n{}",
            long_text(150),
            long_text(60)
        );
        let mut email = plain(&subject);
        email.reply_to = Some(
            mailbox("pat@example.com").named(&format!("{}\nCc: x@example.org", long_text(80))),
        );
        // Set directly, bypassing `named`, which cleans what it is given.
        email.to = vec![Mailbox {
            name: Some(format!("{}\r\nBcc: y@example.org", "Dana ".repeat(20))),
            address: "dana@example.net".into(),
        }];
        let head = header_block(&email);

        for line in head.split("\r\n") {
            assert!(
                !line.starts_with("Bcc") && !line.starts_with("Cc"),
                "{line:?}"
            );
        }
        let headers = unfolded(&head);
        let names: Vec<&str> = headers
            .iter()
            .map(|h| h.split(':').next().unwrap_or(""))
            .collect();
        assert_eq!(
            names,
            [
                "Date",
                "From",
                "To",
                "Reply-To",
                "Subject",
                "Message-ID",
                "MIME-Version",
                "Content-Type",
                "Content-Transfer-Encoding"
            ]
        );
        let value = headers
            .iter()
            .find_map(|h| h.strip_prefix("Subject: "))
            .expect("a subject");
        assert!(decoded_words(value).contains(" Bcc: list@example.org "));
    }

    #[test]
    fn long_ascii_values_fold_at_their_spaces() {
        let subject = "Proposal #GR-Q-91 from Greenridge Lawn Co. for the spring cleanup, \
            aeration and overseeding of the back lawn at 12 Elm St, Evanston, valid until \
            June 30";
        let mut email = plain(subject);
        let name = "Greenridge Lawn Co. \"Tree Care\" and Landscaping of the North Shore Area";
        email.from = mailbox("portal@example.com").named(name);
        let head = header_block(&email);

        assert!(head.contains("\r\n "), "folded:\n{head}");
        let headers = unfolded(&head);
        assert!(headers.contains(&format!("Subject: {subject}")));
        assert!(headers.contains(
            &"From: \"Greenridge Lawn Co. \\\"Tree Care\\\" and Landscaping of the North Shore \
              Area\" <portal@example.com>"
                .to_owned()
        ));
    }

    #[test]
    fn configured_senders_parse() {
        let sender = Mailbox::parse_with_name("Porchlight <portal@example.com>")
            .expect("test data is valid");
        assert_eq!(sender.name.as_deref(), Some("Porchlight"));
        assert_eq!(sender.address, "portal@example.com");
    }
}
