import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { newTransferRule, transferQuery, transferRulePatch } from '../../../ivr/transfer-rules.ts';
import { replies, WITH_BODY } from '../../responses.ts';
import { idempotencyOf, idempotentHeaders, keysetPage, pageOf, pageQuery, transferRuleSchema, uuidParams } from '../../schemas.ts';
import { domainOf } from './tenant.ts';

/** When a call goes to a person: rules by intent, keyword, weekday and hour, in the rule's time zone. */
export async function transferRuleRoutes(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['ivr transfer rules'];

  api.post('/v1/ivr/transfer-rules', {
    schema: {
      operationId: 'createTransferRule',
      tags,
      summary: 'Create a transfer rule',
      headers: idempotentHeaders,
      body: newTransferRule,
      response: replies({ 201: transferRuleSchema }, 409, 422, ...WITH_BODY),
    },
    handler: async (request, reply) => reply.status(201).send(await domainOf(request).createTransferRule(request.body, idempotencyOf(request))),
  });
  api.get('/v1/ivr/transfer-rules', {
    schema: {
      operationId: 'listTransferRules',
      tags,
      summary: "The domain's transfer rules in creation order (matchTransferRule applies their priorities)",
      querystring: z.strictObject(pageQuery),
      response: replies({ 200: pageOf(transferRuleSchema) }),
    },
    handler: async (request) =>
      keysetPage(
        request.query,
        (page) => domainOf(request).listTransferRules(page),
        (row) => [row.created_at, row.rule_uuid],
      ),
  });
  api.post('/v1/ivr/transfer-rules/match', {
    schema: {
      operationId: 'matchTransferRule',
      tags,
      summary: 'The rule that applies to an intent and utterance now (or at a given moment); rule is null when none does',
      body: transferQuery,
      response: replies({ 200: z.object({ rule: transferRuleSchema.nullable() }) }, ...WITH_BODY),
    },
    handler: async (request) => ({ rule: (await domainOf(request).findTransferRule(request.body)) ?? null }),
  });
  api.get('/v1/ivr/transfer-rules/:uuid', {
    schema: { operationId: 'getTransferRule', tags, summary: 'One transfer rule', params: uuidParams, response: replies({ 200: transferRuleSchema }, 404) },
    handler: async (request) => domainOf(request).getTransferRule(request.params.uuid),
  });
  api.patch('/v1/ivr/transfer-rules/:uuid', {
    schema: {
      operationId: 'updateTransferRule',
      tags,
      summary: 'Change a transfer rule',
      params: uuidParams,
      body: transferRulePatch,
      response: replies({ 200: transferRuleSchema }, 404, 409, 422, ...WITH_BODY),
    },
    handler: async (request) => domainOf(request).updateTransferRule(request.params.uuid, request.body),
  });
  api.delete('/v1/ivr/transfer-rules/:uuid', {
    schema: {
      operationId: 'deleteTransferRule',
      tags,
      summary: 'Delete a transfer rule',
      params: uuidParams,
      response: replies({ 204: z.null() }, 404, ...WITH_BODY),
    },
    handler: async (request, reply) => {
      await domainOf(request).deleteTransferRule(request.params.uuid);
      return reply.status(204).send(null);
    },
  });
}
