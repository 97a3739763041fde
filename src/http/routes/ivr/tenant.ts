import type { FastifyRequest } from 'fastify';
import { NotFoundError } from '../../../errors.ts';
import type { IvrDomain } from '../../../ivr/ivr.ts';

/** The request's tenant, set by the API-key check of the IVR scope (see app.ts): the only source of the domain. */
export function domainOf(request: FastifyRequest): IvrDomain {
  const domain = (request as FastifyRequest & { ivrDomain?: IvrDomain }).ivrDomain;
  if (!domain) throw new NotFoundError('no IVR domain for this request');
  return domain;
}
