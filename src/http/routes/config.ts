import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import * as settings from '../../core/config.ts';
import { jsonValue } from '../../validation.ts';
import type { ServiceContext } from '../context.ts';
import { replies, WITH_BODY } from '../responses.ts';
import { configEntrySchema } from '../schemas.ts';

const configKey = z.strictObject({ key: z.enum(Object.keys(settings.CONFIG_KEYS) as [settings.ConfigKey, ...settings.ConfigKey[]]) });

/** The assistant's settings: a fixed set of keys, each value validated by its own rule. */
export async function configRoutes(app: FastifyInstance, { context }: { context: ServiceContext }): Promise<void> {
  const { db } = context;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['config'];

  api.get('/v1/config', {
    schema: {
      operationId: 'listConfig',
      tags,
      summary: 'Every setting (a short, fixed set: not paged)',
      response: replies({ 200: z.object({ items: z.array(configEntrySchema) }) }),
    },
    handler: async () => ({ items: await settings.listConfig(db) }),
  });
  api.get('/v1/config/:key', {
    schema: {
      operationId: 'getConfig',
      tags,
      summary: 'One setting',
      params: configKey,
      response: replies({ 200: z.object({ key: z.string(), value: jsonValue }) }, 404),
    },
    handler: async (request) => ({ key: request.params.key, value: await settings.getConfig(db, request.params.key) }),
  });
  api.put('/v1/config/:key', {
    schema: {
      operationId: 'setConfig',
      tags,
      summary: 'Set one setting (validated per key)',
      params: configKey,
      body: z.strictObject({ value: jsonValue, updated_by: z.string().max(100).optional() }),
      response: replies({ 200: configEntrySchema }, ...WITH_BODY),
    },
    handler: async (request) => settings.setConfig(db, request.params.key, request.body.value as never, request.body.updated_by ?? 'http'),
  });
}
