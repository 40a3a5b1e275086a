// The schema registry's Confluent API (Confluent Schema Registry, Apicurio's /apis/ccompat/v7, Redpanda,
// Karapace), as every component reaches it: the versions of a subject (a registry-backed stream's
// schema, fetched when the config loads), a schema by the id framed messages carry, the registry's
// own compatibility check and registration. One timeout and one error policy: an unreachable
// registry is TANDEM_ERR_SERVICE_UNAVAILABLE naming SCHEMA_REGISTRY_URL and how to start one.
import {
  type RegistryVersion,
  type RegistryWriter,
  REGISTRY_START_HINT,
  registrySubjectsOf,
  type SchemaRegistryConfig,
  TandemError,
} from '@tandem/core';

/** Options of `createSchemaRegistryClient`. */
export interface SchemaRegistryClientOptions {
  /** Bound of each HTTP request. @defaultValue 10000 */
  timeoutMs?: number;
}

/** The registry's verdict on a candidate schema (`POST /compatibility/subjects/S/versions/latest`). */
export interface RegistryCompatibility {
  compatible: boolean;
  /** The registry's reasons, when it gives them (`?verbose=true`). */
  messages: string[];
}

/** A client of one registry's Confluent API. */
export interface SchemaRegistryClient {
  /** The base URL (credentials never in it). */
  readonly url: string;
  /** Every version of a subject, oldest first; null when the subject does not exist. */
  subjectVersions(subject: string): Promise<RegistryVersion[] | null>;
  /** The schema with that global id and the subject version it is under; null when no schema has it. */
  schemaById(id: number, subject: string): Promise<RegistryWriter | null>;
  /** The registry's own compatibility check of a candidate against the subject's latest version. */
  checkCompatibility(subject: string, schemaType: string, schema: string): Promise<RegistryCompatibility>;
  /** Registers a schema under a subject (or finds it registered); its global id. */
  register(subject: string, schemaType: string, schema: string): Promise<number>;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/** Confluent error codes this client tells apart (`error_code` of a 404 body). */
const SUBJECT_NOT_FOUND = 40401;
const VERSION_NOT_FOUND = 40402;
const SCHEMA_NOT_FOUND = 40403;

function unavailable(url: string, what: string, cause: unknown): TandemError {
  return new TandemError(
    'TANDEM_ERR_SERVICE_UNAVAILABLE',
    `the schema registry at SCHEMA_REGISTRY_URL=${url} is not reachable (${what}: ${(cause as Error)?.message ?? String(cause)}); start it or ${REGISTRY_START_HINT}`,
    { cause, retryable: true, details: { service: 'schema-registry', url } },
  );
}

/** A client of the registry `config` names; throws `TANDEM_ERR_CONFIG_INVALID` when it names none. */
export function createSchemaRegistryClient(
  config: SchemaRegistryConfig,
  options: SchemaRegistryClientOptions = {},
): SchemaRegistryClient {
  const base = config.url;
  if (base === null) {
    throw new TandemError(
      'TANDEM_ERR_CONFIG_INVALID',
      `no schema registry is configured; ${REGISTRY_START_HINT}`,
      {
        details: { variable: 'SCHEMA_REGISTRY_URL' },
      },
    );
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const headers: Record<string, string> = { accept: CONTENT_TYPE, 'content-type': CONTENT_TYPE };
  if (config.auth !== null) {
    const token = Buffer.from(`${config.auth.username}:${config.auth.password}`).toString('base64');
    headers.authorization = `Basic ${token}`;
  }

  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers,
        signal: AbortSignal.timeout(timeoutMs),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw unavailable(base!, `${method} ${path}`, error);
    }
    const text = await response.text();
    if (!response.ok) {
      let errorCode: number | null = null;
      let message = text;
      try {
        const parsed = JSON.parse(text) as { error_code?: number; message?: string };
        errorCode = typeof parsed.error_code === 'number' ? parsed.error_code : null;
        message = parsed.message ?? text;
      } catch {
        // not a Confluent error body: keep the text
      }
      if (response.status === 401 || response.status === 403) {
        throw new TandemError(
          'TANDEM_ERR_CONFIG_INVALID',
          `the schema registry at ${base} refused the credentials (HTTP ${response.status}); check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD`,
          { details: { variable: 'SCHEMA_REGISTRY_USERNAME', status: response.status } },
        );
      }
      if (response.status >= 500) {
        throw unavailable(base!, `${method} ${path}`, new Error(`HTTP ${response.status}: ${message}`));
      }
      throw new TandemError(
        'TANDEM_ERR_REGISTRY_REFUSED',
        `the schema registry at ${base} refused ${method} ${path} (HTTP ${response.status}${errorCode === null ? '' : `, error ${errorCode}`}): ${message}`,
        { details: { status: response.status, errorCode, url: base } },
      );
    }
    return JSON.parse(text) as T;
  }

