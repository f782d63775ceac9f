//! Messages to citizens: one-time codes and security notices (a locked factor), by e-mail
//! (SMTP) or SMS (an HTTP gateway). A development outbox writes each message as a JSON
//! file, which tests read. Nothing here logs a message's content.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Message {
    pub channel: Channel,
    pub to: String,
    pub subject: String,
    pub body: String,
}

pub trait Sender: Send + Sync {
    fn send(&self, message: &Message) -> Result<(), String>;
}

/// Writes messages to `dir/<time>-<random>.json`.
pub struct Outbox {
    pub dir: PathBuf,
}

impl Sender for Outbox {
    fn send(&self, message: &Message) -> Result<(), String> {
        // Messages hold one-time codes and contact data: owner only.
        crate::files::create_private_dir(&self.dir)
            .map_err(|e| format!("outbox {}: {e}", self.dir.display()))?;
        let name = format!("{}-{}.json", crate::now(), crate::crypto::random_id());
        let body = serde_json::to_vec_pretty(message).map_err(|e| e.to_string())?;
        crate::files::write_new_private(&self.dir.join(name), &body)
            .map_err(|e| format!("outbox: {e}"))
    }
}

/// Used for a channel nothing is configured for: the message is dropped, and that is logged.
pub struct Nowhere;

impl Sender for Nowhere {
    fn send(&self, message: &Message) -> Result<(), String> {
        tracing::warn!(channel = ?message.channel, "a message was not delivered: no sender is configured");
        Err("no sender is configured for this channel".into())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: Option<u16>,
    pub username: Option<String>,
    /// File holding the SMTP password (kept out of the configuration file).
    pub password_file: Option<PathBuf>,
    /// The sender address, e.g. `Gov ID <no-reply@id.example.gov>`.
    pub from: String,
    /// `starttls` (default, port 587), `tls` (port 465) or `none` (a local relay only).
    pub security: Option<String>,
}

/// Sends e-mail through an SMTP server.
pub struct Smtp {
    transport: lettre::SmtpTransport,
    from: lettre::message::Mailbox,
}

impl Smtp {
    pub fn new(c: &SmtpConfig) -> Result<Smtp, String> {
        use lettre::transport::smtp::authentication::Credentials;
        let mut b = match c.security.as_deref().unwrap_or("starttls") {
            "starttls" => {
                lettre::SmtpTransport::starttls_relay(&c.host).map_err(|e| e.to_string())?
            }
            "tls" => lettre::SmtpTransport::relay(&c.host).map_err(|e| e.to_string())?,
            "none" => lettre::SmtpTransport::builder_dangerous(&c.host),
            other => return Err(format!("notify.smtp.security: unknown value {other}")),
        };
        if let Some(port) = c.port {
            b = b.port(port);
        }
        if let Some(user) = &c.username {
            let password = match &c.password_file {
                Some(p) => {
                    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?
                }
                None => String::new(),
            };
            b = b.credentials(Credentials::new(
                user.clone(),
                password.trim_end().to_string(),
            ));
        }
        let from = c
            .from
            .parse()
            .map_err(|e| format!("notify.smtp.from: {e}"))?;
        Ok(Smtp {
            transport: b.build(),
            from,
        })
    }
}

impl Sender for Smtp {
    fn send(&self, m: &Message) -> Result<(), String> {
        use lettre::Transport;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(m.to.parse().map_err(|e| format!("recipient: {e}"))?)
            .subject(m.subject.clone())
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(m.body.clone())
            .map_err(|e| e.to_string())?;
        self.transport
            .send(&email)
            .map(|_| ())
            .map_err(|e| format!("SMTP: {e}"))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// The gateway's endpoint; the message is POSTed to it.
    pub url: String,
    /// File holding one header line sent with every request, e.g. `Authorization: Bearer ...`.
    pub auth_header_file: Option<PathBuf>,
    /// The request body with `{to}` and `{text}` in it, e.g.
    /// `{"to": "{to}", "text": "{text}"}`; values are escaped for the content type.
    pub body_template: String,
    /// Default `application/json`; `application/x-www-form-urlencoded` is also understood.
    pub content_type: Option<String>,
}

/// Sends SMS through an HTTP gateway.
pub struct HttpSms {
    config: SmsConfig,
    header: Option<(String, String)>,
}

impl HttpSms {
    pub fn new(c: &SmsConfig) -> Result<HttpSms, String> {
        let header = match &c.auth_header_file {
            Some(p) => {
                let line =
                    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                let (name, value) = line
                    .trim()
                    .split_once(':')
                    .ok_or_else(|| format!("{}: expected `Name: value`", p.display()))?;
                Some((name.trim().to_string(), value.trim().to_string()))
            }
            None => None,
        };
        Ok(HttpSms {
            config: c.clone(),
            header,
        })
    }

