// A real authorization server for tokensmith's interop tests: oidc-provider on 127.0.0.1,
// plus a protected resource that validates JWT access tokens against the server's JWKS.
// Prints one JSON line {"issuer": ..., "resource": ...} once both listen; runs until killed.
import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

// A secret with every character RFC 6749 §2.3.1 makes clients encode for HTTP Basic.
const ODD_SECRET = 'p:a@s/s+w&o=r%d x';
const REDIRECT_URI = 'http://127.0.0.1/callback';

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

// The protected resource: 200 for a JWT from this issuer for this audience, 401 otherwise.
let verify = async () => { throw new Error('not ready'); };
const resource = http.createServer(async (req, res) => {
  const auth = req.headers.authorization ?? '';
  const [scheme, token] = auth.split(' ');
  try {
    if (scheme?.toLowerCase() !== 'bearer' || !token) throw new Error('no bearer token');
    const { payload } = await verify(token);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ client_id: payload.client_id, scope: payload.scope, aud: payload.aud }));
  } catch (e) {
    res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'invalid_token', error_description: String(e.message ?? e) }));
  }
});
const resourcePort = await listen(resource);
const resourceUrl = `http://127.0.0.1:${resourcePort}/`;

const main = http.createServer();
const port = await listen(main);
const issuer = `http://127.0.0.1:${port}`;

const confidential = (id, method, grants) => ({
  client_id: id,
  client_secret: ODD_SECRET,
  token_endpoint_auth_method: method,
  grant_types: grants,
  redirect_uris: grants.includes('authorization_code') ? [REDIRECT_URI] : [],
  response_types: grants.includes('authorization_code') ? ['code'] : [],
});
const publicClient = (id) => ({
  client_id: id,
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  redirect_uris: [REDIRECT_URI],
  response_types: ['code'],
});

const provider = new Provider(issuer, {
  clients: [
    confidential('basic-client', 'client_secret_basic', ['client_credentials']),
    confidential('post-client', 'client_secret_post', ['client_credentials']),
    confidential('code-client', 'client_secret_basic', ['authorization_code', 'refresh_token']),
    publicClient('public-client'),
    publicClient('rotating-client'),
  ],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resourceUrl) throw new Provider.errors.InvalidTarget();
        return { scope: 'api:read api:write', audience: resourceUrl, accessTokenFormat: 'jwt', accessTokenTTL: 600 };
      },
    },
  },
  scopes: ['openid', 'offline_access', 'api:read', 'api:write'],
  pkce: { required: () => true },
  issueRefreshToken: (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: (ctx) => ctx.oidc.client.clientId === 'rotating-client',
  findAccount: (ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['tokensmith-interop-cookie-key'] },
  ttl: { AccessToken: 600, AuthorizationCode: 60, RefreshToken: 3600, Grant: 3600, Interaction: 600, Session: 3600 },
});
provider.proxy = false;

// Signs alice in and approves whatever was asked, at once.
async function interact(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    return provider.interactionFinished(req, res, { login: { accountId: 'alice' } }, { mergeWithLastSubmission: false });
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  const missing = details.prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
main.on('request', (req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interact(req, res).catch((e) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e.stack ?? e));
    });
  } else {
    callback(req, res);
  }
});

const jwks = jose.createRemoteJWKSet(new URL(`${issuer}/jwks`));
verify = (token) => jose.jwtVerify(token, jwks, { issuer, audience: resourceUrl });

console.log(JSON.stringify({ issuer, resource: resourceUrl, secret: ODD_SECRET, redirect_uri: REDIRECT_URI }));
