// The registration queue for clerks: applications to open an account online or at a
// service centre, with the captured identity document and face for the clerk to compare,
// the document checks and the face match score; approve, or reject with a reason.

import { useEffect, useState } from 'preact/hooks';
import { api, get, post, seg } from '../api.js';
import {
  BackLink, Banner, Button, ButtonGroup, ErrorSummary, Heading, Link, Loading, PageHeading, SummaryList, Table,
  Tag, Textarea, WarningText, fieldError, formErrors, setFlash, useFlash, useLoad, usePage,
} from '../components.jsx';
import { date, dateTime, label, number, t } from '../i18n.js';
import { navigate, queryParams } from '../router.js';

/** A `YYYY-MM-DD` day in the reader's language. */
function isoDate(day) {
  const ms = day ? Date.parse(`${day}T00:00:00Z`) : NaN;
  return Number.isNaN(ms) ? '–' : date(ms / 1000, { utc: true });
}

const STATES = ['pending', 'approved', 'rejected', 'withdrawn'];

function StateTag({ state }) {
  const colour = { pending: 'blue', approved: 'green', rejected: 'red', withdrawn: 'grey' }[state];
  return <Tag colour={colour}>{label('state', state)}</Tag>;
}

function Score({ r }) {
  if (r.match_score === null || r.match_score === undefined) return '–';
  const passes = r.match_score >= r.match_threshold;
  return (
    <>
      {number(r.match_score, { maximumFractionDigits: 3 })}{' '}
      <Tag colour={passes ? 'green' : 'red'}>{passes ? t('reg.matches') : t('reg.noMatch')}</Tag>
    </>
  );
}

export function RegistrationList() {
  const flash = useFlash();
  const [state, setState] = useState(() => (STATES.includes(queryParams().state) ? queryParams().state : 'pending'));
  usePage(t('reg.title'));
  const list = useLoad(() => get('/registrations', { state }), [state]);
  const choose = (e, s) => {
    e.preventDefault();
    history.replaceState(null, '', `?state=${s}`);
    setState(s);
  };
  return (
    <>
      {flash && <Banner success><Heading>{flash}</Heading></Banner>}
      <PageHeading>{t('reg.title')}</PageHeading>
      <ul class="app-periods govuk-list" aria-label={t('reg.show')}>
        {STATES.map((s) => (
          <li key={s}>
            {s === state
              ? <strong aria-current="true">{label('state', s)}</strong>
              : <a class="govuk-link" href={`?state=${s}`} onClick={(e) => choose(e, s)}>{label('state', s)}</a>}
          </li>
        ))}
      </ul>
      <Loading state={list}>
        {(data) => (
            <Table
              caption={t('reg.caption', { state: label('state', state), count: data.items.length })}
              head={[t('field.name'), t('reg.submitted'), t('reg.channel'), t('reg.document'), t('reg.score')]}
              empty={t('reg.none')}
              rows={data.items.map((r) => [
                <Link href={`/admin/registrations/${seg(r.id)}`}>{r.name || r.username}</Link>,
                r.submitted_at ? dateTime(r.submitted_at) : '–',
                label('channel', r.channel),
                label('doc', r.document?.kind),
                <Score r={r} />,
              ])}
            />
        )}
      </Loading>
    </>
  );
}

/** An image of the application, fetched with the bearer token and shown from memory. */
function Picture({ id, which, alt }) {
  const [src, setSrc] = useState(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let url = null;
    let live = true;
    api('GET', `/registrations/${seg(id)}/images/${which}`, { as: 'blob' }).then(
      (blob) => {
        url = URL.createObjectURL(blob);
        if (live) setSrc(url);
      },
      () => live && setFailed(true),
    );
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [id, which]);
  return (
    <figure class="app-figure">
      {src ? <img src={src} alt={alt} class="app-capture" />
        : <p class="govuk-body">{failed ? t('reg.imageMissing') : t('common.loading')}</p>}
      <figcaption class="govuk-body-s">{alt}</figcaption>
    </figure>
  );
}

