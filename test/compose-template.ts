/**
 * A Compose template as a maintainer writes it: comments beside keys, quoted and bare Jinja,
 * a `{{ '{{' }}` escape inside a string, a `{% if %}` block. Tests that must keep every byte
 * outside an edit (the engine's masking, bug 7's table) share it.
 */
export const COMMENTED_COMPOSE_TEMPLATE = `---
# {{ ansible_managed }}
# ---- services ----------------------------------------------------------
services:
  redis:
    image: "{{ redis_image }}"   # pinned in group_vars
  litellm:
    image: {{ litellm_image }}
    depends_on:
      redis:
        condition: service_healthy
      openclaw-egress:
        condition: service_healthy    # ← unnecessary for startup
    healthcheck:
      test: ["CMD-SHELL", "docker ps --format '{{ '{{' }}.Names{{ '}}' }}' | grep -q litellm"]
{% if litellm_extra_env is defined %}
    environment: {{ litellm_extra_env | to_json }}
{% endif %}
  openclaw-egress:
    build: ./build/smokescreen
`;
