// Signing keys: the published keys, rotation (new active keys; the old ones stay published
// until the tokens they signed expire), retiring a key that no longer signs.

import { useState } from 'preact/hooks';
import { get, post, seg } from '../api.js';
import {
  Banner, Button, Confirm, ErrorSummary, Heading, Loading, PageHeading, Table, Tag, formErrors, useLoad, usePage,
} from '../components.jsx';
import { dateTime, t } from '../i18n.js';
import { useSession } from '../session.js';

export function Keys() {
  const session = useSession();
  const [asking, setAsking] = useState(null);
  const [notice, setNotice] = useState(null);
  const [error, setError] = useState(null);
  usePage(t('keys.title'), Boolean(error));
  const keys = useLoad(() => get('/keys'), []);

  const act = async (run, done) => {
    setAsking(null);
    try {
      setNotice(done(await run()));
      setError(null);
      keys.reload();
    } catch (e) {
      setNotice(null);
      setError(formErrors(e));
    }
  };

  return (
    <>
      {notice && <Banner success><Heading>{notice}</Heading></Banner>}
      <ErrorSummary errors={error} />
      <PageHeading>{t('keys.title')}</PageHeading>
      <p class="govuk-body">{t('keys.intro')}</p>
      {session.change && !asking && (
        <Button type="button" onClick={() => setAsking({ rotate: true })}>{t('keys.rotate')}</Button>
      )}
      {asking?.rotate && (
        <Confirm question={t('keys.rotateQ')} confirm={t('keys.rotate')} warning={t('keys.rotateWarn')}
          onCancel={() => setAsking(null)}
          onConfirm={() => act(() => post('/keys/rotate'), (r) => t('keys.rotated', { kids: r.kids.join(', ') }))} />
      )}
      {asking?.retire && (
        <Confirm question={t('keys.retireQ', { kid: asking.retire })} confirm={t('keys.retire')} warning={t('keys.retireWarn')}
          onCancel={() => setAsking(null)}
          onConfirm={() => act(() => post(`/keys/${seg(asking.retire)}/retire`), () => t('keys.retired', { kid: asking.retire }))} />
      )}
      <Loading state={keys}>
        {(list) => (
          <Table
            caption={t('keys.caption')} wide
            head={[t('keys.kid'), t('keys.alg'), t('keys.state'), t('keys.created'), t('keys.until'),
              ...(session.change ? [t('common.action')] : [])]}
            empty={t('keys.none')}
            rows={list.map((k) => [
              <code class="app-nowrap">{k.kid}</code>,
              k.alg,
              k.active ? <Tag colour="green">{t('keys.active')}</Tag> : <Tag colour="grey">{t('keys.published')}</Tag>,
              dateTime(k.created_at),
              k.retire_at ? dateTime(k.retire_at) : '–',
              ...(session.change ? [
                k.active ? '–' : (
                  <Button type="button" variant="secondary" class="govuk-button govuk-button--secondary app-button-small"
                    onClick={() => setAsking({ retire: k.kid })}>
                    {t('keys.retire')}<span class="govuk-visually-hidden"> {k.kid}</span>
                  </Button>
                ),
              ] : []),
            ])}
          />
        )}
      </Loading>
    </>
  );
}
