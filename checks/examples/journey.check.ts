import { defineBrowserCheck } from 'lookout/checks';
import { DEMO_REGIONS, DEMO_URL } from './demo-target.ts';

/** A real browser walking from the homepage to the cart, in every region. */
export default defineBrowserCheck({
  id: 'demo-cart-journey',
  name: 'Demo cart journey',
  regions: DEMO_REGIONS,
  frequency: '1m',
  timeout: '20s',
  script: async ({ page, step, expect }) => {
    await step('open the shop', async () => {
      await page.goto(`${DEMO_URL}/`);
      await expect(page).toHaveTitle('Acme Shop');
    });
    await step('go to the cart', async () => {
      await page.click('text=Cart');
      await expect(page.locator('h1')).toHaveText('Your cart');
    });
  },
});
