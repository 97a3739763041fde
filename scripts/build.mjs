// `npm install` runs this (the prepare script): bundles the service and CLI into dist/mordomo-db.mjs, so that
// `npm start` runs plain JavaScript. Without the bundle bin/mordomo-db.js runs the sources through tsx, which
// works the same but costs about 60 MB more memory. Plain JS: it runs before anything could compile TypeScript.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli.ts'],
  outfile: 'dist/mordomo-db.mjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
