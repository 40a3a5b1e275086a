// Builds a view's new version beside the one that serves, then switches serving to it. Each view's
// config definition is registered (the registry numbers it), live generations are loaded into the
// layer's GenerationCatalog, and the building generation's missing hours over the view's `history`
// are computed newest first — recent hours are the ones people look at — with the same leased,
// fenced hour runs as catch-up, so a scheduler killed mid-build resumes with the hours still missing.
// When every complete hour of the history is published for it, and batch has sealed the hour in which
// the last speed worker began writing it (so no unsealed hour holds part of its events), one
// compare-and-set moves the active pointer (the old version stays `previous` for rollback).
import { HOUR_MS, hourStart, type TimeRange, type ViewVersionStatus } from '@tandem/core';
import type { BatchLayer, HourWorkOptions } from './batch-layer.ts';
import type { HourOutcome } from './batch-runner.ts';
import { lastCompleteHour } from './completeness.ts';
import { registerCatalogVersions } from './generation-catalog.ts';
import {
  type CollectedVersions,
  collectVersions,
  DEFAULT_VERSION_RETENTION_MS,
} from './generation-janitor.ts';
import type { GenerationRegistry } from './view-generations.ts';

/** Hours run per call while building: each call plans chunks over contiguous hours, newest call first. */
export const DEFAULT_BUILD_SLICE_HOURS = 24;

/** Where a view's versions stand. */
export interface GenerationProgress {
  view: string;
  /** The version serving reads. */
  active: number;
  /** The ref the active version is maintained and read by (`<view>` or `<view>@v<n>`). */
  activeRef: string;
  /** The version being built (the config's definition), or null when the config's is active. */
  building: number | null;
  /** The building version's window: the complete hours of its history, or null without logs. */
  window: TimeRange | null;
  hoursNeeded: number;
  hoursDone: number;
}

export class GenerationBuilder {
  readonly #layer: BatchLayer;
  readonly #registry: GenerationRegistry;
  readonly #sliceHours: number;
  readonly #statusCache = new Map<string, { at: number; status: ViewVersionStatus | null }>();

  readonly #retentionMs: number;

  /**
   * `sliceHours`: hours per run call while building, newest slice first (default 24).
   * `retentionMs`: how long a previous version stays for rollback, and a retired one's data (default 7 days).
   */
  constructor(
    layer: BatchLayer,
    registry: GenerationRegistry,
    sliceHours = DEFAULT_BUILD_SLICE_HOURS,
    retentionMs = DEFAULT_VERSION_RETENTION_MS,
  ) {
    this.#layer = layer;
    this.#registry = registry;
    this.#sliceHours = sliceHours;
    this.#retentionMs = retentionMs;
  }

