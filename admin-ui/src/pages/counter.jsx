// The service centre: a clerk enrols the face, and if the citizen wants the voice too, of
// a citizen present at the counter. One thing per step: which account, the citizen's
// consent given before the clerk, the identity document the clerk holds, a parent's or
// guardian's details when the server finds the citizen a minor, the face filmed on the
// server's blink cue, then the voice reading the server's digits. The server decides
// everything (the account, the document, the age, liveness, quality); the page records,
// films and shows the server's refusals next to what they are about.

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, get, post, seg } from '../api.js';
import {
  Banner, Button, ButtonGroup, Checkbox, DateInput, ErrorSummary, Heading, PageHeading, Radios, SummaryList,
  TextInput, problemText, usePage,
} from '../components.jsx';
import { currentLang, label, t } from '../i18n.js';
import { queryParams } from '../router.js';
import { film, openCamera, openMicrophone, record, stop } from '../capture.js';

const EMPTY_DATE = { day: '', month: '', year: '' };

function fresh(query = '') {
  return {
    query,
    // The account once found: its id, and for those who may read accounts its names.
    account: null,
    consent: false,
    document: { kind: '', number: '', country: '', expires: EMPTY_DATE, born: EMPTY_DATE, mrz: '' },
    // Set when the server finds the citizen a minor.
    minor: false,
    guardian: { name: '', relation: '', document_number: '' },
    voiceConsent: false,
    // factor -> the registration that records its enrolment
    enrolled: {},
  };
}

const ID = {
  account: 'counter-account',
  consent: 'counter-consent',
  kind: 'counter-kind',
  number: 'counter-number',
  country: 'counter-country',
  expires: 'counter-expires',
  born: 'counter-born',
  mrz: 'counter-mrz',
  guardianName: 'counter-guardian-name',
  relation: 'counter-guardian-relation',
  guardianDocument: 'counter-guardian-document',
  capture: 'counter-start',
  voiceConsent: 'counter-voice-consent',
};

/** `YYYY-MM-DD` from the parts typed; empty (refused by the server) when not a date. */
function isoDate({ day, month, year }) {
  const [d, m, y] = [day, month, year].map((s) => s.trim());
  if (!/^\d{1,2}$/.test(d) || !/^\d{1,2}$/.test(m) || !/^\d{4}$/.test(y)) return '';
  return `${y}-${m.padStart(2, '0')}-${d.padStart(2, '0')}`;
}

/** What the clerk recorded, as the enrolment calls take it. */
function recorded(form, consent) {
  const d = form.document;
  return {
    document: {
      kind: d.kind,
      number: d.number.trim(),
      country: d.country.trim(),
      expires: isoDate(d.expires),
      born: isoDate(d.born),
      mrz: d.mrz.trim(),
    },
    consent,
    guardian: form.minor ? { ...form.guardian, name: form.guardian.name.trim(), document_number: form.guardian.document_number.trim() } : null,
  };
}

/**
 * Has the server check what was recorded (the account, the consent, the document, a
 * minor's guardian) before anything is filmed. Resolves to the refusal, or null.
 */
async function check(sub, body) {
  try {
    await post(`/users/${seg(sub)}/enrolment/check`, body);
  } catch (e) {
    return e;
  }
  return null;
}

// The server names what is wrong with a document by these words ("not accepted: Number, Expired").
const DOCUMENT_PROBLEMS = {
  Kind: 'kind', Number: 'number', Country: 'country', Expires: 'expires', Expired: 'expires', Born: 'born',
  MrzUnreadable: 'mrz', MrzCheckDigit: 'mrz',
};

function documentErrors(detail) {
  const out = {};
  for (const code of detail.replace(/^not accepted:\s*/, '').split(/,\s*/)) {
    const field = DOCUMENT_PROBLEMS[code];
    if (field && !out[field]) out[field] = { id: field === 'expires' || field === 'born' ? `${ID[field]}-day` : ID[field], text: () => t(`counter.doc.${code}`) };
  }
  return Object.keys(out).length ? out : { kind: { id: ID.kind, text: () => `${t('counter.docTitle')}: ${detail}` } };
}

