// Relying parties: the list, one client's settings, registering and changing a client,
// replacing its secret, removing it. The admin console's own client is built in.

import { useState } from 'preact/hooks';
import { del, get, patch, post, seg } from '../api.js';
import { metadata } from '../auth.js';
import {
  BackLink, Banner, Button, ButtonGroup, Checkbox, Checkboxes, Confirm, ErrorSummary, Heading, Link, Loading,
  PageHeading, Radios, SummaryList, Table, Tag, TextInput, Textarea, WarningText, fieldError, formErrors, lines,
  setFlash, useFlash, useLoad, usePage,
} from '../components.jsx';
import { dateTime, duration, label, t } from '../i18n.js';
import { navigate } from '../router.js';
import { useSession } from '../session.js';

const CONSOLE = 'admin-console';
const GRANTS = ['authorization_code', 'refresh_token', 'client_credentials'];
const LEVELS = ['low', 'substantial', 'high'];
/** The eIDAS levels of assurance as `acr` values, lowest first. */
const ACRS = LEVELS.map((l) => [`http://eidas.europa.eu/LoA/${l}`, l]);
const acrName = (acr) => label('level', ACRS.find(([a]) => a === acr)?.[1] ?? acr);

export function ClientList() {
  usePage(t('clients.title'));
  const session = useSession();
  const flash = useFlash();
  const clients = useLoad(() => get('/clients'), []);
  return (
    <>
      {flash && <Banner success><Heading>{flash}</Heading></Banner>}
      <PageHeading>{t('clients.title')}</PageHeading>
      {session.change && (
        <Link href="/admin/clients/new" class="govuk-button" role="button" draggable="false">{t('clients.create')}</Link>
      )}
      <Loading state={clients}>
        {(list) => (
          <Table
            caption={t('clients.caption', { count: list.length })}
            head={[t('field.id'), t('field.name'), t('field.auth_method'), t('field.risk_level')]}
            empty={t('clients.none')}
            rows={list.map((c) => [
              <><Link href={`/admin/clients/${seg(c.id)}`}>{c.id}</Link>{c.id === CONSOLE && <> <Tag colour="grey">{t('clients.builtIn')}</Tag></>}</>,
              c.name,
              label('auth', c.auth_method),
              label('level', c.risk_level),
            ])}
          />
        )}
      </Loading>
    </>
  );
}

function Secret({ secret }) {
  return (
    <>
      <p class="govuk-body">{t('clients.secretOnce')}</p>
      <p class="govuk-body"><code class="app-secret" id="client-secret">{secret}</code></p>
    </>
  );
}

