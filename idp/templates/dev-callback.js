// The development callback page: shows the authorization response and exchanges the code
// at the real token endpoint, then shows the tokens, the ID token's claims and UserInfo.
'use strict';

const params = new URLSearchParams(location.search);
const response = document.getElementById('response');
const form = document.getElementById('exchange');
const result = document.getElementById('result');

function row(list, name, value) {
  const dt = document.createElement('dt');
  dt.textContent = name;
  const dd = document.createElement('dd');
  const code = document.createElement('code');
  code.textContent = value;
  dd.append(code);
  list.append(dt, dd);
}

function block(title, value) {
  const h = document.createElement('h2');
  h.textContent = title;
  const pre = document.createElement('pre');
  pre.textContent = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  result.append(h, pre);
}

function claims(jwt) {
  const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

for (const [name, value] of params) row(response, name, value);
if (params.has('code')) form.hidden = false;

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  result.replaceChildren();
  const id = document.getElementById('client-id').value;
  const secret = document.getElementById('client-secret').value;
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code: params.get('code'),
    redirect_uri: location.origin + location.pathname,
  });
  const basic = btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`);
  const answer = await fetch('/token', {
    method: 'POST',
    headers: { Authorization: `Basic ${basic}` },
    body,
  });
  const tokens = await answer.json();
  block(`Token response (HTTP ${answer.status})`, tokens);
  if (!answer.ok) return;
  form.hidden = true;
  if (tokens.id_token) block('ID token claims', claims(tokens.id_token));
  const info = await fetch('/userinfo', { headers: { Authorization: `Bearer ${tokens.access_token}` } });
  block(`UserInfo (HTTP ${info.status})`, await info.json());
});