function guardianErrors(detail) {
  const age = detail.match(/under (\d+)/)?.[1];
  if (age) return { guardianName: { id: ID.guardianName, text: () => t('counter.guardianNeeded', { age }) } };
  if (/^relation:/.test(detail)) return { relation: { id: ID.relation, text: () => t('counter.relationMissing') } };
  return { guardianName: { id: ID.guardianName, text: () => `${t('counter.guardianTitle')}: ${detail}` } };
}

/** Where a refusal of the server belongs: the step to show and the errors on it. */
function refusal(e, here) {
  if (!(e instanceof ApiError)) return { step: here, errors: { _: { text: () => t('error.unexpected') } } };
  if (e.status === 404) {
    return { step: 'find', errors: { account: { id: ID.account, text: () => t('counter.accountUnknownAdmin') } } };
  }
  const detail = e.problem?.detail || '';
  switch (e.status === 400 ? e.field : null) {
    case 'consent':
      return here === 'voice'
        ? { step: 'voice', errors: { voiceConsent: { id: ID.voiceConsent, text: () => t('counter.consentMissing') } } }
        : { step: 'consent', errors: { consent: { id: ID.consent, text: () => t('counter.consentMissing') } } };
    case 'document':
      return { step: 'document', errors: documentErrors(detail) };
    case 'guardian':
      return { step: 'guardian', errors: guardianErrors(detail), minor: true };
    case 'challenge':
      return { step: here, errors: { capture: { id: ID.capture, text: () => t('counter.expired') } } };
    case 'frames':
    case 'audio': {
      // The refusal's code ("the capture was refused: no_blink") in words, where known.
      const code = detail.match(/refused: (\w+)/)?.[1] || '';
      const prefix = e.field === 'frames' ? 'counter.face' : 'counter.voice';
      const text = () => (label(prefix, code) === code ? detail : label(prefix, code));
      return { step: here, errors: { capture: { id: ID.capture, text } } };
    }
    case 'capture':
      return { step: here, errors: { capture: { id: ID.capture, text: () => t('counter.analysisFailed', { reason: detail }) } } };
    default:
      return { step: here, errors: { _: { text: () => problemText(e) } } };
  }
}

/** A back link that goes to the previous step of this page. */
function Back({ onClick }) {
  return <button type="button" class="govuk-back-link app-back-button" onClick={onClick}>{t('common.back')}</button>;
}

/** The text the citizen reads or is read before agreeing; large, for reading on the clerk's tablet. */
function ConsentText({ factor }) {
  const items = factor === 'face'
    ? ['face', 'why', 'where', 'howLong', 'services', 'free']
    : ['voice', 'voiceAlone', 'why', 'where', 'howLong', 'free'];
  return (
    <div class="app-consent-text">
      <ul class="govuk-list govuk-list--bullet">
        {items.map((k) => <li key={k}>{t(`counter.consent.${k}`)}</li>)}
      </ul>
    </div>
  );
}

/** Where the capture's error stands, next to the capture it is about. */
function CaptureError({ text }) {
  if (!text) return null;
  return (
    <p id={`${ID.capture}-error`} class="govuk-error-message">
      <span class="govuk-visually-hidden">{t('error.prefix')}</span> {text}
    </p>
  );
}

/**
 * The face filmed by the clerk's camera: a preview to frame the citizen's face, then the
 * server's cue filmed with "Blink now" and then "Turn your head to your left" (or right)
 * shown in large letters when the citizen must blink or turn.
 */
