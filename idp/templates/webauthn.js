// WebAuthn ceremonies for the sign-in and account pages: asks the server for options,
// lets the browser talk to the authenticator, and sends the answer back. The button
// carries the endpoints (data-begin, data-finish), the ceremony (data-mode: get or
// create) and the message to show on failure (data-failed).
(function () {
  'use strict';
  function fromB64u(s) {
    s = s.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    return Uint8Array.from(atob(s), function (c) { return c.charCodeAt(0); }).buffer;
  }
  function toB64u(buf) {
    var bytes = new Uint8Array(buf);
    var bin = '';
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  function creationOptions(pk) {
    pk.challenge = fromB64u(pk.challenge);
    pk.user.id = fromB64u(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = fromB64u(c.id); });
    return pk;
  }
  function requestOptions(pk) {
    pk.challenge = fromB64u(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = fromB64u(c.id); });
    return pk;
  }
  function encode(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toB64u(cred.rawId),
      type: cred.type,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toB64u(r.clientDataJSON) },
    };
    if (r.attestationObject) {
      out.response.attestationObject = toB64u(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    }
    if (r.authenticatorData) {
      out.response.authenticatorData = toB64u(r.authenticatorData);
      out.response.signature = toB64u(r.signature);
      out.response.userHandle = r.userHandle ? toB64u(r.userHandle) : null;
    }
    return out;
  }
  async function post(url, fields) {
    var res = await fetch(url, { method: 'POST', body: new URLSearchParams(fields), credentials: 'same-origin' });
    var json = await res.json();
    // A change of sign-in methods may first need a fresh, stronger sign-in.
    if (res.status === 403 && json.next) { window.location.assign(json.next); throw new Error('step-up'); }
    if (!res.ok) throw new Error(json.error_description || 'failed');
    return json;
  }
  var button = document.getElementById('webauthn');
  if (!button) return;
  var error = document.getElementById('webauthn-error');
  button.addEventListener('click', async function () {
    error.hidden = true;
    button.disabled = true;
    try {
      var csrf = document.getElementById('csrf').value;
      var name = document.getElementById('passkey-name');
      var begin = await post(button.dataset.begin, { csrf: csrf, name: name ? name.value : '' });
      var pk = begin.options.publicKey;
      var cred = button.dataset.mode === 'create'
        ? await navigator.credentials.create({ publicKey: creationOptions(pk) })
        : await navigator.credentials.get({ publicKey: requestOptions(pk) });
      var done = await post(button.dataset.finish, {
        csrf: csrf, challenge: begin.challenge, credential: JSON.stringify(encode(cred)),
      });
      window.location.assign(done.next);
    } catch (e) {
      error.textContent = button.dataset.failed;
      error.hidden = false;
      button.disabled = false;
    }
  });
})();