export function ClientShow({ params }) {
  const session = useSession();
  const flash = useFlash();
  const [asking, setAsking] = useState(null);
  const [notice, setNotice] = useState(flash);
  const [error, setError] = useState(null);
  const client = useLoad(() => get(`/clients/${seg(params.id)}`), [params.id]);
  usePage(params.id, Boolean(error));
  const builtIn = params.id === CONSOLE && client.data?.auth_method === 'none';

  const rotate = async () => {
    setAsking(null);
    try {
      const r = await post(`/clients/${seg(params.id)}/secret`, {});
      setNotice({ text: t('clients.secretReplaced'), secret: r.secret });
      setError(null);
    } catch (e) {
      setError(formErrors(e));
    }
  };
  const remove = async () => {
    setAsking(null);
    try {
      await del(`/clients/${seg(params.id)}`);
      setFlash(t('clients.removed', { id: params.id }));
      navigate('/admin/clients');
    } catch (e) {
      setError(formErrors(e));
    }
  };
  return (
    <>
      <BackLink href="/admin/clients">{t('clients.title')}</BackLink>
      {notice && (
        <Banner success>
          <Heading>{notice.text || notice}</Heading>
          {notice.secret && <Secret secret={notice.secret} />}
        </Banner>
      )}
      <ErrorSummary errors={error} />
      <PageHeading caption={t('clients.one')}>{params.id}</PageHeading>
      <Loading state={client}>
        {(c) => (
          <>
            {builtIn && <p class="govuk-inset-text">{t('clients.consoleNote')}</p>}
            <SummaryList rows={[
              [t('field.name'), c.name],
              [t('field.auth_method'), label('auth', c.auth_method)],
              [t('field.redirect_uris'), <List items={c.redirect_uris} />],
              [t('field.post_logout_redirect_uris'), <List items={c.post_logout_redirect_uris} />],
              [t('field.scopes'), c.scopes.join(' ')],
              [t('field.grant_types'), c.grant_types.map((g) => label('grant', g)).join(', ')],
              [t('field.risk_level'), label('level', c.risk_level)],
              [t('field.id_token_alg'), c.id_token_alg],
              [t('field.access_token_ttl'), duration(c.access_token_ttl)],
              [t('field.refresh_token_ttl'), duration(c.refresh_token_ttl)],
              [t('field.resource_server'), c.resource_server ? t('common.yes') : t('common.no')],
              [t('field.access_token_format'), t(`format.${c.access_token_format}`)],
              [t('field.id_token_claims'), t(`idTokenClaims.${c.id_token_claims}`)],
              [t('field.subject_type'), t(`subjects.${c.subject_type}`)],
              [t('field.sector_identifier'), c.sector_identifier || '—'],
              c.jwks && [t('field.jwks'), <pre class="app-pre">{JSON.stringify(c.jwks, null, 2)}</pre>],
              c.jwks_uri && [t('field.jwks_uri'), <span class="app-wrap">{c.jwks_uri}</span>],
              [t('field.policy_uri'), <Uri value={c.policy_uri} />],
              [t('field.tos_uri'), <Uri value={c.tos_uri} />],
              [t('field.logo_uri'), c.logo_uri
                ? <span class="app-wrap"><img class="app-logo" src={`/clients/${encodeURIComponent(c.id)}/logo`} alt="" width="48" height="48" /> {c.logo_uri}</span>
                : '–'],
              [t('field.backchannel_logout_uri'), <Uri value={c.backchannel_logout_uri} />],
              [t('field.frontchannel_logout_uri'), <Uri value={c.frontchannel_logout_uri} />],
              [t('field.profile'), label('profile', c.profile || 'none')],
              [t('field.require_par'), c.require_pushed_authorization_requests ? t('common.yes') : t('common.no')],
              [t('field.dpop_bound_access_tokens'), c.dpop_bound_access_tokens ? t('common.yes') : t('common.no')],
              [t('field.request_uris'), <List items={c.request_uris} />],
              [t('field.default_acr_values'), c.default_acr_values.length ? c.default_acr_values.map(acrName).join(', ') : '–'],
              [t('field.default_max_age'), c.default_max_age === null || c.default_max_age === undefined ? '–' : duration(c.default_max_age)],
              [t('clients.created'), dateTime(c.created_at)],
            ]} />
            {session.change && !asking && (
              <ButtonGroup>
                {!builtIn && (
                  <Link href={`/admin/clients/${seg(c.id)}/edit`} class="govuk-button govuk-button--secondary" role="button" draggable="false">
                    {t('clients.change')}
                  </Link>
                )}
                {(c.auth_method === 'client_secret' || c.auth_method === 'client_secret_jwt') && (
                  <Button type="button" variant="secondary" onClick={() => setAsking('secret')}>{t('clients.rotateSecret')}</Button>
                )}
                {!builtIn && <Button type="button" variant="warning" onClick={() => setAsking('remove')}>{t('clients.remove')}</Button>}
              </ButtonGroup>
            )}
            {asking === 'secret' && (
              <Confirm question={t('clients.rotateSecretQ', { id: c.id })} confirm={t('clients.rotateSecret')}
                warning={t('clients.rotateSecretWarn')} onConfirm={rotate} onCancel={() => setAsking(null)} />
            )}
            {asking === 'remove' && (
              <Confirm question={t('clients.removeQ', { id: c.id })} confirm={t('clients.remove')}
                warning={t('clients.removeWarn')} onConfirm={remove} onCancel={() => setAsking(null)} />
            )}
          </>
        )}
      </Loading>
    </>
  );
}

