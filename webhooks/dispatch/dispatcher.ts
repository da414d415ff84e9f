// kube-apiserver's MutatingAdmissionWebhook and ValidatingAdmissionWebhook plugins, for requests to our
// resources (k8s.io/apiserver/pkg/admission/plugin/webhook/{generic,mutating,validating}).
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import { isDeepStrictEqual } from 'node:util';
import jsonpatch from 'fast-json-patch';
import type { Operation as PatchOperation } from 'fast-json-patch';
import { forbidden, internalError, StatusError } from '../../api/status.ts';
import type { KubeObject } from '../../api/types.ts';
import { toCelValue } from '../cel/index.ts';
import type { AdmissionConfigSource } from '../config.ts';
import { matchesNamespaceSelector, matchesObjectSelector, matchesResourceRules } from '../matching.ts';
import type { Admission, AdmissionAttributes } from '../types.ts';
import { caBundlePEM, defaultServiceResolver, postJSON, resolveTarget, WebhookCallError } from './client.ts';
import type { ServiceResolver, WebhookTarget } from './client.ts';
import { CallingWebhookError, dryRunUnsupported, rejectionError } from './errors.ts';
import { maxMatchConditions, webhooksOf } from './hooks.ts';
import type { Webhook } from './hooks.ts';
import { admissionRequest, admissionReview, InvalidResponseError, verifyAdmissionResponse } from './request.ts';

export interface WebhookDispatcherOptions {
  /** Milliseconds clock, for the latency reported when a webhook fails. */
  now?: () => number;
  /** Extra TLS settings for every webhook connection, e.g. the client certificate kube would present. */
  httpsAgentOptions?: https.AgentOptions;
  /** Where `clientConfig.service` points; by default `https://<name>.<namespace>.svc:<port>`. */
  serviceResolver?: ServiceResolver;
  /** Where failing-open and other operator notes go; console.warn by default. */
  log?: (message: string) => void;
  /** Receives the audit annotations kube would add to the request's audit event. */
  auditAnnotation?: (attrs: AdmissionAttributes, key: string, value: string) => void;
  /** Bound as `authorizer` for matchConditions, when the server has one. */
  authorizer?: unknown;
}

const validatingFailedOpenPrefix = 'failed-open.validating.webhook.admission.k8s.io/';
const mutationPrefix = 'mutation.webhook.admission.k8s.io/';
const patchPrefix = 'patch.webhook.admission.k8s.io/';
const mutationFailedOpenPrefix = `failed-open.${mutationPrefix}`;

/** One request's view shared by all webhooks: the CEL inputs are built once, on first need. */
class Invocation {
  readonly attrs: AdmissionAttributes;
  private activationValue?: Record<string, unknown>;
  private readonly authorizer: unknown;
  constructor(attrs: AdmissionAttributes, authorizer: unknown) {
    this.attrs = attrs;
    this.authorizer = authorizer;
  }

  activation(): Record<string, unknown> {
    if (!this.activationValue) {
      const a: Record<string, unknown> = {
        object: toCelValue(this.attrs.object ?? null),
        oldObject: toCelValue(this.attrs.oldObject ?? null),
        request: toCelValue(admissionRequest(this.attrs, randomUUID())),
      };
      if (this.authorizer !== undefined) a.authorizer = this.authorizer;
      this.activationValue = a;
    }
    return this.activationValue;
  }

  /** Mutating webhooks change the object the conditions look at. */
  objectChanged(): void {
    this.activationValue = undefined;
  }
}

const asStatusError = (e: unknown): StatusError =>
  e instanceof StatusError ? e : internalError(e instanceof Error ? e.message : String(e));

/** kube's cel filter error wording, aggregated as utilerrors.NewAggregate prints a list. */
const aggregate = (errs: string[]) => (errs.length === 1 ? errs[0] : `[${errs.join(', ')}]`);

function pushWarning(warnings: string[], w: string): void {
  // kube's warning recorder drops exact duplicates within one request.
  if (!warnings.includes(w)) warnings.push(w);
}

