import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's root folder (migrations/, deploy/, the dashboard's files), found from this module upwards so that
 * it is the same whether the sources run through tsx or bundled into dist/.
 */
function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'mordomo-db') return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('mordomo-db: cannot find the package folder (package.json named mordomo-db)');
    dir = parent;
  }
}

export const PACKAGE_ROOT = findPackageRoot();
