// node-oidc-provider, configured like the idp under test: one confidential client with
// the client_credentials grant, introspection on. Usage: node peer.mjs PORT SECRET
import Provider from 'oidc-provider';

const [port, secret] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: 'bench',
    client_secret: secret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: 'api',
  }],
  scopes: ['api'],
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: false },
  },
});
provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
