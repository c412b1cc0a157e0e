// The login page's script: plain browser JavaScript, no build step.
// Tokens: the access token lives only in this closure (not localStorage, so it is gone when the tab
// closes and no other script on the origin can list it). The refresh token never reaches the page:
// the API's token proxy runs in cookie mode and keeps it in an HttpOnly cookie.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  // stepUp: the API route that answered insufficient_user_authentication, and what its challenge asked for.
  const state = { accessToken: null, mfaToken: null, oobCode: null, tenant: 'staff', stepUp: null };
  const DEMO_PASSWORDS = { alice: 'alice-password', bob: 'bob-password', carol: 'carol-password', dave: 'dave-password' };
  // Each tenant has its own proxy routes (own client at its IdP tenant, own refresh cookie).
  const ROUTES = {
    staff: { token: '/auth/token', revoke: '/auth/revoke' },
    customer: { token: '/auth/customer/token', revoke: '/auth/customer/revoke' },
  };
  const routes = () => ROUTES[state.tenant];

  /**
   * POST to one of the proxy endpoints. The custom header is the CSRF check of cookie mode: a
   * cross-site form cannot send it, and a cross-site fetch with it needs a preflight the API refuses.
   */
  async function post(path, params) {
    const res = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': 'demo' },
      body: new URLSearchParams(params),
      credentials: 'same-origin',
    });
    return { status: res.status, body: await res.json().catch(() => ({})) };
  }

  function setStatus(text, kind) {
    $('status').textContent = text;
    $('status').className = kind || '';
  }

  function errorText(r) {
    return `${r.status} ${r.body.error || 'error'}${r.body.error_description ? `: ${r.body.error_description}` : ''}`;
  }

  /** Long tokens are shortened for display; the page shows what it got, not a copy-paste source. */
  function redact(body) {
    const out = { ...body };
    for (const k of ['access_token', 'id_token', 'mfa_token', 'oob_code']) {
      if (typeof out[k] === 'string' && out[k].length > 24) out[k] = `${out[k].slice(0, 16)}… (${out[k].length} chars)`;
    }
    return out;
  }

  function show(title, status, body, challenge) {
    $('result').hidden = false;
    $('result-title').textContent = `${title} → ${status}`;
    const json = JSON.stringify(redact(body), null, 2);
    $('output').textContent = challenge ? `WWW-Authenticate: ${challenge}\n\n${json}` : json;
  }

  /** Display only: the signature is checked by the API (requireAuth), never by the browser. */
  function decodePayload(jwt) {
    try {
      const b64 = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const bytes = Uint8Array.from(atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, '=')), (c) => c.charCodeAt(0));
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      return {};
    }
  }

  function renderClaims(claims) {
    const tbody = $('claims').tBodies[0];
    tbody.replaceChildren();
    for (const [name, value] of Object.entries(claims)) {
      const row = tbody.insertRow();
      row.insertCell().textContent = name;
      const time = ['exp', 'iat', 'auth_time', 'nbf'].includes(name) && typeof value === 'number';
      row.insertCell().textContent = time ? `${value} (${new Date(value * 1000).toLocaleString()})` : JSON.stringify(value);
    }
  }

  function showPanel(name) {
    for (const id of ['login', 'mfa', 'session', 'stepup']) $(id).hidden = id !== name;
  }

  function signedIn(body, how) {
    state.accessToken = body.access_token;
    state.mfaToken = state.oobCode = null;
    const claims = decodePayload(body.access_token);
    $('who').textContent = claims.sub || '?';
    $('tenant-label').textContent = `(${state.tenant === 'customer' ? 'customer tenant' : 'staff tenant'})`;
    renderClaims(claims);
    showPanel('session');
    show(`POST ${routes().token} (${how})`, 200, body);
    setStatus(`Signed in as ${claims.sub}. Token expires ${new Date(claims.exp * 1000).toLocaleTimeString()}.`, 'ok');
  }

  function signedOut(message, kind) {
    state.accessToken = state.mfaToken = state.oobCode = state.stepUp = null;
    $('stepup-password').value = '';
    $('password').value = '';
    $('sms-code').value = '';
    showPanel('login');
    setStatus(message, kind);
  }

  async function sendChallenge() {
    const r = await post('/auth/mfa/challenge', { mfa_token: state.mfaToken, challenge_type: 'oob', oob_channel: 'sms' });
    show('POST /auth/mfa/challenge', r.status, r.body);
    if (r.status !== 200) return setStatus(`Could not send the code: ${errorText(r)}`, 'error');
    state.oobCode = r.body.oob_code;
    setStatus('SMS code sent.', 'ok');
    $('sms-code').focus();
  }

  async function login(event) {
    event.preventDefault();
    state.tenant = $('tenant').value === 'customer' ? 'customer' : 'staff';
    const r = await post(routes().token, { grant_type: 'password', username: $('username').value, password: $('password').value });
    if (r.status === 200) return signedIn(r.body, 'password');
    show(`POST ${routes().token} (password)`, r.status, r.body);
    if (r.body.error === 'mfa_required' && r.body.mfa_token) {
      state.mfaToken = r.body.mfa_token;
      showPanel('mfa');
      return sendChallenge();
    }
    setStatus(`Sign-in failed: ${errorText(r)}`, 'error');
  }

  async function verify(event) {
    event.preventDefault();
    const r = await post('/auth/token', {
      grant_type: 'mfa_oob', mfa_token: state.mfaToken, code: state.oobCode || '', binding_code: $('sms-code').value.trim(),
    });
    if (r.status === 200) {
      signedIn(r.body, 'mfa_oob');
      return retryStepUp();
    }
    show('POST /auth/token (mfa_oob)', r.status, r.body);
    setStatus(`Verification failed: ${errorText(r)}`, 'error');
  }

  async function callApi(path) {
    const res = await fetch(path, { headers: { Authorization: `Bearer ${state.accessToken}` } });
    const body = await res.json().catch(() => ({}));
    const challenge = res.headers.get('WWW-Authenticate');
    show(`GET ${path}`, res.status, body, res.ok ? null : challenge);
    setStatus(res.ok ? `${path}: ${res.status} OK` : `${path}: ${errorText({ status: res.status, body })}`, res.ok ? 'ok' : 'error');
    if (res.status === 401 && body.error === 'insufficient_user_authentication') askStepUp(path, body);
  }

  /**
   * RFC 9470 step-up: the token is valid but its sign-in is too weak or too old for this route. The
   * challenge (also in the body) says what would do: acr_values, max_age. The page signs the user
   * in again asking the IdP for that level; with the mock IdP that adds the SMS step.
   */
  function askStepUp(path, body) {
    if (state.stepUp && state.stepUp.path === path && state.stepUp.tried) {
      // Signed in again and still refused: the IdP could not reach the level (no second factor enrolled).
      state.stepUp = null;
      return setStatus(`${path}: still ${body.error} after signing in again; this user has no second factor the IdP could use.`, 'error');
    }
    state.stepUp = { path, acrValues: body.acr_values || '', maxAge: body.max_age, tried: false };
    const wants = [body.acr_values ? `the level ${body.acr_values}` : '', body.max_age !== undefined ? `a sign-in at most ${body.max_age} s old` : ''];
    $('stepup-why').textContent = `${path} needs ${wants.filter(Boolean).join(' and ')}. Enter your password to sign in again; the IdP then asks for the SMS code.`;
    $('stepup-user').textContent = $('who').textContent;
    showPanel('stepup');
    $('stepup-password').focus();
  }

  async function stepUp(event) {
    event.preventDefault();
    const pending = state.stepUp;
    pending.tried = true;
    const params = { grant_type: 'password', username: $('who').textContent, password: $('stepup-password').value };
    if (pending.acrValues) params.acr_values = pending.acrValues;
    const r = await post(routes().token, params);
    $('stepup-password').value = '';
    if (r.status === 200) {
      signedIn(r.body, 'password, step-up');
      return retryStepUp();
    }
    show(`POST ${routes().token} (password, acr_values=${pending.acrValues})`, r.status, r.body);
    if (r.body.error === 'mfa_required' && r.body.mfa_token) {
      state.mfaToken = r.body.mfa_token;
      showPanel('mfa');
      return sendChallenge();
    }
    setStatus(`Step-up failed: ${errorText(r)}`, 'error');
  }

  /** After signing in again for a step-up, the refused call once more, with the new token. */
  async function retryStepUp() {
    const pending = state.stepUp;
    if (!pending) return;
    await callApi(pending.path);
    // Passed, or failed otherwise: done. (Refused again, askStepUp has already said why and cleared it.)
    if (state.stepUp === pending) state.stepUp = null;
  }

  async function refresh() {
    // No refresh_token parameter: the proxy reads it from the HttpOnly cookie and sets the rotated one.
    const r = await post(routes().token, { grant_type: 'refresh_token' });
    if (r.status === 200) {
      signedIn(r.body, 'refresh_token');
      return setStatus('Refreshed: new access token, and the refresh cookie was rotated.', 'ok');
    }
    show(`POST ${routes().token} (refresh_token)`, r.status, r.body);
    setStatus(`Refresh failed: ${errorText(r)}`, 'error');
  }

  async function logout() {
    // Revoke the access token, then (no token parameter) the refresh token in the cookie, which the
    // proxy also clears. Both are best effort: the page forgets its token whatever the IdP says.
    if (state.accessToken) await post(routes().revoke, { token: state.accessToken, token_type_hint: 'access_token' });
    const r = await post(routes().revoke, {});
    show(`POST ${routes().revoke}`, r.status, r.body);
    signedOut(r.status === 200 ? 'Signed out: tokens revoked and the refresh cookie cleared.' : `Signed out locally; revocation said ${errorText(r)}`, r.status === 200 ? 'ok' : 'error');
  }

  /** Disables the buttons while a request runs, and turns network failures into a status line. */
  function busy(fn) {
    return async (event) => {
      const buttons = document.querySelectorAll('button');
      buttons.forEach((b) => (b.disabled = true));
      try {
        await fn(event);
      } catch (err) {
        setStatus(`Request failed: ${err.message}`, 'error');
      } finally {
        buttons.forEach((b) => (b.disabled = false));
      }
    };
  }

  $('login-form').addEventListener('submit', busy(login));
  $('mfa-form').addEventListener('submit', busy(verify));
  $('btn-resend').addEventListener('click', busy(sendChallenge));
  $('btn-cancel').addEventListener('click', () => signedOut('Sign-in cancelled.'));
  $('btn-me').addEventListener('click', busy(() => callApi('/api/me')));
  $('btn-orders').addEventListener('click', busy(() => callApi('/api/orders')));
  $('btn-report').addEventListener('click', busy(() => callApi('/api/report')));
  $('btn-staff').addEventListener('click', busy(() => callApi('/api/staff/orders')));
  $('btn-payments').addEventListener('click', busy(() => callApi('/api/payment-methods')));
  $('stepup-form').addEventListener('submit', busy(stepUp));
  $('btn-stepup-cancel').addEventListener('click', () => {
    state.stepUp = null;
    showPanel('session');
    setStatus('Step-up cancelled.');
  });
  $('btn-refresh').addEventListener('click', busy(refresh));
  $('btn-logout').addEventListener('click', busy(logout));
  for (const b of document.querySelectorAll('[data-user]')) {
    b.addEventListener('click', () => {
      $('tenant').value = b.dataset.tenant || 'staff';
      $('username').value = b.dataset.user;
      $('password').value = DEMO_PASSWORDS[b.dataset.user];
    });
  }
})();