export class WebhookDispatcher implements Admission {
  private readonly source: AdmissionConfigSource;
  private readonly opts: WebhookDispatcherOptions;
  private readonly log: (message: string) => void;
  private readonly now: () => number;
  private cached?: { generation: number; mutating: Webhook[]; validating: Webhook[] };
  private readonly agents = new Map<string, https.Agent>();

  constructor(source: AdmissionConfigSource, opts: WebhookDispatcherOptions = {}) {
    this.source = source;
    this.opts = opts;
    this.log = opts.log ?? ((m) => console.warn(m));
    this.now = opts.now ?? Date.now;
  }

  /** Drops pooled connections; a long-lived server never needs it, tests and shutdown do. */
  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }

  async mutate(attrs: AdmissionAttributes, warnings: string[]): Promise<void> {
    const hooks = this.webhooks().mutating;
    if (!hooks.length) return;
    const inv = new Invocation(attrs, this.opts.authorizer);
    // Reinvocation as kube's webhookReinvokeContext: a change makes every IfNeeded webhook that ran
    // before it eligible for one more call, after the first round; changes in that round count no more.
    let previouslyInvoked = new Set<string>();
    const reinvoke = new Set<string>();
    for (const [round, eligible] of [[0, undefined], [1, reinvoke]] as const) {
      if (round === 1 && !reinvoke.size) break;
      for (let i = 0; i < hooks.length; i++) {
        const hook = hooks[i];
        if (!this.shouldCall(hook, inv)) continue;
        if (eligible && !eligible.has(hook.uid)) continue;
        const changed = await this.runMutating(hook, inv, warnings, round, i);
        if (changed) {
          inv.objectChanged();
          for (const uid of previouslyInvoked) reinvoke.add(uid);
          previouslyInvoked = new Set();
        }
        if (hook.reinvocationPolicy === 'IfNeeded') previouslyInvoked.add(hook.uid);
      }
    }
  }

  async validate(attrs: AdmissionAttributes, warnings: string[]): Promise<void> {
    const all = this.webhooks().validating;
    if (!all.length) return;
    const inv = new Invocation(attrs, this.opts.authorizer);
    const relevant = all.filter((h) => this.shouldCall(h, inv));
    // All run at once; warnings and the denial are then taken in webhook order, so the answer is stable.
    const outcomes = await Promise.all(relevant.map((h, i) => this.runValidating(h, inv, i)));
    for (const o of outcomes) for (const w of o.warnings) pushWarning(warnings, w);
    const denied = outcomes.find((o) => o.error);
    if (denied?.error) throw denied.error;
  }

  private webhooks(): { mutating: Webhook[]; validating: Webhook[] } {
    const generation = this.source.generation();
    if (this.cached?.generation !== generation) {
      const mutating = webhooksOf(this.source.mutatingWebhookConfigurations(), true);
      const validating = webhooksOf(this.source.validatingWebhookConfigurations(), false);
      this.cached = { generation, mutating, validating };
      // Connections for CA bundles no webhook uses any more are let go.
      const inUse = new Set([...mutating, ...validating].map((h) => h.clientConfig.caBundle ?? ''));
      for (const [key, agent] of this.agents) {
        if (!inUse.has(key)) {
          agent.destroy();
          this.agents.delete(key);
        }
      }
    }
    return this.cached;
  }

  /**
   * generic.Webhook.ShouldCallHook: selectors, then rules; a selector error counts only for a webhook
   * whose rules match; then matchConditions. Throws the StatusError that fails the request.
   */
  private shouldCall(hook: Webhook, inv: Invocation): boolean {
    const attrs = inv.attrs;
    let selectorError: StatusError | undefined;
    try {
      if (!matchesNamespaceSelector(hook.namespaceSelector, attrs, this.source)) return false;
    } catch (e) {
      selectorError = asStatusError(e);
    }
    try {
      if (!matchesObjectSelector(hook.objectSelector, attrs)) return false;
    } catch (e) {
      selectorError ??= asStatusError(e);
    }
    // We serve a single version of each resource, so matchPolicy Equivalent finds nothing Exact misses.
    if (!matchesResourceRules(hook.rules, attrs)) return false;
    if (selectorError) throw selectorError;
    if (!hook.matchConditions.length) return true;
    const errors: string[] = [];
    if (hook.matchConditions.length > maxMatchConditions) {
      errors.push(`matchConditions: Too many: ${hook.matchConditions.length}: must have at most ${maxMatchConditions} items`);
    } else {
      for (const c of hook.matchConditions) {
        let result: unknown;
        try {
          result = c.compiled.evaluate(inv.activation());
        } catch (e) {
          errors.push(`expression '${c.expression}' resulted in error: ${(e as Error).message}`);
          continue;
        }
        if (result === false) return false;
        if (result !== true) errors.push(`expression '${c.expression}' resulted in error: no matching overload: expected bool, got ${typeof result}`);
      }
    }
    if (!errors.length) return true;
    if (hook.failurePolicy === 'Ignore') {
      this.log(`Failed evaluating match conditions of webhook ${hook.name}, skipping it: ${aggregate(errors)}`);
      return false;
    }
    const resource = attrs.group ? `${attrs.resource}.${attrs.group}` : attrs.resource;
    const subject = attrs.name ? `${resource} ${JSON.stringify(attrs.name)}` : resource;
    throw forbidden(`${subject} is forbidden: ${aggregate(errors)}`, { name: attrs.name, group: attrs.group, kind: attrs.resource });
  }

  private annotate(attrs: AdmissionAttributes, key: string, value: string): void {
    this.opts.auditAnnotation?.(attrs, key, value);
  }

  private async runMutating(hook: Webhook, inv: Invocation, warnings: string[], round: number, index: number): Promise<boolean> {
    const start = this.now();
    let changed = false;
    try {
      changed = await this.callMutating(hook, inv.attrs, warnings, round, index);
      return changed;
    } catch (e) {
      if (!(e instanceof CallingWebhookError)) throw e;
      if (hook.failurePolicy === 'Ignore') {
        this.log(`Failed calling webhook, failing open ${hook.name} after ${this.now() - start}ms: ${e.message}`);
        this.annotate(inv.attrs, `${mutationFailedOpenPrefix}round_${round}_index_${index}`, hook.name);
        return false;
      }
      this.log(`Failed calling webhook, failing closed ${hook.name} after ${this.now() - start}ms: ${e.message}`);
      throw internalError(e.message);
    } finally {
      const value = JSON.stringify({ configuration: hook.configurationName, webhook: hook.name, mutated: changed });
      this.annotate(inv.attrs, `${mutationPrefix}round_${round}_index_${index}`, value);
    }
  }

  private async runValidating(hook: Webhook, inv: Invocation, index: number): Promise<{ warnings: string[]; error?: StatusError }> {
    const warnings: string[] = [];
    const start = this.now();
    try {
      await this.call(hook, inv.attrs, false, warnings);
      return { warnings };
    } catch (e) {
      if (e instanceof CallingWebhookError) {
        if (hook.failurePolicy === 'Ignore') {
          this.log(`Failed calling webhook, failing open ${hook.name} after ${this.now() - start}ms: ${e.message}`);
          this.annotate(inv.attrs, `${validatingFailedOpenPrefix}round_0_index_${index}`, hook.name);
          return { warnings };
        }
        this.log(`Failed calling webhook, failing closed ${hook.name} after ${this.now() - start}ms: ${e.message}`);
        return { warnings, error: internalError(e.message) };
      }
      return { warnings, error: asStatusError(e) };
    }
  }

  /** callAttrMutatingHook: call, then apply the JSONPatch to attrs.object in place. Returns whether it changed. */
  private async callMutating(hook: Webhook, attrs: AdmissionAttributes, warnings: string[], round: number, index: number): Promise<boolean> {
    const patch = await this.call(hook, attrs, true, warnings);
    if (!patch) return false;
    let ops: unknown;
    try {
      ops = JSON.parse(patch.toString('utf8'));
    } catch (e) {
      throw new CallingWebhookError(hook.name, `received undecodable patch in webhook response: ${(e as Error).message}`);
    }
    if (!Array.isArray(ops) || ops.some((op) => typeof op !== 'object' || op === null || Array.isArray(op))) {
      const what = Array.isArray(ops) ? 'array element' : ops === null ? 'null' : typeof ops;
      throw new CallingWebhookError(hook.name, `received undecodable patch in webhook response: json: cannot unmarshal ${what} into Go value of type jsonpatch.Patch`);
    }
    if (!ops.length) return false;
    const object = attrs.object;
    if (!object) throw internalError(`admission webhook "${hook.name}" attempted to modify the object, which is not supported for this operation`);
    let patched: unknown;
    try {
      patched = jsonpatch.applyPatch(object, ops as PatchOperation[], true, false).newDocument;
    } catch (e) {
      // kube treats a patch that does not apply as its own failure, whatever the failurePolicy.
      throw internalError((e as Error).message.split('\n')[0]);
    }
    if (typeof patched !== 'object' || patched === null || Array.isArray(patched)) {
      throw internalError(`admission webhook "${hook.name}" patched the object into a non-object`);
    }
    const changed = !isDeepStrictEqual(object, patched);
    this.annotate(attrs, `${patchPrefix}round_${round}_index_${index}`, JSON.stringify({
      configuration: hook.configurationName,
      webhook: hook.name,
      patch: ops,
      patchType: 'JSONPatch',
    }));
    if (changed) replaceContents(object, patched as KubeObject);
    return changed;
  }

  /** One AdmissionReview round trip. Returns the patch, if any; throws CallingWebhookError or a StatusError. */
  private async call(hook: Webhook, attrs: AdmissionAttributes, mutating: boolean, warnings: string[]): Promise<Buffer | undefined> {
    if (attrs.dryRun) {
      if (hook.sideEffects === undefined) throw new CallingWebhookError(hook.name, 'Webhook SideEffects is nil');
      if (hook.sideEffects !== 'None' && hook.sideEffects !== 'NoneOnDryRun') throw dryRunUnsupported(hook.name);
    }
    if (!hook.admissionReviewVersions.includes('v1')) {
      throw new CallingWebhookError(hook.name, 'could not create admission objects: webhook does not accept known AdmissionReview versions');
    }
    const uid = randomUUID();
    const review = admissionReview(admissionRequest(attrs, uid));
    let target: WebhookTarget;
    let agent: https.Agent;
    try {
      target = resolveTarget(hook.clientConfig, this.opts.serviceResolver ?? defaultServiceResolver);
      agent = this.agent(target.caBundle);
    } catch (e) {
      if (e instanceof WebhookCallError) throw new CallingWebhookError(hook.name, e.message);
      throw e;
    }
    let body: unknown;
    try {
      body = await postJSON(target, review, { timeoutSeconds: hook.timeoutSeconds, agent });
    } catch (e) {
      if (e instanceof WebhookCallError) throw new CallingWebhookError(hook.name, `failed to call webhook: ${e.message}`);
      throw e;
    }
    let response;
    try {
      response = verifyAdmissionResponse(uid, mutating, body);
    } catch (e) {
      if (!(e instanceof InvalidResponseError)) throw e;
      throw new CallingWebhookError(hook.name, `${e.decode ? 'failed to call webhook' : 'received invalid webhook response'}: ${e.message}`);
    }
    for (const [k, v] of Object.entries(response.auditAnnotations)) this.annotate(attrs, `${hook.name}/${k}`, v);
    for (const w of response.warnings) pushWarning(warnings, w);
    if (!response.allowed) throw rejectionError(hook.name, response.result);
    return response.patch;
  }

  /** One pooled agent per CA bundle: webhooks behind the same CA share connections. */
  private agent(caBundle: string | undefined): https.Agent {
    const key = caBundle ?? '';
    let agent = this.agents.get(key);
    if (!agent) {
      const ca = caBundlePEM(caBundle);
      agent = new https.Agent({ keepAlive: true, ...this.opts.httpsAgentOptions, ...(ca ? { ca } : {}) });
      this.agents.set(key, agent);
    }
    return agent;
  }
}

/** The store holds on to attrs.object, so a patched object is written back into the same one. */
function replaceContents(target: KubeObject, next: KubeObject): void {
  for (const k of Object.keys(target)) if (!Object.hasOwn(next, k)) delete target[k];
  Object.assign(target, next);
}
