import { existsSync, readFileSync, statfsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.ts';
import { writeFileAtomic } from '../files.ts';
import { folderBytes } from '../files.ts';

/** One day's use of a folder this package fills, and the room left on its file system. */
export interface DiskSample {
  at: string;
  location: 'data' | 'backups' | 'archive';
  path: string;
  usedBytes: number;
  freeBytes: number;
}

/** Samples older than this are dropped: growth is measured over the last week, with room to spare. */
const KEEP_DAYS = 35;
/** A file system projected to fill within this many days is a warning. */
export const WARN_WITHIN_DAYS = 7;

const samplesFile = (config: Config) => path.join(config.dataDir, 'disk-usage.json');

/** The folders whose growth fills a disk: the embedded server's data, the backups, the WAL archive. */
function folders(config: Config): Array<Pick<DiskSample, 'location' | 'path'>> {
  return [
    ...(config.databaseUrl ? [] : [{ location: 'data' as const, path: path.join(config.dataDir, 'pg') }]),
    { location: 'backups' as const, path: config.backupDir },
    ...(config.walArchiveDir ? [{ location: 'archive' as const, path: config.walArchiveDir }] : []),
  ].filter((folder) => existsSync(folder.path));
}

export function readDiskSamples(config: Config): DiskSample[] {
  try {
    return JSON.parse(readFileSync(samplesFile(config), 'utf8')) as DiskSample[];
  } catch {
    return [];
  }
}

/** Room left for an unprivileged user on the file system of `dir`. */
export function freeBytes(dir: string): number {
  const stats = statfsSync(dir);
  return stats.bavail * stats.bsize;
}

/** Measures each folder now and keeps the sample (data/disk-usage.json), for `doctor`'s projections. */
export function sampleDiskUsage(config: Config, now = new Date()): DiskSample[] {
  const taken = folders(config).map(({ location, path: dir }) => ({
    at: now.toISOString(),
    location,
    path: dir,
    usedBytes: folderBytes(dir),
    freeBytes: freeBytes(dir),
  }));
  const horizon = now.getTime() - KEEP_DAYS * 86_400_000;
  const kept = readDiskSamples(config).filter((sample) => new Date(sample.at).getTime() >= horizon);
  writeFileAtomic(samplesFile(config), JSON.stringify([...kept, ...taken]));
  return taken;
}

export interface DiskProjection {
  location: DiskSample['location'];
  path: string;
  /** Growth per day over the measured span, in bytes (negative: shrinking). */
  bytesPerDay: number;
  measuredDays: number;
  freeBytes: number;
  /** Days until the file system is full at that growth; null when not growing. */
  daysLeft: number | null;
}

/**
 * Growth of each folder over up to the last 7 days of samples (at least a day apart), and how long its file
 * system lasts at that pace with the room it has now. Folders with less than a day of samples are left out.
 */
export function projectDiskUsage(samples: DiskSample[], freeNow: (dir: string) => number, now = new Date()): DiskProjection[] {
  const projections: DiskProjection[] = [];
  for (const location of ['data', 'backups', 'archive'] as const) {
    const mine = samples.filter((sample) => sample.location === location).sort((a, b) => a.at.localeCompare(b.at));
    const latest = mine[mine.length - 1];
    if (!latest) continue;
    const weekAgo = now.getTime() - WARN_WITHIN_DAYS * 86_400_000;
    const first = mine.find((sample) => new Date(sample.at).getTime() >= weekAgo) ?? mine[0]!;
    const measuredDays = (new Date(latest.at).getTime() - new Date(first.at).getTime()) / 86_400_000;
    if (measuredDays < 1) continue;
    const bytesPerDay = (latest.usedBytes - first.usedBytes) / measuredDays;
    const freeBytes = freeNow(latest.path);
    projections.push({ location, path: latest.path, bytesPerDay, measuredDays, freeBytes, daysLeft: bytesPerDay > 0 ? freeBytes / bytesPerDay : null });
  }
  return projections;
}
