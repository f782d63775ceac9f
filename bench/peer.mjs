// node-oidc-provider, configured like the idp under test: ES256 signing, one confidential
// client with client_credentials, authorization_code and refresh_token (rotated on every
// use, as idp does), introspection on; a second client `bench-jwt` whose client_credentials
// access tokens are JWTs (RFC 9068, through the resource-indicators feature, as the peer
// issues them); its default in-memory adapter.
//
// Usage: node peer.mjs PORT SECRET
// Prints "ready" when it listens. For each line "mint N" on its standard input it prints
// one JSON line {"refresh_tokens": [...]}: refresh tokens minted through the provider's
// own models for signed-in accounts (the interactive login that would normally precede
// them is not part of what is measured). They are minted just before they are used: the
// in-memory adapter keeps only the 1,000 newest artifacts of each kind.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, secret] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', alg: 'ES256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'bench',
    client_secret: secret,
    grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    redirect_uris: ['https://rp.example/cb'],
    response_types: ['code'],
    scope: 'openid offline_access api',
    id_token_signed_response_alg: 'ES256',
  }, {
    client_id: 'bench-jwt',
    client_secret: secret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: 'api',
    id_token_signed_response_alg: 'ES256',
  }],
  jwks: { keys: [jwk] },
  scopes: ['openid', 'offline_access', 'api'],
  findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  rotateRefreshToken: true,
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client) => (client.clientId === 'bench-jwt' ? 'urn:bench:api' : undefined),
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api', audience: 'urn:bench:api', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});

const client = await provider.Client.find('bench');
let minted = 0;
async function mint(n) {
  const tokens = [];
  for (let i = 0; i < n; i++) {
    const accountId = `citizen-${minted++}`;
    const grant = new provider.Grant({ accountId, clientId: 'bench' });
    grant.addOIDCScope('openid offline_access');
    const grantId = await grant.save();
    const token = new provider.RefreshToken({
      accountId,
      client,
      grantId,
      scope: 'openid offline_access',
      gty: 'authorization_code',
      authTime: Math.floor(Date.now() / 1000),
    });
    tokens.push(await token.save());
  }
  return tokens;
}

let pending = '';
process.stdin.on('data', async (chunk) => {
  pending += chunk;
  let at;
  while ((at = pending.indexOf('\n')) >= 0) {
    const line = pending.slice(0, at);
    pending = pending.slice(at + 1);
    const n = Number(line.match(/^mint (\d+)$/)?.[1] ?? 0);
    console.log(JSON.stringify({ refresh_tokens: await mint(n) }));
  }
});

provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
