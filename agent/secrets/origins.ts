/**
 * Secrets bound to origins. A secret that the agent's secrets file binds to origins
 * (`"origins": ["https://api.stripe.com"]`) may be sent to those origins only: a request that carries
 * its value anywhere else is refused before it leaves (`SECRET_ORIGIN_DENIED`), on the first request
 * and on every redirect hop (HTTP runner), and for every request of a browser run (the sandbox's route
 * handler). Pure.
 */
import type { SecretOrigins, Secrets } from './load.ts';

/** A secret a run may use that is bound to origins. */
export interface BoundSecret {
  name: string;
  value: string;
  origins: readonly string[];
}

/** The secrets among `names` that the agent has and binds to origins. */
export function boundSecrets(names: readonly string[], values: Secrets, origins: SecretOrigins): BoundSecret[] {
  return names.flatMap((name) => (Object.hasOwn(values, name) && Object.hasOwn(origins, name) && values[name] !== ''
    ? [{ name, value: values[name]!, origins: origins[name]! }] : []));
}

/** The forms a value takes in what a request carries: as it is, and percent-encoded (in a URL or a form). */
function carriedForms(value: string): string[] {
  const forms = [value];
  try {
    const component = encodeURIComponent(value);
    forms.push(component, component.replace(/%20/g, '+'), encodeURI(value));
  } catch { /* a lone surrogate cannot be percent-encoded: only the raw form can be carried */ }
  return [...new Set(forms)];
}

/**
 * Why a request to `url` that carries `parts` (its URL, header values, body) must not be sent: the
 * first bound secret whose value it carries to an origin not allowed for it; `undefined` when none.
 */
export function deniedSecretOrigin(url: URL, parts: ReadonlyArray<string | undefined>, bound: readonly BoundSecret[]): string | undefined {
  if (bound.length === 0) return undefined;
  const origin = url.origin;
  for (const secret of bound) {
    if (secret.origins.includes(origin)) continue;
    const forms = carriedForms(secret.value);
    if (parts.some((part) => part !== undefined && forms.some((form) => part.includes(form)))) {
      return `request to ${origin} refused: it carries secret "${secret.name}", which this agent sends only to ${secret.origins.join(', ')}`;
    }
  }
  return undefined;
}
