import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import request from 'supertest';
import { createMetrics } from '../../apiserver/metrics.ts';
import type { RequestLabels } from '../../apiserver/metrics.ts';

const LIST_BMH: RequestLabels = {
  verb: 'LIST',
  group: 'metal3.io',
  version: 'v1alpha1',
  resource: 'baremetalhosts',
  scope: 'namespace',
};
const REQUEST_SERIES =
  'verb="LIST",dry_run="",group="metal3.io",version="v1alpha1",resource="baremetalhosts",subresource="",scope="namespace",component="apiserver"';
const RESOURCE_SERIES =
  'verb="LIST",group="metal3.io",version="v1alpha1",resource="baremetalhosts",subresource="",scope="namespace",component="apiserver"';

const lines = (text: string) => text.split('\n');

async function scrape(handler: express.RequestHandler) {
  const app = express();
  app.get('/metrics', handler);
  return request(app).get('/metrics');
}

describe('createMetrics', () => {
  it('counts requests per code and records latency and size histograms with kube buckets', async () => {
    const m = createMetrics();
    m.observeRequest(LIST_BMH, 0.03, 200, 1500);
    m.observeRequest(LIST_BMH, 0.5, 200, 150);
    m.observeRequest(LIST_BMH, 0.01, 403);
    const res = await scrape(m.handler);
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    const text = lines(res.text);
    assert.ok(text.includes(`apiserver_request_total{${REQUEST_SERIES},code="200"} 2`));
    assert.ok(text.includes(`apiserver_request_total{${REQUEST_SERIES},code="403"} 1`));
    assert.ok(text.includes(`apiserver_request_duration_seconds_count{${REQUEST_SERIES}} 3`));
    assert.ok(text.includes(`apiserver_request_duration_seconds_bucket{le="0.025",${REQUEST_SERIES}} 1`));
    assert.ok(text.includes(`apiserver_request_duration_seconds_bucket{le="0.6",${REQUEST_SERIES}} 3`));
    assert.ok(text.includes(`apiserver_request_duration_seconds_bucket{le="60",${REQUEST_SERIES}} 3`));
    // The 403 had no size: only two observations.
    assert.ok(text.includes(`apiserver_response_sizes_count{${RESOURCE_SERIES}} 2`));
    assert.ok(text.includes(`apiserver_response_sizes_bucket{le="1000",${RESOURCE_SERIES}} 1`));
    assert.ok(text.includes(`apiserver_response_sizes_bucket{le="1000000000",${RESOURCE_SERIES}} 2`));
    assert.ok(text.includes('# TYPE apiserver_request_duration_seconds histogram'));
    assert.ok(text.includes('# TYPE apiserver_request_total counter'));
  });

  it('labels dry-run and subresource requests', async () => {
    const m = createMetrics();
    m.observeRequest(
      { verb: 'PATCH', dry_run: 'All', group: 'metal3.io', version: 'v1alpha1', resource: 'baremetalhosts', subresource: 'status', scope: 'resource' },
      0.002,
      200,
    );
    const text = lines((await scrape(m.handler)).text);
    assert.ok(
      text.includes(
        'apiserver_request_total{verb="PATCH",dry_run="All",group="metal3.io",version="v1alpha1",resource="baremetalhosts",subresource="status",scope="resource",component="apiserver",code="200"} 1',
      ),
    );
  });

  it('tracks watch events, stored objects, inflight and long-running requests', async () => {
    const m = createMetrics();
    m.watchEvent('metal3.io', 'v1alpha1', 'BareMetalHost');
    m.watchEvent('metal3.io', 'v1alpha1', 'BareMetalHost');
    m.setStorageObjects('baremetalhosts.metal3.io', 7);
    m.setStorageObjects('baremetalhosts.metal3.io', 5);
    m.inflight.inc('mutating');
    m.inflight.inc('mutating');
    m.inflight.dec('mutating');
    const watch = { ...LIST_BMH, verb: 'WATCH' as const };
    m.longrunning.inc(watch);
    m.longrunning.inc(watch);
    m.longrunning.dec(watch);
    const text = lines((await scrape(m.handler)).text);
    assert.ok(text.includes('apiserver_watch_events_total{group="metal3.io",version="v1alpha1",kind="BareMetalHost"} 2'));
    assert.ok(text.includes('apiserver_storage_objects{resource="baremetalhosts.metal3.io"} 5'));
    assert.ok(text.includes('apiserver_current_inflight_requests{request_kind="mutating"} 1'));
    assert.ok(text.includes('apiserver_current_inflight_requests{request_kind="readOnly"} 0'));
    assert.ok(text.includes(`apiserver_longrunning_requests{${RESOURCE_SERIES.replace('LIST', 'WATCH')}} 1`));
  });

  it('exports Node process metrics', async () => {
    const text = (await scrape(createMetrics().handler)).text;
    assert.match(text, /^process_cpu_user_seconds_total \d/m);
    assert.match(text, /^nodejs_heap_size_used_bytes \d/m);
  });

  it('keeps each registry separate', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.watchEvent('metal3.io', 'v1alpha1', 'BareMetalHost');
    assert.match(await a.registry.metrics(), /apiserver_watch_events_total\{[^}]*\} 1/);
    assert.doesNotMatch(await b.registry.metrics(), /apiserver_watch_events_total\{/);
  });
});
