// Citizens' accounts: search, and one account with its sign-in methods, sessions and locks;
// disable, enable, unlock, end sessions, reset a sign-in method, remove.

import { useState } from 'preact/hooks';
import { del, get, post, seg } from '../api.js';
import {
  BackLink, Banner, Button, ButtonGroup, Confirm, ErrorSummary, Heading, Link, Loading, PageHeading,
  SummaryList, Table, Tag, TextInput, formErrors, setFlash, useFlash, useLoad, usePage,
} from '../components.jsx';
import { dateTime, label, t } from '../i18n.js';
import { navigate, queryParams } from '../router.js';
import { useSession } from '../session.js';

/** A postal address (OIDC Core 5.1.1) on one line: as written, or its parts in order. */
function postal(a) {
  if (!a) return '';
  const lines = (s) => s.split('\n').map((l) => l.trim()).filter(Boolean).join(', ');
  if (a.formatted) return lines(a.formatted);
  const place = [a.postal_code, a.locality].filter(Boolean).join(' ');
  return [a.street_address && lines(a.street_address), place, a.region, a.country].filter(Boolean).join(', ');
}

export function UserList() {
  usePage(t('users.title'));
  const flash = useFlash();
  const [q, setQ] = useState(() => queryParams().q || '');
  const [asked, setAsked] = useState(q);
  const users = useLoad(() => get('/users', { q: asked }), [asked]);
  const search = (e) => {
    e.preventDefault();
    history.replaceState(null, '', q ? `?q=${encodeURIComponent(q)}` : location.pathname);
    setAsked(q);
  };
  return (
    <>
      {flash && <Banner success><Heading>{flash}</Heading></Banner>}
      <PageHeading>{t('users.title')}</PageHeading>
      <form onSubmit={search} role="search" class="app-search">
        <TextInput id="user-q" label={t('users.search')} hint={t('users.searchHint')} value={q} onInput={setQ} type="search" />
        <Button variant="secondary">{t('users.searchButton')}</Button>
      </form>
      <Loading state={users}>
        {(list) => (
          <Table
            caption={asked ? t('users.found', { count: list.length, q: asked }) : t('users.all', { count: list.length })}
            head={[t('field.username'), t('field.name'), t('field.email'), t('users.status')]}
            empty={t('users.none')}
            rows={list.map((u) => [
              <Link href={`/admin/users/${seg(u.sub)}`}>{u.username}</Link>,
              u.name || '–',
              u.email || '–',
              u.disabled ? <Tag colour="red">{t('users.disabled')}</Tag> : <Tag colour="green">{t('users.active')}</Tag>,
            ])}
          />
        )}
      </Loading>
    </>
  );
}

