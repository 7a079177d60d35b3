import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AccessKeys } from '../../../src/protocol/access/access-keys.js';
import { parseKeys } from '../../../src/protocol/access/keys-file.js';
import { cookieValue, presentedKey } from '../../../src/protocol/access/presented-key.js';
import { routeAccess } from '../../../src/protocol/access/route-access.js';
import { ServingError } from '../../../src/errors/serving-error.js';

const refusal = (code: string, pattern: RegExp) => (error: unknown) => error instanceof ServingError && error.code === code && pattern.test(error.message);

describe('AccessKeys', () => {
  const keys = new AccessKeys({ keys: { inference: ['inf-key-1234'], ui: ['ui-key-12345'], admin: ['admin-token-123'] } });

  test('a key opens its group and every group below it, and nothing above', () => {
    assert.equal(keys.check('inference', 'inf-key-1234')?.group, 'inference');
    assert.equal(keys.check('inference', 'ui-key-12345')?.group, 'ui');
    assert.equal(keys.check('inference', 'admin-token-123')?.group, 'admin');
    assert.equal(keys.check('ui', 'admin-token-123')?.group, 'admin');
    assert.throws(() => keys.check('ui', 'inf-key-1234'), refusal('PERMISSION_DENIED', /opens the inference routes only; feedback reads .* need a ui \(or admin\) key/));
    assert.throws(() => keys.check('admin', 'ui-key-12345'), refusal('PERMISSION_DENIED', /opens the ui routes only/));
  });

  test('a missing key is UNAUTHENTICATED with how to send one; a wrong key says it is wrong', () => {
    assert.throws(() => keys.check('inference', undefined), refusal('UNAUTHENTICATED', /send 'Authorization: Bearer <key>' or 'x-api-key: <key>'/));
    assert.throws(() => keys.check('ui', undefined), refusal('UNAUTHENTICATED', /or sign in on the UI/));
    assert.throws(() => keys.check('inference', 'inf-key-1235'), refusal('UNAUTHENTICATED', /the API key is wrong/));
    assert.throws(() => keys.check('admin', 'nope-nope-nope'), refusal('UNAUTHENTICATED', /the admin token is wrong/));
  });

  test('groups without keys are open, except admin, which is off', () => {
    const open = new AccessKeys();
    assert.equal(open.required('inference'), false);
    assert.equal(open.required('ui'), false);
    assert.equal(open.check('inference', undefined), undefined);
    assert.equal(open.check('ui', 'anything-at-all'), undefined);
    assert.throws(() => open.check('admin', 'anything-at-all'), refusal('PERMISSION_DENIED', /start the server with --admin-token/));
  });

  test('inference keys make feedback reads need a key too; require overrides either way', () => {
    const inferenceOnly = new AccessKeys({ keys: { inference: ['inf-key-1234'] } });
    assert.equal(inferenceOnly.required('ui'), true);
    const uiRequired = new AccessKeys({ keys: { ui: ['ui-key-12345'] }, require: { ui: true } });
    assert.equal(uiRequired.required('inference'), false);
    assert.equal(uiRequired.required('ui'), true);
    const uiOpen = new AccessKeys({ keys: { ui: ['ui-key-12345'] }, require: { ui: false } });
    assert.equal(uiOpen.check('ui', undefined), undefined);
  });

  test('ids tell keys apart without revealing them', () => {
    const a = keys.identify('inf-key-1234')!;
    const b = keys.identify('ui-key-12345')!;
    assert.match(a.id, /^inference:[0-9a-f]{12}$/);
    assert.notEqual(a.id, b.id);
    assert.ok(!a.id.includes('inf-key'));
    assert.equal(keys.identify('not-a-key'), undefined);
  });
});

