// The assurance policy: which factor combinations reach each level, the API scopes and
// the level each needs, the lockout and session limits. Administrators change it;
// auditors read it.

import { useState } from 'preact/hooks';
import { get, put } from '../api.js';
import {
  Banner, Button, ButtonGroup, ErrorSummary, Heading, Loading, PageHeading, Select, SummaryList, Table,
  TextInput, Textarea, fieldError, formErrors, lines, useLoad, usePage,
} from '../components.jsx';
import { duration, label, t } from '../i18n.js';
import { useSession } from '../session.js';

const LEVELS = ['low', 'substantial', 'high'];
// The Admin API's own scope: always high, not for editing here.
const ADMIN_SCOPE = 'admin';
const FACTORS = ['password', 'totp', 'recovery', 'webauthn', 'x509', 'sms', 'email', 'face', 'voice'];
const FIELDS = {
  'levels.substantial': 'policy-substantial',
  'levels.high': 'policy-high',
  levels: 'policy-substantial',
  'levels.low': 'policy-substantial',
  scopes: 'policy-scopes',
  'lockout.attempts': 'policy-attempts',
  'lockout.first_lock_seconds': 'policy-lock-seconds',
  lockout: 'policy-attempts',
  'sessions.idle_seconds': 'policy-idle',
  'sessions.max_seconds': 'policy-max',
  sessions: 'policy-idle',
  body: 'policy-substantial',
};

const combination = (c) => c.map((f) => label('factor', f)).join(' + ');

function View({ policy }) {
  const scopes = Object.entries(policy.scopes || {});
  return (
    <>
      <h2 class="govuk-heading-m">{t('policy.levels')}</h2>
      <SummaryList rows={['substantial', 'high'].map((l) => [
        label('level', l),
        <ul class="govuk-list">{(policy.levels?.[l] || []).map((c) => <li key={c.join('+')}>{combination(c)}</li>)}</ul>,
      ])} />
      <Table caption={t('policy.scopes')} head={[t('policy.scope'), t('field.risk_level')]} empty={t('policy.noScopes')}
        rows={scopes.map(([s, l]) => [<code>{s}</code>, label('level', l)])} />
      <h2 class="govuk-heading-m">{t('policy.limits')}</h2>
      <SummaryList rows={[
        [t('field.lockout.attempts'), policy.lockout?.attempts],
        [t('field.lockout.first_lock_seconds'), duration(policy.lockout?.first_lock_seconds)],
        [t('field.sessions.idle_seconds'), duration(policy.sessions?.idle_seconds)],
        [t('field.sessions.max_seconds'), duration(policy.sessions?.max_seconds)],
      ]} />
    </>
  );
}

const rowsFor = (text) => Math.max(3, lines(text).length + 1);
const toText = (combos) => (combos || []).map((c) => c.join(' + ')).join('\n');
const fromText = (text) => lines(text).map((l) => l.split(/[+,\s]+/).map((f) => f.trim().toLowerCase()).filter(Boolean));