  /** Retires previous versions past the retention period and collects retired ones (generation-janitor.ts). */
  async collect(views: readonly string[]): Promise<CollectedVersions[]> {
    const deps = { registry: this.#registry, store: this.#layer.store, logger: this.#layer.runtime.logger };
    const results: CollectedVersions[] = [];
    for (const view of views) {
      results.push(await collectVersions(deps, view, this.#layer.runtime.now(), this.#retentionMs));
    }
    return results;
  }

  /**
   * Registers each view's config definition and puts it at its number in the layer's catalog (so
   * nothing writes a new definition into an old version's storage), and loads the active version
   * when it is another one. Returns, per view, which refs serve and build.
   */
  async reconcile(
    views: readonly string[],
  ): Promise<Array<Omit<GenerationProgress, 'window' | 'hoursNeeded' | 'hoursDone'>>> {
    const { catalog } = this.#layer;
    const now = this.#layer.runtime.now();
    const plans = [];
    const numbers = await registerCatalogVersions(this.#registry, catalog, views, now);
    for (const name of views) {
      const n = numbers.get(name)!;
      const list = await this.#registry.list(name);
      const active = list.generations.find((gen) => gen.n === list.active)!;
      const activeRef = active.n === n ? name : catalog.addGeneration(active);
      const building = list.generations.find((gen) => gen.state === 'building' && gen.n === n);
      plans.push({ view: name, active: active.n, activeRef, building: building === undefined ? null : n });
    }
    return plans;
  }

  /** Hours needed and done of the view's building version (or of its active one when none builds). */
  async progress(view: string): Promise<GenerationProgress> {
    const [plan] = await this.reconcile([view]);
    return this.#measure(plan!);
  }

  async #measure(
    plan: Omit<GenerationProgress, 'window' | 'hoursNeeded' | 'hoursDone'> & { buildingRef?: string },
  ): Promise<GenerationProgress> {
    const layer = this.#layer;
    const ref = plan.buildingRef ?? (plan.building === null ? plan.activeRef : plan.view);
    const view = layer.view(ref);
    const stream = layer.streamOf(view);
    const now = layer.runtime.now();
    const [before, earliest] = await Promise.all([
      layer.completeBefore(stream, now),
      layer.earliestLogHour(stream),
    ]);
    const last = lastCompleteHour(view, before, now);
    if (last === null || earliest === null) return { ...plan, window: null, hoursNeeded: 0, hoursDone: 0 };
    const from = Math.max(earliest, hourStart(now) - layer.catalog.view(plan.view).historyMs);
    const window = { from, to: last + HOUR_MS };
    if (window.to <= window.from) return { ...plan, window, hoursNeeded: 0, hoursDone: 0 };
    layer.reader.invalidate();
    const done = (await layer.reader.pointersIn(ref, window)).length;
    return { ...plan, window, hoursNeeded: (window.to - window.from) / HOUR_MS, hoursDone: done };
  }

  /**
   * One build pass over the views: each building version's missing hours, newest first, then the
   * switch of those now covered. Stops between hours on abort. Returns the outcomes and the
   * progress of every view after the pass.
   */
  async build(
    views: readonly string[],
    options: HourWorkOptions = {},
  ): Promise<{ outcomes: HourOutcome[]; progress: GenerationProgress[] }> {
    const outcomes: HourOutcome[] = [];
    const progress: GenerationProgress[] = [];
    for (const plan of await this.reconcile(views)) {
      if (options.signal?.aborted) break;
      if (plan.building === null) {
        // Nothing builds: no listing of the history (this runs every hour for every view).
        progress.push({ ...plan, window: null, hoursNeeded: 0, hoursDone: 0 });
        continue;
      }
      let measured = await this.#measure(plan);
      if (plan.building !== null && measured.window !== null && measured.hoursDone < measured.hoursNeeded) {
        const sealed = new Set(
          (await this.#layer.reader.pointersIn(plan.view, measured.window)).map(
            ({ pointer }) => pointer.hour,
          ),
        );
        const missing: number[] = [];
        for (let hour = measured.window.to - HOUR_MS; hour >= measured.window.from; hour -= HOUR_MS) {
          if (!sealed.has(hour)) missing.push(hour);
        }
        for (let at = 0; at < missing.length && !options.signal?.aborted; at += this.#sliceHours) {
          outcomes.push(
            ...(await this.#layer.runHours(plan.view, missing.slice(at, at + this.#sliceHours), {
              trigger: 'backfill',
              ...(options.signal === undefined ? {} : { signal: options.signal }),
              ...(options.onOutcome === undefined ? {} : { onOutcome: options.onOutcome }),
            })),
          );
        }
        measured = await this.#measure(plan);
      }
      // Speed's keys of the new version are whole only for hours after the last worker began
      // writing them: those before must be sealed by batch, or an answer would count part of one.
      const speedStart =
        plan.building === null ? null : await this.#registry.speedStart(plan.view, plan.building);
      const speedCovered =
        speedStart === null || (measured.window !== null && measured.window.to > hourStart(speedStart));
      if (
        plan.building !== null &&
        !options.signal?.aborted &&
        measured.hoursDone >= measured.hoursNeeded &&
        speedCovered
      ) {
        await this.#registry.switch(plan.view, plan.active, plan.building, this.#layer.runtime.now());
        this.#layer.runtime.logger.info(
          { view: plan.view, from: plan.active, to: plan.building, hours: measured.hoursNeeded },
          'view version built over its history; serving switched to it',
        );
        measured = { ...measured, active: plan.building, activeRef: plan.view, building: null };
      }
      progress.push(measured);
    }
    return { outcomes, progress };
  }

  /** Moves serving of `view` to version `to` (an operator's switch or rollback), compare-and-set. */
  async switchTo(view: string, to: number): Promise<{ from: number; to: number }> {
    const list = await this.#registry.list(view);
    if (list.active === null) {
      // Never contacted: adopt first, so the switch has a pointer to move.
      await this.reconcile([view]);
      return this.switchTo(view, to);
    }
    await this.#registry.switch(view, list.active, to, this.#layer.runtime.now());
    return { from: list.active, to };
  }

  /**
   * Where the view's versions stand, without registering anything (status pages read it): the
   * active and building versions, the build's hours done of needed, the speed layer's start on it
   * and the time left at the rate so far. Kept for `statusTtlMs`, since it lists the build's window.
   */
  async versionStatus(view: string, statusTtlMs = 10_000): Promise<ViewVersionStatus | null> {
    const now = this.#layer.runtime.now();
    const cached = this.#statusCache.get(view);
    if (cached !== undefined && now - cached.at < statusTtlMs) return cached.status;
    const list = await this.#registry.list(view);
    const active = list.generations.find((gen) => gen.n === list.active);
    if (active === undefined) return null;
    const building = list.generations.find((gen) => gen.state === 'building') ?? null;
    let status: ViewVersionStatus = {
      active: { n: active.n, fingerprint: active.fingerprint },
      building: null,
      hoursDone: 0,
      hoursNeeded: 0,
      speedSince: null,
      speedCaughtUp: null,
      etaMs: null,
    };
    if (building !== null) {
      const own = this.#layer.catalog.view(view);
      const ref =
        own.version === building.n && own.fingerprint === building.fingerprint
          ? view
          : this.#layer.catalog.addGeneration(building);
      const measured = await this.#measure({
        view,
        active: active.n,
        activeRef: view,
        building: building.n,
        buildingRef: ref,
      });
      const speedSince = await this.#registry.speedStart(view, building.n);
      const elapsed = now - building.since;
      status = {
        ...status,
        building: { n: building.n, fingerprint: building.fingerprint, since: building.since },
        hoursDone: measured.hoursDone,
        hoursNeeded: measured.hoursNeeded,
        speedSince,
        speedCaughtUp:
          speedSince === null ? null : measured.window !== null && measured.window.to > hourStart(speedSince),
        etaMs:
          measured.hoursDone === 0
            ? null
            : Math.round(((measured.hoursNeeded - measured.hoursDone) * elapsed) / measured.hoursDone),
      };
    }
    this.#statusCache.set(view, { at: now, status });
    return status;
  }
}
