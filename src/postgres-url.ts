/**
 * What DATABASE_URL and restore's --target must look like. Its own module so that the CLI's option parser checks
 * --target without loading the configuration's schema (zod) for every command line.
 */
export const isPostgresUrl = (value: string) => /^postgres(ql)?:\/\//.test(value);