function List({ items }) {
  if (!items?.length) return '–';
  return <ul class="govuk-list app-wrap">{items.map((i) => <li key={i}>{i}</li>)}</ul>;
}

/** An address as text (not a link: the console does not send administrators to clients' pages). */
function Uri({ value }) {
  return value ? <span class="app-wrap">{value}</span> : '–';
}

// The API's field names, and the inputs that show their errors.
const FIELDS = {
  id: 'client-id',
  name: 'client-name',
  auth_method: 'client-auth',
  secret: 'client-auth',
  jwks: 'client-jwks',
  jwks_uri: 'client-jwks-uri',
  redirect_uris: 'client-redirect-uris',
  post_logout_redirect_uris: 'client-post-logout',
  scopes: 'client-scopes',
  grant_types: 'client-grants',
  id_token_alg: 'client-alg',
  risk_level: 'client-level',
  access_token_ttl: 'client-access-ttl',
  refresh_token_ttl: 'client-refresh-ttl',
  resource_server: 'client-resource-server',
  access_token_format: 'client-token-format',
  id_token_claims: 'client-id-token-claims',
  subject_type: 'client-subject-type',
  sector_identifier: 'client-sector',
  policy_uri: 'client-policy-uri',
  tos_uri: 'client-tos-uri',
  logo_uri: 'client-logo-uri',
  backchannel_logout_uri: 'client-backchannel',
  frontchannel_logout_uri: 'client-frontchannel',
  profile: 'client-profile',
  require_pushed_authorization_requests: 'client-require-par',
  dpop_bound_access_tokens: 'client-dpop',
  request_uris: 'client-request-uris',
  default_acr_values: 'client-acr',
  default_max_age: 'client-max-age',
};

/** Addresses an empty value removes on a change (and leaves out of a new client). */
const CLEARABLE = ['policy_uri', 'tos_uri', 'logo_uri', 'backchannel_logout_uri', 'frontchannel_logout_uri', 'profile'];

function blank() {
  return {
    id: '', name: '', auth_method: 'client_secret', keys_from: 'jwks', jwks: '', jwks_uri: '',
    redirect_uris: '', post_logout_redirect_uris: '',
    scopes: ['openid', 'profile', 'email'], grant_types: ['authorization_code', 'refresh_token'],
    id_token_alg: 'ES256', risk_level: 'low', access_token_ttl: '600', refresh_token_ttl: '28800', resource_server: false,
    access_token_format: 'opaque', id_token_claims: 'requested', subject_type: 'pairwise', sector_identifier: '',
    require_pushed_authorization_requests: false, policy_uri: '', tos_uri: '', logo_uri: '', backchannel_logout_uri: '',
    frontchannel_logout_uri: '', profile: 'none', dpop_bound_access_tokens: false, request_uris: '',
    default_acr_values: [], default_max_age: '',
  };
}

function fromClient(c) {
  return {
    id: c.id, name: c.name, auth_method: c.auth_method, jwks: c.jwks ? JSON.stringify(c.jwks, null, 2) : '',
    redirect_uris: c.redirect_uris.join('\n'), post_logout_redirect_uris: c.post_logout_redirect_uris.join('\n'),
    scopes: c.scopes, grant_types: c.grant_types, id_token_alg: c.id_token_alg, risk_level: c.risk_level,
    access_token_ttl: String(c.access_token_ttl), refresh_token_ttl: String(c.refresh_token_ttl),
    resource_server: c.resource_server, access_token_format: c.access_token_format,
    id_token_claims: c.id_token_claims, logo_uri: c.logo_uri || '',
    subject_type: c.subject_type, sector_identifier: c.sector_identifier || '',
    require_pushed_authorization_requests: c.require_pushed_authorization_requests,
    policy_uri: c.policy_uri || '', tos_uri: c.tos_uri || '', backchannel_logout_uri: c.backchannel_logout_uri || '',
    frontchannel_logout_uri: c.frontchannel_logout_uri || '', profile: c.profile || 'none',
    dpop_bound_access_tokens: c.dpop_bound_access_tokens, request_uris: c.request_uris.join('\n'),
    default_acr_values: c.default_acr_values,
    default_max_age: c.default_max_age === null || c.default_max_age === undefined ? '' : String(c.default_max_age),
  };
}

