// The dashboard's only way to the server: GET requests to the public /v1 API, with the API key
// (kept in localStorage) when one has been entered. Nothing here knows about the DOM.

/** Header the serving layer reads the key from (packages/serving/src/auth). */
export const API_KEY_HEADER = 'x-api-key';
const KEY_STORAGE = 'tandem.apiKey';

/** An answer other than 2xx, or no answer at all (status 0). */
export class ApiError extends Error {
  /**
   * @param {string} message
   * @param {number} status HTTP status; 0 when the server could not be reached.
   * @param {string | null} code the server's error code, when it sent one.
   */
  constructor(message, status, code) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** @returns {string | null} */
export function storedApiKey() {
  try {
    return localStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

/** @param {string | null} key */
export function storeApiKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // Private mode or storage disabled: the key lives only as long as the page.
  }
  sessionKey = key;
}

/** @type {string | null} */
let sessionKey = storedApiKey();

/**
 * GET a /v1 path and parse its JSON body.
 * @param {string} path e.g. `/v1/status`
 * @param {Record<string, string | number | undefined | null>} [params] query parameters; empty ones are left out
 * @param {AbortSignal} [signal]
 * @returns {Promise<any>}
 */
export async function getJson(path, params = {}, signal = undefined) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
  }
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  if (sessionKey) headers[API_KEY_HEADER] = sessionKey;
  let response;
  try {
    response = await fetch(url, { headers, signal, cache: 'no-store' });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(`Cannot reach the API at ${url.origin}`, 0, null);
  }
  const text = await response.text();
  /** @type {any} */
  let body = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message =
      (body && (body.message ?? body.error?.message ?? body.error)) ||
      `${response.status} ${response.statusText}`;
    const code = (body && (body.code ?? body.error?.code)) || null;
    throw new ApiError(String(message), response.status, code);
  }
  if (body === null)
    throw new ApiError(`${url.pathname} answered with a body that is not JSON`, response.status, null);
  return body;
}
