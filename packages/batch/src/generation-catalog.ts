// A catalog that also resolves a view's other live generations, as `<view>@v<n>`: every layer reader
// and the batch runner resolve view names in the catalog they are given, so handing them this one
// lets them read and write any generation with no change to their storage code (a generation view's
// `version` is its number, which every key and prefix is built from). `views` lists only the
// catalog's own definitions: what schedulers and workers maintain by default.
import {
  type Catalog,
  type ServedVersion,
  type ServedVersionReader,
  type Stream,
  TandemError,
  type View,
} from '@tandem/core';
import { type GenerationRegistry, generationView, type ViewGeneration } from './view-generations.ts';

const GENERATION_REF = /^([a-z][a-z0-9_]*)@v([1-9][0-9]*)$/;

/** `<view>@v<n>`: how readers name a generation other than the catalog's definition. */
export function generationRef(view: string, n: number): string {
  return `${view}@v${n}`;
}

export class GenerationCatalog implements Catalog {
  readonly #base: Catalog;
  readonly #generations = new Map<string, View>();
  readonly #maintained = new Set<string>();
  /** The catalog's own definitions, possibly at the number the registry gave them. */
  #views: View[];

  constructor(base: Catalog) {
    this.#base = base;
    this.#views = [...base.views];
  }

  get streams(): readonly Stream[] {
    return this.#base.streams;
  }

  get views(): readonly View[] {
    return this.#views;
  }

  stream(name: string): Stream {
    return this.#base.stream(name);
  }

  view(name: string): View {
    const generation = this.#generations.get(name);
    if (generation !== undefined) return generation;
    const match = GENERATION_REF.exec(name);
    if (match !== null) {
      const own = this.#views.find((view) => view.name === match[1]);
      if (own !== undefined && own.version === Number(match[2])) return own;
      throw new TandemError(
        'TANDEM_ERR_VIEW_UNKNOWN',
        `view "${match[1]}" has no generation v${match[2]} loaded in this process; list its versions with \`tandem views\``,
        { details: { view: match[1], generation: Number(match[2]) } },
      );
    }
    return this.#views.find((view) => view.name === name) ?? this.#base.view(name);
  }

  /**
   * The views of a stream a worker keeps: the catalog's definitions, plus the other generations
   * marked `maintain` (the version serving while the config's definition builds), so one exactly-once
   * apply folds every event into both.
   */
  viewsOf(stream: string): View[] {
    const maintained = [...this.#maintained].map((ref) => this.#generations.get(ref)!);
    return [...this.#views, ...maintained].filter((view) => view.stream === stream);
  }

  /**
   * Has workers that take `viewsOf` keep generation `ref` too (added by `addGeneration`). Not for
   * sessionized views: their open sessions are keyed by view name, which two versions would share.
   */
  maintain(ref: string): boolean {
    const view = this.#generations.get(ref);
    if (view === undefined || view.sessionize !== null) return false;
    this.#maintained.add(ref);
    return true;
  }

  /** Makes a generation resolvable as `<view>@v<n>` (compiled from its stored spec); returns the ref. */
  addGeneration(generation: ViewGeneration): string {
    const ref = generationRef(generation.spec.name, generation.n);
    const known = this.#generations.get(ref);
    if (known === undefined || known.fingerprint !== generation.fingerprint) {
      this.#generations.set(ref, generationView(generation, this.#base.stream(generation.spec.stream)));
    }
    return ref;
  }

  /** Puts the catalog's definition of a view at the number the registry gave its fingerprint. */
  renumber(name: string, n: number): void {
    this.#views = this.#views.map((view) => (view.name === name ? { ...view, version: n } : view));
  }
}

/**
 * The served-version reader over the registry: one Redis round trip per call (the pointer and what
 * it points at), the compiled view kept per (ref, fingerprint).
 */
export class ActiveVersions implements ServedVersionReader {
  readonly #registry: GenerationRegistry;
  readonly #catalog: GenerationCatalog;

  constructor(registry: GenerationRegistry, catalog: GenerationCatalog) {
    this.#registry = registry;
    this.#catalog = catalog;
  }

  async active(view: string): Promise<ServedVersion | null> {
    const generation = await this.#registry.active(view);
    if (generation === null) return null;
    const own = this.#catalog.view(view);
    if (own.version === generation.n && own.fingerprint === generation.fingerprint) {
      return { n: generation.n, fingerprint: generation.fingerprint, ref: view, view: own };
    }
    const ref = this.#catalog.addGeneration(generation);
    return { n: generation.n, fingerprint: generation.fingerprint, ref, view: this.#catalog.view(ref) };
  }
}

/**
 * Registers each view's config definition and puts it at the number the registry gave it, so a
 * component started with a changed config writes that definition under its own version and never
 * into the one serving. Returns each view's number.
 */
export async function registerCatalogVersions(
  registry: GenerationRegistry,
  catalog: GenerationCatalog,
  views: readonly string[],
  now: number,
): Promise<Map<string, number>> {
  const numbers = new Map<string, number>();
  for (const name of views) {
    const own = catalog.view(name);
    const { n } = await registry.register(own, now);
    if (own.version !== n) catalog.renumber(name, n);
    numbers.set(name, n);
  }
  return numbers;
}

/**
 * For a speed worker: registers the stream's views (as above) and, for each whose serving version is
 * not the config's definition (a new one is building), loads that version and has `viewsOf` keep it
 * too, so the serving version's real-time keys stay exact while the new one builds beside it.
 * Returns the refs kept besides the catalog's own.
 */
export async function maintainServingVersions(
  registry: GenerationRegistry,
  catalog: GenerationCatalog,
  views: readonly string[],
  now: number,
): Promise<string[]> {
  const numbers = await registerCatalogVersions(registry, catalog, views, now);
  const kept: string[] = [];
  for (const [name, n] of numbers) {
    const serving = await registry.active(name);
    if (serving === null || serving.n === n) continue;
    const ref = catalog.addGeneration(serving);
    if (catalog.maintain(ref)) kept.push(ref);
  }
  return kept;
}