/** The settings both a new client and a change send. */
function settings(form) {
  return {
    name: form.name.trim() || undefined,
    redirect_uris: lines(form.redirect_uris),
    post_logout_redirect_uris: lines(form.post_logout_redirect_uris),
    scopes: form.scopes,
    grant_types: form.grant_types,
    id_token_alg: form.id_token_alg,
    risk_level: form.risk_level,
    access_token_ttl: Number(form.access_token_ttl),
    refresh_token_ttl: Number(form.refresh_token_ttl),
    resource_server: form.resource_server,
    access_token_format: form.access_token_format,
    id_token_claims: form.id_token_claims,
    logo_uri: form.logo_uri.trim(),
    subject_type: form.subject_type,
    sector_identifier: form.sector_identifier.trim() || undefined,
    require_pushed_authorization_requests: form.require_pushed_authorization_requests,
    policy_uri: form.policy_uri.trim(),
    tos_uri: form.tos_uri.trim(),
    backchannel_logout_uri: form.backchannel_logout_uri.trim(),
    frontchannel_logout_uri: form.frontchannel_logout_uri.trim(),
    profile: form.profile === 'none' ? '' : form.profile,
    dpop_bound_access_tokens: form.dpop_bound_access_tokens,
    request_uris: lines(form.request_uris),
    // Lowest first, whatever order they were ticked in (the lowest of them is enough).
    default_acr_values: ACRS.map(([acr]) => acr).filter((acr) => form.default_acr_values.includes(acr)),
    // Left empty: none (a negative value removes it on a change).
    default_max_age: form.default_max_age.trim() === '' ? -1 : Number(form.default_max_age),
  };
}

/** The request body: everything for a new client, only what changed for a PATCH. */
function body(form, original) {
  const now = settings(form);
  if (!original) {
    const b = { id: form.id.trim(), auth_method: form.auth_method, ...now };
    for (const k of CLEARABLE) if (b[k] === '') delete b[k];
    if (b.default_max_age < 0) delete b.default_max_age;
    if (form.auth_method === 'private_key_jwt' && form.keys_from === 'jwks_uri') b.jwks_uri = form.jwks_uri.trim() || undefined;
    else if (form.auth_method === 'private_key_jwt') b.jwks = JSON.parse(form.jwks);
    return b;
  }
  const before = settings(fromClient(original));
  return Object.fromEntries(Object.entries(now).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(before[k])));
}

export function ClientForm({ params }) {
  const editing = Boolean(params.id);
  const original = useLoad(() => (editing ? get(`/clients/${seg(params.id)}`) : Promise.resolve(null)), [params.id]);
  const scopes = useLoad(() => metadata().then((m) => m.scopes_supported || []), []);
  return (
    <Loading state={original}>
      {(c) => (
        <Loading state={scopes}>
          {(known) => <ClientFormBody original={c} knownScopes={known} />}
        </Loading>
      )}
    </Loading>
  );
}