function FaceCapture({ sub, body, error, onStart, onDone, onRefused }) {
  const video = useRef(null);
  const stream = useRef(null);
  const [on, setOn] = useState(false);
  const [working, setWorking] = useState(false);
  const [action, setAction] = useState('hold');
  const [prompt, setPrompt] = useState('');
  useEffect(() => () => stop(stream.current), []);

  const cameraOn = async () => {
    onStart();
    setOn(true);
    try {
      stream.current = await openCamera(video.current);
    } catch (code) {
      setOn(false);
      onRefused(null, () => t(`counter.cam.${code}`));
    }
  };
  const start = async () => {
    onStart();
    setWorking(true);
    try {
      const begun = await post(`/users/${seg(sub)}/enrolment/face/begin`);
      setPrompt(t('counter.hold'));
      const frames = await film(video.current, begun.cue, (now) => {
        setAction(now);
        setPrompt(t(`counter.${now}`));
      });
      setAction('hold');
      setPrompt(t('counter.checking'));
      const done = await post(`/users/${seg(sub)}/enrolment/face`, { ...body, challenge: begun.challenge, frames });
      stop(stream.current);
      onDone(done);
    } catch (e) {
      setAction('hold');
      setPrompt('');
      setWorking(false);
      onRefused(e);
    }
  };

  return (
    <div class={`govuk-form-group${error ? ' govuk-form-group--error' : ''}`}>
      <CaptureError text={error} />
      <div class={`app-capture-area ${{ hold: '', blink: 'blink' }[action] ?? `turn-${action}`}`} id="face-capture">
        <div class="app-viewfinder" hidden={!on}>
          <video ref={video} autoplay muted playsinline aria-hidden="true" />
          <div class="app-viewfinder__outline" aria-hidden="true" />
        </div>
        <p id="face-prompt" class="govuk-body app-prompt" role="status" aria-live="assertive">{prompt}</p>
      </div>
      {on
        ? <Button type="button" id={ID.capture} disabled={working} onClick={start} aria-describedby={error ? `${ID.capture}-error` : undefined}>
            {t('counter.film')}
          </Button>
        : <Button type="button" id={ID.capture} onClick={cameraOn} aria-describedby={error ? `${ID.capture}-error` : undefined}>
            {t('counter.cameraOn')}
          </Button>}
    </div>
  );
}

/** The voice recorded by the clerk's microphone while the citizen reads the server's digits. */
function VoiceCapture({ sub, body, error, ready, onStart, onDone, onRefused }) {
  const [working, setWorking] = useState(false);
  const [digits, setDigits] = useState('');
  const [prompt, setPrompt] = useState('');
  const stream = useRef(null);
  useEffect(() => () => stop(stream.current), []);

  const start = async () => {
    onStart();
    if (!ready()) return;
    setWorking(true);
    try {
      try {
        stream.current = await openMicrophone();
      } catch (code) {
        setWorking(false);
        onRefused(null, () => t(`counter.mic.${code}`));
        return;
      }
      const begun = await post(`/users/${seg(sub)}/enrolment/voice/begin`);
      setDigits(begun.phrase);
      setPrompt(t('counter.recording'));
      const audio = await record(stream.current);
      stop(stream.current);
      setPrompt(t('counter.checking'));
      const done = await post(`/users/${seg(sub)}/enrolment/voice`, { ...body, challenge: begun.challenge, audio });
      onDone(done);
    } catch (e) {
      stop(stream.current);
      setDigits('');
      setPrompt('');
      setWorking(false);
      onRefused(e);
    }
  };

  return (
    <div class={`govuk-form-group${error ? ' govuk-form-group--error' : ''}`}>
      <CaptureError text={error} />
      <div class="app-capture-area">
        <p class="govuk-body app-phrase" aria-live="polite">
          {digits && <span class="govuk-visually-hidden">{t('counter.readAloud')} </span>}
          <span id="voice-phrase">{digits}</span>
        </p>
        <p id="voice-prompt" class="govuk-body app-prompt" role="status" aria-live="assertive">{prompt}</p>
      </div>
      <Button type="button" id={ID.capture} disabled={working} onClick={start} aria-describedby={error ? `${ID.capture}-error` : undefined}>
        {t('counter.record')}
      </Button>
    </div>
  );
}