export function UserShow({ params }) {
  const session = useSession();
  const flash = useFlash();
  const [notice, setNotice] = useState(flash);
  const [error, setError] = useState(null);
  const [asking, setAsking] = useState(null);
  const user = useLoad(() => get(`/users/${seg(params.id)}`), [params.id]);
  const name = user.data?.username || params.id;
  usePage(name, Boolean(error));
  const base = `/users/${seg(params.id)}`;

  // Runs a change, then shows its outcome and the account as it is now.
  const act = async (run, done) => {
    setAsking(null);
    try {
      const r = await run();
      setNotice(done(r));
      setError(null);
      user.reload();
    } catch (e) {
      setNotice(null);
      setError(formErrors(e));
    }
  };
  const remove = async () => {
    setAsking(null);
    try {
      await del(base);
      setFlash(t('users.removed', { name }));
      navigate('/admin/users');
    } catch (e) {
      setError(formErrors(e));
    }
  };

  return (
    <>
      <BackLink href="/admin/users">{t('users.title')}</BackLink>
      {notice && <Banner success><Heading>{notice}</Heading></Banner>}
      <ErrorSummary errors={error} />
      <PageHeading caption={t('users.one')}>{name}</PageHeading>
      <Loading state={user}>
        {(u) => { const { factors, sessions, locked, roles } = u; return (
          <>
            <SummaryList rows={[
              [t('field.name'), u.name || '–'],
              [t('field.email'), u.email ? `${u.email}${u.email_verified ? ` (${t('users.verified')})` : ''}` : '–'],
              [t('field.phone'), u.phone ? `${u.phone}${u.phone_verified ? ` (${t('users.verified')})` : ''}` : '–'],
              [t('field.address'), postal(u.address) || '–'],
              [t('users.status'), u.disabled ? <Tag colour="red">{t('users.disabled')}</Tag> : <Tag colour="green">{t('users.active')}</Tag>],
              [t('users.roles'), roles?.length ? roles.map((r) => t(`role.${r}`)).join(', ') : '–'],
              [t('users.id'), <code>{u.sub}</code>],
              [t('users.created'), dateTime(u.created_at)],
            ]} />

            {session.change && !asking && (
              <ButtonGroup>
                {u.disabled
                  ? <Button type="button" variant="secondary" onClick={() => act(() => post(`${base}/enable`), () => t('users.enabled'))}>{t('users.enable')}</Button>
                  : <Button type="button" variant="secondary" onClick={() => setAsking({ kind: 'disable' })}>{t('users.disable')}</Button>}
                <Button type="button" variant="warning" onClick={() => setAsking({ kind: 'remove' })}>{t('users.remove')}</Button>
              </ButtonGroup>
            )}
            {asking?.kind === 'disable' && (
              <Confirm question={t('users.disableQ', { name: u.username })} confirm={t('users.disable')} warning={t('users.disableWarn')}
                onCancel={() => setAsking(null)}
                onConfirm={() => act(() => post(`${base}/disable`), (r) => t('users.disabledDone', { sessions: r.sessions_ended, grants: r.grants_revoked }))} />
            )}
            {asking?.kind === 'remove' && (
              <Confirm question={t('users.removeQ', { name: u.username })} confirm={t('users.remove')} warning={t('users.removeWarn')}
                onCancel={() => setAsking(null)} onConfirm={remove} />
            )}

            <h2 class="govuk-heading-m">{t('users.locks')}</h2>
            {locked.length === 0
              ? <p class="govuk-body">{t('users.noLocks')}</p>
              : (
                <>
                  <ul class="govuk-list govuk-list--bullet">
                    {locked.map((l) => <li key={l.factor}>{t('users.lockedUntil', { factor: label('factor', l.factor), until: dateTime(l.locked_until) })}</li>)}
                  </ul>
                  {session.change && (
                    <Button type="button" variant="secondary" onClick={() => act(() => post(`${base}/unlock`), (r) => t('users.unlocked', { count: r.unlocked }))}>
                      {t('users.unlock')}
                    </Button>
                  )}
                </>
              )}

            <Table
              caption={t('users.factors')} wide
              head={[t('users.factor'), t('users.label'), t('users.added'), t('users.lastUsed'), ...(session.change ? [t('common.action')] : [])]}
              empty={t('users.noFactors')}
              rows={factors.map((f) => [
                label('factor', f.kind),
                f.label || '–',
                dateTime(f.created_at),
                f.last_used_at ? dateTime(f.last_used_at) : '–',
                ...(session.change ? [
                  asking?.factor === f.id
                    ? <Confirm question={t('users.resetQ', { factor: label('factor', f.kind) })} confirm={t('users.reset')}
                        warning={t('users.resetWarn')} onCancel={() => setAsking(null)}
                        onConfirm={() => act(() => del(`${base}/factors/${seg(f.id)}`), () => t('users.resetDone', { factor: label('factor', f.kind) }))} />
                    : <Button type="button" variant="secondary" class="govuk-button govuk-button--secondary app-button-small"
                        onClick={() => setAsking({ factor: f.id })}>
                        {t('users.reset')}<span class="govuk-visually-hidden"> {label('factor', f.kind)} {f.label || ''}</span>
                      </Button>,
                ] : []),
              ])}
            />

            <Table
              caption={t('users.sessions')} wide
              head={[t('users.level'), t('users.signedIn'), t('users.lastSeen'), t('users.expires'), ...(session.change ? [t('common.action')] : [])]}
              empty={t('users.noSessions')}
              rows={sessions.map((s, i) => [
                label('acr', s.acr),
                dateTime(s.auth_time),
                dateTime(s.last_seen),
                dateTime(s.expires_at),
                ...(session.change ? [
                  <Button type="button" variant="secondary" class="govuk-button govuk-button--secondary app-button-small"
                    onClick={() => act(() => del(`/sessions/${seg(s.sid)}`), () => t('users.sessionEnded'))}>
                    {t('users.endSession')}<span class="govuk-visually-hidden"> {i + 1}</span>
                  </Button>,
                ] : []),
              ])}
            />
            {session.change && sessions.length > 1 && (
              <Button type="button" variant="secondary" onClick={() => act(() => post(`${base}/sessions/end`), (r) => t('users.sessionsEnded', { count: r.ended }))}>
                {t('users.endAll')}
              </Button>
            )}
            <p class="govuk-body"><Link href={`/admin/audit?user=${seg(u.sub)}`}>{t('users.events')}</Link></p>
          </>
        ); }}
      </Loading>
    </>
  );
}
