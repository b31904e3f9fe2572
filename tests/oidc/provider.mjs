// A real OpenID provider (the `oidc-provider` package) for Kickoff's single sign-on tests.
//
// Started by tests/oidc/fixture.py, configured by environment variables:
//   OIDC_PORT            the loopback port to listen on
//   OIDC_CLIENT_ID       the one confidential client (Kickoff)
//   OIDC_CLIENT_SECRET
//   OIDC_REDIRECT_URI    Kickoff's callback, registered exactly (no wildcards)
//   OIDC_USERS           JSON: {"<login>": {"email", "email_verified", "name", "groups", "id_token"}}
//   OIDC_SIGNING_JWK     optional: the private RSA key (JWK) to sign with
//
// Each user signs in at a small login page (/interaction/<uid>): a form with the user's login
// that a test posts like a person would, and a "Cancel" button that ends the request with
// `access_denied`. Consent is pre-granted for the one client, as a company's administrator does
// for its own applications. PKCE (S256) is required.
//
// A user's "id_token" makes the provider misbehave for that user only:
//   "expired"      the ID token's exp lies an hour in the past
//   "tampered"     the payload is changed after signing (groups gain "kickoff-admins")
//   "foreign-key"  signed by a key that is not in the provider's JWKS (same kid)
import crypto from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const clientId = process.env.OIDC_CLIENT_ID;
const clientSecret = process.env.OIDC_CLIENT_SECRET;
const redirectUri = process.env.OIDC_REDIRECT_URI;
const users = JSON.parse(process.env.OIDC_USERS || '{}');
if (!port || !clientId || !clientSecret || !redirectUri) {
  console.error('provider.mjs: set OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and OIDC_REDIRECT_URI');
  process.exit(2);
}

// The signing key: the tests' own (OIDC_SIGNING_JWK, a private RSA JWK, so they can mint
// tokens the provider would), or a fresh one.
const signingJwk = process.env.OIDC_SIGNING_JWK
  ? JSON.parse(process.env.OIDC_SIGNING_JWK)
  : { ...crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'kickoff-test-1' };
signingJwk.alg = 'RS256';
signingJwk.use = 'sig';
const foreignKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

function account(login) {
  const user = users[login];
  if (!user) return undefined;
  return {
    accountId: login,
    async claims() {
      const claims = { sub: login, email: user.email, name: user.name };
      if (user.email_verified !== undefined) claims.email_verified = user.email_verified;
      if (user.groups !== undefined) claims.groups = user.groups;
      return claims;
    },
  };
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingJwk] },
  // What Entra ID, Google and Okta sign ID tokens with; HS256 is not offered.
  enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
  pkce: { methods: ['S256'], required: () => true },
  responseTypes: ['code'],
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  // The user's claims go in the ID token, as the identity providers Kickoff meets put them.
  conformIdTokenClaims: false,
  findAccount: (ctx, id) => account(id),
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(ctx.oidc.params.scope);
    await grant.save();
    return grant;
  },
  ttl: {
    IdToken: (ctx, token) => (users[token.available?.sub]?.id_token === 'expired' ? -3600 : 600),
  },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>Error</title><h1>${escape(out.error)}</h1><p>${escape(out.error_description || '')}</p>`;
  },
});

const b64 = (data) => Buffer.from(data).toString('base64url');

// The misbehaving users' ID tokens, changed on their way out of the token endpoint.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || !ctx.body || typeof ctx.body.id_token !== 'string') return;
  const [header, payload, signature] = ctx.body.id_token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  const mode = users[claims.sub]?.id_token;
  if (mode === 'tampered') {
    claims.groups = [...(claims.groups || []), 'kickoff-admins'];
    ctx.body = { ...ctx.body, id_token: `${header}.${b64(JSON.stringify(claims))}.${signature}` };
  } else if (mode === 'foreign-key') {
    const signed = crypto.sign('sha256', Buffer.from(`${header}.${payload}`), foreignKey);
    ctx.body = { ...ctx.body, id_token: `${header}.${payload}.${b64(signed)}` };
  }
});

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, error) {
  return `<!doctype html>
<html><head><title>Sign in</title></head><body>
<h1>Sign in to the test identity provider</h1>
${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
  <label>Login <input name="login" autofocus></label>
  <button type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${uid}/abort"><button type="submit">Cancel</button></form>
</body></html>`;
}

async function formBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString());
}

async function interaction(req, res) {
  const [, , uid, action] = new URL(req.url, issuer).pathname.split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  if (req.method === 'GET' && !action) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(loginPage(uid));
    return;
  }
  if (req.method === 'POST' && action === 'login') {
    const login = (await formBody(req)).get('login') || '';
    if (!users[login]) {
      res.writeHead(401, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(loginPage(uid, `No user "${login}" here.`));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    return;
  }
  if (req.method === 'POST' && action === 'abort') {
    const result = { error: 'access_denied', error_description: 'The user cancelled the sign-in.' };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    return;
  }
  res.writeHead(404).end();
}

const handle = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end(`interaction failed: ${err.message}`);
    });
  } else {
    handle(req, res);
  }
});
server.listen(port, '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}`));
