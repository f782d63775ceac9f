"""Fuzzes the Admin API of a real `idp` with schemathesis, driven by its own OpenAPI document.

A throwaway installation is set up through the `idp` command line (an administrator, a few
accounts and relying parties to find), served over TLS on a free loopback port, and the
administrator signs in the way a person with a smart card does: the password on the login
page, then an X.509 client certificate presented in the TLS handshake, which together reach
`http://eidas.europa.eu/LoA/high`; the built-in `admin-console` client exchanges the code
with its PKCE verifier. No shortcut mints the token: it comes out of the same sign-in and
token endpoint as every other. The OpenAPI document is then validated and every operation
is fuzzed with that token; the run fails on any server error or any answer the document
does not describe.

Settings (environment): IDP_BIN (default target/debug/idp), FUZZ_SECONDS (time budget of
the fuzzing, default 90), FUZZ_EXAMPLES (cases per operation and phase, default 40),
FUZZ_SEED (to replay a run; a random one is drawn and printed otherwise), FUZZ_WORKERS
(default 1).
"""

import base64
import hashlib
import html.parser
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import requests
from openapi_spec_validator import validate as validate_spec

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
HIGH = "http://eidas.europa.eu/LoA/high"
API = "/admin/api/v1"
ADMIN = "fuzz-admin"
CONSOLE = "admin-console"
# What every answer is held to: no server error, and status code, content type, headers
# and body as the document says.
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    # Security: an operation must refuse a request without the token or with a bad one.
    "ignored_auth",
    # Refuse what the schema forbids, and keep what was created findable and deleted gone.
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "use_after_free",
    "ensure_resource_availability",
]


def fail(message):
    print(f"fuzz: {message}", file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"openssl {' '.join(args)} failed: {r.stderr}")


def make_pki(d):
    """A citizen CA, the server's certificate for localhost and the administrator's card."""
    ext = d / "ext.cnf"
    ext.write_text(
        "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n"
        "[server]\nbasicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n"
        "[client]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n"
    )
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Fuzz citizen CA", "-extensions", "ca", "-config", ext.name, cwd=d)
    for name, subj in (("server", "/CN=localhost"), ("client", f"/CN={ADMIN}")):
        openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subj, cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-out", f"{name}.pem",
                "-extfile", ext.name, "-extensions", name, cwd=d)


class Idp:
    def __init__(self, binary, work):
        self.binary = binary
        self.work = work
        self.data = work / "data"
        self.settings = ["--data-dir", str(self.data), "--config", str(work / "idp.toml")]
        self.port = free_port()
        self.issuer = f"https://localhost:{self.port}"
        self.child = None
        self.log = open(work / "idp.log", "w+")

    def cli(self, *args, stdin=None):
        r = subprocess.run([self.binary, *self.settings, *args], input=stdin,
                           capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"idp {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r.stdout

    def serve(self):
        env = {**os.environ, "RUST_LOG": "warn"}
        self.child = subprocess.Popen(
            [self.binary, *self.settings, "serve", "--listen", f"127.0.0.1:{self.port}",
             "--issuer", self.issuer],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, env=env)
        for _ in range(200):
            if self.child.poll() is not None:
                fail(f"idp exited: {self.logged()}")
            try:
                r = requests.get(f"{self.issuer}/health/ready", verify=str(self.work / "ca.pem"),
                                 timeout=2)
                if r.ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        fail(f"idp did not become ready: {self.logged()}")

    def logged(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.child and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)
            try:
                self.child.wait(10)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()


def set_up(idp):
    """The installation the fuzzer works on: the administrator and things to find."""
    work = idp.work
    (work / "idp.toml").write_text(
        "[tls]\n"
        f'cert_file = "{work / "server.pem"}"\n'
        f'key_file = "{work / "server.key"}"\n'
        "tls13_only = true\n\n"
        "[x509]\n"
        f'ca_files = ["{work / "ca.pem"}"]\n'
        'mapping = "subject-cn"\n'
    )
    idp.cli("migrate")
    password = secrets.token_urlsafe(18)
    idp.cli("user", "add", "--username", ADMIN, "--password-stdin", "--name", "Fuzz Admin",
            stdin=password + "\n")
    idp.cli("user", "grant-role", "--username", ADMIN, "--role", "administrator")
    for name in ("anna", "bence", "dana"):
        idp.cli("user", "add", "--username", name, "--password-stdin",
                "--email", f"{name}@example.invalid", "--name", name.title(),
                stdin=secrets.token_urlsafe(18) + "\n")
    idp.cli("user", "grant-role", "--username", "bence", "--role", "auditor")
    idp.cli("client", "add", "--id", "benefits-portal", "--generate-secret", "--name", "Benefits",
            "--redirect-uri", "https://benefits.example.invalid/cb",
            "--post-logout-redirect-uri", "https://benefits.example.invalid/")
    idp.cli("client", "add", "--id", "tax-app", "--public",
            "--redirect-uri", "gov.example.app:/cb")
    return password


class Forms(html.parser.HTMLParser):
    """The forms of a page (action, fields with a value) and the links."""

    def __init__(self):
        super().__init__()
        self.forms = []
        self.links = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])


