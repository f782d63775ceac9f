// The overview: sign-ins, failures and locks over time (Chart.js, with the same figures as
// a table for people who do not see the chart), from /audit/stats.

import { useEffect, useRef, useState } from 'preact/hooks';
import { get } from '../api.js';
import { Link, Loading, PageHeading, Table, useLoad, usePage } from '../components.jsx';
import { currentLang, number, t } from '../i18n.js';
import { useSession } from '../session.js';

// Chart.js is loaded with the overview only, in its own file.
let chartClass = null;
async function loadChart() {
  if (!chartClass) {
    chartClass = (await import('../chart.js')).Chart;
  }
  return chartClass;
}

const PERIODS = {
  day: { seconds: 86400, bucket: 3600 },
  week: { seconds: 7 * 86400, bucket: 6 * 3600 },
  month: { seconds: 30 * 86400, bucket: 86400 },
};

// GOV.UK colours: green, red and orange keep their contrast against white.
const SERIES = [
  ['succeeded', '#00703c'],
  ['failed', '#d4351c'],
  ['locked', '#f47738'],
];

function bucketLabel(start, bucket) {
  const locale = { en: 'en-GB', hu: 'hu-HU', ru: 'ru-RU', kk: 'kk-KZ' }[currentLang()];
  const options = bucket >= 86400
    ? { day: 'numeric', month: 'short' }
    : { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' };
  return new Intl.DateTimeFormat(locale, options).format(new Date(start * 1000));
}

function SignInChart({ buckets, bucket }) {
  const canvas = useRef(null);
  const lang = currentLang();
  useEffect(() => {
    let chart = null;
    let live = true;
    loadChart().then((Chart) => {
      if (!live) return;
      chart = new Chart(canvas.current, {
      type: 'bar',
      data: {
        labels: buckets.map((b) => bucketLabel(b.start, bucket)),
        datasets: SERIES.map(([key, colour]) => ({
          label: t(`stats.${key}`),
          data: buckets.map((b) => b[key]),
          backgroundColor: colour,
        })),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        responsive: true,
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: 'bottom' } },
      },
      });
    });
    return () => {
      live = false;
      chart?.destroy();
    };
  }, [buckets, bucket, lang]);
  const total = (key) => buckets.reduce((n, b) => n + (b[key] || 0), 0);
  const summary = t('stats.summary', {
    succeeded: number(total('succeeded')),
    failed: number(total('failed')),
    locked: number(total('locked')),
  });
  return (
    <>
      <p class="govuk-body">{summary}</p>
      <div class="app-chart">
        <canvas ref={canvas} role="img" aria-label={`${t('stats.chart')}: ${summary}`} />
      </div>
      <details class="govuk-details">
        <summary class="govuk-details__summary">
          <span class="govuk-details__summary-text">{t('stats.asTable')}</span>
        </summary>
        <div class="govuk-details__text">
          <Table
            caption={t('stats.chart')}
            head={[t('stats.from'), ...SERIES.map(([k]) => t(`stats.${k}`))]}
            numeric={[1, 2, 3]}
            rows={buckets.map((b) => [bucketLabel(b.start, bucket), ...SERIES.map(([k]) => number(b[k] || 0))])}
          />
        </div>
      </details>
    </>
  );
}

export function Overview() {
  usePage(t('overview.title'));
  const session = useSession();
  const [period, setPeriod] = useState('day');
  const { seconds, bucket } = PERIODS[period];
  const stats = useLoad(async () => {
    // Whole buckets, so that the newest bar is the current hour or day.
    const until = Math.ceil(Date.now() / 1000 / bucket) * bucket;
    return get('/audit/stats', { from: until - seconds, until, bucket });
  }, [period]);
  return (
    <>
      <PageHeading>{t('overview.title')}</PageHeading>
      <h2 class="govuk-heading-m">{t('stats.chart')}</h2>
      <ul class="app-periods govuk-list">
        {Object.keys(PERIODS).map((p) => (
          <li key={p}>
            {p === period
              ? <strong aria-current="true">{t(`stats.period.${p}`)}</strong>
              : <a class="govuk-link" href={`?period=${p}`} onClick={(e) => { e.preventDefault(); setPeriod(p); }}>{t(`stats.period.${p}`)}</a>}
          </li>
        ))}
      </ul>
      <Loading state={stats}>
        {(data) => <SignInChart buckets={data.buckets} bucket={bucket} />}
      </Loading>
      <h2 class="govuk-heading-m">{t('overview.shortcuts')}</h2>
      <ul class="govuk-list">
        {session.queue && <li><Link href="/admin/registrations">{t('overview.queue')}</Link></li>}
        <li><Link href="/admin/users">{t('overview.findUser')}</Link></li>
        <li><Link href="/admin/audit">{t('overview.audit')}</Link></li>
        {session.change && <li><Link href="/admin/clients/new">{t('clients.create')}</Link></li>}
      </ul>
    </>
  );
}
