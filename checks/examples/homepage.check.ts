import { defineHttpCheck, assert } from 'lookout/checks';
import { DEMO_REGIONS, DEMO_URL } from './demo-target.ts';

export default defineHttpCheck({
  id: 'demo-homepage',
  name: 'Demo homepage',
  url: `${DEMO_URL}/`,
  regions: DEMO_REGIONS,
  frequency: '10s',
  timeout: '5s',
  assertions: [assert.status(200), assert.header('content-type').contains('text/html'), assert.body.contains('Acme Shop')],
});
