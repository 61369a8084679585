// The real Backstage portal clients against a running `rubric serve` on the sample catalog
// (started and fed by tests/it/portal_node_clients.rs): the Tech Insights client of
// @backstage-community/plugin-tech-insights-common and the ScorecardApiClient of
// @red-hat-developer-hub/backstage-plugin-scorecard, each answer compared with rubric's native
// API (`GET /api/v1/entities/{tag}/scorecards`) for the same entities.
//
// Environment: RUBRIC_URL (the server), RUBRIC_TOKEN (a read token) and
// RUBRIC_TEST_BACKSTAGE_CLIENTS (where scripts/ci-backstage-clients.sh installed the packages).

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

const base = process.env.RUBRIC_URL;
const token = process.env.RUBRIC_TOKEN;
const clients = process.env.RUBRIC_TEST_BACKSTAGE_CLIENTS;
assert.ok(base && token && clients, 'RUBRIC_URL, RUBRIC_TOKEN and RUBRIC_TEST_BACKSTAGE_CLIENTS are set');

// The Tech Insights client through its package's own `./client` export.
const require = createRequire(join(clients, 'package.json'));
const { TechInsightsClient } = require('@backstage-community/plugin-tech-insights-common/client');
// The RHDH client ships in a React frontend package whose main entry needs a browser bundler
// (directory imports of @mui/material); its API module imports in plain Node.
const { ScorecardApiClient } = await import(
  pathToFileURL(
    join(clients, 'node_modules/@red-hat-developer-hub/backstage-plugin-scorecard/dist/api/index.esm.js'),
  ).href
);

const discoveryApi = { getBaseUrl: async pluginId => `${base}/api/${pluginId}` };
const techInsights = new TechInsightsClient({
  discoveryApi,
  identityApi: { getCredentials: async () => ({ token }) },
});
const fetchApi = {
  fetch: (url, init = {}) =>
    fetch(url, { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } }),
};
const scorecard = new ScorecardApiClient({ fetchApi, discoveryApi });

