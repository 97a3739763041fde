import { describeConstraints, describeMissingTables } from '../errors.ts';

/** What the IVR's named constraints mean, said as the rule a caller broke (see describeConstraints). */
export const IVR_CONSTRAINTS = {
  v_voice_ai_providers_name_unique: 'this domain already has a provider of this type with this name',
  v_voice_ai_providers_enabled_needs_config: 'a provider cannot be enabled without a config: give it one, or set is_enabled to false',
  idx_providers_one_default: 'this domain already has a default provider of this type',
  v_voice_secretaries_extension_unique: 'this domain already has a secretary on this extension',
  v_voice_secretaries_stt_fk: "a secretary's STT provider must be an stt provider of the same domain",
  v_voice_secretaries_tts_fk: "a secretary's TTS provider must be a tts provider of the same domain",
  v_voice_secretaries_llm_fk: "a secretary's LLM provider must be an llm provider of the same domain",
  v_voice_secretaries_realtime_fk: "a secretary's realtime provider must be a realtime provider of the same domain",
  v_voice_conversations_call_unique: 'a call with this call_uuid already exists in this domain',
  v_voice_conversations_secretary_fk: "a call's secretary must be a secretary of the same domain",
  v_voice_conversations_ended_after_start: 'a call cannot end before it started',
  v_voice_messages_conversation_fk: 'the call does not exist in this domain',
  v_voice_documents_secretary_fk: "a document's secretary must be a secretary of the same domain",
  v_voice_transfer_rules_secretary_fk: "a transfer rule's secretary must be a secretary of the same domain",
  v_voice_transfer_rules_window: 'time_start and time_end go together and must differ: give both, or neither for all day',
} as const;

describeConstraints(IVR_CONSTRAINTS);
describeMissingTables(/v_voice_|mordomo_api_keys/, 'the IVR module is not migrated here; run MORDOMO_MODULES=core,ivr mordomo-db migrate');
