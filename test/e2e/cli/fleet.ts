// Many long-running `tandem` processes of a World, by kind, as a process supervisor runs them: each
// member can be killed with SIGKILL and started again under the same name and environment, and an
// exit nobody asked for is recorded (and the member restarted, as a supervisor would) so a test can
// tell a crash of Tandem from a kill of its own.
import type { World } from './harness.ts';

/** The long-running commands of `tandem`, by the name a test gives their kind. */
export const componentCommands = {
  speed: ['speed'],
  archiver: ['archiver'],
  batch: ['batch', 'schedule'],
  serve: ['serve'],
} as const satisfies Record<string, readonly string[]>;

export type ComponentKind = keyof typeof componentCommands;

type Handle = ReturnType<World['start']>;

export interface FleetMember {
  /** `speed-1`, `serve-2`, … */
  readonly name: string;
  readonly kind: ComponentKind;
  readonly env: Record<string, string>;
  /** Times this member was started (1 for the first start). */
  starts: number;
}

/** An exit of a member that no kill of the test caused. */
export interface UnexpectedExit {
  name: string;
  code: number | null;
  /** The last lines the process printed. */
  tail: string;
}

export class Fleet {
  readonly #world: World;
  readonly members: FleetMember[] = [];
  readonly unexpectedExits: UnexpectedExit[] = [];
  readonly #handles = new Map<FleetMember, Handle>();
  /** Members being killed or stopped by the test: their exit is expected. */
  readonly #stopping = new Set<FleetMember>();
  #closed = false;

  constructor(world: World) {
    this.#world = world;
  }

  /** Starts a new member of `kind` (its name numbered within the kind). */
  add(kind: ComponentKind, env: Record<string, string> = {}): FleetMember {
    const index = this.members.filter((member) => member.kind === kind).length + 1;
    const member: FleetMember = { name: `${kind}-${index}`, kind, env, starts: 0 };
    this.members.push(member);
    this.#start(member);
    return member;
  }

  of(kind: ComponentKind): FleetMember[] {
    return this.members.filter((member) => member.kind === kind);
  }

  /** Whether the member's process runs now. */
  running(member: FleetMember): boolean {
    return this.#handles.has(member);
  }

  /** What the member's current process printed so far. */
  output(member: FleetMember): string {
    return this.#handles.get(member)?.output() ?? '';
  }

  /** SIGKILLs the member's process and waits until it is gone; `restart` starts it again. */
  async kill(member: FleetMember): Promise<void> {
    const handle = this.#handles.get(member);
    if (handle === undefined) return;
    this.#stopping.add(member);
    handle.signal('SIGKILL');
    await handle.exited;
  }

  /** Starts the member again with the same command and environment (no-op while it runs). */
  restart(member: FleetMember): void {
    if (!this.#handles.has(member) && !this.#closed) this.#start(member);
  }

  #start(member: FleetMember): void {
    member.starts += 1;
    const handle = this.#world.start([...componentCommands[member.kind]], member.env);
    this.#handles.set(member, handle);
    void handle.exited.then((code) => {
      if (this.#handles.get(member) === handle) this.#handles.delete(member);
      if (this.#stopping.delete(member)) return;
      const lines = handle.output().trimEnd().split('\n');
      this.unexpectedExits.push({ name: member.name, code, tail: lines.slice(-15).join('\n') });
      // as a supervisor (systemd, Kubernetes) would: start it again after a moment
      setTimeout(() => this.restart(member), 1_000);
    });
  }

  /** SIGTERM to every member, then each one's exit code (a clean stop is 0). */
  async stopAll(): Promise<Array<{ name: string; code: number | null; output: string }>> {
    this.#closed = true;
    return Promise.all(
      [...this.#handles].map(async ([member, handle]) => {
        this.#stopping.add(member);
        const code = await handle.stop();
        return { name: member.name, code, output: handle.output() };
      }),
    );
  }
}
