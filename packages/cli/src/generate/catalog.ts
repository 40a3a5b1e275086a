// The synthetic site the generator simulates: a catalogue of endpoints (pages and API calls), each
// with its own latency, payload size and error rate, derived deterministically from the seed.
import type { Random } from './random.ts';

/** One endpoint of the simulated site. */
export interface EndpointProfile {
  path: string;
  method: string;
  /** Page views carry a `page_id`; API calls do not. */
  pageId: string | null;
  medianLatencyMs: number;
  medianBytes: number;
  /** Probability of a 5xx answer. */
  serverErrorRate: number;
  /** Probability of a 4xx answer. */
  clientErrorRate: number;
}

// The head of the distribution: the pages and calls every site has, hottest first.
const headEndpoints: Array<{ path: string; method: string; page: string | null }> = [
  { path: '/', method: 'GET', page: 'home' },
  { path: '/api/search', method: 'GET', page: null },
  { path: '/products', method: 'GET', page: 'products' },
  { path: '/api/cart', method: 'GET', page: null },
  { path: '/api/cart/items', method: 'POST', page: null },
  { path: '/login', method: 'GET', page: 'login' },
  { path: '/api/session', method: 'POST', page: null },
  { path: '/checkout', method: 'GET', page: 'checkout' },
  { path: '/api/orders', method: 'POST', page: null },
  { path: '/account', method: 'GET', page: 'account' },
  { path: '/api/recommendations', method: 'GET', page: null },
  { path: '/help', method: 'GET', page: 'help' },
];

/** Builds `count` endpoints: the common head first, then a long tail of product and category pages. */
export function buildEndpointCatalog(count: number, random: Random): EndpointProfile[] {
  const catalog: EndpointProfile[] = [];
  for (let i = 0; i < count; i++) {
    const head = headEndpoints[i];
    let path: string;
    let method = 'GET';
    let pageId: string | null;
    if (head) {
      path = head.path;
      method = head.method;
      pageId = head.page;
    } else if (i % 3 === 0) {
      path = `/api/products/${i}/reviews`;
      pageId = null;
    } else if (i % 3 === 1) {
      path = `/products/${i}`;
      pageId = `product-${i}`;
    } else {
      path = `/category/${i}`;
      pageId = `category-${i}`;
    }
    const isApi = pageId === null;
    catalog.push({
      path,
      method,
      pageId,
      medianLatencyMs: Math.round((isApi ? 35 : 80) * Math.exp(0.6 * random.normal()) * 10) / 10,
      medianBytes: Math.round((isApi ? 1_800 : 24_000) * Math.exp(0.5 * random.normal())),
      // A few endpoints are flaky; most are healthy.
      serverErrorRate: random.chance(0.15) ? 0.02 + random.next() * 0.08 : random.next() * 0.006,
      clientErrorRate: 0.005 + random.next() * 0.03,
    });
  }
  return catalog;
}
