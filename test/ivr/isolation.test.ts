// No domain ever sees, changes or deletes another's rows: through every API method, and through raw SQL as the
// application role. Property-based: random domains, random data, random cross-domain probes.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { MordomoError } from '../../src/errors.ts';
import { createIvr, type IvrDomain } from '../../src/ivr/ivr.ts';
import { testDatabase } from '../harness/database.ts';
import { createDomain, KEY } from './fixtures.ts';

const { db, url } = await testDatabase('ivr_isolation');
const ivr = createIvr(db, { encryptionKey: KEY });
const TABLES = ['v_voice_ai_providers', 'v_voice_secretaries', 'v_voice_conversations', 'v_voice_messages', 'v_voice_documents', 'v_voice_transfer_rules'];

interface Seeded {
  domain: string;
  tenant: IvrDomain;
  ids: { provider: string; secretary: string; call: string; document: string; rule: string };
}

async function seed(extension: string, words: string): Promise<Seeded> {
  const domain = await createDomain(db);
  const tenant = ivr.forDomain(domain);
  const provider = await tenant.createProvider({
    provider_type: 'llm',
    provider_name: `p${extension}`,
    config: { api_key: `secret-${domain}` },
    is_default: true,
  });
  const secretary = await tenant.createSecretary({ name: `s${extension}`, extension, llm_provider_uuid: provider.provider_uuid });
  const call = await tenant.startCall({ secretary_uuid: secretary.secretary_uuid, call_uuid: `call-${extension}` });
  await tenant.appendCallMessages(call.conversation_uuid, [{ role: 'user', content: words }]);
  const document = await tenant.createDocument({ title: words, content: `${words} atendimento comum` });
  const rule = await tenant.createTransferRule({ name: 'all', destination_type: 'extension', destination: extension });
  return {
    domain,
    tenant,
    ids: {
      provider: provider.provider_uuid,
      secretary: secretary.secretary_uuid,
      call: call.conversation_uuid,
      document: document.document_uuid,
      rule: rule.rule_uuid,
    },
  };
}

/** The error a call gives, as code + message with the id replaced, so "other domain" and "no such id" compare equal. */
async function outcome(work: () => Promise<unknown>, id: string): Promise<string> {
  try {
    await work();
    return 'ok';
  } catch (error) {
    assert.ok(error instanceof MordomoError, String(error));
    return `${error.code}: ${error.message.replaceAll(id, '<id>')}`;
  }
}

const probes: Array<[string, (t: IvrDomain, id: string) => Promise<unknown>, keyof Seeded['ids']]> = [
  ['getProvider', (t, id) => t.getProvider(id), 'provider'],
  ['updateProvider', (t, id) => t.updateProvider(id, { is_enabled: false }), 'provider'],
  ['updateProvider config', (t, id) => t.updateProvider(id, { config: { api_key: 'stolen' } }), 'provider'],
  ['deleteProvider', (t, id) => t.deleteProvider(id), 'provider'],
  ['getSecretary', (t, id) => t.getSecretary(id), 'secretary'],
  ['updateSecretary', (t, id) => t.updateSecretary(id, { name: 'hijacked' }), 'secretary'],
  ['deleteSecretary', (t, id) => t.deleteSecretary(id), 'secretary'],
  ['createSecretary with foreign provider', (t, id) => t.createSecretary({ name: 'x', llm_provider_uuid: id }), 'provider'],
  ['startCall with foreign secretary', (t, id) => t.startCall({ secretary_uuid: id }), 'secretary'],
  ['getCall', (t, id) => t.getCall(id), 'call'],
  ['appendCallMessages', (t, id) => t.appendCallMessages(id, [{ role: 'user', content: 'x' }]), 'call'],
  ['endCall', (t, id) => t.endCall(id), 'call'],
  ['getDocument', (t, id) => t.getDocument(id), 'document'],
  ['updateDocument', (t, id) => t.updateDocument(id, { title: 'x' }), 'document'],
  ['deleteDocument', (t, id) => t.deleteDocument(id), 'document'],
  ['createDocument for foreign secretary', (t, id) => t.createDocument({ title: 'x', content: 'y', secretary_uuid: id }), 'secretary'],
  ['getTransferRule', (t, id) => t.getTransferRule(id), 'rule'],
  ['updateTransferRule', (t, id) => t.updateTransferRule(id, { name: 'x' }), 'rule'],
  ['deleteTransferRule', (t, id) => t.deleteTransferRule(id), 'rule'],
];