function Edit({ policy, onSaved, onCancel }) {
  const [form, setForm] = useState(() => ({
    substantial: toText(policy.levels?.substantial),
    high: toText(policy.levels?.high),
    scopes: Object.entries(policy.scopes || {}).map(([name, level]) => ({ name, level })),
    attempts: String(policy.lockout?.attempts ?? ''),
    lockSeconds: String(policy.lockout?.first_lock_seconds ?? ''),
    idle: String(policy.sessions?.idle_seconds ?? ''),
    max: String(policy.sessions?.max_seconds ?? ''),
  }));
  const [errors, setErrors] = useState(null);
  const [busy, setBusy] = useState(false);
  usePage(t('policy.change'), Boolean(errors));
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  const setScope = (i, k) => (v) => setForm({ ...form, scopes: form.scopes.map((s, j) => (j === i ? { ...s, [k]: v } : s)) });
  const err = (k) => fieldError(errors, k);

  const submit = async (e) => {
    e.preventDefault();
    const local = {};
    for (const [k, id, field] of [['attempts', FIELDS['lockout.attempts'], 'lockout.attempts'],
      ['lockSeconds', FIELDS['lockout.first_lock_seconds'], 'lockout.first_lock_seconds'], ['idle', FIELDS['sessions.idle_seconds'], 'sessions.idle_seconds'],
      ['max', FIELDS['sessions.max_seconds'], 'sessions.max_seconds']]) {
      if (!/^\d+$/.test(form[k].trim())) local[field] = { id, text: `${t(`field.${field}`)}: ${t('common.wholeNumber')}` };
    }
    if (Object.keys(local).length) {
      setErrors(local);
      return;
    }
    const body = {
      levels: { substantial: fromText(form.substantial), high: fromText(form.high) },
      scopes: Object.fromEntries(form.scopes.filter((s) => s.name.trim()).map((s) => [s.name.trim(), s.level])),
      lockout: { attempts: Number(form.attempts), first_lock_seconds: Number(form.lockSeconds) },
      sessions: { idle_seconds: Number(form.idle), max_seconds: Number(form.max) },
    };
    setBusy(true);
    try {
      const saved = await put('/policy', body);
      onSaved(saved && saved.levels ? saved : body);
    } catch (ex) {
      setErrors(formErrors(ex, FIELDS));
    } finally {
      setBusy(false);
    }
  };

  const hint = t('policy.combinationsHint', { factors: FACTORS.join(', ') });
  return (
    <>
      <ErrorSummary errors={errors} />
      <PageHeading>{t('policy.change')}</PageHeading>
      <form onSubmit={submit} noValidate>
        <div class="govuk-grid-row"><div class="govuk-grid-column-two-thirds">
          <h2 class="govuk-heading-m">{t('policy.levels')}</h2>
          <Textarea id={FIELDS['levels.substantial']} label={label('level', 'substantial')} hint={hint} value={form.substantial}
            onInput={set('substantial')} error={err('levels.substantial') || err('levels') || err('body')} spellcheck={false}
            rows={rowsFor(form.substantial)} />
          <Textarea id={FIELDS['levels.high']} label={label('level', 'high')} hint={hint} value={form.high}
            onInput={set('high')} error={err('levels.high')} spellcheck={false} rows={rowsFor(form.high)} />
        </div></div>
        <fieldset class="govuk-fieldset" id="policy-scopes" tabIndex={-1} aria-describedby={err('scopes') ? 'policy-scopes-error' : undefined}>
          <legend class="govuk-fieldset__legend govuk-fieldset__legend--m"><h2 class="govuk-fieldset__heading">{t('policy.scopes')}</h2></legend>
          <div class="govuk-hint">{t('policy.scopesHint')}</div>
          {err('scopes') && <p id="policy-scopes-error" class="govuk-error-message"><span class="govuk-visually-hidden">{t('error.prefix')}</span> {err('scopes')}</p>}
          <p class="govuk-body">{t('policy.adminScope')}</p>
          {form.scopes.map((s, i) => (s.name === ADMIN_SCOPE ? null : (() => {
            // Numbered as the administrator sees them, without the fixed admin scope.
            const n = form.scopes.slice(0, i + 1).filter((x) => x.name !== ADMIN_SCOPE).length;
            return (
            <div class="app-scope-row" key={i}>
              <TextInput id={`policy-scope-name-${i}`} label={t('policy.scopeN', { n })} value={s.name}
                onInput={setScope(i, 'name')} width="20" spellcheck={false} />
              <Select id={`policy-scope-level-${i}`} label={t('policy.levelOf', { scope: s.name || t('policy.scopeN', { n }) })}
                value={s.level} onChange={setScope(i, 'level')} options={LEVELS.map((l) => [l, label('level', l)])} />
              <Button type="button" variant="secondary" class="govuk-button govuk-button--secondary app-button-small"
                onClick={() => setForm({ ...form, scopes: form.scopes.filter((_, j) => j !== i) })}>
                {t('common.remove')}<span class="govuk-visually-hidden"> {s.name || t('policy.scopeN', { n })}</span>
              </Button>
            </div>
            );
          })()))}
          <Button type="button" variant="secondary" onClick={() => setForm({ ...form, scopes: [...form.scopes, { name: '', level: 'low' }] })}>
            {t('policy.addScope')}
          </Button>
        </fieldset>
        <h2 class="govuk-heading-m">{t('policy.limits')}</h2>
        <TextInput id={FIELDS['lockout.attempts']} label={t('field.lockout.attempts')} value={form.attempts} onInput={set('attempts')}
          error={err('lockout.attempts') || err('lockout')} inputMode="numeric" width="3" />
        <TextInput id={FIELDS['lockout.first_lock_seconds']} label={t('field.lockout.first_lock_seconds')} hint={t('common.seconds')}
          value={form.lockSeconds} onInput={set('lockSeconds')} error={err('lockout.first_lock_seconds')} inputMode="numeric" width="5" />
        <TextInput id={FIELDS['sessions.idle_seconds']} label={t('field.sessions.idle_seconds')} hint={t('common.seconds')} value={form.idle}
          onInput={set('idle')} error={err('sessions.idle_seconds') || err('sessions')} inputMode="numeric" width="5" />
        <TextInput id={FIELDS['sessions.max_seconds']} label={t('field.sessions.max_seconds')} hint={t('common.seconds')} value={form.max}
          onInput={set('max')} error={err('sessions.max_seconds')} inputMode="numeric" width="5" />
        <ButtonGroup>
          <Button disabled={busy}>{t('common.save')}</Button>
          <Button type="button" variant="secondary" onClick={onCancel}>{t('common.cancel')}</Button>
        </ButtonGroup>
      </form>
    </>
  );
}

export function Policy() {
  const session = useSession();
  const [editing, setEditing] = useState(false);
  const [notice, setNotice] = useState(null);
  const policy = useLoad(() => get('/policy'), []);
  usePage(t('policy.title'));
  if (editing && policy.data) {
    return <Edit policy={policy.data} onCancel={() => setEditing(false)}
      onSaved={() => { setEditing(false); setNotice(t('policy.saved')); policy.reload(); }} />;
  }
  return (
    <>
      {notice && <Banner success><Heading>{notice}</Heading></Banner>}
      <PageHeading>{t('policy.title')}</PageHeading>
      <Loading state={policy}>
        {(p) => (
          <>
            {session.change && <Button type="button" variant="secondary" onClick={() => setEditing(true)}>{t('policy.change')}</Button>}
            <View policy={p} />
          </>
        )}
      </Loading>
    </>
  );
}
