import { defineHttpCheck, assert } from 'lookout/checks';
import { DEMO_REGIONS, DEMO_URL } from './demo-target.ts';

/** Two checks from one file: the health endpoint, and a checkout API that must answer quickly. */
export const apiHealth = defineHttpCheck({
  id: 'demo-api-health',
  name: 'Demo API health',
  url: `${DEMO_URL}/api/health`,
  regions: DEMO_REGIONS,
  frequency: '10s',
  timeout: '5s',
  assertions: [assert.status(200), assert.jsonPath('$.status').equals('ok')],
});

export const checkoutApi = defineHttpCheck({
  id: 'demo-checkout-api',
  name: 'Demo checkout API',
  url: `${DEMO_URL}/api/checkout`,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ sku: 'probe', quantity: 0 }),
  regions: DEMO_REGIONS,
  frequency: '15s',
  timeout: '5s',
  failureThreshold: 2,
  successThreshold: 2,
  assertions: [assert.statusBetween(200, 299), assert.responseTimeUnder(3000), assert.jsonPath('$.accepted').exists()],
});
