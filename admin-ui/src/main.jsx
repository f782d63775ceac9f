// The Admin UI: signs the administrator in at level high, finds out what their roles allow,
// and shows the pages of the console. Every page talks only to the Admin API.

import './styles.scss';
import './app.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get } from './api.js';
import { SignInError, completeSignIn, signIn, signOut, who } from './auth.js';
import { Button, Link, PageHeading, problemText } from './components.jsx';
import { LANGS, currentLang, onLangChange, setLang, t } from './i18n.js';
import { match, navigate, useLocation } from './router.js';
import { SessionContext } from './session.js';
import { Overview } from './pages/overview.jsx';
import { ClientForm, ClientList, ClientShow } from './pages/clients.jsx';
import { UserList, UserShow } from './pages/users.jsx';
import { AuditLog } from './pages/audit.jsx';
import { Keys } from './pages/keys.jsx';
import { Policy } from './pages/policy.jsx';
import { RegistrationList, RegistrationShow } from './pages/registrations.jsx';
import { ServiceCentre } from './pages/counter.jsx';

/**
 * The signed-in person's account and roles, as the API knows them (`GET /me`). Someone
 * without a role is refused: then the console has nothing to offer.
 */
async function findMe() {
  try {
    const me = await get('/me');
    return { username: me.username, roles: new Set(me.roles || []) };
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) return { username: null, roles: new Set() };
    throw e;
  }
}

function sessionFor(claims, { username, roles }) {
  const admin = roles.has('administrator');
  return {
    claims,
    username,
    roles,
    read: admin || roles.has('auditor'),
    change: admin,
    queue: admin || roles.has('clerk'),
  };
}

const ROUTES = [
  ['/admin', { page: Overview, nav: 'overview', need: 'read' }],
  ['/admin/clients', { page: ClientList, nav: 'clients', need: 'read' }],
  ['/admin/clients/new', { page: ClientForm, nav: 'clients', need: 'change' }],
  ['/admin/clients/:id/edit', { page: ClientForm, nav: 'clients', need: 'change' }],
  ['/admin/clients/:id', { page: ClientShow, nav: 'clients', need: 'read' }],
  ['/admin/users', { page: UserList, nav: 'users', need: 'read' }],
  ['/admin/users/:id', { page: UserShow, nav: 'users', need: 'read' }],
  ['/admin/audit', { page: AuditLog, nav: 'audit', need: 'read' }],
  ['/admin/keys', { page: Keys, nav: 'keys', need: 'read' }],
  ['/admin/policy', { page: Policy, nav: 'policy', need: 'read' }],
  ['/admin/registrations', { page: RegistrationList, nav: 'registrations', need: 'queue' }],
  ['/admin/registrations/:id', { page: RegistrationShow, nav: 'registrations', need: 'queue' }],
  ['/admin/service-centre', { page: ServiceCentre, nav: 'counter', need: 'queue' }],
];

const NAV = [
  ['overview', '/admin/', 'read'],
  ['registrations', '/admin/registrations', 'queue'],
  ['counter', '/admin/service-centre', 'queue'],
  ['clients', '/admin/clients', 'read'],
  ['users', '/admin/users', 'read'],
  ['audit', '/admin/audit', 'read'],
  ['keys', '/admin/keys', 'read'],
  ['policy', '/admin/policy', 'read'],
];

function useNarrow() {
  const query = '(max-width: 40.0525em)';
  const [narrow, setNarrow] = useState(() => matchMedia(query).matches);
  useEffect(() => {
    const m = matchMedia(query);
    const f = () => setNarrow(m.matches);
    m.addEventListener('change', f);
    return () => m.removeEventListener('change', f);
  }, []);
  return narrow;
}

function Header({ session, current }) {
  const narrow = useNarrow();
  const [open, setOpen] = useState(false);
  const items = NAV.filter(([, , need]) => session && session[need]);
  return (
    <header>
      <a href="#main-content" class="govuk-skip-link" onClick={(e) => {
        e.preventDefault();
        document.getElementById('main-content')?.focus();
      }}>{t('nav.skip')}</a>
      <section aria-label={t('nav.service')} class="govuk-service-navigation">
        <div class="govuk-width-container govuk-service-navigation__inlining-container">
          <div class="govuk-service-navigation__container">
            <span class="govuk-service-navigation__service-name">
              <Link href="/admin/" class="govuk-service-navigation__link">{t('app.name')}</Link>
            </span>
            {items.length > 0 && (
              <nav aria-label={t('nav.menu')} class="govuk-service-navigation__wrapper">
                <button type="button" class="govuk-service-navigation__toggle" aria-controls="navigation"
                  hidden={!narrow} aria-expanded={open ? 'true' : 'false'} onClick={() => setOpen(!open)}>
                  {t('nav.menu')}
                </button>
                <ul class="govuk-service-navigation__list" id="navigation" hidden={narrow && !open}>
                  {items.map(([key, href]) => (
                    <li key={key} class={`govuk-service-navigation__item${current === key ? ' govuk-service-navigation__item--active' : ''}`}>
                      <Link class="govuk-service-navigation__link" href={href} aria-current={current === key ? 'page' : undefined}
                        onClick={() => setOpen(false)}>
                        {current === key
                          ? <strong class="govuk-service-navigation__active-fallback">{t(`nav.${key}`)}</strong>
                          : t(`nav.${key}`)}
                      </Link>
                    </li>
                  ))}
                </ul>
              </nav>
            )}
          </div>
          <nav class="govuk-language-navigation" aria-label={t('nav.language')}>
            <ul class="govuk-language-navigation__list">
              {LANGS.map(({ code, name }) => (
                <li class="govuk-language-navigation__list-item" key={code}>
                  {code === currentLang()
                    ? <span class="govuk-language-navigation__text" lang={code} aria-current="true">{name}</span>
                    : <a class="govuk-language-navigation__link" href={`?lang=${code}`} lang={code} hreflang={code}
                      onClick={(e) => { e.preventDefault(); setLang(code); }}>{name}</a>}
                </li>
              ))}
            </ul>
          </nav>
        </div>
      </section>
    </header>
  );
}