export function RegistrationShow({ params }) {
  const [errors, setErrors] = useState(null);
  const [rejecting, setRejecting] = useState(false);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const reg = useLoad(() => get(`/registrations/${seg(params.id)}`), [params.id]);
  const name = reg.data?.name || reg.data?.username || t('reg.one');
  usePage(name, Boolean(errors));
  const base = `/registrations/${seg(params.id)}`;

  const decide = async (run, done) => {
    setBusy(true);
    try {
      await run();
      setFlash(done);
      navigate('/admin/registrations');
    } catch (e) {
      setErrors(formErrors(e, { reason: 'reg-reason' }));
    } finally {
      setBusy(false);
    }
  };
  const reject = (e) => {
    e.preventDefault();
    if (!reason.trim()) {
      setErrors({ reason: { id: 'reg-reason', text: t('reg.reasonMissing') } });
      return;
    }
    decide(() => post(`${base}/reject`, { reason: reason.trim() }), t('reg.rejected', { name }));
  };

  return (
    <>
      <BackLink href="/admin/registrations">{t('reg.title')}</BackLink>
      <ErrorSummary errors={errors} />
      <PageHeading caption={t('reg.one')}>{name}</PageHeading>
      <Loading state={reg}>
        {(r) => (
          <>
            <SummaryList rows={[
              [t('reg.state'), <StateTag state={r.state} />],
              [t('field.username'), r.username],
              [t('reg.channel'), label('channel', r.channel)],
              [t('reg.submitted'), r.submitted_at ? dateTime(r.submitted_at) : '–'],
              [t('reg.document'), `${label('doc', r.document?.kind)}, ${r.document?.number} (${r.document?.country})`],
              [t('reg.born'), isoDate(r.document?.born)],
              [t('reg.expires'), isoDate(r.document?.expires)],
              [t('reg.mrz'), r.document?.mrz_checked ? <Tag colour="green">{t('reg.mrzOk')}</Tag> : <Tag colour="red">{t('reg.mrzNot')}</Tag>],
              [t('reg.score'), <><Score r={r} /> <span class="govuk-hint app-inline-hint">{t('reg.threshold', { threshold: number(r.match_threshold, { maximumFractionDigits: 3 }) })}</span></>],
              r.state !== 'pending' && [t('reg.pictures'), r.images ? t('reg.picturesKept') : t('reg.picturesGone')],
              r.decided_at && [t('reg.decided'), `${dateTime(r.decided_at)}${r.decided_by ? ` (${r.decided_by})` : ''}`],
              r.reason && [t('field.reason'), r.reason],
            ]} />
            {r.state === 'pending' && (
              <>
                <h2 class="govuk-heading-m">{t('reg.compare')}</h2>
                <p class="govuk-body">{t('reg.compareHint')}</p>
                {r.images && (
                  <div class="app-captures">
                    <Picture id={r.id} which="document" alt={t('reg.documentImage', { name })} />
                    <Picture id={r.id} which="face" alt={t('reg.faceImage', { name })} />
                  </div>
                )}
                <p class="govuk-body-s">{t('reg.viewsAudited')}</p>
                {(r.match_score ?? 0) < r.match_threshold && <WarningText>{t('reg.lowScore')}</WarningText>}
                {!r.document?.mrz_checked && <WarningText>{t('reg.mrzWarn')}</WarningText>}
                {!rejecting && (
                  <ButtonGroup>
                    <Button type="button" disabled={busy}
                      onClick={() => decide(() => post(`${base}/approve`), t('reg.approved', { name }))}>{t('reg.approve')}</Button>
                    <Button type="button" variant="warning" disabled={busy} onClick={() => setRejecting(true)}>{t('reg.reject')}</Button>
                  </ButtonGroup>
                )}
                {rejecting && (
                  <form onSubmit={reject} noValidate>
                    <Textarea id="reg-reason" label={t('field.reason')} hint={t('reg.reasonHint')} value={reason} onInput={setReason}
                      error={fieldError(errors, 'reason')} />
                    <ButtonGroup>
                      <Button variant="warning" disabled={busy}>{t('reg.reject')}</Button>
                      <Button type="button" variant="secondary" onClick={() => setRejecting(false)}>{t('common.cancel')}</Button>
                    </ButtonGroup>
                  </form>
                )}
              </>
            )}
          </>
        )}
      </Loading>
    </>
  );
}