test('every API method: another domain’s ids behave exactly like ids that do not exist, and change nothing', async () => {
  const domains: Seeded[] = [];
  for (let i = 0; i < 4; i++) domains.push(await seed(String(100 + i), `palavra${i}`));
  const snapshot = async () => {
    const counts: Record<string, unknown> = {};
    for (const table of TABLES)
      counts[table] = (
        await db
          .selectFrom(table as never)
          .selectAll()
          .execute()
      )
        .map((r) => JSON.stringify(r))
        .sort();
    return counts;
  };
  const before = await snapshot();
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: probes.length - 1 }), async (a, b, p) => {
      fc.pre(a !== b);
      const [name, probe, kind] = probes[p]!;
      const foreignId = domains[b]!.ids[kind];
      const missingId = randomUUID();
      const foreign = await outcome(() => probe(domains[a]!.tenant, foreignId), foreignId);
      const missing = await outcome(() => probe(domains[a]!.tenant, missingId), missingId);
      assert.equal(foreign, missing, `${name}: another domain's id must look like a missing one`);
      assert.notEqual(foreign, 'ok', `${name} succeeded on another domain's id`);
    }),
    { numRuns: 60 },
  );
  assert.deepEqual(await snapshot(), before, 'no cross-domain call changed anything');
});

test('every list, search and lookup returns only the caller’s rows', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 200, max: 999 }), { minLength: 2, maxLength: 4 }), async (extensions) => {
      const domains: Seeded[] = [];
      for (const extension of extensions) domains.push(await seed(String(extension), `termo${extension}`));
      for (const { domain, tenant } of domains) {
        const lists = [
          ...(await tenant.listProviders()),
          ...(await tenant.listSecretaries()),
          ...(await tenant.listDocuments()),
          ...(await tenant.listTransferRules()),
          ...(await tenant.callHistory(new Date(0))).map((c) => ({ domain_uuid: domain, ...c })),
        ];
        assert.ok(lists.every((row) => row.domain_uuid === domain));
        const hits = await tenant.searchDocuments('atendimento');
        assert.equal(hits.length, 1, 'search sees only its own document');
        for (const other of domains.filter((d) => d.domain !== domain)) {
          const otherExtension = String(extensions[domains.indexOf(other)]);
          await assert.rejects(tenant.secretaryByExtension(otherExtension), /no secretary on extension/);
          assert.deepEqual(await tenant.searchDocuments(`termo${otherExtension}`), []);
        }
      }
    }),
    { numRuns: 5 },
  );
});

test('raw SQL as the application role sees only the domain set for the transaction, and nothing without one', async () => {
  const a = await seed('300', 'alfa');
  const b = await seed('301', 'beta');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const totals = async (domain: string | null, other: string) => {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('role', 'mordomo_ivr', true)`);
      if (domain) await client.query(`SELECT set_config('app.domain_uuid', $1, true)`, [domain]);
      const counts: Record<string, string[]> = {};
      for (const table of TABLES) counts[table] = (await client.query(`SELECT DISTINCT domain_uuid::text AS d FROM ${table}`)).rows.map((r) => r.d);
      const updated = (await client.query(`UPDATE v_voice_secretaries SET name = 'x'`)).rowCount;
      const deleted = (await client.query(`DELETE FROM v_voice_transfer_rules WHERE domain_uuid = $1`, [other])).rowCount;
      await client.query('ROLLBACK');
      return { counts, updated, deleted };
    };
    const asA = await totals(a.domain, b.domain);
    for (const table of TABLES) assert.deepEqual(asA.counts[table], [a.domain], table);
    assert.equal(asA.updated, 1);
    assert.equal(asA.deleted, 0, 'rules of other domains are invisible to DELETE');
    const none = await totals(null, b.domain);
    for (const table of TABLES) assert.deepEqual(none.counts[table], [], `${table} without a domain`);
    assert.equal(none.updated, 0);

    for (const [domain, target] of [
      [null, a.domain],
      [a.domain, b.domain],
    ] as const) {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('role', 'mordomo_ivr', true)`);
      if (domain) await client.query(`SELECT set_config('app.domain_uuid', $1, true)`, [domain]);
      await assert.rejects(
        client.query(`INSERT INTO v_voice_documents (domain_uuid, title, content) VALUES ($1, 'x', 'y')`, [target]),
        (e: { code?: string }) => e.code === '42501',
        'a write outside the current domain is refused by the policy',
      );
      await client.query('ROLLBACK');
    }
  } finally {
    await client.end();
  }
});
