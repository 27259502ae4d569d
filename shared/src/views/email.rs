//! The HTML part of outgoing email. Mail clients drop `<style>` blocks and scripts, so the
//! markup is plain and styled inline; maud escapes every value, so nothing a person typed
//! becomes markup in someone's inbox.

use maud::{DOCTYPE, Markup, html};

const BODY_STYLE: &str = "margin:0;padding:24px 12px;background:#f5f7f4;color:#1f2a24;\
    font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif";
const CARD_STYLE: &str = "max-width:36rem;margin:0 auto;background:#fff;\
    border:1px solid #d9e0da;border-radius:8px;padding:20px";
const BUTTON_STYLE: &str = "display:inline-block;padding:10px 18px;border-radius:6px;\
    background:#24513a;color:#fff;font-weight:600;text-decoration:none";

/// A whole message: the sender's name above the content, as one HTML document.
pub fn message(sender: &str, content: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (sender) }
            }
            body style=(BODY_STYLE) {
                div style=(CARD_STYLE) {
                    p style="margin:0 0 16px;font-weight:700;color:#24513a" { (sender) }
                    (content)
                }
            }
        }
    }
    .into_string()
}

/// Plain text as paragraphs: a blank line starts a new one, a single line break stays one.
pub fn text(text: &str) -> Markup {
    let paragraphs: Vec<Vec<&str>> = text
        .split("\n\n")
        .map(|paragraph| paragraph.trim_matches('\n'))
        .filter(|paragraph| !paragraph.trim().is_empty())
        .map(|paragraph| paragraph.lines().collect())
        .collect();
    html! {
        @for lines in &paragraphs {
            p {
                @for (i, line) in lines.iter().enumerate() {
                    @if i > 0 { br; }
                    (line)
                }
            }
        }
    }
}

/// A link people are meant to press, with the address spelled out beneath for clients
/// that show no buttons.
pub fn button(label: &str, url: &str) -> Markup {
    html! {
        p { a href=(url) style=(BUTTON_STYLE) { (label) } }
        p style="font-size:13px;color:#5b6b62;word-break:break-all" {
            a href=(url) style="color:#1d6b43" { (url) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keeps_its_breaks_and_escapes_everything() {
        let markup = text("Hello <b>Pat</b> & co,\nline two\n\n\nNext \"part\"").into_string();
        assert_eq!(
            markup,
            "<p>Hello &lt;b&gt;Pat&lt;/b&gt; &amp; co,<br>line two</p><p>Next &quot;part&quot;</p>"
        );
    }

    #[test]
    fn messages_escape_the_sender_and_links() {
        let page = message(
            "Lee's <Lawn>",
            button("Sign in", "https://example.com/?a=1&b=\"2\""),
        );
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("Lee's &lt;Lawn&gt;"));
        assert!(page.contains("href=\"https://example.com/?a=1&amp;b=&quot;2&quot;\""));
        assert!(!page.contains("<Lawn>"));
    }
}
