// The Status vocabulary lives in api/ so that webhooks/ can use it too; the server imports it from here.
export * from '../api/status.ts';
