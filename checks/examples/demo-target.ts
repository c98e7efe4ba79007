/** Where the example checks point: the demo service that `npm start` runs on loopback. */
export const DEMO_URL = process.env.LOOKOUT_DEMO_URL ?? 'http://127.0.0.1:8181';
export const DEMO_REGIONS = ['us-east', 'eu-west', 'ap-south'];