function ClientFormBody({ original, knownScopes }) {
  const [form, setForm] = useState(() => (original ? fromClient(original) : blank()));
  const [errors, setErrors] = useState(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState(null);
  const title = original ? t('clients.changeTitle', { id: original.id }) : t('clients.create');
  usePage(created ? t('clients.createdTitle') : title, Boolean(errors));
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  const err = (k) => fieldError(errors, k);

  if (created) {
    return (
      <div class="govuk-grid-row">
        <div class="govuk-grid-column-two-thirds">
          <div class="govuk-panel govuk-panel--confirmation">
            <h1 class="govuk-panel__title" id="page-heading" tabIndex={-1}>{t('clients.createdTitle')}</h1>
            <div class="govuk-panel__body">{created.client.id}</div>
          </div>
          {created.secret && (
            <>
              <WarningText>{t('clients.secretOnce')}</WarningText>
              <p class="govuk-body">{t('field.secret')}: <code class="app-secret" id="client-secret">{created.secret}</code></p>
            </>
          )}
          <p class="govuk-body"><Link href={`/admin/clients/${seg(created.client.id)}`}>{t('clients.viewCreated')}</Link></p>
        </div>
      </div>
    );
  }

  const submit = async (e) => {
    e.preventDefault();
    if (!original && form.auth_method === 'private_key_jwt' && form.keys_from === 'jwks') {
      try {
        JSON.parse(form.jwks);
      } catch {
        setErrors({ jwks: { id: FIELDS.jwks, text: `${t('field.jwks')}: ${t('clients.jwksNotJson')}` } });
        return;
      }
    }
    const local = {};
    for (const k of ['access_token_ttl', 'refresh_token_ttl', 'default_max_age']) {
      const v = form[k].trim();
      if (k === 'default_max_age' && v === '') continue;
      if (!/^\d+$/.test(v)) local[k] = { id: FIELDS[k], text: `${t(`field.${k}`)}: ${t('common.wholeSeconds')}` };
    }
    if (Object.keys(local).length) {
      setErrors(local);
      return;
    }
    const b = body(form, original);
    if (original && !Object.keys(b).length) {
      setFlash(t('clients.nothingChanged'));
      navigate(`/admin/clients/${seg(original.id)}`);
      return;
    }
    setBusy(true);
    try {
      if (original) {
        await patch(`/clients/${seg(original.id)}`, b);
        setFlash(t('clients.changed'));
        navigate(`/admin/clients/${seg(original.id)}`);
      } else {
        setCreated(await post('/clients', b));
      }
    } catch (ex) {
      // Without a JWK set, the API's "needs the keys" stands by the address of the keys.
      const keysAt = !original && form.auth_method === 'private_key_jwt' && form.keys_from === 'jwks_uri';
      setErrors(formErrors(ex, keysAt ? { ...FIELDS, jwks: FIELDS.jwks_uri } : FIELDS));
    } finally {
      setBusy(false);
    }
  };

  const scopeOptions = [...new Set([...knownScopes, ...form.scopes])].map((s) => [s, s]);
  return (
    <div class="govuk-grid-row">
      <div class="govuk-grid-column-two-thirds">
        <BackLink href={original ? `/admin/clients/${seg(original.id)}` : '/admin/clients'} />
        <ErrorSummary errors={errors} />
        <PageHeading>{title}</PageHeading>
        <form onSubmit={submit} noValidate>
          {!original && (
            <TextInput id={FIELDS.id} label={t('field.id')} hint={t('clients.idHint')} value={form.id}
              onInput={set('id')} error={err('id')} width="20" autocomplete="off" spellcheck={false} />
          )}
          <TextInput id={FIELDS.name} label={t('field.name')} hint={t('clients.nameHint')} value={form.name}
            onInput={set('name')} error={err('name')} />
          {!original && (
            <Radios id={FIELDS.auth_method} legend={t('field.auth_method')} value={form.auth_method}
              onChange={set('auth_method')} error={err('auth_method') || err('secret')}
              options={['client_secret', 'client_secret_jwt', 'none', 'private_key_jwt'].map((m) => [m, label('auth', m), t(`auth.hint.${m}`)])} />
          )}
          {!original && form.auth_method === 'private_key_jwt' && (
            <Radios id="client-keys-from" legend={t('field.keys_from')} value={form.keys_from} onChange={set('keys_from')}
              options={[['jwks', t('keys.jwks')], ['jwks_uri', t('keys.jwks_uri'), t('keys.hint.jwks_uri')]]} />
          )}
          {!original && form.auth_method === 'private_key_jwt' && form.keys_from === 'jwks' && (
            <Textarea id={FIELDS.jwks} label={t('field.jwks')} hint={t('clients.jwksHint')} value={form.jwks}
              onInput={set('jwks')} error={err('jwks')} rows={6} spellcheck={false} />
          )}
          {!original && form.auth_method === 'private_key_jwt' && form.keys_from === 'jwks_uri' && (
            <TextInput id={FIELDS.jwks_uri} label={t('field.jwks_uri')} hint={t('clients.jwksUriHint')} value={form.jwks_uri}
              onInput={set('jwks_uri')} error={err('jwks_uri') || err('jwks')} type="url" spellcheck={false} autocomplete="off" />
          )}
          <Textarea id={FIELDS.redirect_uris} label={t('field.redirect_uris')} hint={t('clients.urisHint')}
            value={form.redirect_uris} onInput={set('redirect_uris')} error={err('redirect_uris')} spellcheck={false} />
          <Checkboxes id={FIELDS.scopes} legend={t('field.scopes')} values={form.scopes} onChange={set('scopes')}
            error={err('scopes')} options={scopeOptions} />
          <Checkboxes id={FIELDS.grant_types} legend={t('field.grant_types')} values={form.grant_types}
            onChange={set('grant_types')} error={err('grant_types')} options={GRANTS.map((g) => [g, label('grant', g)])} />
          <Radios id={FIELDS.risk_level} legend={t('field.risk_level')} hint={t('clients.levelHint')} value={form.risk_level}
            onChange={set('risk_level')} error={err('risk_level')} inline options={LEVELS.map((l) => [l, label('level', l)])} />
          <Radios id={FIELDS.id_token_alg} legend={t('field.id_token_alg')} hint={t('clients.algHint')} value={form.id_token_alg}
            onChange={set('id_token_alg')} error={err('id_token_alg')} inline options={[['ES256', 'ES256'], ['RS256', 'RS256']]} />
          <Radios id={FIELDS.subject_type} legend={t('field.subject_type')} hint={t('clients.subjectHint')}
            value={form.subject_type} onChange={set('subject_type')} error={err('subject_type')}
            options={['pairwise', 'public'].map((v) => [v, t(`subjects.${v}`)])} />
          <TextInput id={FIELDS.sector_identifier} label={t('field.sector_identifier')} hint={t('clients.sectorHint')}
            value={form.sector_identifier} onInput={set('sector_identifier')} error={err('sector_identifier')} />
          <Radios id={FIELDS.access_token_format} legend={t('field.access_token_format')} hint={t('clients.formatHint')}
            value={form.access_token_format} onChange={set('access_token_format')} error={err('access_token_format')}
            options={['opaque', 'jwt'].map((f) => [f, t(`format.${f}`)])} />
          <Radios id={FIELDS.id_token_claims} legend={t('field.id_token_claims')} hint={t('clients.idTokenClaimsHint')}
            value={form.id_token_claims} onChange={set('id_token_claims')} error={err('id_token_claims')}
            options={['requested', 'scopes'].map((v) => [v, t(`idTokenClaims.${v}`)])} />
          <TextInput id={FIELDS.access_token_ttl} label={t('field.access_token_ttl')} hint={t('common.seconds')}
            value={form.access_token_ttl} onInput={set('access_token_ttl')} error={err('access_token_ttl')}
            inputMode="numeric" width="5" />
          <TextInput id={FIELDS.refresh_token_ttl} label={t('field.refresh_token_ttl')} hint={t('common.seconds')}
            value={form.refresh_token_ttl} onInput={set('refresh_token_ttl')} error={err('refresh_token_ttl')}
            inputMode="numeric" width="5" />
          <Checkbox id={FIELDS.resource_server} label={t('field.resource_server')} hint={t('clients.resourceHint')}
            checked={form.resource_server} onChange={set('resource_server')} />

          <h2 class="govuk-heading-m">{t('clients.links')}</h2>
          <TextInput id={FIELDS.policy_uri} label={t('field.policy_uri')} hint={t('clients.pageHint')} value={form.policy_uri}
            onInput={set('policy_uri')} error={err('policy_uri')} type="url" spellcheck={false} autocomplete="off" />
          <TextInput id={FIELDS.tos_uri} label={t('field.tos_uri')} hint={t('clients.pageHint')} value={form.tos_uri}
            onInput={set('tos_uri')} error={err('tos_uri')} type="url" spellcheck={false} autocomplete="off" />
          <TextInput id={FIELDS.logo_uri} label={t('field.logo_uri')} hint={t('clients.logoHint')} value={form.logo_uri}
            onInput={set('logo_uri')} error={err('logo_uri')} type="url" spellcheck={false} autocomplete="off" />

          <h2 class="govuk-heading-m">{t('clients.signOut')}</h2>
          <Textarea id={FIELDS.post_logout_redirect_uris} label={t('field.post_logout_redirect_uris')} hint={t('clients.urisHint')}
            value={form.post_logout_redirect_uris} onInput={set('post_logout_redirect_uris')}
            error={err('post_logout_redirect_uris')} spellcheck={false} />
          <TextInput id={FIELDS.backchannel_logout_uri} label={t('field.backchannel_logout_uri')} hint={t('clients.backchannelHint')}
            value={form.backchannel_logout_uri} onInput={set('backchannel_logout_uri')} error={err('backchannel_logout_uri')}
            type="url" spellcheck={false} autocomplete="off" />
          <TextInput id={FIELDS.frontchannel_logout_uri} label={t('field.frontchannel_logout_uri')} hint={t('clients.frontchannelHint')}
            value={form.frontchannel_logout_uri} onInput={set('frontchannel_logout_uri')} error={err('frontchannel_logout_uri')}
            type="url" spellcheck={false} autocomplete="off" />

          <h2 class="govuk-heading-m">{t('clients.advanced')}</h2>
          <p class="govuk-body">{t('clients.advancedIntro')}</p>
          <Radios id={FIELDS.profile} legend={t('field.profile')} value={form.profile} onChange={set('profile')}
            error={err('profile')} options={[['none', label('profile', 'none')], ['fapi2', label('profile', 'fapi2'), t('clients.fapi2Hint')]]} />
          <Checkbox id={FIELDS.require_pushed_authorization_requests} label={t('field.require_par')}
            hint={t('clients.parHint')} checked={form.require_pushed_authorization_requests}
            onChange={set('require_pushed_authorization_requests')} error={err('require_pushed_authorization_requests')} />
          <Checkbox id={FIELDS.dpop_bound_access_tokens} label={t('field.dpop_bound_access_tokens')}
            hint={t('clients.dpopHint')} checked={form.dpop_bound_access_tokens}
            onChange={set('dpop_bound_access_tokens')} error={err('dpop_bound_access_tokens')} />
          <Textarea id={FIELDS.request_uris} label={t('field.request_uris')} hint={t('clients.requestUrisHint')}
            value={form.request_uris} onInput={set('request_uris')} error={err('request_uris')} spellcheck={false} />
          <Checkboxes id={FIELDS.default_acr_values} legend={t('field.default_acr_values')} hint={t('clients.acrHint')}
            values={form.default_acr_values} onChange={set('default_acr_values')} error={err('default_acr_values')}
            options={ACRS.map(([acr, level]) => [acr, label('level', level), acr])} />
          <TextInput id={FIELDS.default_max_age} label={t('field.default_max_age')} hint={t('clients.maxAgeHint')}
            value={form.default_max_age} onInput={set('default_max_age')} error={err('default_max_age')}
            inputMode="numeric" width="10" />
          <Button disabled={busy}>{original ? t('common.save') : t('clients.create')}</Button>
        </form>
      </div>
    </div>
  );
}
