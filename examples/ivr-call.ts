import { createIvr, type Database } from 'mordomo-db';

/** What the IVR engine knows when FreeSWITCH hands it a call. */
export interface IncomingCall {
  domainUuid: string; // from the engine's own credentials for the FusionPBX domain, never from the caller
  extension: string;
  callerId: string;
  callUuid: string;
  utterance: string; // the caller's first words, transcribed
}

/** Answers a call: the extension's secretary, its LLM's decrypted config, the call's transcript, where to transfer. */
export async function answerCall(database: Database, encryptionKey: string, incoming: IncomingCall) {
  const ivr = createIvr(database.db, { encryptionKey }); // once per process in a real engine
  const tenant = ivr.forDomain(incoming.domainUuid); // every call below is scoped to this domain
  const secretary = await tenant.secretaryByExtension(incoming.extension); // with its providers' names
  const llm = await tenant.defaultProvider('llm'); // { provider_uuid, provider_name, config } decrypted
  const call = await tenant.startCall({ secretary_uuid: secretary.secretary_uuid, caller_id: incoming.callerId, call_uuid: incoming.callUuid });
  await tenant.appendCallMessages(call.conversation_uuid, [{ role: 'user', content: incoming.utterance, intent: 'transfer_finance' }]);
  const rule = await tenant.findTransferRule({ intent: 'transfer_finance', utterance: incoming.utterance, secretary_uuid: secretary.secretary_uuid });
  return { secretary, llm, call, rule }; // rule: undefined when no rule applies now
}