def sign_in(idp, password):
    """Password and smart card through the login pages, then the code for a token."""
    work = idp.work
    browser = requests.Session()
    # Otherwise REQUESTS_CA_BUNDLE, if set, would stand in for the session's CA.
    browser.trust_env = False
    browser.verify = str(work / "ca.pem")
    browser.cert = (str(work / "client.pem"), str(work / "client.key"))
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(12)
    callback = f"{idp.issuer}/admin/callback"
    res = browser.get(f"{idp.issuer}/authorize", allow_redirects=False, params={
        "client_id": CONSOLE, "response_type": "code", "scope": "openid profile admin",
        "redirect_uri": callback, "state": state, "acr_values": HIGH,
        "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256",
    })
    done = set()
    for _ in range(16):
        if res.is_redirect:
            location = urllib.parse.urljoin(res.url, res.headers["location"])
            if location.startswith(callback + "?"):
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
                if query.get("state") != [state] or "code" not in query:
                    fail(f"sign-in ended without a code: {location}")
                return exchange(browser, idp, query["code"][0], callback, verifier)
            res = browser.get(location, allow_redirects=False)
            continue
        if res.status_code != 200:
            fail(f"sign-in: {res.request.method} {res.url} answered {res.status_code}: {res.text}")
        page = Forms()
        page.feed(res.text)
        by_step = {f["action"].rsplit("/", 1)[-1]: f for f in page.forms}
        if "login" in by_step and "login" not in done:
            step, form = "login", by_step["login"]
            form["fields"].update(username=ADMIN, password=password)
        elif "certificate" in by_step and "certificate" not in done:
            step, form = "certificate", by_step["certificate"]
        elif "consent" in by_step:
            step, form = "consent", by_step["consent"]
            form["fields"]["decision"] = "allow"
        else:
            pick = [link for link in page.links if link.endswith("?factor=x509")]
            if not pick or "pick" in done:
                fail(f"sign-in: no way on from {res.url}:\n{res.text}")
            done.add("pick")
            res = browser.get(urllib.parse.urljoin(res.url, pick[0]), allow_redirects=False)
            continue
        done.add(step)
        res = browser.post(urllib.parse.urljoin(res.url, form["action"]), data=form["fields"],
                           allow_redirects=False)
    fail("sign-in did not finish")


def exchange(browser, idp, code, callback, verifier):
    res = browser.post(f"{idp.issuer}/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": callback,
        "client_id": CONSOLE, "code_verifier": verifier,
    })
    if res.status_code != 200:
        fail(f"token exchange answered {res.status_code}: {res.text}")
    return res.json()["access_token"]


def own_ids(idp, token):
    """The administrator's id, username and session ids (what hooks.py keeps out of reach).
    Also shows that the token is good for the API."""
    def get(path, **params):
        res = requests.get(f"{idp.issuer}{API}{path}", params=params,
                           verify=str(idp.work / "ca.pem"),
                           headers={"authorization": f"Bearer {token}"})
        if res.status_code != 200:
            fail(f"the administrator's token was refused: {res.status_code} {res.text}")
        return res.json()

    sub = next(u["sub"] for u in get("/users", q=ADMIN) if u["username"] == ADMIN)
    me = get(f"/users/{sub}")
    return [sub, ADMIN, *(s["sid"] for s in me["sessions"])]


