import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

type Operation = { operationId?: string; responses: Record<string, { content?: Record<string, { schema: object }> }> };
type OpenApiDocument = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, object> } };

/**
 * Holds the service to its published OpenAPI document: every response an HTTP test receives is checked here (the
 * harness calls `check` on each), so a status an operation does not list, or a body that does not match the schema
 * listed for that status, fails the test that met it. Requests to no documented operation (unknown routes, other
 * methods) are not operations, and are left to the tests that make them.
 */
export function contractOf(document: OpenApiDocument) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  // The components, by the $refs the document uses (#/components/schemas/X).
  ajv.addSchema({ $id: 'openapi', components: document.components });
  const routes = Object.entries(document.paths)
    .map(([template, operations]) => ({
      template,
      operations,
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`),
      parameters: (template.match(/\{/g) ?? []).length,
    }))
    // A fixed segment wins over a parameter, as in the router (/v1/ivr/documents/search before /{uuid}).
    .sort((a, b) => a.parameters - b.parameters);
  const validators = new Map<string, ValidateFunction>();

  function validator(key: string, schema: object): ValidateFunction {
    let validate = validators.get(key);
    if (!validate) {
      const rewritten = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/'));
      validate = ajv.compile(rewritten);
      validators.set(key, validate);
    }
    return validate;
  }

  return {
    document,
    /** Throws when the response of `method path` is not one the document describes. */
    check(method: string, path: string, status: number, contentType: string | null, body: unknown): void {
      const pathname = new URL(path, 'http://x').pathname;
      const route = routes.find((candidate) => candidate.pattern.test(pathname) && candidate.operations[method.toLowerCase()]);
      if (!route) return;
      const operation = route.operations[method.toLowerCase()]!;
      const name = `${method} ${route.template} (${operation.operationId ?? 'no operationId'})`;
      const response = operation.responses[String(status)];
      if (!response) throw new Error(`${name} answered ${status}, a status its OpenAPI document does not list: ${JSON.stringify(body).slice(0, 300)}`);
      if (status === 204 || !contentType?.includes('application/json')) return;
      const schema = response.content?.['application/json']?.schema;
      if (!schema) throw new Error(`${name} answered ${status} with JSON, and its document gives no JSON schema for it`);
      const validate = validator(`${method} ${route.template} ${status}`, schema);
      if (!validate(body)) {
        throw new Error(
          `${name} ${status}: the body does not match its OpenAPI schema: ${ajv.errorsText(validate.errors)}; body ${JSON.stringify(body).slice(0, 300)}`,
        );
      }
    },
  };
}
export type Contract = ReturnType<typeof contractOf>;
