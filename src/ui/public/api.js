// Talking to llmtap's /api: JSON in and out, with the admin token when the server asks for one (asked
// once in a dialog, kept in sessionStorage: for this browser tab only).

const TOKEN_KEY = 'llmtap-admin-token';
let tokenPrompt = null;

function askToken(rejected) {
  tokenPrompt ??= new Promise((resolve) => {
    const dialog = document.getElementById('token-dialog');
    document.getElementById('token-error').hidden = !rejected;
    dialog.querySelector('form').onsubmit = () => {
      sessionStorage.setItem(TOKEN_KEY, dialog.querySelector('input').value.trim());
      tokenPrompt = null;
      resolve();
    };
    dialog.showModal();
  });
  return tokenPrompt;
}

/** GET /api/<path> (with `params`, empty ones left out) → the parsed answer; throws with the server's message. */
export async function api(path, params) {
  const query = params ? new URLSearchParams([...new URLSearchParams(params)].filter(([, v]) => v !== '')).toString() : '';
  for (;;) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const res = await fetch(`../api/${path}${query ? `?${query}` : ''}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    if (res.status === 401) {
      await askToken(Boolean(token));
      continue;
    }
    const body = await res.json();
    if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
    return body;
  }
}

/** The list items of a trace's spans (as many as a page holds), in time order. */
export const traceSpans = (traceId) => api('spans', { trace_id: traceId, order: 'asc', limit: '1000' }).then((page) => page.data);
