// A real authorization server for tokensmith's interop tests: oidc-provider on 127.0.0.1,
// plus a protected resource that validates JWT access tokens against the server's JWKS.
// With TOKENSMITH_INTEROP_TLS naming a folder of certificates (made by `cargo xtask interop`),
// the same provider and resource also listen over https with client certificates requested,
// for mutual TLS (RFC 8705). Prints one JSON line of facts once all listen; runs until killed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import Provider, { errors } from 'oidc-provider';
import * as jose from 'jose';

// A secret with every character RFC 6749 §2.3.1 makes clients encode for HTTP Basic.
const ODD_SECRET = 'p:a@s/s+w&o=r%d x';
const REDIRECT_URI = 'http://127.0.0.1/callback';

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const sha256 = (data) => crypto.createHash('sha256').update(data).digest();

// The protected resource: 200 for a JWT from this issuer for this audience, 401 otherwise.
// It publishes its metadata (RFC 9728) at /.well-known/oauth-protected-resource; under
// /protected/ it also says so in its challenges and wants scopes: api:read to read, api:write
// as well for other methods (403 insufficient_scope, RFC 6750 §3.1).
// A DPoP-bound token (cnf.jkt) needs a valid proof (RFC 9449 §7) with this resource's nonce;
// a certificate-bound one (cnf.x5t#S256) the same client certificate (RFC 8705 §3).
let verify = async () => { throw new Error('not ready'); };
let resourceNonce = b64url(crypto.randomBytes(16));
const seenProofs = new Set();
class Refusal extends Error {
  constructor(scheme, code, message, headers = {}) { super(message); Object.assign(this, { scheme, code, headers }); }
}
async function checkProof(req, token, payload) {
  const proof = req.headers.dpop;
  if (!proof || Array.isArray(proof)) throw new Refusal('DPoP', 'invalid_dpop_proof', 'no DPoP proof');
  const { payload: claims, protectedHeader } = await jose.jwtVerify(proof, jose.EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256', 'RS256', 'PS256', 'EdDSA'] });
  const url = new URL(req.url, `${req.socket.encrypted ? 'https' : 'http'}://${req.headers.host}`);
  if (claims.htm !== req.method) throw new Refusal('DPoP', 'invalid_dpop_proof', 'htm mismatch');
  if (claims.htu !== `${url.origin}${url.pathname}`) throw new Refusal('DPoP', 'invalid_dpop_proof', `htu mismatch: ${claims.htu}`);
  if (claims.ath !== b64url(sha256(token))) throw new Refusal('DPoP', 'invalid_dpop_proof', 'ath mismatch');
  if (Math.abs(Date.now() / 1000 - claims.iat) > 60) throw new Refusal('DPoP', 'invalid_dpop_proof', 'iat too far');
  if (await jose.calculateJwkThumbprint(protectedHeader.jwk) !== payload.cnf?.jkt) throw new Refusal('DPoP', 'invalid_token', 'the proof key is not the one the token is bound to');
  if (claims.nonce !== resourceNonce) {
    throw new Refusal('DPoP', 'use_dpop_nonce', 'a nonce is required', { 'dpop-nonce': resourceNonce });
  }
  if (seenProofs.has(claims.jti)) throw new Refusal('DPoP', 'invalid_dpop_proof', 'proof replayed');
  seenProofs.add(claims.jti);
}
const PROTECTED_METADATA = '.well-known/oauth-protected-resource';
async function serveResource(req, res) {
  const path = new URL(req.url, 'http://resource').pathname;
  if (path === `/${PROTECTED_METADATA}`) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({
      resource: resourceUrl,
      authorization_servers: [issuer],
      scopes_supported: ['api:read', 'api:write'],
      bearer_methods_supported: ['header'],
    }));
    return;
  }
  const guarded = path.startsWith('/protected');
  const wanted = req.method === 'GET' ? ['api:read'] : ['api:read', 'api:write'];
  const challenge = guarded ? `, resource_metadata="${resourceUrl}${PROTECTED_METADATA}", scope="${wanted.join(' ')}"` : '';
  const [scheme, token] = (req.headers.authorization ?? '').split(' ');
  try {
    if (!token || !['bearer', 'dpop'].includes(scheme?.toLowerCase())) throw new Refusal('Bearer', 'invalid_token', 'no token');
    let payload;
    try {
      ({ payload } = await verify(token));
    } catch (e) {
      throw new Refusal(scheme, 'invalid_token', String(e.message ?? e));
    }
    if (payload.cnf?.jkt) {
      if (scheme.toLowerCase() !== 'dpop') throw new Refusal('DPoP', 'invalid_token', 'a DPoP-bound token sent as a bearer token');
      await checkProof(req, token, payload);
    } else if (scheme.toLowerCase() !== 'bearer') {
      throw new Refusal('Bearer', 'invalid_token', 'not a DPoP-bound token');
    }
    const granted = (payload.scope ?? '').split(' ');
    if (guarded && !wanted.every((s) => granted.includes(s))) {
      res.writeHead(403, {
        'www-authenticate': `Bearer error="insufficient_scope"${challenge}`,
        'content-type': 'application/json',
      });
      res.end(JSON.stringify({ error: 'insufficient_scope' }));
      return;
    }
    if (payload.cnf?.['x5t#S256']) {
      const cert = req.socket.getPeerX509Certificate?.();
      if (!cert || b64url(sha256(cert.raw)) !== payload.cnf['x5t#S256']) {
        throw new Refusal('Bearer', 'invalid_token', 'the token is bound to another client certificate');
      }
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ client_id: payload.client_id, scope: payload.scope, aud: payload.aud, sub: payload.sub, cnf: payload.cnf ?? null }));
  } catch (e) {
    const refusal = e instanceof Refusal ? e : new Refusal('Bearer', 'invalid_token', String(e.message ?? e));
    res.writeHead(401, {
      'www-authenticate': `${refusal.scheme === 'DPoP' || refusal.scheme === 'dpop' ? 'DPoP' : 'Bearer'} error="${refusal.code}"${challenge}`,
      'content-type': 'application/json',
      ...refusal.headers,
    });
    res.end(JSON.stringify({ error: refusal.code, error_description: refusal.message }));
  }
}
const resource = http.createServer(serveResource);
const resourcePort = await listen(resource);
const resourceUrl = `http://127.0.0.1:${resourcePort}/`;

