// The console's texts in English, Hungarian, Russian and Kazakh (messages.js), the
// reader's choice of language, and dates and numbers written the reader's way.

import { messages } from './messages.js';

export const LANGS = [
  { code: 'en', name: 'English' },
  { code: 'hu', name: 'Magyar' },
  { code: 'ru', name: 'Русский' },
  { code: 'kk', name: 'Қазақша' },
];
const CHOSEN = 'admin-console.lang';

function initial() {
  const saved = localStorage.getItem(CHOSEN);
  if (saved && messages[saved]) return saved;
  for (const l of navigator.languages || [navigator.language || 'en']) {
    const code = l.toLowerCase().split('-')[0];
    if (messages[code]) return code;
  }
  return 'en';
}

let lang = initial();
const listeners = new Set();

export const currentLang = () => lang;

/** Changes the language (remembered: it is a preference, not a secret). */
export function setLang(code) {
  if (!messages[code] || code === lang) return;
  lang = code;
  localStorage.setItem(CHOSEN, code);
  document.documentElement.lang = code;
  for (const f of listeners) f(code);
}

export function onLangChange(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

/**
 * The text for `key` in the current language ({name} placeholders filled from `vars`);
 * English when a language lacks it, and the key itself when nobody has it.
 */
export function t(key, vars) {
  let s = messages[lang][key] ?? messages.en[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

/** A label for a value of a known kind (`kind.client.created`), or the value itself. */
export function label(prefix, value) {
  const key = `${prefix}.${value}`;
  return messages[lang][key] ?? messages.en[key] ?? String(value);
}

const locale = () => ({ en: 'en-GB', hu: 'hu-HU', ru: 'ru-RU', kk: 'kk-KZ' })[lang];

/** A moment (Unix seconds) in the reader's language and time zone. */
export function dateTime(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(seconds * 1000));
}

/** A day; `utc` for a calendar date (a document's expiry), which has no time zone. */
export function date(seconds, { utc = false } = {}) {
  const options = { dateStyle: 'medium', ...(utc ? { timeZone: 'UTC' } : {}) };
  return new Intl.DateTimeFormat(locale(), options).format(new Date(seconds * 1000));
}

export function number(n, options) {
  return new Intl.NumberFormat(locale(), options).format(n);
}

/** A duration in seconds as the largest whole unit that fits (15 minutes, 12 hours). */
export function duration(seconds) {
  const units = [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];
  for (const [unit, size] of units) {
    if (seconds >= size && seconds % size === 0) {
      return new Intl.NumberFormat(locale(), { style: 'unit', unit, unitDisplay: 'long' }).format(seconds / size);
    }
  }
  return new Intl.NumberFormat(locale(), { style: 'unit', unit: 'second', unitDisplay: 'long' }).format(seconds);
}

document.documentElement.lang = lang;
