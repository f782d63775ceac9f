//! Minimal protocol peers standing in for an SMTP relay and an SMS gateway: they speak
//! the real protocols on loopback and keep what they receive.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

pub type Inbox = Arc<Mutex<Vec<String>>>;

/// An SMTP server accepting every message; returns its port and the received messages.
pub fn smtp_server() -> (u16, Inbox) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox: Inbox = Arc::default();
    let keep = inbox.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut out = stream.try_clone().unwrap();
            let mut lines = BufReader::new(stream);
            let _ = out.write_all(b"220 fake-smtp ready\r\n");
            let mut line = String::new();
            while lines.read_line(&mut line).unwrap_or(0) > 0 {
                let cmd = line.trim_end().to_ascii_uppercase();
                let reply: &[u8] = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                    b"250 fake-smtp\r\n"
                } else if cmd.starts_with("DATA") {
                    let _ = out.write_all(b"354 end with .\r\n");
                    let mut message = String::new();
                    let mut l = String::new();
                    while lines.read_line(&mut l).unwrap_or(0) > 0 && l.trim_end() != "." {
                        message.push_str(&l);
                        l.clear();
                    }
                    keep.lock().unwrap().push(message);
                    b"250 queued\r\n"
                } else if cmd.starts_with("QUIT") {
                    let _ = out.write_all(b"221 bye\r\n");
                    break;
                } else {
                    b"250 ok\r\n"
                };
                let _ = out.write_all(reply);
                line.clear();
            }
        }
    });
    (port, inbox)
}

/// An HTTP endpoint answering 200 to every POST; returns its URL and the received
/// requests (head and body).
pub fn http_gateway() -> (String, Inbox) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    let inbox: Inbox = Arc::default();
    let keep = inbox.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
                line.clear();
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            keep.lock()
                .unwrap()
                .push(format!("{head}\r\n{}", String::from_utf8_lossy(&body)));
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, inbox)
}

/// The first run of six digits in a text.
pub fn six_digits(text: &str) -> Option<String> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(5))
        .find(|&i| {
            b[i..i + 6].iter().all(u8::is_ascii_digit)
                && (i == 0 || !b[i - 1].is_ascii_digit())
                && b.get(i + 6).is_none_or(|c| !c.is_ascii_digit())
        })
        .map(|i| text[i..i + 6].to_string())
}