function Footer({ session }) {
  const name = session?.claims?.name || session?.username || session?.claims?.sub;
  return (
    <footer class="app-footer">
      <div class="govuk-width-container">
        {session && (
          <p class="govuk-body-s">
            {t('app.signedInAs', { name })}
            {' · '}
            {[...session.roles].map((r) => t(`role.${r}`)).join(', ') || t('role.none')}
            {' · '}
            <button type="button" class="app-link-button govuk-body-s" onClick={() => signOut()}>{t('app.signOut')}</button>
          </p>
        )}
      </div>
    </footer>
  );
}

function Frame({ session, current, children }) {
  return (
    <>
      <Header session={session} current={current} />
      <div class="app-main">
        <div class="govuk-width-container">
          <main class="govuk-main-wrapper" id="main-content" tabIndex={-1}>
            {children}
          </main>
        </div>
      </div>
      <Footer session={session} />
    </>
  );
}

function Message({ title, children }) {
  useEffect(() => {
    document.title = `${title} – ${t('app.name')}`;
  }, [title]);
  return (
    <div class="govuk-grid-row">
      <div class="govuk-grid-column-two-thirds">
        <PageHeading>{title}</PageHeading>
        {children}
      </div>
    </div>
  );
}

function SignInAgain() {
  return <Button type="button" onClick={() => signIn('/admin/', currentLang())}>{t('app.signIn')}</Button>;
}

function signInProblem(e) {
  if (e instanceof SignInError) {
    if (e.code === 'access_denied') return t('signin.denied');
    if (e.code === 'insufficient_user_authentication') return t('signin.notHigh');
    return t('signin.failed', { reason: e.message });
  }
  return problemText(e);
}

function App() {
  const where = useLocation();
  const [, rerender] = useState(0);
  const [phase, setPhase] = useState({ name: 'start' });
  useEffect(() => onLangChange(() => rerender((n) => n + 1)), []);

  useEffect(() => {
    (async () => {
      const params = new URLSearchParams(location.search);
      if (location.pathname === '/admin/callback') {
        let back;
        try {
          back = await completeSignIn(location.search);
        } catch (e) {
          history.replaceState(null, '', '/admin/');
          setPhase({ name: 'failed', error: e });
          return;
        }
        navigate(back, { replace: true });
      } else if (params.get('state') === 'signed-out') {
        history.replaceState(null, '', '/admin/');
        setPhase({ name: 'signed-out' });
        return;
      } else if (!who()) {
        await signIn(location.pathname + location.search, currentLang());
        return;
      }
      try {
        const claims = who();
        setPhase({ name: 'ready', session: sessionFor(claims, await findMe()) });
      } catch (e) {
        setPhase({ name: 'failed', error: e });
      }
    })();
  }, []);

  const session = phase.session;
  if (phase.name === 'signed-out') {
    return <Frame><Message title={t('app.signedOut')}><p class="govuk-body">{t('app.signedOutText')}</p><SignInAgain /></Message></Frame>;
  }
  if (phase.name === 'failed') {
    return <Frame><Message title={t('signin.problem')}><p class="govuk-body">{signInProblem(phase.error)}</p><SignInAgain /></Message></Frame>;
  }
  if (phase.name !== 'ready') {
    return <Frame><p class="govuk-body" role="status">{t('common.loading')}</p></Frame>;
  }
  if (!session.read && !session.queue) {
    return <Frame session={session}><Message title={t('app.noRole')}><p class="govuk-body">{t('app.noRoleText')}</p></Message></Frame>;
  }
  let found = match(where, ROUTES);
  // A clerk's console is the registration queue.
  if (found?.value.page === Overview && !session.read) {
    found = match('/admin/registrations', ROUTES);
  }
  if (!found) {
    return <Frame session={session}><Message title={t('error.pageNotFound')}><p class="govuk-body"><Link href="/admin/">{t('nav.overview')}</Link></p></Message></Frame>;
  }
  const { page: Page, nav, need } = found.value;
  if (!session[need]) {
    return <Frame session={session} current={nav}><Message title={t('error.noAccess')}><p class="govuk-body">{t('error.forbidden')}</p></Message></Frame>;
  }
  return (
    <SessionContext.Provider value={session}>
      <Frame session={session} current={nav}>
        <Page key={where.split('?')[0]} params={found.params} />
      </Frame>
    </SessionContext.Provider>
  );
}

render(<App />, document.getElementById('app'));
