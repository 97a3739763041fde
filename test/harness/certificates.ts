import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './temp-dir.ts';

/** A certificate authority the test made, in `dir`: sign server and client certificates with `issue`. */
export interface TestCa {
  dir: string;
  /** The CA's certificate (PEM file): what a verifying client trusts. */
  caFile: string;
  /** A certificate for `names` (DNS names and IP addresses) signed by this CA; the key file is 0600. */
  issue(label: string, names: string[], commonName?: string): { certFile: string; keyFile: string };
}

const openssl = (args: string[]) => execFileSync('/usr/bin/openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });

/** Makes a CA with Debian's openssl (the tests' certificates are made fresh, never checked in). */
export function testCa(label: string): TestCa {
  const dir = tempDir(`ca-${label}`);
  const caKey = path.join(dir, 'ca.key');
  const caFile = path.join(dir, 'ca.pem');
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    caKey,
    '-out',
    caFile,
    '-days',
    '2',
    '-subj',
    `/CN=mordomo test CA ${label}`,
  ]);
  let serial = 1;
  return {
    dir,
    caFile,
    issue(name, names, commonName = names[0]) {
      const keyFile = path.join(dir, `${name}.key`);
      const certFile = path.join(dir, `${name}.pem`);
      const csr = path.join(dir, `${name}.csr`);
      const ext = path.join(dir, `${name}.ext`);
      const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
      writeFileSync(
        ext,
        `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n`,
      );
      openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${commonName}`]);
      openssl(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-set_serial', String(serial++), '-days', '2', '-extfile', ext, '-out', certFile]);
      chmodSync(keyFile, 0o600);
      chmodSync(certFile, 0o644);
      return { certFile, keyFile };
    },
  };
}
