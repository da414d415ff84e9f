export { WebhookDispatcher } from './dispatcher.ts';
export type { WebhookDispatcherOptions } from './dispatcher.ts';
export { defaultServiceResolver } from './client.ts';
export type { ServiceResolver, WebhookClientConfig } from './client.ts';
