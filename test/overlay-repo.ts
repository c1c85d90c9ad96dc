/**
 * A deployment repo written the way the real one is: the base stack is brought up by its
 * own role, and the reverse-proxy and monitoring roles bring their overlays up afterwards with
 * `docker compose -f docker-compose.yml -f compose.<x>.yml up -d`, joining the base project's
 * networks by their full Docker names (`openclaw_proxy-net`, `openclaw_openclaw-net`). The
 * monitoring overlay also adds labels to the gateway and the egress proxy.
 */
import { fixtureFiles } from './helpers.js';

type Files = Map<string, string>;

export const BASE = 'roles/openclaw-config/templates/docker-compose.yml.j2';
export const CADDY = 'roles/reverse-proxy/templates/compose.caddy.yml.j2';
export const TUNNEL = 'roles/reverse-proxy/templates/compose.cloudflared.yml.j2';
export const MONITORING = 'roles/monitoring/templates/compose.monitoring.yml.j2';

const PLAYBOOK = `---
- name: Deploy OpenClaw
  hosts: openclaw
  become: true
  roles:
    - role: openclaw-config
      tags: [config]
    - role: openclaw-deploy       # builds the egress image, brings the base stack up
      tags: [deploy]
    - role: reverse-proxy         # Caddy in front of the running stack
      tags: [proxy]
      when: reverse_proxy_mode != 'none'
    - role: monitoring
      tags: [monitoring]
      when: monitoring_enabled | bool
    - role: openclaw-harden
      tags: [harden]
    - role: openclaw-integrate
      tags: [integrate]
    - role: maintenance
      tags: [maintenance]
`;

const DEPLOY_TASKS = `---
- name: Build the egress proxy image
  ansible.builtin.command: docker compose build openclaw-egress
  args:
    chdir: "{{ openclaw_base_dir }}"
  changed_when: true

- name: Start the base stack
  ansible.builtin.command: docker compose up -d --wait
  args:
    chdir: "{{ openclaw_base_dir }}"
  changed_when: true
`;

const PROXY_TASKS = `---
- name: Render Caddy overlay
  ansible.builtin.template:
    src: compose.caddy.yml.j2
    dest: "{{ openclaw_base_dir }}/compose.caddy.yml"
    mode: "0640"

- name: Render Caddyfile
  ansible.builtin.template:
    src: Caddyfile.j2
    dest: "{{ openclaw_base_dir }}/Caddyfile"
    mode: "0644"

- name: Bring Caddy up next to the stack
  ansible.builtin.shell: |
    cd {{ openclaw_base_dir }}
    docker compose -f docker-compose.yml -f compose.caddy.yml up -d
  changed_when: true
`;

const MONITORING_TASKS = `---
- name: Render monitoring overlay
  ansible.builtin.template:
    src: compose.monitoring.yml.j2
    dest: "{{ openclaw_base_dir }}/compose.monitoring.yml"
    mode: "0640"

- name: Start Uptime Kuma
  community.docker.docker_compose_v2:
    project_src: "{{ openclaw_base_dir }}"
    files:
      - docker-compose.yml
      - compose.monitoring.yml
    state: present
`;

const CADDY_OVERLAY = `# {{ ansible_managed }}
# Caddy terminates TLS and forwards to the gateway over the base project's proxy-net.
#   docker compose -f docker-compose.yml -f compose.caddy.yml up -d
services:
  caddy:
    image: "{{ caddy_image }}"
    container_name: openclaw-caddy
    restart: unless-stopped
    ports:
      - "80:80"
      - "443:443"
    volumes:
      - ./Caddyfile:/etc/caddy/Caddyfile:ro
      - caddy-data:/data
    networks: [proxy-net]
    depends_on: [openclaw]

volumes:
  caddy-data:

networks:
  proxy-net:
    external: true
    name: openclaw_proxy-net
`;

const MONITORING_OVERLAY = `# {{ ansible_managed }}
# Uptime Kuma on the stack's internal network; labels tell it what to watch.
services:
  openclaw:
    labels:
      kuma.openclaw.http.url: "http://openclaw:{{ openclaw_gateway_port }}/healthz"
  openclaw-egress:
    labels:
      kuma.egress.port.hostname: openclaw-egress
  uptime-kuma:
    image: "{{ uptime_kuma_image }}"
    container_name: openclaw-uptime-kuma
    restart: unless-stopped
    ports:
      - "127.0.0.1:3001:3001"
    volumes:
      - uptime-kuma-data:/app/data
    networks:
      - openclaw-net
      - monitoring-net

volumes:
  uptime-kuma-data:

networks:
  openclaw-net:
    external: true
    name: openclaw_openclaw-net
  monitoring-net:
    driver: bridge
`;

/** The bundled fixture rewritten as above (the base file without `name:`: the project is the directory's). */
export function overlayRepo(): Files {
  const files = fixtureFiles();
  files.set('playbook.yml', PLAYBOOK);
  files.set('roles/openclaw-deploy/tasks/main.yml', DEPLOY_TASKS);
  files.set('roles/reverse-proxy/tasks/main.yml', PROXY_TASKS);
  files.set('roles/monitoring/tasks/main.yml', MONITORING_TASKS);
  files.set(CADDY, CADDY_OVERLAY);
  files.delete(TUNNEL);
  files.set(MONITORING, MONITORING_OVERLAY);
  const base = files.get(BASE) ?? '';
  if (!base.includes('\nname: openclaw\n')) throw new Error('fixture base file changed');
  files.set(BASE, base.replace('\nname: openclaw\n', '\n'));
  return files;
}