def validate_document(idp):
    res = requests.get(f"{idp.issuer}{API}/openapi.json", verify=str(idp.work / "ca.pem"))
    if res.status_code != 200:
        fail(f"openapi.json answered {res.status_code}")
    doc = res.json()
    try:
        validate_spec(doc)
    except Exception as e:  # the validator's errors have no common base worth naming
        where = "/".join(str(p) for p in getattr(e, "path", []))
        fail(f"the OpenAPI document is not valid OpenAPI {doc.get('openapi')}: at /{where}: "
             f"{getattr(e, 'message', str(e))[:2000]}")
    operations = sum(
        1 for item in doc["paths"].values() for m in item
        if m in ("get", "put", "post", "patch", "delete"))
    print(f"fuzz: OpenAPI {doc['openapi']} document valid: {len(doc['paths'])} paths, "
          f"{operations} operations")
    return doc


def fuzz(idp, token, protected):
    seconds = int(os.environ.get("FUZZ_SECONDS", "90"))
    examples = int(os.environ.get("FUZZ_EXAMPLES", "40"))
    # One worker: with two threads, hypothesis' ast.parse on CPython 3.11 fails now and then
    # ("AST constructor recursion depth mismatch"), and the server has the other core.
    workers = os.environ.get("FUZZ_WORKERS", "1")
    seed = int(os.environ.get("FUZZ_SEED") or secrets.randbelow(2**31))
    config = idp.work / "schemathesis.toml"
    # The token reaches schemathesis through the environment, not its command line.
    config.write_text(
        f'hooks = "{HERE / "hooks.py"}"\n\n'
        '[auth.openapi.bearer]\nbearer = "${IDP_ADMIN_TOKEN}"\n\n'
        # The token goes with every request, so that the fuzzing budget goes to the inputs;
        # `ignored_auth` still tries each operation that answered 2xx without it and with a
        # wrong one.
        '[generation]\ndatabase = "none"\nwith-security-parameters = false\n'
    )
    # Kept after the run (the last run's only), for a look at what was sent and answered.
    report = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "fuzz-report"
    shutil.rmtree(report, ignore_errors=True)
    cmd = [
        str(Path(sys.executable).parent / "st"), "--config-file", str(config), "run",
        f"{idp.issuer}{API}/openapi.json",
        "--checks", ",".join(CHECKS),
        "--tls-verify", str(idp.work / "ca.pem"),
        "--max-examples", str(examples),
        "--max-time", str(seconds),
        "--workers", workers,
        "--seed", str(seed),
        "--request-timeout", "30",
        "--report", "junit,ndjson", "--report-dir", str(report),
    ]
    print(f"fuzz: schemathesis, {examples} examples per operation, at most {seconds} s, "
          f"seed {seed} (FUZZ_SEED={seed} replays it)", flush=True)
    started = time.monotonic()
    env = {**os.environ, "IDP_ADMIN_TOKEN": token, "FUZZ_PROTECTED_IDS": json.dumps(protected),
           "NO_COLOR": "1"}
    # In the throwaway directory: schemathesis keeps a cache in its working directory.
    r = subprocess.run(cmd, env=env, cwd=idp.work)
    print(f"fuzz: schemathesis took {time.monotonic() - started:.0f} s", flush=True)
    return r.returncode


def main():
    binary = os.environ.get("IDP_BIN") or str(
        Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug" / "idp")
    if not os.access(binary, os.X_OK):
        fail(f"no idp binary at {binary}: cargo build -p idp --bin idp")
    if not shutil.which("openssl"):
        fail("openssl is missing (Debian package openssl): it makes the test certificates")
    work = Path(tempfile.mkdtemp(prefix="idp-fuzz-"))
    idp = Idp(binary, work)
    # The server log and the reports stay for a run that failed after the server started.
    keep = False
    try:
        make_pki(work)
        password = set_up(idp)
        idp.serve()
        keep = True
        token = sign_in(idp, password)
        protected = own_ids(idp, token)
        print(f"fuzz: {ADMIN} signed in with password and certificate at {HIGH}")
        validate_document(idp)
        code = fuzz(idp, token, protected)
        if idp.child.poll() is not None:
            fail(f"idp exited during the run: {idp.logged()}")
        if code != 0:
            fail(f"schemathesis found failures (exit {code})")
        # A panic caught on the way (a request's, or a background task's) is a fault even
        # when the answer looked right.
        if "panicked at" in idp.logged():
            fail(f"idp panicked during the run:\n{idp.logged()[-5000:]}")
        # Still good: the run tested with a valid token to its end.
        own_ids(idp, token)
        keep = False
        print("fuzz: no server error, every answer as the OpenAPI document describes")
    finally:
        idp.stop()
        if keep:
            print(f"fuzz: the server log and reports are in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
