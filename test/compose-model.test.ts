/** The Compose model follows Compose v2's rules on small hand-written projects. */
import { describe, expect, it } from 'vitest';
import {
  canPublishPorts,
  ComposeModelError,
  firstRunProblems,
  mergeCompose,
  networksCreatedByUp,
  networksOf,
  routesOut,
  sharedNetworks,
} from '../src/model/compose-model.js';

const base = {
  services: {
    app: { image: 'app', networks: ['back', 'front'] },
    db: { image: 'db', networks: { back: { aliases: ['database'] } } },
  },
  networks: {
    back: { driver: 'bridge', internal: true },
    front: { driver: 'bridge' },
    spare: { driver: 'bridge' },
  },
};

const created = (project: ReturnType<typeof mergeCompose>, existing: string[] = []): string[] =>
  networksCreatedByUp(project, existing)
    .map((n) => n.name)
    .sort();

describe('merging files into one project', () => {
  it('names the project after the directory unless a file says `name:` (the last one wins) or -p is given', () => {
    expect(mergeCompose(base, [], { projectDirectory: '/opt/OpenClaw/' }).name).toBe('openclaw');
    expect(mergeCompose({ ...base, name: 'first' }, [{ name: 'second' }], { projectDirectory: '/opt/x' }).name).toBe('second');
    expect(mergeCompose({ ...base, name: 'first' }, [], { projectName: 'cli' }).name).toBe('cli');
    expect(() => mergeCompose(base)).toThrow(ComposeModelError);
  });

  it('merges networks key by key and a service defined twice by network key', () => {
    const project = mergeCompose(
      base,
      [{ services: { app: { networks: { edge: null } } }, networks: { front: { internal: true }, edge: {} } }],
      { projectName: 'p' },
    );
    expect(project.networks.get('front')).toMatchObject({ driver: 'bridge', internal: true });
    expect(networksOf(project, 'app')).toEqual(['back', 'front', 'edge']);
    expect(routesOut(project, 'app')).toBe(true); // through edge, declared only in the overlay
  });
});

describe('what up creates', () => {
  it('creates only the networks a service uses, as <project>_<key> unless the network has a name', () => {
    const project = mergeCompose({ ...base, networks: { ...base.networks, front: { name: 'public' } } }, [], { projectName: 'p' });
    expect(created(project)).toEqual(['p_back', 'public']);
    expect(created(project, ['p_back'])).toEqual(['public']);
  });

  it('puts a service without networks on the implicit default network, which it then creates', () => {
    const project = mergeCompose({ services: { solo: { image: 'x' } } }, [], { projectName: 'p' });
    expect(networksOf(project, 'solo')).toEqual(['default']);
    expect(created(project)).toEqual(['p_default']);
    expect(routesOut(project, 'solo')).toBe(true);
  });

  it('never creates an external network: a first run fails until it exists', () => {
    const project = mergeCompose(
      base,
      [{ services: { proxy: { networks: ['edge'], ports: ['443:443'] } }, networks: { edge: { external: true } } }],
      { projectName: 'p' },
    );
    expect(created(project)).not.toContain('edge');
    expect(firstRunProblems(project).map((p) => p.message)).toEqual(['network edge declared as external, but could not be found']);
    expect(firstRunProblems(project, ['edge'])).toEqual([]);
  });

  it('an external network unused by every service is not looked for', () => {
    const project = mergeCompose({ ...base, networks: { ...base.networks, legacy: { external: true } } }, [], { projectName: 'p' });
    expect(firstRunProblems(project)).toEqual([]);
  });

  it('refuses a service on a network no file declares', () => {
    const project = mergeCompose({ services: { app: { networks: ['nowhere'] } } }, [], { projectName: 'p' });
    expect(firstRunProblems(project)).toEqual([
      expect.objectContaining({
        kind: 'undefined-network',
        message: 'service "app" refers to undefined network nowhere: invalid compose project',
      }),
    ]);
  });
});

describe('routes out and published ports', () => {
  const project = mergeCompose(
    base,
    [
      {
        services: {
          locked: { networks: ['back'], ports: ['8080:80'] },
          web: { networks: ['back', 'front'], ports: ['80:80'] },
          sidecar: { network_mode: 'service:locked' },
          hermit: { network_mode: 'none' },
          hosted: { network_mode: 'host' },
        },
      },
    ],
    { projectName: 'p' },
  );

  it('a service on internal networks only has no route out; one non-internal network gives it one', () => {
    expect(routesOut(project, 'db')).toBe(false);
    expect(routesOut(project, 'app')).toBe(true);
    expect(routesOut(project, 'sidecar')).toBe(false);
    expect(networksOf(project, 'sidecar')).toEqual(['back']);
    expect(routesOut(project, 'hermit')).toBe(false);
    expect(routesOut(project, 'hosted')).toBe(true);
  });

  it('ports need a non-internal network', () => {
    expect(canPublishPorts(project, 'web')).toBe(true);
    expect(canPublishPorts(project, 'locked')).toBe(false);
    expect(firstRunProblems(project).map((p) => [p.kind, p.service])).toEqual([['unpublishable-ports', 'locked']]);
  });

  it('lists the networks two services share', () => {
    expect(sharedNetworks(project, 'app', 'db')).toEqual(['back']);
    expect(sharedNetworks(project, 'db', 'hosted')).toEqual([]);
  });
});