  const notFound = (error: unknown, ...codes: number[]): boolean =>
    error instanceof TandemError &&
    error.code === 'TANDEM_ERR_REGISTRY_REFUSED' &&
    error.details.status === 404 &&
    (error.details.errorCode === null || codes.includes(error.details.errorCode as number));
  const segment = (subject: string) => `/subjects/${encodeURIComponent(subject)}`;

  return {
    url: base,
    async subjectVersions(subject) {
      let numbers: number[];
      try {
        numbers = await call<number[]>('GET', `${segment(subject)}/versions`);
      } catch (error) {
        if (notFound(error, SUBJECT_NOT_FOUND)) return null;
        throw error;
      }
      const versions = await Promise.all(
        [...numbers]
          .sort((a, b) => a - b)
          .map((n) =>
            call<RegistryVersion & { schemaType?: string }>('GET', `${segment(subject)}/versions/${n}`),
          ),
      );
      return versions.map((v) => ({ ...v, schemaType: v.schemaType ?? 'AVRO' }));
    },
    async schemaById(id, subject) {
      let found: { schema: string; schemaType?: string };
      let under: Array<{ subject: string; version: number }>;
      try {
        found = await call('GET', `/schemas/ids/${id}`);
        under = await call('GET', `/schemas/ids/${id}/versions`);
      } catch (error) {
        if (notFound(error, SCHEMA_NOT_FOUND, SUBJECT_NOT_FOUND, VERSION_NOT_FOUND)) return null;
        throw error;
      }
      const entry = under.find((u) => u.subject === subject);
      if (entry === undefined) return null;
      return {
        id,
        subject,
        version: entry.version,
        schemaType: found.schemaType ?? 'AVRO',
        schema: found.schema,
      };
    },
    async checkCompatibility(subject, schemaType, schema) {
      try {
        const verdict = await call<{ is_compatible: boolean; messages?: string[] }>(
          'POST',
          `/compatibility${segment(subject)}/versions/latest?verbose=true`,
          { schemaType, schema },
        );
        return { compatible: verdict.is_compatible, messages: verdict.messages ?? [] };
      } catch (error) {
        // A subject without versions accepts anything (the first version has nothing to break).
        if (notFound(error, SUBJECT_NOT_FOUND, VERSION_NOT_FOUND)) return { compatible: true, messages: [] };
        throw error;
      }
    },
    async register(subject, schemaType, schema) {
      const { id } = await call<{ id: number }>('POST', `${segment(subject)}/versions`, {
        schemaType,
        schema,
      });
      return id;
    },
  };
}

/**
 * Fetches every version of each subject a config file's registry-backed streams name (`raw` is what
 * the file exports), for core's `resolveCatalog`. Nothing is asked when no stream names a subject.
 * Throws `TANDEM_ERR_CONFIG_INVALID` naming the stream and subject when no registry is configured or
 * the subject does not exist; `TANDEM_ERR_SERVICE_UNAVAILABLE` when the registry is not reachable.
 */
export async function fetchRegistryVersions(
  raw: unknown,
  config: SchemaRegistryConfig,
  client?: SchemaRegistryClient,
): Promise<Map<string, RegistryVersion[]>> {
  const subjects = registrySubjectsOf(raw);
  const fetched = new Map<string, RegistryVersion[]>();
  if (subjects.size === 0) return fetched;
  if (client === undefined && config.url === null) {
    const [subject, stream] = [...subjects][0]!;
    throw new TandemError(
      'TANDEM_ERR_CONFIG_INVALID',
      `stream "${stream}" takes its schema from registry subject "${subject}", but SCHEMA_REGISTRY_URL is not set; ${REGISTRY_START_HINT}`,
      { details: { variable: 'SCHEMA_REGISTRY_URL', stream, subject } },
    );
  }
  const registry = client ?? createSchemaRegistryClient(config);
  for (const [subject, stream] of subjects) {
    const versions = await registry.subjectVersions(subject);
    if (versions === null) {
      throw new TandemError(
        'TANDEM_ERR_CONFIG_INVALID',
        `stream "${stream}" (registry subject "${subject}"): the subject does not exist in the schema registry at ${registry.url}; register the stream's schema under it first`,
        { details: { stream, subject, url: registry.url } },
      );
    }
    fetched.set(subject, versions);
  }
  return fetched;
}