export function ServiceCentre() {
  const [form, setForm] = useState(() => fresh(queryParams().user || ''));
  const [step, setStep] = useState('find');
  const [errors, setErrors] = useState(null);
  const [busy, setBusy] = useState(false);
  const lastStep = useRef(step);

  const titles = {
    find: t('counter.findTitle'),
    consent: t('counter.consentTitle'),
    document: t('counter.docTitle'),
    guardian: t('counter.guardianTitle'),
    face: t('counter.faceTitle'),
    more: t('counter.moreTitle'),
    voice: t('counter.voiceTitle'),
    done: t('counter.doneTitle'),
  };
  usePage(titles[step], Boolean(errors));
  const who = form.account ? (form.account.name ? `${form.account.name} (${form.account.username})` : form.account.username || form.account.sub) : '';
  const success = step === 'more' ? t('counter.faceDone', { who }) : null;
  // A new step is announced by its heading, unless it opens with errors or news (their
  // summary or banner takes the focus).
  useEffect(() => {
    if (lastStep.current === step) return;
    lastStep.current = step;
    window.scrollTo(0, 0);
    if (!errors && !success) document.getElementById('page-heading')?.focus();
  }, [step]);

  const set = (patch) => setForm((f) => ({ ...f, ...patch }));
  const setDocument = (k) => (v) => setForm((f) => ({ ...f, document: { ...f.document, [k]: v } }));
  const setGuardian = (k) => (v) => setForm((f) => ({ ...f, guardian: { ...f.guardian, [k]: v } }));
  const go = (next, errs = null) => {
    setErrors(errs);
    setStep(next);
  };
  const refused = (e, here = step) => {
    const r = refusal(e, here);
    if (r.minor) set({ minor: true });
    go(r.step, r.errors);
  };
  // Runs a step's check with the buttons off; a refusal goes where it belongs.
  const checked = async (run) => {
    setBusy(true);
    try {
      await run();
    } catch (e) {
      refused(e);
    } finally {
      setBusy(false);
    }
  };

  const find = (e) => {
    e.preventDefault();
    const q = form.query.trim();
    if (!q) {
      setErrors({ account: { id: ID.account, text: () => t('counter.accountMissingAdmin') } });
      return;
    }
    checked(async () => {
      const account = await get('/users/lookup', { account: q });
      setForm((f) => ({ ...fresh(q), account: { sub: account.sub, username: account.username, name: account.name } }));
      go('consent');
    });
  };

  const agree = (e) => {
    e.preventDefault();
    if (!form.consent) {
      setErrors({ consent: { id: ID.consent, text: () => t('counter.consentMissing') } });
      return;
    }
    go('document');
  };

  // The document, and the guardian's details, are accepted when the server says so.
  const recordDocument = (e) => {
    e.preventDefault();
    checked(async () => {
      const r = await check(form.account.sub, recorded({ ...form, minor: false }, true));
      // Back from the guardian's step: their details are still there to check.
      if (r instanceof ApiError && r.field === 'guardian' && form.minor) {
        go('guardian');
        return;
      }
      if (r) throw r;
      set({ minor: false });
      go('face');
    });
  };

  const recordGuardian = (e) => {
    e.preventDefault();
    const g = form.guardian;
    const errs = {};
    if (!g.name.trim()) errs.guardianName = { id: ID.guardianName, text: () => t('counter.guardianNameMissing') };
    if (!g.relation) errs.relation = { id: ID.relation, text: () => t('counter.relationMissing') };
    if (!g.document_number.trim()) errs.guardianDocument = { id: ID.guardianDocument, text: () => t('counter.guardianDocumentMissing') };
    if (Object.keys(errs).length) {
      setErrors(errs);
      return;
    }
    checked(async () => {
      const r = await check(form.account.sub, recorded(form, true));
      if (r) throw r;
      go('face');
    });
  };

  const enrolled = (factor) => (r) => {
    setForm((f) => ({ ...f, enrolled: { ...f.enrolled, [factor]: r.registration } }));
    go(factor === 'face' ? 'more' : 'done');
  };
  const captureRefused = (here) => (e, text) => {
    if (e) refused(e, here);
    else setErrors({ capture: { id: ID.capture, text } });
  };

  // Errors are kept as functions of the language, so that they follow a change of it.
  const lang = currentLang();
  const shown = useMemo(() => errors && Object.fromEntries(Object.entries(errors)
    .map(([k, e]) => [k, { ...e, text: typeof e.text === 'function' ? e.text() : e.text }])), [errors, lang]);
  const errorOf = (k) => shown?.[k]?.text;
  const caption = form.account && step !== 'find' ? `${t('counter.title')}: ${who}` : t('counter.title');

  let body;
  if (step === 'find') {
    body = (
      <form onSubmit={find} noValidate>
        <p class="govuk-body">{t('counter.intro')}</p>
        <TextInput id={ID.account} label={t('counter.accountOrUsername')}
          hint={t('counter.accountHintAdmin')} value={form.query}
          onInput={(v) => set({ query: v })} error={errorOf('account')} autoComplete="off" spellcheck={false} />
        <Button disabled={busy}>{t('counter.continue')}</Button>
      </form>
    );
  } else if (step === 'consent') {
    body = (
      <form onSubmit={agree} noValidate>
        <p class="govuk-body">{t('counter.consentIntro')}</p>
        <p class="govuk-body">{t('counter.consentLanguage')}</p>
        <ConsentText factor="face" />
        <Checkbox id={ID.consent} small={false} label={t('counter.consentAgree')} checked={form.consent}
          onChange={(v) => set({ consent: v })} error={errorOf('consent')} />
        <Button>{t('counter.continue')}</Button>
      </form>
    );
  } else if (step === 'document') {
    const d = form.document;
    body = (
      <form onSubmit={recordDocument} noValidate>
        <p class="govuk-body">{t('counter.docIntro')}</p>
        <Radios id={ID.kind} legend={t('counter.kind')} small={false} value={d.kind} onChange={setDocument('kind')} error={errorOf('kind')}
          options={['passport', 'id_card', 'residence_permit'].map((k) => [k, label('doc', k)])} />
        <TextInput id={ID.number} label={t('counter.number')} value={d.number} onInput={setDocument('number')} error={errorOf('number')}
          width="10" autoComplete="off" spellcheck={false} />
        <TextInput id={ID.country} label={t('counter.country')} hint={t('counter.countryHint')} value={d.country}
          onInput={setDocument('country')} error={errorOf('country')} width="4" autoComplete="off" spellcheck={false} />
        <DateInput id={ID.expires} legend={t('counter.expires')} hint={t('counter.dateHint')} value={d.expires}
          onInput={setDocument('expires')} error={errorOf('expires')} />
        <DateInput id={ID.born} legend={t('counter.born')} hint={t('counter.bornHint')} value={d.born}
          onInput={setDocument('born')} error={errorOf('born')} />
        <details class="govuk-details" open={Boolean(d.mrz || errorOf('mrz'))}>
          <summary class="govuk-details__summary"><span class="govuk-details__summary-text">{t('counter.mrzShow')}</span></summary>
          <div class="govuk-details__text">
            <div class={`govuk-form-group${errorOf('mrz') ? ' govuk-form-group--error' : ''}`}>
              <label class="govuk-label" for={ID.mrz}>{t('counter.mrz')}</label>
              <div id={`${ID.mrz}-hint`} class="govuk-hint">{t('counter.mrzHint')}</div>
              {errorOf('mrz') && (
                <p id={`${ID.mrz}-error`} class="govuk-error-message">
                  <span class="govuk-visually-hidden">{t('error.prefix')}</span> {errorOf('mrz')}
                </p>
              )}
              <textarea class={`govuk-textarea app-mrz${errorOf('mrz') ? ' govuk-textarea--error' : ''}`} id={ID.mrz} name={ID.mrz} rows={3}
                spellcheck={false} autoComplete="off" value={d.mrz} onInput={(e) => setDocument('mrz')(e.currentTarget.value)}
                aria-describedby={`${ID.mrz}-hint${errorOf('mrz') ? ` ${ID.mrz}-error` : ''}`} aria-invalid={errorOf('mrz') ? 'true' : undefined} />
            </div>
          </div>
        </details>
        <Button disabled={busy}>{t('counter.continue')}</Button>
      </form>
    );
  } else if (step === 'guardian') {
    const g = form.guardian;
    body = (
      <form onSubmit={recordGuardian} noValidate>
        <p class="govuk-body">{t('counter.guardianIntro')}</p>
        <TextInput id={ID.guardianName} label={t('counter.guardianName')} value={g.name} onInput={setGuardian('name')}
          error={errorOf('guardianName')} autoComplete="off" />
        <Radios id={ID.relation} legend={t('counter.relation')} small={false} value={g.relation} onChange={setGuardian('relation')}
          error={errorOf('relation')} options={[['parent', t('counter.relation.parent')], ['guardian', t('counter.relation.guardian')]]} />
        <TextInput id={ID.guardianDocument} label={t('counter.guardianDocument')} value={g.document_number}
          onInput={setGuardian('document_number')} error={errorOf('guardianDocument')} width="10" autoComplete="off" spellcheck={false} />
        <Button disabled={busy}>{t('counter.continue')}</Button>
      </form>
    );
  } else if (step === 'face') {
    body = (
      <>
        <ol class="govuk-list govuk-list--number">
          <li>{t('counter.face1')}</li>
          <li>{t('counter.face2')}</li>
          <li>{t('counter.face3')}</li>
        </ol>
        <FaceCapture sub={form.account.sub} body={recorded(form, form.consent)} error={errorOf('capture')}
          onStart={() => setErrors(null)} onDone={enrolled('face')} onRefused={captureRefused('face')} />
      </>
    );
  } else if (step === 'more') {
    body = (
      <>
        <p class="govuk-body">{t('counter.moreText')}</p>
        <ButtonGroup>
          <Button type="button" onClick={() => go('voice')}>{t('counter.voiceYes')}</Button>
          <Button type="button" variant="secondary" onClick={() => go('done')}>{t('counter.finish')}</Button>
        </ButtonGroup>
      </>
    );
  } else if (step === 'voice') {
    const ready = () => {
      if (form.voiceConsent) return true;
      setErrors({ voiceConsent: { id: ID.voiceConsent, text: () => t('counter.consentMissing') } });
      return false;
    };
    body = (
      <>
        <p class="govuk-body">{t('counter.consentIntro')}</p>
        <ConsentText factor="voice" />
        <Checkbox id={ID.voiceConsent} small={false} label={t('counter.consentAgree')} checked={form.voiceConsent}
          onChange={(v) => set({ voiceConsent: v })} error={errorOf('voiceConsent')} />
        <p class="govuk-body">{t('counter.voiceSteps')}</p>
        <VoiceCapture sub={form.account.sub} body={recorded(form, form.voiceConsent)} error={errorOf('capture')} ready={ready}
          onStart={() => setErrors(null)} onDone={enrolled('voice')} onRefused={captureRefused('voice')} />
        <p class="govuk-body"><button type="button" class="app-link-button" onClick={() => go('done')}>{t('counter.skipVoice')}</button></p>
      </>
    );
  } else {
    body = (
      <>
        <SummaryList rows={[
          [t('counter.citizen'), who],
          ...['face', 'voice'].map((f) => [label('factor', f), form.enrolled[f] ? t('counter.enrolledNow') : t('counter.notEnrolled')]),
        ]} />
        <p class="govuk-body">{t('counter.doneText')}</p>
        <Button type="button" onClick={() => { setForm(fresh()); go('find'); }}>{t('counter.next')}</Button>
      </>
    );
  }

  const back = { consent: 'find', document: 'consent', guardian: 'document', face: form.minor ? 'guardian' : 'document' }[step];
  return (
    <div class="govuk-grid-row app-counter">
      <div class="govuk-grid-column-two-thirds-from-desktop">
        {back && <Back onClick={() => go(back)} />}
        {success && <Banner success><Heading>{success}</Heading></Banner>}
        <ErrorSummary errors={shown} />
        <PageHeading caption={caption}>{titles[step]}</PageHeading>
        {body}
      </div>
    </div>
  );
}
