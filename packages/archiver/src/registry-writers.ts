// The archiver's parse workers decode a registry-backed stream's messages with the writer schemas the
// stream loaded; a version registered later carries an id they do not know. The main thread looks
// such ids up in the registry (once each) before it hands a batch over, and sends their writers
// along with it, so no event of a newer compatible version is skipped by the archiver while the
// speed layer counts it.
import {
  confluentSchemaId,
  createSchemaRegistryClient,
  type SchemaRegistryClient,
} from '@tandem/connections';
import type { RegistryWriter, SchemaRegistryConfig, Stream } from '@tandem/core';

/** Writers of ids a stream did not load, looked up on demand. */
export class RegistryWriterLookups {
  readonly #subject: string;
  readonly #client: SchemaRegistryClient;
  /** Ids the stream loaded: the workers know them already. */
  readonly #loaded: ReadonlySet<number>;
  /** Looked-up writers (null: the subject has no such id), or the lookup in flight. */
  readonly #found = new Map<number, RegistryWriter | null | Promise<RegistryWriter | null>>();

  constructor(subject: string, loaded: readonly RegistryWriter[], client: SchemaRegistryClient) {
    this.#subject = subject;
    this.#client = client;
    this.#loaded = new Set(loaded.map((writer) => writer.id));
  }

  /** For a registry-backed stream with a registry to ask; null otherwise. */
  static of(stream: Stream, registry: SchemaRegistryConfig | null): RegistryWriterLookups | null {
    if (stream.registry === null || registry === null || registry.url === null) return null;
    return new RegistryWriterLookups(
      stream.registry.subject,
      stream.registry.writers,
      createSchemaRegistryClient(registry),
    );
  }

  /**
   * The writers of the ids in `messages` that the stream did not load: undefined when there are
   * none (the common case, answered without waiting), else after looking up the new ones.
   */
  forBatch(
    messages: ReadonlyArray<{ value: Buffer | null }>,
  ): undefined | Promise<RegistryWriter[] | undefined> {
    const ids = new Set<number>();
    for (const message of messages) {
      const id = message.value === null ? null : confluentSchemaId(message.value);
      if (id !== null && !this.#loaded.has(id)) ids.add(id);
    }
    if (ids.size === 0) return undefined;
    return this.#writersOf([...ids]);
  }

  async #writersOf(ids: number[]): Promise<RegistryWriter[] | undefined> {
    const writers: RegistryWriter[] = [];
    for (const id of ids) {
      let found = this.#found.get(id);
      if (found === undefined) {
        const lookup = this.#client.schemaById(id, this.#subject);
        this.#found.set(id, lookup);
        // A failed lookup (registry down) is retried by the next batch that holds the id.
        found = await lookup.catch((error: unknown) => {
          this.#found.delete(id);
          throw error;
        });
        this.#found.set(id, found);
      } else {
        found = await found;
      }
      if (found !== null) writers.push(found);
    }
    return writers.length === 0 ? undefined : writers;
  }
}
