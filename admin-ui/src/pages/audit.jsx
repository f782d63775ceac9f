// The audit log: search by account, kind and time, a page at a time; check the hash chain;
// export a period as NDJSON; the signed checkpoints.

import { useEffect, useState } from 'preact/hooks';
import { api, get, seg } from '../api.js';
import {
  Banner, Button, ButtonGroup, ErrorSummary, Heading, Link, Loading, PageHeading, Select, Table,
  TextInput, fieldError, formErrors, problemText, useLoad, usePage,
} from '../components.jsx';
import { dateTime, label, number, t } from '../i18n.js';
import { queryParams } from '../router.js';
import { messages } from '../messages.js';

const KINDS = Object.keys(messages.en).filter((k) => k.startsWith('kind.')).map((k) => k.slice(5));
const FIELDS = { user: 'audit-user', kind: 'audit-kind', from: 'audit-from', until: 'audit-until', limit: 'audit-user', query: 'audit-user' };

/** Unix seconds <-> the value of a datetime-local input, in the reader's time zone. */
function toLocalInput(seconds) {
  if (!seconds) return '';
  const d = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fromLocalInput(value) {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? NaN : Math.floor(ms / 1000);
}

function initialFilter() {
  const q = queryParams();
  return {
    user: q.user || '',
    kind: q.kind || '',
    // A day back unless asked otherwise: the log is searched oldest first.
    from: toLocalInput(q.from ? Number(q.from) : Math.floor(Date.now() / 1000) - 86400),
    until: toLocalInput(q.until ? Number(q.until) : 0),
  };
}

// Account ids resolved to usernames, for the rows of every page seen.
const usernames = new Map();

function useUsernames(ids) {
  const [, setVersion] = useState(0);
  const wanted = [...new Set(ids.filter((id) => id && !usernames.has(id)))];
  useEffect(() => {
    if (!wanted.length) return;
    let live = true;
    Promise.all(wanted.map((id) => get(`/users/${seg(id)}`).then(
      (u) => usernames.set(id, u.username),
      // A removed account keeps its id in the log.
      () => usernames.set(id, null),
    ))).then(() => live && setVersion((v) => v + 1));
    return () => { live = false; };
  }, [wanted.join(' ')]);
}

function Account({ id }) {
  if (!id) return '–';
  const name = usernames.get(id);
  return <Link href={`/admin/users/${seg(id)}`}>{name || id}</Link>;
}

function By({ by, ip }) {
  const from = ip ? <span class="app-detail-key"> {t('audit.fromAddress', { ip })}</span> : null;
  if (!by) return from || '–';
  if (by.via === 'admin_api') return <>{t('audit.byAdmin')} <Account id={by.user_id} />{from}</>;
  if (by.via === 'cli') return by.os_user ? t('audit.byCliUser', { user: by.os_user }) : t('audit.byCli');
  return <>{by.via || '–'}{from}</>;
}

function DetailList({ entries }) {
  return (
    <ul class="govuk-list app-detail">
      {entries.map(([k, v]) => (
        <li key={k}><span class="app-detail-key">{k}:</span> {typeof v === 'object' ? JSON.stringify(v) : String(v)}</li>
      ))}
    </ul>
  );
}

/** An event's details: the first few at once, the rest behind "more" to keep rows short. */
function Detail({ detail }) {
  if (!detail || typeof detail !== 'object') return '–';
  const entries = Object.entries(detail).filter(([k]) => k !== 'by');
  if (!entries.length) return '–';
  if (entries.length <= 3) return <DetailList entries={entries} />;
  return (
    <>
      <DetailList entries={entries.slice(0, 2)} />
      <details class="govuk-details app-detail-more">
        <summary class="govuk-details__summary">
          <span class="govuk-details__summary-text">{t('audit.more', { count: entries.length - 2 })}</span>
        </summary>
        <div class="govuk-details__text"><DetailList entries={entries.slice(2)} /></div>
      </details>
    </>
  );
}

function Verify() {
  const [state, setState] = useState(null);
  const run = async () => {
    setState({ busy: true });
    try {
      setState({ result: await get('/audit/verify') });
    } catch (e) {
      setState({ error: problemText(e) });
    }
  };
  return (
    <>
      <Button type="button" variant="secondary" onClick={run} disabled={state?.busy}>{t('audit.verify')}</Button>
      {state?.result && (state.result.intact
        ? (
          <Banner success title={t('audit.verifyTitle')}>
            <Heading>{t('audit.intact', { count: number(state.result.events), checkpoints: number(state.result.checkpoints ?? 0) })}</Heading>
            {state.result.pending > 0 && <p class="govuk-body">{t('audit.pending', { count: number(state.result.pending) })}</p>}
          </Banner>
        )
        : <Banner title={t('audit.verifyTitle')}><Heading>{t('audit.broken', { problem: state.result.problem })}</Heading></Banner>)}
      {state?.error && <p class="govuk-error-message" role="alert">{state.error}</p>}
    </>
  );
}

function Export({ from, until }) {
  const [error, setError] = useState(null);
  const run = async () => {
    setError(null);
    try {
      const text = await api('GET', '/audit/export', { query: { from, until }, as: 'text' });
      const url = URL.createObjectURL(new Blob([text], { type: 'application/x-ndjson' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `audit-${from || 'start'}-${until || 'now'}.ndjson`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (e) {
      setError(problemText(e));
    }
  };
  return (
    <>
      <Button type="button" variant="secondary" onClick={run}>{t('audit.export')}</Button>
      {error && <p class="govuk-error-message" role="alert">{error}</p>}
    </>
  );
}

function Checkpoints() {
  const list = useLoad(() => get('/audit/checkpoints', { limit: 10 }), []);
  return (
    <>
      <h2 class="govuk-heading-m">{t('audit.checkpoints')}</h2>
      <p class="govuk-body">{t('audit.checkpointsHint')}</p>
      <Loading state={list}>
        {(data) => {
          return (
            <Table caption={t('audit.newestCheckpoints')} wide empty={t('audit.noCheckpoints')}
              head={[t('audit.upTo'), t('audit.signedAt'), t('keys.kid'), t('audit.hash')]}
              rows={data.map((c) => [
                number(c.seq),
                dateTime(c.at),
                <code class="app-nowrap">{c.kid}</code>,
                <code class="app-wrap" title={c.hash}>{c.hash.slice(0, 16)}…</code>,
              ])} />
          );
        }}
      </Loading>
    </>
  );
}

export function AuditLog() {
  const [form, setForm] = useState(initialFilter);
  const [filter, setFilter] = useState(() => ({ ...form, after: undefined, pages: [] }));
  const [errors, setErrors] = useState(null);
  usePage(t('audit.title'), Boolean(errors));
  const from = fromLocalInput(filter.from);
  const until = fromLocalInput(filter.until);
  const page = useLoad(async () => {
    try {
      const r = await get('/audit', { user: filter.user.trim(), kind: filter.kind, from, until, after: filter.after, limit: 50 });
      setErrors(null);
      return r;
    } catch (e) {
      setErrors(formErrors(e, FIELDS));
      return { events: [], next_after: null };
    }
  }, [filter]);
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  useUsernames((page.data?.events || []).flatMap((e) => [e.user_id, e.detail?.by?.user_id]));

  const search = (e) => {
    e.preventDefault();
    const local = {};
    for (const k of ['from', 'until']) {
      if (Number.isNaN(fromLocalInput(form[k]))) local[k] = { id: FIELDS[k], text: `${t(`field.${k}`)}: ${t('audit.badTime')}` };
    }
    if (Object.keys(local).length) {
      setErrors(local);
      return;
    }
    const q = new URLSearchParams();
    if (form.user.trim()) q.set('user', form.user.trim());
    if (form.kind) q.set('kind', form.kind);
    if (form.from) q.set('from', String(fromLocalInput(form.from)));
    if (form.until) q.set('until', String(fromLocalInput(form.until)));
    history.replaceState(null, '', `${location.pathname}${[...q].length ? `?${q}` : ''}`);
    setFilter({ ...form, after: undefined, pages: [] });
  };
  const next = (after) => setFilter({ ...filter, pages: [...filter.pages, filter.after], after });
  const previous = () => setFilter({ ...filter, after: filter.pages.at(-1), pages: filter.pages.slice(0, -1) });

  return (
    <>
      <ErrorSummary errors={errors} />
      <PageHeading>{t('audit.title')}</PageHeading>
      <form onSubmit={search} class="app-filter" aria-label={t('audit.filter')}>
        <div class="app-filter__fields">
          <TextInput id={FIELDS.user} label={t('users.id')} value={form.user}
            onInput={set('user')} error={fieldError(errors, 'user')} spellcheck={false} />
          <Select id={FIELDS.kind} label={t('audit.kind')} value={form.kind} onChange={set('kind')} error={fieldError(errors, 'kind')}
            options={[['', t('audit.anyKind')], ...KINDS.map((k) => [k, `${label('kind', k)} (${k})`])]} />
          <TextInput id={FIELDS.from} type="datetime-local" label={t('field.from')} value={form.from} onInput={set('from')}
            error={fieldError(errors, 'from')} />
          <TextInput id={FIELDS.until} type="datetime-local" label={t('field.until')} value={form.until} onInput={set('until')}
            error={fieldError(errors, 'until')} />
        </div>
        <Button variant="secondary">{t('audit.search')}</Button>
      </form>
      <Loading state={page}>
        {(p) => (
          <>
            <Table
              caption={t('audit.events', { count: p.events.length })} wide
              head={[t('audit.when'), t('audit.kind'), t('audit.account'), t('audit.client'), t('audit.by'), t('audit.detail')]}
              empty={t('audit.none')}
              rows={p.events.map((e) => [
                <time datetime={new Date(e.at * 1000).toISOString()}>{dateTime(e.at)}</time>,
                <span title={e.kind}>{label('kind', e.kind)}</span>,
                <Account id={e.user_id} />,
                e.client_id ? <Link href={`/admin/clients/${seg(e.client_id)}`}>{e.client_id}</Link> : '–',
                <By by={e.detail?.by} ip={e.ip} />,
                <Detail detail={e.detail} />,
              ])}
            />
            {(p.next_after || filter.pages.length > 0) && (
              <nav class="govuk-pagination govuk-pagination--block" aria-label={t('audit.pages')}>
                {filter.pages.length > 0 && (
                  <div class="govuk-pagination__prev">
                    <a class="govuk-link govuk-pagination__link" href="#" rel="prev" onClick={(e) => { e.preventDefault(); previous(); }}>
                      <span class="govuk-pagination__link-title">{t('audit.previous')}</span>
                    </a>
                  </div>
                )}
                {p.next_after && (
                  <div class="govuk-pagination__next">
                    <a class="govuk-link govuk-pagination__link" href="#" rel="next" onClick={(e) => { e.preventDefault(); next(p.next_after); }}>
                      <span class="govuk-pagination__link-title">{t('audit.next')}</span>
                    </a>
                  </div>
                )}
              </nav>
            )}
          </>
        )}
      </Loading>
      <h2 class="govuk-heading-m">{t('audit.tools')}</h2>
      <ButtonGroup>
        <Verify />
        <Export from={from} until={until} />
      </ButtonGroup>
      <Checkpoints />
    </>
  );
}
