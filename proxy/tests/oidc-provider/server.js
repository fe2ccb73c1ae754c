// A real OpenID provider (the certified `oidc-provider` package) configured like
// FranceConnect v2, for Vigie's login tests: authorization code flow with PKCE, ES256 ID
// tokens, `acr` eidas1, userinfo as a signed JWT, RP-initiated logout (end_session).
//
// Usage: ADMIN_TOKEN=secret node server.js
// It listens on 127.0.0.1 (a free port), prints {"issuer": "..."} on stdout, and answers 503
// until the test posts its clients to /__configure (Vigie's callback is known only once Vigie
// runs). /__log lists the id_token_hint values end_session received.
import http from 'node:http';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const ADMIN_TOKEN = process.env.ADMIN_TOKEN || crypto.randomBytes(16).toString('hex');
const PARENTS = {
  'parent-martin': { given_name: 'Léa', family_name: 'Martin', birthdate: '1984-03-12', gender: 'female' },
  'parent-diallo': { given_name: 'Moussa', family_name: 'Diallo', birthdate: '1979-11-02', gender: 'male' },
};
const seen = { end_session_hints: [] };
let issuer;
let provider;

function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'ES256', kid: 'fc-test-es256' };
}

function build(clients) {
  const p = new Provider(issuer, {
    clients,
    jwks: { keys: [signingKey()] },
    acrValues: ['eidas1', 'eidas2', 'eidas3'],
    scopes: ['openid', 'identite_pivot'],
    claims: {
      openid: ['sub'],
      identite_pivot: ['given_name', 'family_name', 'birthdate', 'gender'],
      acr: null,
    },
    findAccount: async (ctx, id) => PARENTS[id] && {
      accountId: id,
      claims: async () => ({ sub: id, ...PARENTS[id] }),
    },
    features: {
      devInteractions: { enabled: false },
      jwtUserinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    ttl: { AuthorizationCode: 30, IdToken: 60, AccessToken: 60, Interaction: 600, Session: 600, Grant: 600 },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  });
  p.proxy = false;
  return p;
}

async function body(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

function page(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>FranceConnect (test)</title></head><body>${html}</body></html>`);
}

// The login page of this provider: pick a parent; `acr` may be overridden by tests.
async function interaction(req, res, url) {
  const [, , uid, action] = url.pathname.split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return page(res, 400, 'interaction mismatch');
  if (req.method === 'GET') {
    const options = Object.entries(PARENTS)
      .map(([id, p]) => `<option value="${id}">${p.given_name} ${p.family_name}</option>`).join('');
    return page(res, 200, `<h1>Connexion (fournisseur de test)</h1>
      <form method="post" action="/interaction/${uid}/login">
        <label for="account">Compte</label> <select id="account" name="account">${options}</select>
        <input type="hidden" name="acr" value="eidas1">
        <button type="submit">Se connecter</button>
      </form>`);
  }
  if (req.method === 'POST' && action === 'login') {
    const form = new URLSearchParams(await body(req));
    const accountId = form.get('account');
    if (!PARENTS[accountId]) return page(res, 400, 'unknown account');
    const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    const result = { login: { accountId, acr: form.get('acr') || 'eidas1' }, consent: { grantId } };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  return page(res, 405, 'method not allowed');
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (url.pathname === '/__configure' && req.method === 'POST') {
      if (req.headers.authorization !== `Bearer ${ADMIN_TOKEN}`) { res.writeHead(401); return res.end(); }
      provider = build(JSON.parse(await body(req)).clients);
      res.writeHead(204);
      return res.end();
    }
    if (url.pathname === '/__log') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(seen));
    }
    if (!provider) { res.writeHead(503); return res.end('not configured'); }
    if (url.pathname.startsWith('/interaction/')) return await interaction(req, res, url);
    if (url.pathname === '/session/end' && url.searchParams.has('id_token_hint')) {
      seen.end_session_hints.push(url.searchParams.get('id_token_hint'));
    }
    return provider.callback()(req, res);
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(e && e.stack || e));
  }
});

server.listen(0, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