// Mutual TLS: a CA, a server certificate, a CA-issued client certificate and a self-signed one.
const tlsDir = process.env.TOKENSMITH_INTEROP_TLS;
const tls = tlsDir && Object.fromEntries(['ca', 'server', 'server-key', 'self-signed'].map((name) => [name, fs.readFileSync(path.join(tlsDir, `${name}.pem`))]));
const tlsOptions = tls && { key: tls['server-key'], cert: tls.server, ca: tls.ca, requestCert: true, rejectUnauthorized: false };
const mtlsMain = tls && https.createServer(tlsOptions);
const mtlsPort = tls ? await listen(mtlsMain) : undefined;
const mtlsIssuerBase = tls && `https://127.0.0.1:${mtlsPort}`;
const mtlsResource = tls && https.createServer(tlsOptions, serveResource);
const mtlsResourceUrl = tls && `https://127.0.0.1:${await listen(mtlsResource)}/`;
const selfSigned = tls && new crypto.X509Certificate(tls['self-signed']);

const main = http.createServer();
const port = await listen(main);
const issuer = `http://127.0.0.1:${port}`;

// Client keys for private_key_jwt and the JWT bearer grant; the private halves go to the tests.
async function clientKey(alg, kid) {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true });
  return {
    pem: await jose.exportPKCS8(privateKey),
    privateJwk: { ...(await jose.exportJWK(privateKey)), kid, alg },
    publicJwk: { ...(await jose.exportJWK(publicKey)), kid, alg, use: 'sig' },
  };
}
const es256 = await clientKey('ES256', 'interop-es256');
const ps256 = await clientKey('PS256', 'interop-ps256');
const JWT_SECRET = 'a client secret long enough for HS256: 0123456789';
const subjectClaims = new WeakMap();
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

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
    {
      client_id: 'jwt-client',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: { keys: [es256.publicJwk] },
      grant_types: ['client_credentials', TOKEN_EXCHANGE, JWT_BEARER],
      redirect_uris: [],
      response_types: [],
    },
    {
      client_id: 'jwt-rsa-client',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [ps256.publicJwk] },
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
    },
    {
      client_id: 'secret-jwt-client',
      client_secret: JWT_SECRET,
      token_endpoint_auth_method: 'client_secret_jwt',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
    },
    { ...confidential('dpop-client', 'client_secret_basic', ['client_credentials', 'authorization_code', 'refresh_token']), dpop_bound_access_tokens: true },
    ...(tls ? [
      {
        client_id: 'mtls-client',
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_san_dns: 'client.tokensmith.test',
        tls_client_certificate_bound_access_tokens: true,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      },
      {
        client_id: 'self-signed-client',
        token_endpoint_auth_method: 'self_signed_tls_client_auth',
        jwks: { keys: [{ ...selfSigned.publicKey.export({ format: 'jwk' }), x5c: [selfSigned.raw.toString('base64')] }] },
        tls_client_certificate_bound_access_tokens: true,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      },
    ] : []),
  ],
  features: {
    devInteractions: { enabled: false },
    // Open registration (RFC 7591): the workload identity tests register clients whose
    // jwks_uri is the JWKS of a platform they run themselves.
    registration: { enabled: true },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    dPoP: { enabled: true, nonceSecret: crypto.randomBytes(32), requireNonce: () => true },
    mTLS: {
      enabled: !!tls,
      certificateBoundAccessTokens: true,
      tlsClientAuth: true,
      selfSignedTlsClientAuth: true,
      getCertificate: (ctx) => ctx.socket.getPeerX509Certificate?.(),
      certificateAuthorized: (ctx) => ctx.socket.authorized === true,
      certificateSubjectMatches: (ctx, property, expected) => property === 'tls_client_auth_san_dns'
        && (ctx.socket.getPeerX509Certificate()?.subjectAltName ?? '').split(', ').includes(`DNS:${expected}`),
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resourceUrl) throw new errors.InvalidTarget();
        return { scope: 'api:read api:write', audience: resourceUrl, accessTokenFormat: 'jwt', accessTokenTTL: 600 };
      },
    },
  },
  scopes: ['openid', 'offline_access', 'api:read', 'api:write'],
  // What the custom grants below say of the subject, in the token and its introspection.
  extraTokenClaims: (ctx, token) => subjectClaims.get(token),
  clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none', ...(tls ? ['tls_client_auth', 'self_signed_tls_client_auth'] : [])],
  discovery: tls ? {
    mtls_endpoint_aliases: {
      token_endpoint: `${mtlsIssuerBase}/token`,
      revocation_endpoint: `${mtlsIssuerBase}/token/revocation`,
      introspection_endpoint: `${mtlsIssuerBase}/token/introspection`,
    },
  } : {},
  pkce: { required: () => true },
  issueRefreshToken: (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: (ctx) => ctx.oidc.client.clientId === 'rotating-client',
  findAccount: (ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['tokensmith-interop-cookie-key'] },
  ttl: { AccessToken: 600, AuthorizationCode: 60, RefreshToken: 3600, Grant: 3600, Interaction: 600, Session: 3600 },
});
provider.proxy = false;
provider.on('server_error', (ctx, err) => console.error('server_error', err));