/** The native API's rules of an entity, each with its scorecard tag. */
async function nativeRules(name) {
  const response = await fetch(`${base}/api/v1/entities/${encodeURIComponent(name)}/scorecards`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(response.status, 200, `native results of ${name}`);
  const body = await response.json();
  return body.scorecards.flatMap(card => card.rules.map(rule => ({ card: card.scorecard, rule })));
}

/** `kind:namespace/name` → its parts. */
function parts(ref) {
  const [kind, rest] = ref.split(':');
  const [namespace, name] = rest.split('/');
  return { kind, namespace, name };
}

/** The check results of one entity agree with its native rules. */
function assertSameAsNative(name, results, native) {
  const shown = native.filter(({ rule }) => rule.outcome !== 'skipped');
  assert.equal(results.length, shown.length, `${name}: one result per rule in scope`);
  for (const { card, rule } of shown) {
    const id = `${card}/${rule.identifier}`;
    const result = results.find(r => r.check.id === id);
    assert.ok(result, `${name}: check ${id}`);
    assert.equal(result.check.type, 'json-rules-engine');
    assert.equal(result.check.name, rule.title);
    assert.equal(result.result, rule.outcome === 'pass' || rule.outcome === 'exempt', `${name} ${id}`);
    assert.equal(result.check.metadata.status, rule.outcome, `${name} ${id}`);
    assert.equal(result.check.metadata.scorecard, card);
    assert.equal(result.check.metadata.expression, rule.expression);
    for (const input of rule.inputs ?? []) {
      assert.deepEqual(result.facts[input.fact].value, input.value, `${name} ${id} ${input.fact}`);
    }
  }
}

test('Tech Insights: every client call answers the stored results', async () => {
  const bulk = await techInsights.runBulkChecks([]);
  assert.ok(bulk.length >= 9, `runBulkChecks([]) covers every entity: ${bulk.length}`);
  const checks = await techInsights.getAllChecks();
  const ids = new Set(checks.map(c => c.id));
  assert.equal(ids.size, checks.length, 'check ids are unique');

  const ruleIds = new Set();
  for (const { entity, results } of bulk) {
    const ref = parts(entity);
    const native = await nativeRules(ref.name);
    native.forEach(({ card, rule }) => ruleIds.add(`${card}/${rule.identifier}`));
    assertSameAsNative(entity, results, native);
    // One entity, as the entity page asks: the kind in its own case.
    const kind = ref.kind[0].toUpperCase() + ref.kind.slice(1);
    const one = await techInsights.runChecks({ ...ref, kind });
    assertSameAsNative(entity, one, native);
  }
  assert.deepEqual([...ids].sort(), [...ruleIds].sort(), 'getAllChecks lists every stored rule');

  const web = { namespace: 'default', kind: 'Component', name: 'checkout-web' };
  const only = await techInsights.runChecks(web, ['coverage-maturity/coverage-80']);
  assert.deepEqual(only.map(r => r.check.id), ['coverage-maturity/coverage-80']);
  const named = await techInsights.runBulkChecks(
    [web, { namespace: 'default', kind: 'component', name: 'ledger' }],
    checks.filter(c => c.id === 'coverage-maturity/coverage-50'),
  );
  assert.deepEqual(
    named.map(e => [e.entity, e.results.map(r => r.check.id)]),
    [
      ['component:default/checkout-web', ['coverage-maturity/coverage-50']],
      ['component:default/ledger', ['coverage-maturity/coverage-50']],
    ],
  );

  const schemas = await techInsights.getFactSchemas();
  assert.deepEqual(schemas.map(s => s.id), ['catalog', 'codecov']);
  assert.equal(schemas[1]['codecov.codeCoverage()'].type, 'float');
  const facts = await techInsights.getFacts(web, ['codecov', 'catalog']);
  const coverage = (await nativeRules('checkout-web'))
    .flatMap(({ rule }) => rule.inputs ?? [])
    .find(i => i.fact === 'codecov.codeCoverage()').value;
  assert.equal(facts.codecov.facts['codecov.codeCoverage()'], coverage);
  assert.equal(facts.catalog.facts['entity.type()'], 'website');

  await assert.rejects(
    techInsights.runChecks({ namespace: 'default', kind: 'Component', name: 'no-such-entity' }),
    error => error.name === 'ResponseError' && error.response.status === 404,
  );
});

test('RHDH scorecard: every client call answers the stored results', async () => {
  const { metrics } = await scorecard.getMetrics();
  assert.ok(metrics.length > 0, 'the threshold rules are metrics');
  const metricIds = metrics.map(m => m.id);
  const { metrics: two } = await scorecard.getMetrics({ metricIds: metricIds.slice(0, 2) });
  assert.deepEqual(two.map(m => m.id), metricIds.slice(0, 2));

  const bulk = await techInsights.runBulkChecks([]);
  const counts = {};
  for (const { entity } of bulk) {
    const ref = parts(entity);
    const results = await scorecard.getScorecards({
      entity: { kind: ref.kind, metadata: { namespace: ref.namespace, name: ref.name } },
    });
    const native = await nativeRules(ref.name);
    const expected = native.filter(
      ({ card, rule }) => metricIds.includes(`${card}.${rule.identifier}`) && rule.outcome !== 'skipped',
    );
    assert.equal(results.length, expected.length, `${entity}: one result per metric in scope`);
    for (const { card, rule } of expected) {
      const id = `${card}.${rule.identifier}`;
      const result = results.find(r => r.id === id);
      assert.ok(result, `${entity}: metric ${id}`);
      const evaluation = { pass: 'success', exempt: 'success', fail: 'error' }[rule.outcome] ?? null;
      assert.equal(result.result.thresholdResult.evaluation, evaluation, `${entity} ${id}`);
      assert.equal(result.metadata.title, rule.title);
      const input = (rule.inputs ?? []).find(i => i.status === 'ok' && i.fact.startsWith('codecov.'));
      assert.deepEqual(result.result.value, input ? input.value : null, `${entity} ${id}`);
      counts[id] ??= { success: 0, error: 0, considered: 0 };
      counts[id].considered += 1;
      if (evaluation) counts[id][evaluation] += 1;
    }
  }
  const entity = { kind: 'Component', metadata: { namespace: 'default', name: 'checkout-web' } };
  const chosen = await scorecard.getScorecards({ entity, metricIds: ['coverage-maturity.coverage-80'] });
  assert.deepEqual(chosen.map(r => r.id), ['coverage-maturity.coverage-80']);
  assert.deepEqual(chosen[0].result.thresholdResult.definition.rules, [
    { key: 'success', expression: '>= 80' },
    { key: 'error', expression: '< 80' },
  ]);

  for (const id of metricIds) {
    const aggregated = await scorecard.getAggregatedScorecard(id);
    const want = counts[id] ?? { success: 0, error: 0, considered: 0 };
    assert.deepEqual(aggregated.result.values, [
      { name: 'success', count: want.success },
      { name: 'error', count: want.error },
    ], id);
    assert.equal(aggregated.result.entitiesConsidered, want.considered, id);
    const metadata = await scorecard.getAggregationMetadata(id);
    assert.equal(metadata.aggregationType, 'statusGrouped');
    const page = await scorecard.getAggregatedScorecardEntities({ metricId: id, page: 1, pageSize: 100 });
    assert.equal(page.pagination.total, want.considered, id);
    assert.equal(page.entities.length, want.considered, id);
  }

  await assert.rejects(
    scorecard.getScorecards({ entity: { kind: 'Component', metadata: { namespace: 'default', name: 'ghost' } } }),
    /Failed to fetch scorecards: 404/,
  );
});
