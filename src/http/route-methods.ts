/**
 * The methods each registered path answers, so that a request whose path exists under another method is told so
 * (405 with `Allow`) instead of "no route" (404). Fed by Fastify's onRoute hook; paths are matched as the router
 * matches them: a `:param` is one path segment, a `*` the rest of the path.
 */
export class RouteMethods {
  readonly #routes: Array<{ pattern: RegExp; methods: Set<string> }> = [];

  add(methods: string | string[], url: string): void {
    const source = url
      .split(/(:[A-Za-z_][\w-]*(?:\([^)]*\))?|\*)/)
      .map((part) => (part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
      .join('');
    let route = this.#routes.find((known) => known.pattern.source === `^${source}/?$`);
    if (!route) {
      route = { pattern: new RegExp(`^${source}/?$`), methods: new Set() };
      this.#routes.push(route);
    }
    for (const method of [methods].flat()) route.methods.add(method);
    // Fastify answers HEAD for every GET route by itself.
    if (route.methods.has('GET')) route.methods.add('HEAD');
  }

  /** The methods `url`'s path is served under, sorted; none when no route has the path. */
  allowed(url: string): string[] {
    const path = url.split('?')[0]!;
    const found = new Set<string>();
    for (const route of this.#routes) if (route.pattern.test(path)) for (const method of route.methods) found.add(method);
    return [...found].sort();
  }
}