// Token exchange (RFC 8693) as a custom grant: an opaque access token of this server for a new
// one, acting for the subject token's client, with `act` naming the client that asked.
// A platform's identity token (a JWT or an ID token) is taken from a client registered with
// that platform's jwks_uri: this server trusts the platform the client names (workload
// identity federation).
const platformKeys = new Map();
async function platformClaims(client, token, audience) {
  if (!client.jwksUri) throw new errors.InvalidGrant('the client names no platform (jwks_uri)');
  if (!platformKeys.has(client.jwksUri)) platformKeys.set(client.jwksUri, jose.createRemoteJWKSet(new URL(client.jwksUri)));
  try {
    const { payload } = await jose.jwtVerify(token ?? '', platformKeys.get(client.jwksUri), { audience, maxTokenAge: '1h' });
    return payload;
  } catch (e) {
    throw new errors.InvalidGrant(`platform token rejected: ${e.message}`);
  }
}
const PLATFORM_TOKEN_TYPES = ['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token'];

// Answers a custom grant with an access token for the asking client, saying `claims` of it.
async function issue(ctx, scope, claims, extra = {}) {
  const token = new provider.ClientCredentials({ client: ctx.oidc.client, scope });
  subjectClaims.set(token, claims);
  ctx.body = { access_token: await token.save(), ...extra, token_type: 'Bearer', expires_in: token.expiration, scope: token.scope };
}

