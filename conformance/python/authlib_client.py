"""A relying party written with authlib (Python), driving a running `idp` as a portal would.

conformance/authlib.test.mjs starts the provider with two clients and passes, in the
environment: IDP_ISSUER; IDP_CLIENT, IDP_SECRET (client_secret_basic, with a post-logout
redirect URI IDP_POST_LOGOUT); IDP_JWT_CLIENT, IDP_JWT_KEY (a PEM private key:
private_key_jwt, RS256); IDP_REDIRECT; IDP_USERNAME, IDP_PASSWORD.

Each step prints `ok <step>`; the first failure raises, which exits non-zero. The citizen's
browser is a cookie-keeping requests session that fills the sign-in and consent forms.
"""

import html
import os
import re
import secrets
import sys
import warnings
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7636 import create_s256_code_challenge

with warnings.catch_warnings():
    # authlib.jose still carries the OpenID Connect ID token checks (CodeIDToken).
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt
    from authlib.oidc.core import CodeIDToken

ENV = os.environ
ISSUER = ENV["IDP_ISSUER"]
REDIRECT = ENV["IDP_REDIRECT"]


def ok(step):
    print(f"ok {step}", flush=True)


def field(page, name):
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    if not m:
        raise AssertionError(f"no {name} field in the page: {page[:500]}")
    return html.unescape(m.group(1))


class Browser:
    """The citizen's browser: follows the provider's redirects, fills its forms."""

    def __init__(self):
        self.http = requests.Session()

    def go(self, url, data=None):
        """Returns the page shown, or the URL the provider sends the browser away to."""
        res = self.http.post(url, data=data, allow_redirects=False) if data else self.http.get(url, allow_redirects=False)
        for _ in range(10):
            location = res.headers.get("location")
            if not location:
                return res.text, None
            target = urljoin(ISSUER, location)
            if not target.startswith(ISSUER):
                return None, target
            res = self.http.get(target, allow_redirects=False)
        raise AssertionError("redirect loop")

    def sign_in(self, url):
        page, away = self.go(url)
        for _ in range(4):
            if away:
                return away
            action = urljoin(ISSUER, html.unescape(re.search(r'action="([^"]*)"', page).group(1)))
            form = {"csrf": field(page, "csrf")}
            if action.endswith("/login"):
                form.update(username=ENV["IDP_USERNAME"], password=ENV["IDP_PASSWORD"])
            elif action.endswith("/consent"):
                form["decision"] = "allow"
            page, away = self.go(action, form)
        raise AssertionError("the sign-in did not finish")


def discover():
    meta = requests.get(f"{ISSUER}/.well-known/openid-configuration").json()
    assert meta["issuer"] == ISSUER, meta["issuer"]
    keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"]).json())
    ok("discovery and JWKS")
    return meta, keys


def id_token_claims(token, keys, client_id, nonce):
    """The ID token, verified as authlib verifies one of the code flow (signature, iss,
    aud, exp, iat, nonce, at_hash)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        claims = jwt.decode(
            token["id_token"],
            keys,
            claims_cls=CodeIDToken,
            claims_options={"iss": {"essential": True, "value": ISSUER}},
            claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
        )
        claims.validate(leeway=60)
    return claims


def code_flow(session, meta, keys, client_id, browser, extra=None):
    """Authorization code flow with PKCE, state and nonce; the token response and claims."""
    verifier = generate_token(64)
    nonce = generate_token(16)
    url, state = session.create_authorization_url(
        meta["authorization_endpoint"],
        nonce=nonce,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
        **(extra or {}),
    )
    back = browser.sign_in(url)
    query = parse_qs(urlparse(back).query)
    assert query.get("iss") == [ISSUER], query
    token = session.fetch_token(
        meta["token_endpoint"], authorization_response=back, code_verifier=verifier, state=state
    )
    return token, id_token_claims(token, keys, client_id, nonce)


def main():
    meta, keys = discover()
    browser = Browser()

    client_id = ENV["IDP_CLIENT"]
    basic = OAuth2Session(
        client_id, ENV["IDP_SECRET"], scope="openid profile email", redirect_uri=REDIRECT,
        token_endpoint_auth_method="client_secret_basic",
    )
    claims_request = '{"id_token":{"email":null}}'
    token, claims = code_flow(basic, meta, keys, client_id, browser, {"claims": claims_request})
    assert claims["email"], claims
    ok("code flow, client_secret_basic, ID token verified with its at_hash and the email asked for")

    info = basic.get(meta["userinfo_endpoint"]).json()
    assert info["sub"] == claims["sub"] and info["preferred_username"] == ENV["IDP_USERNAME"], info
    ok("UserInfo")

    old_refresh = token["refresh_token"]
    refreshed = basic.refresh_token(meta["token_endpoint"], refresh_token=old_refresh)
    assert refreshed["refresh_token"] != old_refresh
    ok("refresh token rotated")

    seen = basic.introspect_token(meta["introspection_endpoint"], token=refreshed["access_token"]).json()
    assert seen["active"] is True and seen["client_id"] == client_id, seen
    basic.revoke_token(meta["revocation_endpoint"], token=refreshed["access_token"])
    seen = basic.introspect_token(meta["introspection_endpoint"], token=refreshed["access_token"]).json()
    assert seen == {"active": False}, seen
    ok("introspection and revocation")

    # The rotated-out refresh token again: refused, and its whole family with it.
    def refresh_with(refresh_token):
        return requests.post(
            meta["token_endpoint"], data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(client_id, ENV["IDP_SECRET"]),
        )
    for reused in (old_refresh, refreshed["refresh_token"]):
        again = refresh_with(reused)
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant", again.text
    ok("a reused refresh token refused, and the family revoked")

    state = secrets.token_urlsafe(12)
    end = meta["end_session_endpoint"] + "?" + urlencode({
        "id_token_hint": refreshed["id_token"], "post_logout_redirect_uri": ENV["IDP_POST_LOGOUT"], "state": state,
    })
    page, away = browser.go(end)
    assert away and parse_qs(urlparse(away).query)["state"] == [state], (page or "")[:300]
    ok("RP-initiated logout")

    jwt_client = ENV["IDP_JWT_CLIENT"]
    signed = OAuth2Session(
        jwt_client, ENV["IDP_JWT_KEY"], scope="openid", redirect_uri=REDIRECT,
        token_endpoint_auth_method="private_key_jwt",
    )
    signed.register_client_auth_method(PrivateKeyJWT(meta["token_endpoint"]))
    token, claims = code_flow(signed, meta, keys, jwt_client, Browser())
    assert claims["aud"] == jwt_client or jwt_client in claims["aud"], claims
    ok("code flow, private_key_jwt (RS256 assertion)")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a failed step: say which, exit non-zero
        print(f"failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
