// What the dashboard test needs from the system under test: where the page is, the API key, a way
// to ask the API the same questions from Node, and the two operations the page must react to.

export interface DashboardBackend {
  /** True for the real platform; false for the fixture server, whose numbers never change. */
  live: boolean;
  /** Origin serving the dashboard at `/` and the API under `/v1`. */
  url: string;
  /** A key with the read scope; the API answers 401 without it. */
  apiKey: string;
  /** GET a /v1 path with the key; throws on a non-2xx answer. */
  // biome-ignore lint/suspicious/noExplicitAny: the test reads JSON answers ad hoc, as the page does
  api(path: string, params: Record<string, string>): Promise<any>;
  /** Publish the batch hour that starts at the current sealed-through; resolves to the new sealed-through. */
  publishNextHour(): Promise<number>;
  /** Stop the speed layer (traffic keeps arriving if it was started). */
  stopSpeed(): Promise<void>;
  /** Send live traffic at about `rate` events/s in the background until `stopTraffic()` or `close()`. */
  startTraffic(rate: number): void;
  stopTraffic(): Promise<void>;
  /** Resolve once the speed layer has applied everything sent so far. */
  waitForSpeedIdle(timeoutMs?: number): Promise<void>;
  /** The tail of the backend's process logs, for a failing test's message. */
  logs(): Promise<string>;
  close(): Promise<void>;
}

/** `api()` for a backend at `url` with `apiKey`. */
export function apiClient(url: string, apiKey: string): DashboardBackend['api'] {
  return async (path, params) => {
    const target = new URL(path, url);
    for (const [name, value] of Object.entries(params)) target.searchParams.set(name, value);
    const response = await fetch(target, { headers: { 'x-api-key': apiKey } });
    const text = await response.text();
    if (!response.ok)
      throw new Error(`${target.pathname}${target.search} answered ${response.status}: ${text}`);
    return JSON.parse(text);
  };
}