provider.registerGrantType(TOKEN_EXCHANGE, async (ctx) => {
  const params = ctx.oidc.params;
  if (PLATFORM_TOKEN_TYPES.includes(params.subject_token_type)) {
    const claims = await platformClaims(ctx.oidc.client, params.subject_token, issuer);
    await issue(ctx, params.scope, { sub: claims.sub, platform_issuer: claims.iss }, { issued_token_type: ACCESS_TOKEN_TYPE });
    return;
  }
  if (params.subject_token_type !== ACCESS_TOKEN_TYPE) {
    throw new errors.InvalidRequest('subject_token_type must be an access token, a JWT or an ID token');
  }
  const subject = await provider.ClientCredentials.find(params.subject_token);
  if (!subject || subject.isExpired) throw new errors.InvalidGrant('subject token is invalid or expired');
  await issue(
    ctx,
    params.scope ?? subject.scope,
    { sub: subject.clientId, act: { sub: ctx.oidc.client.clientId }, exchanged_audience: params.audience },
    { issued_token_type: ACCESS_TOKEN_TYPE },
  );
}, ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'audience', 'resource', 'scope'], ['audience', 'resource']);

// The JWT bearer grant (RFC 7523 §2.1): an assertion signed with the client's registered key,
// for this token endpoint.
provider.registerGrantType(JWT_BEARER, async (ctx) => {
  let claims;
  if (ctx.oidc.client.jwksUri) {
    claims = await platformClaims(ctx.oidc.client, ctx.oidc.params.assertion, `${issuer}/token`);
    await issue(ctx, ctx.oidc.params.scope, { sub: claims.sub, platform_issuer: claims.iss });
    return;
  }
  try {
    ({ payload: claims } = await jose.jwtVerify(ctx.oidc.params.assertion ?? '', jose.createLocalJWKSet({ keys: [es256.publicJwk] }), { audience: `${issuer}/token`, maxTokenAge: '5m' }));
  } catch (e) {
    throw new errors.InvalidGrant(`assertion rejected: ${e.message}`);
  }
  await issue(ctx, ctx.oidc.params.scope, { sub: claims.sub });
}, ['assertion', 'scope']);

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
if (tls) mtlsMain.on('request', callback);
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

console.log(JSON.stringify({
  issuer,
  resource: resourceUrl,
  secret: ODD_SECRET,
  redirect_uri: REDIRECT_URI,
  jwt_secret: JWT_SECRET,
  es256_pem: es256.pem,
  ps256_jwk: JSON.stringify(ps256.privateJwk),
  mtls_issuer: mtlsIssuerBase ?? null,
  mtls_resource: mtlsResourceUrl ?? null,
}));
