/**
 * The namespace helper itself: regions reach the target through the routers, and each staged failure
 * does what it says (a drop times out, a refusal refuses, a cut ends the trace at the router before,
 * a region's /etc/hosts answers only there). Needs root, ip and iptables (the suite runs as root here).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetwork, netnsTestPlan, startNetnsTarget, type Network, type NetnsTarget } from './netns.ts';

const plan = netnsTestPlan();
const curl = (network: Network, region: string, url: string, extra: string[] = []) =>
  network.exec(network.regions[region]!.namespace, 'curl', ['-sS', '-m', '2', '-o', '/dev/null', '-w', '%{http_code} %{remote_ip}', ...extra, url])
    .then((out) => out.trim(), (error: Error) => `error: ${error.message}`);

describe.skipIf(!plan.run && plan.skip)('network namespaces for regions', () => {
  beforeAll(() => { if (!plan.run) throw new Error(plan.reason); });
  let network: Network;
  let target: NetnsTarget;
  beforeAll(async () => {
    network = await createNetwork({ regions: ['us-east', 'eu-west'], routers: 2 });
    target = await startNetnsTarget(network, [{ name: 'origin', address: network.target.address, port: 8080 }]);
  });
  afterAll(async () => {
    await target?.stop();
    await network?.destroy();
  });

  it('routes every region to the target through the routers, and the target sees each region by its address', async () => {
    expect(await curl(network, 'us-east', `http://${network.target.address}:8080/`)).toBe(`200 ${network.target.address}`);
    expect(network.regions['us-east']!.hops).toEqual(['10.1.0.1', '10.100.1.2']);
    expect(network.regions['eu-west']!.hops).toEqual(['10.2.0.1', '10.100.1.2']);
  });

  it('stages a drop, a refusal and a cut in one region only, each undone', async () => {
    const url = `http://${network.target.address}:8080/`;
    const drop = await network.block('eu-west', { to: network.target.address, port: 8080, how: 'drop' });
    expect(await curl(network, 'eu-west', url)).toMatch(/timed out/i);
    expect(await curl(network, 'us-east', url)).toMatch(/^200 /);
    await drop();
    const refuse = await network.block('eu-west', { to: network.target.address, how: 'refuse' });
    // curl words a refusal "Couldn't connect to server" (exit 7) after 0 ms.
    expect(await curl(network, 'eu-west', url)).toMatch(/after [0-9] ms: (Couldn't connect|Connection refused)/i);
    await refuse();
    const cut = await network.cutAt(1, 'eu-west', { to: network.target.address });
    const trace = await network.exec(network.regions['eu-west']!.namespace, 'traceroute', ['-n', '-T', '-p', '8080', '-q', '1', '-w', '1', '-m', '4', network.target.address]);
    const hops = trace.split('\n').slice(1).map((line) => /^\s*\d+\s+(\S+)/.exec(line)?.[1]).filter(Boolean);
    // The second router still answers for itself (its time-exceeded comes before its forwarding), then nothing.
    expect(hops).toEqual(['10.2.0.1', '10.100.1.2', '*', '*']);
    await cut();
    expect(await curl(network, 'eu-west', url)).toMatch(/^200 /);
  });

  it('gives a region its own /etc/hosts', async () => {
    const other = await network.addTargetAddress();
    network.writeEtc('eu-west', { hosts: { 'shop.example.test': network.target.address } });
    network.writeEtc('us-east', { hosts: { 'shop.example.test': other } });
    expect(await curl(network, 'eu-west', 'http://shop.example.test:8080/')).toBe(`200 ${network.target.address}`);
    // Nothing listens on the other address: refused, after resolving it there.
    expect(await curl(network, 'us-east', 'http://shop.example.test:8080/')).toContain(`Failed to connect to shop.example.test port 8080`);
  });

  it('answers as its behaviour file says', async () => {
    target.setBehaviour({ rules: [{ from: network.regions['eu-west']!.address, action: { status: 503 } }] });
    expect(await curl(network, 'eu-west', `http://${network.target.address}:8080/`)).toMatch(/^503 /);
    expect(await curl(network, 'us-east', `http://${network.target.address}:8080/`)).toMatch(/^200 /);
    target.setBehaviour({ rules: [] });
  });
});