    fn content_type(&self) -> &str {
        self.config
            .content_type
            .as_deref()
            .unwrap_or("application/json")
    }

    /// The request body for a message.
    pub fn body(&self, to: &str, text: &str) -> String {
        let escape = |v: &str| -> String {
            if self.content_type().contains("json") {
                let quoted = serde_json::Value::from(v).to_string();
                quoted[1..quoted.len() - 1].to_string()
            } else {
                url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
            }
        };
        self.config
            .body_template
            .replace("{to}", &escape(to))
            .replace("{text}", &escape(text))
    }
}

impl Sender for HttpSms {
    fn send(&self, m: &Message) -> Result<(), String> {
        // A client per message: the blocking client must not live on an async runtime.
        let client = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        let mut req = client
            .post(&self.config.url)
            .header("content-type", self.content_type())
            .body(self.body(&m.to, &m.body));
        if let Some((name, value)) = &self.header {
            req = req.header(name.as_str(), value.as_str());
        }
        let res = req.send().map_err(|e| format!("SMS gateway: {e}"))?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(format!("SMS gateway answered {}", res.status()))
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Development sender: write messages of every channel without a sender here.
    pub outbox_dir: Option<PathBuf>,
    pub smtp: Option<SmtpConfig>,
    pub sms: Option<SmsConfig>,
}

/// Routes each message to its channel's sender.
pub struct Notifier {
    email: Box<dyn Sender>,
    sms: Box<dyn Sender>,
}

impl Notifier {
    pub fn new(config: &NotifyConfig) -> Result<Notifier, String> {
        let fallback = || -> Box<dyn Sender> {
            match &config.outbox_dir {
                Some(dir) => Box::new(Outbox { dir: dir.clone() }),
                None => Box::new(Nowhere),
            }
        };
        Ok(Notifier {
            email: match &config.smtp {
                Some(c) => Box::new(Smtp::new(c)?),
                None => fallback(),
            },
            sms: match &config.sms {
                Some(c) => Box::new(HttpSms::new(c)?),
                None => fallback(),
            },
        })
    }

    /// Whether messages of a channel go anywhere.
    pub fn send(&self, m: &Message) -> Result<(), String> {
        match m.channel {
            Channel::Email => self.email.send(m),
            Channel::Sms => self.sms.send(m),
        }
    }
}

/// The language a citizen last signed in with (English when unknown): notices that other
/// people's acts cause, such as the help desk's, are written in it.
pub fn language_of(
    conn: &mut crate::store::AnyConnection,
    user_id: &str,
) -> crate::store::StoreResult<crate::i18n::Lang> {
    Ok(crate::store::users::language(conn, user_id)?
        .and_then(|l| crate::i18n::Lang::from_tag(&l))
        .unwrap_or(crate::i18n::Lang::En))
}

/// Sends a security notice to a citizen: by e-mail, or by SMS when the account has no
/// e-mail address. A failure is logged (without the message) and does not stop the
/// operation that caused the notice.
pub fn tell(
    svc: &crate::service::Service,
    user: &crate::store::users::User,
    subject: &str,
    body: &str,
) {
    tell_via(&svc.notifier, user, subject, body)
}

/// `tell`, through a given notifier (the command line has no running service).
pub fn tell_via(notifier: &Notifier, user: &crate::store::users::User, subject: &str, body: &str) {
    let (channel, to) = match (&user.email, &user.phone) {
        (Some(e), _) => (Channel::Email, e.clone()),
        (None, Some(p)) => (Channel::Sms, p.clone()),
        (None, None) => return,
    };
    let message = Message {
        channel,
        to,
        subject: subject.to_string(),
        body: body.to_string(),
    };
    if let Err(e) = notifier.send(&message) {
        tracing::warn!(error = %e, "a security notice could not be sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_bodies_are_escaped_for_their_content_type() {
        let mut c = SmsConfig {
            url: "http://gw/send".into(),
            auth_header_file: None,
            body_template: r#"{"to": "{to}", "text": "{text}"}"#.into(),
            content_type: None,
        };
        let json = HttpSms::new(&c).unwrap().body("+361", "say \"hi\"\nnow");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["text"], "say \"hi\"\nnow");
        c.body_template = "to={to}&text={text}".into();
        c.content_type = Some("application/x-www-form-urlencoded".into());
        assert_eq!(
            HttpSms::new(&c).unwrap().body("+361", "a b&c"),
            "to=%2B361&text=a+b%26c"
        );
    }
}
