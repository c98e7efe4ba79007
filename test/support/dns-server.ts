/**
 * A minimal authoritative DNS server on 127.0.0.1 (UDP, kernel-chosen port), so that DNS tests send
 * no query off the machine. It answers every question the same way: with an A record, with an error
 * code (NXDOMAIN, SERVFAIL), or not at all. It counts the queries it gets.
 *
 * Point a `dns.Resolver` at it with `resolver.setServers([\`127.0.0.1:${port}\`])`.
 */
import { createSocket } from 'node:dgram';
import { once } from 'node:events';

export type DnsBehaviour =
  /**
   * NOERROR with this IPv4 address for A questions, and no records for other types; with `name`, only for
   * that name (other names: NXDOMAIN).
   */
  | { address: string; name?: string }
  /** This response code and no records: 2 = SERVFAIL, 3 = NXDOMAIN, 5 = REFUSED. */
  | { rcode: number }
  /** Never answer. */
  | 'silent';

export interface TestDnsServer {
  port: number;
  /** `127.0.0.1:<port>`, for `Resolver#setServers`. */
  server: string;
  readonly queries: number;
  close(): Promise<void>;
}

const TYPE_A = 1;

/** `host`: the address to listen on (an address of a namespace's management link, say). @defaultValue 127.0.0.1 */
export async function startDnsServer(behaviour: DnsBehaviour, host = '127.0.0.1'): Promise<TestDnsServer> {
  const socket = createSocket('udp4');
  let queries = 0;
  socket.on('message', (query, peer) => {
    queries++;
    const response = answer(query, behaviour);
    if (response !== null) socket.send(response, peer.port, peer.address);
  });
  socket.bind(0, host);
  await once(socket, 'listening');
  const { port } = socket.address();
  return {
    port,
    server: `${host}:${port}`,
    get queries() { return queries; },
    async close() {
      const closed = once(socket, 'close');
      socket.close();
      await closed;
    },
  };
}

/** Builds the response to one query: header, the question echoed, and at most one A record. */
function answer(query: Buffer, behaviour: DnsBehaviour): Buffer | null {
  if (behaviour === 'silent' || query.length < 12) return null;
  // The question starts after the 12-byte header: labels up to a zero byte, then type and class.
  let end = 12;
  while (end < query.length && query[end] !== 0) end += query[end]! + 1;
  end += 5;
  if (end > query.length) return null;
  const question = query.subarray(12, end);
  const qtype = query.readUInt16BE(end - 4);
  const otherName = 'address' in behaviour && behaviour.name !== undefined && questionName(question) !== behaviour.name.toLowerCase();
  const rcode = 'rcode' in behaviour ? behaviour.rcode : otherName ? 3 : 0;
  const record = 'address' in behaviour && !otherName && qtype === TYPE_A ? aRecord(behaviour.address) : null;

  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // id
  header.writeUInt16BE(0x8000 | 0x0400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2); // QR, AA, RD echoed, RA, rcode
  header.writeUInt16BE(1, 4); // one question
  header.writeUInt16BE(record === null ? 0 : 1, 6); // answers
  return Buffer.concat(record === null ? [header, question] : [header, question, record]);
}

/** The dotted, lower-case name of a question (its labels up to the zero byte). */
function questionName(question: Buffer): string {
  const labels: string[] = [];
  for (let i = 0; i < question.length && question[i] !== 0; i += question[i]! + 1) labels.push(question.subarray(i + 1, i + 1 + question[i]!).toString('latin1'));
  return labels.join('.').toLowerCase();
}

function aRecord(address: string): Buffer {
  const record = Buffer.alloc(16);
  record.writeUInt16BE(0xc00c, 0); // name: pointer to the question's name
  record.writeUInt16BE(TYPE_A, 2);
  record.writeUInt16BE(1, 4); // class IN
  record.writeUInt32BE(60, 6); // TTL
  record.writeUInt16BE(4, 10);
  address.split('.').forEach((octet, i) => record.writeUInt8(Number(octet), 12 + i));
  return record;
}
