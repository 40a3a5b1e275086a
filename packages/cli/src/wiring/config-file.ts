// Finds and loads the deployment's config file (streams and views) once at start: TANDEM_CONFIG, or
// tandem.config.ts / tandem.config.json in the working directory, or else the built-in web catalog
// on the topics of TANDEM_TOPIC and friends. core validates what the file holds; this module only
// reads it, so every component and command sees the same catalog.
import { existsSync, readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fetchRegistryVersions } from '@tandem/connections';
import { builtinCatalog, type Catalog, resolveCatalog, TandemError, type TandemConfig } from '@tandem/core';

/** File names looked for in the working directory, in order. */
export const configFileNames = [
  'tandem.config.ts',
  'tandem.config.mts',
  'tandem.config.js',
  'tandem.config.json',
];

/** A loaded catalog and where it came from (null: the built-in web catalog). */
export interface LoadedCatalog {
  catalog: Catalog;
  file: string | null;
}

function configError(file: string, message: string, cause?: unknown): TandemError {
  return new TandemError('TANDEM_ERR_CONFIG_INVALID', `${file}: ${message}`, {
    cause,
    details: { path: file, variable: 'TANDEM_CONFIG' },
  });
}

/** The config file to load: TANDEM_CONFIG (which must exist), else the first default name found in cwd. */
export function findConfigFile(env: Record<string, string | undefined>, cwd: string): string | null {
  const named = env.TANDEM_CONFIG;
  if (named !== undefined && named !== '') {
    const file = resolve(cwd, named);
    if (!existsSync(file)) {
      throw configError(
        named,
        'TANDEM_CONFIG names a file that does not exist; unset it to use the built-in web config',
      );
    }
    return file;
  }
  for (const name of configFileNames) {
    const file = resolve(cwd, name);
    if (existsSync(file)) return file;
  }
  return null;
}

/** Reads what a config file exports: a .json file's object, or a module's default export. */
export async function readConfigFile(file: string): Promise<unknown> {
  if (extname(file) === '.json') {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as unknown;
    } catch (cause) {
      throw configError(file, `is not valid JSON: ${(cause as Error).message}`, cause);
    }
  }
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (cause) {
    throw configError(file, `could not be loaded: ${(cause as Error).message}`, cause);
  }
  if (module.default === undefined) {
    throw configError(file, 'has no default export; write `export default defineConfig({ streams, views })`');
  }
  return module.default;
}

/**
 * Loads and validates the deployment's catalog (see findConfigFile). Without a file, the built-in
 * web stream on `config.kafka`'s topics and its three views. Registry-backed streams get their
 * schemas from the registry at `SCHEMA_REGISTRY_URL` first (every version of each subject).
 */
export async function loadCatalog(
  env: Record<string, string | undefined>,
  config: TandemConfig,
  cwd: string = process.cwd(),
): Promise<LoadedCatalog> {
  const file = findConfigFile(env, cwd);
  if (file === null) {
    const { topic, dlqTopic, lateTopic } = config.kafka;
    return { catalog: builtinCatalog({ topic, dlqTopic, lateTopic }), file: null };
  }
  const raw = await readConfigFile(file);
  return {
    catalog: resolveCatalog(raw, file, await fetchRegistryVersions(raw, config.schemaRegistry)),
    file,
  };
}
