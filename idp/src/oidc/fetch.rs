//! Fetching a document at a URI a client chose (its `jwks_uri`, its
//! `sector_identifier_uri`, its logo): a way into the provider's network (server-side request
//! forgery), so a fetch follows no redirect, takes at most `TIMEOUT`, reads at most
//! `MAX_BYTES`, and by default goes only to public addresses over https: the host's name is
//! resolved here and every loopback, private, link-local, shared or otherwise special
//! address is refused. `fetch_private_addresses = true` in the configuration lifts that for
//! development and tests.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// The most a fetch may take, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest document read.
pub const MAX_BYTES: usize = 64 * 1024;

/// Whether `uri` may be registered as a place to fetch from: https (or, with private
/// addresses allowed, http), a host, no credentials or fragment.
pub fn check_uri(uri: &str, private_addresses: bool) -> Result<url::Url, String> {
    let u = url::Url::parse(uri).map_err(|e| format!("not an absolute URI: {e}"))?;
    match u.scheme() {
        "https" => {}
        "http" if private_addresses => {}
        _ => return Err("must be an https URI".into()),
    }
    if u.host().is_none() || !u.username().is_empty() || u.password().is_some() {
        return Err("must name a host, without credentials".into());
    }
    if u.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    let literal = match u.host() {
        Some(url::Host::Ipv4(a)) => Some(IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => Some(IpAddr::V6(a)),
        _ => None,
    };
    if !private_addresses && literal.is_some_and(|ip| !public(ip)) {
        return Err("names an address that is not public".into());
    }
    Ok(u)
}

/// Whether an address is one the provider may fetch from on a client's behalf: none of
/// loopback, private (RFC 1918, unique local), link-local, shared (RFC 6598), unspecified,
/// multicast, broadcast, documentation or reserved ranges, IPv4 inside IPv6 included.
pub fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (18..20).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0xdb8
                || first == 0x0064 && v6.segments()[1] == 0xff9b)
        }
    }
}

/// Resolves names for the fetching client, keeping only the addresses it may reach.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            // The blocking client's own runtime thread: a blocking lookup is fine here.
            let all: Vec<SocketAddr> = (host.as_str(), 0).to_socket_addrs()?.collect();
            let allowed: Vec<SocketAddr> = all.into_iter().filter(|a| public(a.ip())).collect();
            if allowed.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Fetches the document at `uri` under the rules of the module's first lines, as text.
pub fn fetch(uri: &str, private_addresses: bool) -> Result<String, String> {
    let body = fetch_bytes(uri, private_addresses, "application/json")?;
    String::from_utf8(body).map_err(|_| "not UTF-8".to_string())
}

/// An HTTP client under the module's rules: no redirect, `TIMEOUT`, and unless
/// `private_addresses`, host names resolved to public addresses only. (Blocking: not for
/// an async runtime's threads.)
pub fn http_client(private_addresses: bool) -> Result<reqwest::blocking::Client, String> {
    let mut builder = reqwest::blocking::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    if !private_addresses {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    builder.build().map_err(|e| e.to_string())
}

/// Fetches what is at `uri` under the same rules, asking for the media types `accept`.
pub fn fetch_bytes(uri: &str, private_addresses: bool, accept: &str) -> Result<Vec<u8>, String> {
    let url = check_uri(uri, private_addresses)?;
    let http = http_client(private_addresses)?;
    let mut res = http
        .get(url)
        .header("accept", accept)
        .send()
        .map_err(|e| reasons(&e.without_url()))?;
    if res.status() != reqwest::StatusCode::OK {
        return Err(format!("answered {}", res.status().as_u16()));
    }
    let mut body = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(&mut res, MAX_BYTES as u64 + 1),
        &mut body,
    )
    .map_err(|e| e.to_string())?;
    if body.len() > MAX_BYTES {
        return Err(format!("larger than {MAX_BYTES} bytes"));
    }
    Ok(body)
}

/// An error with its causes, `: `-separated (reqwest's own says only "error sending
/// request").
fn reasons(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_may_be_fetched() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!public(private.parse().unwrap()), "{private}");
        }
        for open in ["93.184.216.34", "8.8.8.8", "2a00:1450:4001:80b::200e"] {
            assert!(public(open.parse().unwrap()), "{open}");
        }
    }

    #[test]
    fn registered_uris_are_https_to_a_public_host() {
        assert!(check_uri("https://rp.example/jwks", false).is_ok());
        for bad in [
            "http://rp.example/jwks",
            "https://127.0.0.1/jwks",
            "https://[::1]/jwks",
            "https://169.254.169.254/latest/meta-data",
            "https://user:pw@rp.example/jwks",
            "https://rp.example/jwks#k",
            "file:///etc/passwd",
            "jwks",
        ] {
            assert!(check_uri(bad, false).is_err(), "{bad}");
        }
        assert!(check_uri("http://127.0.0.1:8000/jwks", true).is_ok());
    }

    #[test]
    fn a_host_that_resolves_to_loopback_is_not_fetched() {
        // localhost resolves without a network; the resolver refuses its address.
        let err = fetch("https://localhost:1/jwks", false).unwrap_err();
        assert!(
            err.contains("public address") || err.contains("dns"),
            "{err}"
        );
        assert!(
            fetch("https://127.0.0.1:1/jwks", false)
                .unwrap_err()
                .contains("not public")
        );
    }
}
