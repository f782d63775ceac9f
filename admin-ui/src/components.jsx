// GOV.UK Design System patterns as small Preact components: links that route in the
// page, form fields with their errors next to them, the error summary, summary lists,
// tables, tags, notification banners, and a hook that loads from the API.

import { useEffect, useRef, useState, useCallback } from 'preact/hooks';
import { ApiError } from './api.js';
import { label, t } from './i18n.js';
import { navigate } from './router.js';

export function Link({ href, children, class: cls = 'govuk-link', ...rest }) {
  const onClick = (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return <a class={cls} href={href} onClick={onClick} {...rest}>{children}</a>;
}

export function BackLink({ href, children }) {
  return <Link class="govuk-back-link" href={href}>{children || t('common.back')}</Link>;
}

export function Button({ children, variant, type = 'submit', ...rest }) {
  const cls = ['govuk-button', variant && `govuk-button--${variant}`].filter(Boolean).join(' ');
  return <button type={type} class={cls} data-module="govuk-button" {...rest}>{children}</button>;
}

export function ButtonGroup({ children }) {
  return <div class="govuk-button-group">{children}</div>;
}

/** A page's heading, focused when the page changes so that screen readers announce it. */
export function PageHeading({ children, caption }) {
  return (
    <h1 class="govuk-heading-l" tabIndex={-1} id="page-heading">
      {caption && <span class="govuk-caption-l">{caption}</span>}
      {children}
    </h1>
  );
}

export function Tag({ colour, children }) {
  return <strong class={`govuk-tag${colour ? ` govuk-tag--${colour}` : ''}`}>{children}</strong>;
}

/** Success or important news at the top of a page. */
export function Banner({ success, title, children }) {
  const ref = useRef(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <div
      class={`govuk-notification-banner${success ? ' govuk-notification-banner--success' : ''}`}
      role={success ? 'alert' : 'region'}
      aria-labelledby="banner-title"
      tabIndex={-1}
      ref={ref}
    >
      <div class="govuk-notification-banner__header">
        <h2 class="govuk-notification-banner__title" id="banner-title">
          {title || (success ? t('common.success') : t('common.important'))}
        </h2>
      </div>
      <div class="govuk-notification-banner__content">{children}</div>
    </div>
  );
}

export function Heading({ children }) {
  return <p class="govuk-notification-banner__heading">{children}</p>;
}

/**
 * "There is a problem": every error of the form, each a link to its field. Focused when it
 * appears (GOV.UK error summary pattern).
 */
export function ErrorSummary({ errors }) {
  const ref = useRef(null);
  const list = Object.entries(errors || {});
  useEffect(() => {
    if (list.length) ref.current?.focus();
  }, [errors]);
  if (!list.length) return null;
  const go = (e, id) => {
    const el = document.getElementById(id);
    if (el) {
      e.preventDefault();
      el.focus();
      el.scrollIntoView({ block: 'center' });
    }
  };
  return (
    <div class="govuk-error-summary" tabIndex={-1} ref={ref}>
      <div role="alert">
        <h2 class="govuk-error-summary__title">{t('error.summary')}</h2>
        <div class="govuk-error-summary__body">
          <ul class="govuk-list govuk-error-summary__list">
            {list.map(([field, e]) => (
              <li key={field}>
                {e.id ? <a href={`#${e.id}`} onClick={(ev) => go(ev, e.id)}>{e.text}</a> : e.text}
              </li>
            ))}
          </ul>
        </div>
      </div>
    </div>
  );
}

function ErrorMessage({ id, text }) {
  if (!text) return null;
  return (
    <p id={id} class="govuk-error-message">
      <span class="govuk-visually-hidden">{t('error.prefix')}</span> {text}
    </p>
  );
}

function describedBy(id, hint, error) {
  return [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(' ') || undefined;
}

export function TextInput({ id, label: text, hint, error, value, onInput, type = 'text', width, ...rest }) {
  return (
    <div class={`govuk-form-group${error ? ' govuk-form-group--error' : ''}`}>
      <label class="govuk-label" for={id}>{text}</label>
      {hint && <div id={`${id}-hint`} class="govuk-hint">{hint}</div>}
      <ErrorMessage id={`${id}-error`} text={error} />
      <input
        class={`govuk-input${width ? ` govuk-input--width-${width}` : ''}${error ? ' govuk-input--error' : ''}`}
        id={id}
        name={id}
        type={type}
        value={value ?? ''}
        onInput={(e) => onInput(e.currentTarget.value)}
        aria-describedby={describedBy(id, hint, error)}
        aria-invalid={error ? 'true' : undefined}
        {...rest}
      />
    </div>
  );
}

export function Textarea({ id, label: text, hint, error, value, onInput, rows = 3, ...rest }) {
  return (
    <div class={`govuk-form-group${error ? ' govuk-form-group--error' : ''}`}>
      <label class="govuk-label" for={id}>{text}</label>
      {hint && <div id={`${id}-hint`} class="govuk-hint">{hint}</div>}
      <ErrorMessage id={`${id}-error`} text={error} />
      <textarea
        class={`govuk-textarea${error ? ' govuk-textarea--error' : ''}`}
        id={id}
        name={id}
        rows={rows}
        value={value ?? ''}
        onInput={(e) => onInput(e.currentTarget.value)}
        aria-describedby={describedBy(id, hint, error)}
        aria-invalid={error ? 'true' : undefined}
        {...rest}
      />
    </div>
  );
}

export function Select({ id, label: text, hint, error, value, onChange, options }) {
  return (
    <div class={`govuk-form-group${error ? ' govuk-form-group--error' : ''}`}>
      <label class="govuk-label" for={id}>{text}</label>
      {hint && <div id={`${id}-hint`} class="govuk-hint">{hint}</div>}
      <ErrorMessage id={`${id}-error`} text={error} />
      <select
        class={`govuk-select${error ? ' govuk-select--error' : ''}`}
        id={id}
        name={id}
        value={value}
        onChange={(e) => onChange(e.currentTarget.value)}
        aria-describedby={describedBy(id, hint, error)}
        aria-invalid={error ? 'true' : undefined}
      >
        {options.map(([v, text]) => <option key={v} value={v}>{text}</option>)}
      </select>
    </div>
  );
}

/**
 * A date as day, month and year (GOV.UK date input); `value` is {day, month, year} as
 * typed. Its error links to the day.
 */
export function DateInput({ id, legend, hint, error, value, onInput }) {
  const parts = [['day', 2], ['month', 2], ['year', 4]];
  return (
    <div class={`govuk-form-group${error ? ' govuk-form-group--error' : ''}`}>
      <fieldset class="govuk-fieldset" role="group" aria-describedby={describedBy(id, hint, error)}>
        <legend class="govuk-fieldset__legend govuk-fieldset__legend--s">{legend}</legend>
        {hint && <div id={`${id}-hint`} class="govuk-hint">{hint}</div>}
        <ErrorMessage id={`${id}-error`} text={error} />
        <div class="govuk-date-input" id={id}>
          {parts.map(([part, width]) => (
            <div class="govuk-date-input__item" key={part}>
              <div class="govuk-form-group">
                <label class="govuk-label govuk-date-input__label" for={`${id}-${part}`}>{t(`date.${part}`)}</label>
                <input
                  class={`govuk-input govuk-date-input__input govuk-input--width-${width}${error ? ' govuk-input--error' : ''}`}
                  id={`${id}-${part}`}
                  name={`${id}-${part}`}
                  type="text"
                  inputMode="numeric"
                  autoComplete="off"
                  value={value[part]}
                  onInput={(e) => onInput({ ...value, [part]: e.currentTarget.value })}
                />
              </div>
            </div>
          ))}
        </div>
      </fieldset>
    </div>
  );
}

/** Radios or checkboxes in a fieldset; the first input carries the group's id. */
function Choices({ kind, id, legend, hint, error, options, checked, onChange, small = true, inline }) {
  const cls = `govuk-${kind}${small ? ` govuk-${kind}--small` : ''}${inline ? ` govuk-${kind}--inline` : ''}`;
  return (
    <div class={`govuk-form-group${error ? ' govuk-form-group--error' : ''}`}>
      <fieldset class="govuk-fieldset" aria-describedby={describedBy(id, hint, error)}>
        <legend class="govuk-fieldset__legend govuk-fieldset__legend--s">{legend}</legend>
        {hint && <div id={`${id}-hint`} class="govuk-hint">{hint}</div>}
        <ErrorMessage id={`${id}-error`} text={error} />
        <div class={cls}>
          {options.map(([value, text, itemHint], i) => {
            const itemId = i === 0 ? id : `${id}-${i + 1}`;
            return (
              <div class={`govuk-${kind}__item`} key={value}>
                <input
                  class={`govuk-${kind}__input`}
                  id={itemId}
                  name={id}
                  type={kind === 'radios' ? 'radio' : 'checkbox'}
                  value={value}
                  checked={checked(value)}
                  onChange={(e) => onChange(value, e.currentTarget.checked)}
                  aria-describedby={itemHint ? `${itemId}-hint` : undefined}
                />
                <label class={`govuk-label govuk-${kind}__label`} for={itemId}>{text}</label>
                {itemHint && <div id={`${itemId}-hint`} class={`govuk-hint govuk-${kind}__hint`}>{itemHint}</div>}
              </div>
            );
          })}
        </div>
      </fieldset>
    </div>
  );
}

export function Radios({ value, onChange, ...rest }) {
  return <Choices kind="radios" checked={(v) => v === value} onChange={(v) => onChange(v)} {...rest} />;
}

export function Checkboxes({ values, onChange, ...rest }) {
  const toggle = (v, on) => onChange(on ? [...values.filter((x) => x !== v), v] : values.filter((x) => x !== v));
  return <Choices kind="checkboxes" checked={(v) => values.includes(v)} onChange={toggle} {...rest} />;
}

/** One checkbox; with `error`, the message stands above it (a question's answer). */
export function Checkbox({ id, label: text, checked, onChange, hint, error, small = true }) {
  return (
    <div class={`govuk-form-group${error ? ' govuk-form-group--error' : ''}`}>
      <ErrorMessage id={`${id}-error`} text={error} />
      <div class={`govuk-checkboxes${small ? ' govuk-checkboxes--small' : ''}`}>
        <div class="govuk-checkboxes__item">
          <input class="govuk-checkboxes__input" id={id} name={id} type="checkbox" checked={checked}
            onChange={(e) => onChange(e.currentTarget.checked)} aria-describedby={describedBy(id, hint, error)}
            aria-invalid={error ? 'true' : undefined} />
          <label class="govuk-label govuk-checkboxes__label" for={id}>{text}</label>
          {hint && <div id={`${id}-hint`} class="govuk-hint govuk-checkboxes__hint">{hint}</div>}
        </div>
      </div>
    </div>
  );
}

/** Rows of [key, value, action?]. */
export function SummaryList({ rows }) {
  return (
    <dl class="govuk-summary-list">
      {rows.filter(Boolean).map(([key, value, action]) => (
        <div class="govuk-summary-list__row" key={key}>
          <dt class="govuk-summary-list__key">{key}</dt>
          <dd class="govuk-summary-list__value">{value}</dd>
          {action && <dd class="govuk-summary-list__actions">{action}</dd>}
        </div>
      ))}
    </dl>
  );
}

/**
 * A table with a caption; on narrow screens it scrolls sideways inside its own focusable
 * region rather than making the page wider. A `wide` table keeps room for its columns
 * there instead of squeezing them into tall rows.
 */
export function Table({ caption, head, rows, numeric = [], empty, wide = false }) {
  if (!rows.length && empty) return <p class="govuk-body">{empty}</p>;
  return (
    <div class="app-table-scroll" tabIndex={0} role="region" aria-label={caption}>
      <table class={`govuk-table${wide ? ' app-table--wide' : ''}`}>
        <caption class="govuk-table__caption govuk-table__caption--m">{caption}</caption>
        <thead class="govuk-table__head">
          <tr class="govuk-table__row">
            {head.map((h, i) => (
              <th scope="col" class={`govuk-table__header${numeric.includes(i) ? ' govuk-table__header--numeric' : ''}`} key={i}>{h}</th>
            ))}
          </tr>
        </thead>
        <tbody class="govuk-table__body">
          {rows.map((row, r) => (
            <tr class="govuk-table__row" key={r}>
              {row.map((cell, i) => (i === 0
                ? <th scope="row" class="govuk-table__header" key={i}>{cell}</th>
                : <td class={`govuk-table__cell${numeric.includes(i) ? ' govuk-table__cell--numeric' : ''}`} key={i}>{cell}</td>))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The words for an API refusal without a field: network, access, not found, other. */
export function problemText(e) {
  if (!(e instanceof ApiError)) return t('error.unexpected');
  if (e.status === 0) return t('error.network');
  if (e.status === 401) return t('error.unauthorized');
  if (e.status === 403) return t('error.forbidden');
  if (e.status === 404) return e.problem?.detail ? `${t('error.notFound')} (${e.problem.detail})` : t('error.notFound');
  if (e.status >= 500) return t('error.server');
  return e.problem?.detail || t('error.unexpected');
}

/**
 * Turns an API refusal into the form's errors: the problem's `field` names the input
 * (`fieldIds` maps API field names to input ids); other refusals go to the summary alone.
 */
export function formErrors(e, fieldIds = {}) {
  if (e instanceof ApiError && e.field) {
    // A detail that starts with a part's name ("first_lock_seconds: 1 to 3600") points
    // at that part of the field.
    const part = (e.problem.detail || '').match(/^([A-Za-z_]+):/)?.[1];
    if (part && fieldIds[`${e.field}.${part}`]) {
      const key = `${e.field}.${part}`;
      const rest = e.problem.detail.slice(part.length + 1).trim();
      return { [key]: { id: fieldIds[key], text: `${label('field', key)}: ${rest}` } };
    }
    const known = Object.keys(fieldIds)
      .filter((f) => e.field === f || e.field.startsWith(`${f}.`) || e.field.startsWith(`${f}[`))
      .sort((a, b) => b.length - a.length)[0];
    if (known) {
      return { [known]: { id: fieldIds[known], text: `${label('field', known)}: ${e.problem.detail}` } };
    }
    return { _: { text: `${label('field', e.field)}: ${e.problem.detail}` } };
  }
  return { _: { text: problemText(e) } };
}

/** The message of an error next to its field. */
export const fieldError = (errors, field) => errors?.[field]?.text;

/** Loads from the API when `deps` change: {data, error, loading, reload}. */
export function useLoad(load, deps) {
  const [state, setState] = useState({ loading: true });
  const run = useCallback(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error, loading: false }),
    );
    return () => { live = false; };
  }, deps);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

/** What a page shows while loading, or when the loading failed. */
export function Loading({ state, children }) {
  if (state.error) {
    return (
      <div class="govuk-error-summary" role="alert">
        <h2 class="govuk-error-summary__title">{t('error.summary')}</h2>
        <div class="govuk-error-summary__body"><p class="govuk-body">{problemText(state.error)}</p></div>
      </div>
    );
  }
  if (state.data === undefined) return <p class="govuk-body" role="status">{t('common.loading')}</p>;
  return children(state.data);
}

export function WarningText({ children }) {
  return (
    <div class="govuk-warning-text">
      <span class="govuk-warning-text__icon" aria-hidden="true">!</span>
      <strong class="govuk-warning-text__text">
        <span class="govuk-visually-hidden">{t('common.warning')}</span>
        {children}
      </strong>
    </div>
  );
}

/** Asks before an action that cannot be undone; `onConfirm` runs it. */
export function Confirm({ question, confirm, onConfirm, onCancel, warning }) {
  const ref = useRef(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <div class="app-confirm" role="group" aria-labelledby="confirm-question" tabIndex={-1} ref={ref}>
      <h2 class="govuk-heading-m" id="confirm-question">{question}</h2>
      {warning && <WarningText>{warning}</WarningText>}
      <ButtonGroup>
        <Button variant="warning" type="button" onClick={onConfirm}>{confirm}</Button>
        <Button variant="secondary" type="button" onClick={onCancel}>{t('common.cancel')}</Button>
      </ButtonGroup>
    </div>
  );
}

let firstPage = true;

/**
 * Names the page in the browser's title (with "Error:" first while a form shows errors)
 * and, after a navigation within the app, moves focus to the page's heading.
 */
export function usePage(title, hasErrors = false) {
  useEffect(() => {
    document.title = `${hasErrors ? `${t('error.titlePrefix')} ` : ''}${title} – ${t('app.name')}`;
  }, [title, hasErrors]);
  useEffect(() => {
    if (firstPage) {
      firstPage = false;
      return;
    }
    document.getElementById('page-heading')?.focus();
  }, []);
}

let flash = null;

/** A message for the next page (a success banner after a change). */
export function setFlash(message) {
  flash = message;
}

/** The message the previous page left, taken once. */
export function useFlash() {
  const [message] = useState(() => {
    const m = flash;
    flash = null;
    return m;
  });
  return message;
}

/** One value per line, blank lines dropped. */
export const lines = (text) => text.split('\n').map((s) => s.trim()).filter(Boolean);
