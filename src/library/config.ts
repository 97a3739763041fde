// The config namespace of the package (src/index.ts): the assistant's settings table, not the service's settings.
export { CONFIG_KEYS, getConfig, listConfig, setConfig } from '../core/config.ts';
export type { ConfigEntry, ConfigKey, ConfigValue } from '../core/config.ts';