describe('presentedKey', () => {
  const headers = (h: Record<string, string>) => (name: string) => h[name];
  test('reads Bearer, then x-api-key, then (when asked) the sign-in cookie', () => {
    assert.equal(presentedKey(headers({ authorization: 'Bearer abc', 'x-api-key': 'def' })), 'abc');
    assert.equal(presentedKey(headers({ authorization: 'bearer   abc  ' })), 'abc');
    assert.equal(presentedKey(headers({ authorization: 'Basic Zm9vOmJhcg==', 'x-api-key': 'def' })), 'def');
    assert.equal(presentedKey(headers({ cookie: 'a=1; slipway_key=k%2B1' })), undefined);
    assert.equal(presentedKey(headers({ cookie: 'a=1; slipway_key=k%2B1' }), { cookie: true }), 'k+1');
  });
  test('cookieValue finds one cookie and survives bad encoding', () => {
    assert.equal(cookieValue('x=1;y=2', 'y'), '2');
    assert.equal(cookieValue('x=1', 'y'), undefined);
    assert.equal(cookieValue('y=%E0%A4%A', 'y'), undefined);
  });
});

describe('keys file', () => {
  test('reads <group> <key> lines, skipping comments and blank lines', () => {
    const keys = parseKeys('# keys\n\ninference  inf-key-1234\nui ui-key-12345\r\nadmin admin-token-123\ninference inf-key-5678\n', 'keys');
    assert.deepEqual(keys, { inference: ['inf-key-1234', 'inf-key-5678'], ui: ['ui-key-12345'], admin: ['admin-token-123'] });
  });
  test('reports every bad line at once by number, never echoing a key', () => {
    assert.throws(
      () => parseKeys('superuser secret-key-1\ninference short\nui two keys-here\ninference\n', 'keys_file k.txt'),
      (error: unknown) => {
        assert.ok(error instanceof ServingError && error.code === 'CONFIG_INVALID');
        assert.match(error.message, /keys_file k\.txt:\n  line 1: .*got group 'superuser'/);
        assert.match(error.message, /line 2: the inference key is shorter than 8 characters/);
        assert.match(error.message, /line 3: expected '<group> <key>' \(one key, no spaces in it\)/);
        assert.match(error.message, /line 4: /);
        assert.ok(!error.message.includes('secret-key-1') && !error.message.includes('keys-here'));
        return true;
      },
    );
  });
});

describe('routeAccess', () => {
  const cases: Array<[string, string, string, boolean?]> = [
    ['GET', '/v2/health/live', 'probe'],
    ['GET', '/v2/health/ready', 'probe'],
    ['GET', '/metrics', 'probe'],
    ['GET', '/ping', 'probe'],
    ['GET', '/', 'probe'],
    ['GET', '/', 'page', true],
    ['GET', '/flags', 'page'],
    ['GET', '/models/digits', 'page'],
    ['GET', '/ui/app-X.js', 'page'],
    ['GET', '/docs', 'docs'],
    ['GET', '/openapi.json', 'docs'],
    ['POST', '/api/session', 'session'],
    ['GET', '/api/feedback', 'feedback-read'],
    ['GET', '/api/feedback/export', 'feedback-read'],
    ['GET', '/api/feedback/blobs/ab', 'feedback-read'],
    ['POST', '/api/feedback', 'feedback-write'],
    ['POST', '/v2/repository/models/digits/load', 'admin'],
    ['PUT', '/v2/models/digits/traffic', 'admin'],
    ['POST', '/v2/models/digits/rollout/promote', 'admin'],
    ['GET', '/v2/models/digits/traffic', 'inference'],
    ['POST', '/v2/repository/index', 'inference'],
    ['POST', '/v2/models/digits/infer', 'inference'],
    ['POST', '/invocations', 'inference'],
    ['POST', '/api/models/digits/predict', 'inference'],
    ['GET', '/edge/digits/', 'inference'],
    ['GET', '/some/route/added/later', 'inference'],
  ];
  for (const [method, path, expected, html] of cases) {
    test(`${method} ${path}${html ? ' (HTML)' : ''} is ${expected}`, () => {
      assert.equal(routeAccess(method, path, { acceptsHtml: html === true }), expected);
    });
  }
  test('a configured Vertex health route is a probe', () => {
    assert.equal(routeAccess('GET', '/healthz', { extraProbes: ['/healthz'] }), 'probe');
  });
});
