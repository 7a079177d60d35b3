import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveServerConfig } from '../../src/config/server-config.js';
import { ServingError } from '../../src/errors/serving-error.js';
import { defaultInflightBytes, defaultMaxConnections } from '../../src/config/process-limits.js';

/** The problem lines of a CONFIG_INVALID error from resolveServerConfig. */
function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ServingError, `expected a ServingError, got ${String(error)}`);
    assert.equal(error.code, 'CONFIG_INVALID');
    const [head, ...lines] = error.message.split('\n  ');
    assert.equal(head, 'invalid server options:');
    return lines;
  }
  assert.fail('expected CONFIG_INVALID');
}

describe('resolveServerConfig: defaults', () => {
  test('only models given: every other option has its default', () => {
    const config = resolveServerConfig({ models: ['examples/models'] }, {});
    assert.deepEqual(
      { ...config },
      {
        models: ['examples/models'],
        http_port: 8000,
        host: '127.0.0.1',
        body_limit_bytes: 128 * 1024 * 1024,
        max_inference_header_bytes: 1024 * 1024,
        request_log_per_second: 100,
        log_level: 'info',
        default_max_batch_size: 64,
        strict_readiness: false,
        response_cache_bytes: 64 * 1024 * 1024,
        response_cache: 'memory',
        processes: 1,
        grpc_port: 8001,
        grpc: true,
        sagemaker: false,
        metrics: true,
        metrics_tls: true,
        prediction_log_sample_rate: 0.1,
        prediction_log_max_rows: 100_000,
        ui: true,
        open_feedback: false,
        rollout_sync: 1000,
        max_inflight_bytes: defaultInflightBytes(),
        max_queue_wait: 0,
        max_connections: defaultMaxConnections(),
        request_timeout: 60_000,
        headers_timeout: 30_000,
        keep_alive_timeout: 72_000,
        grpc_max_connection_idle: 300_000,
        drain_delay: 0,
      },
    );
  });

  test('the default body limit is at least 64 MiB (a PaddleOCR request fits)', () => {
    assert.ok(resolveServerConfig({ models: ['m'] }, {}).body_limit_bytes >= 64 * 1024 * 1024);
  });
});

describe('resolveServerConfig: environment < flags', () => {
  const env = {
    SLIPWAY_HTTP_PORT: '9000',
    SLIPWAY_HOST: '0.0.0.0',
    SLIPWAY_BODY_LIMIT_BYTES: '1048576',
    SLIPWAY_LOG_LEVEL: 'debug',
    SLIPWAY_DEFAULT_MAX_BATCH_SIZE: '16',
    SLIPWAY_STRICT_READINESS: '1',
    SLIPWAY_MAX_INFERENCE_HEADER_BYTES: '65536',
    SLIPWAY_REQUEST_LOG_PER_SECOND: '0',
  };

  test('environment variables set every option, as their typed values', () => {
    const config = resolveServerConfig({ models: ['m'] }, env);
    assert.equal(config.http_port, 9000);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.body_limit_bytes, 1048576);
    assert.equal(config.log_level, 'debug');
    assert.equal(config.default_max_batch_size, 16);
    assert.equal(config.strict_readiness, true);
    assert.equal(config.max_inference_header_bytes, 65536);
    assert.equal(config.request_log_per_second, 0);
  });

  test('flags win over the environment', () => {
    const config = resolveServerConfig(
      { models: ['m'], http_port: '9100', host: '::1', log_level: 'warn', default_max_batch_size: 0, strict_readiness: false },
      env,
    );
    assert.equal(config.http_port, 9100);
    assert.equal(config.host, '::1');
    assert.equal(config.log_level, 'warn');
    assert.equal(config.default_max_batch_size, 0);
    assert.equal(config.strict_readiness, false);
    assert.equal(config.body_limit_bytes, 1048576, 'an option without a flag keeps the environment value');
  });

  test('a flag left undefined does not hide the environment value', () => {
    assert.equal(resolveServerConfig({ models: ['m'], http_port: undefined }, env).http_port, 9000);
  });

  test("in the image (SLIPWAY_HONOUR_PORT=1), Knative's and Cloud Run's PORT wins over SLIPWAY_HTTP_PORT, and a flag over both", () => {
    const image = { SLIPWAY_HONOUR_PORT: '1', SLIPWAY_HTTP_PORT: '8000' };
    assert.equal(resolveServerConfig({ models: ['m'] }, { ...image, PORT: '8080' }).http_port, 8080);
    assert.equal(resolveServerConfig({ models: ['m'] }, image).http_port, 8000);
    assert.equal(resolveServerConfig({ models: ['m'], http_port: '9000' }, { ...image, PORT: '8080' }).http_port, 9000);
    assert.equal(resolveServerConfig({ models: ['m'] }, { ...image, PORT: '8080', SAGEMAKER_BIND_TO_PORT: '7070' }).http_port, 7070);
    assert.deepEqual(problemsOf(() => resolveServerConfig({ models: ['m'] }, { ...image, PORT: 'eighty' })), ['http_port: Invalid input: expected number, received NaN']);
  });

  test('processes, the response cache and the model name come from the environment too, and are checked', () => {
    const config = resolveServerConfig({ models: ['m'] }, { SLIPWAY_PROCESSES: '4', SLIPWAY_RESPONSE_CACHE: 'redis://cache:6379/1?ttl=60', SLIPWAY_MODEL_NAME: 'digits' });
    assert.equal(config.processes, 4);
    assert.equal(config.response_cache, 'redis://cache:6379/1?ttl=60');
    assert.equal(config.model_name, 'digits');
    assert.deepEqual(problemsOf(() => resolveServerConfig({ models: ['m'], processes: '0', response_cache: 'redis://x?ttl=abc', model_name: 'a/b' }, {})), [
      'response_cache: ttl=abc: expected a whole number of seconds, at least 1',
      'processes: Too small: expected number to be >=1',
      "model_name: expected letters, digits, '_', '-' and '.'",
    ]);
  });

  test('an empty environment variable is ignored', () => {
    assert.equal(resolveServerConfig({ models: ['m'] }, { SLIPWAY_HTTP_PORT: '' }).http_port, 8000);
  });

  test('unrelated environment variables are ignored', () => {
    const config = resolveServerConfig({ models: ['m'] }, { PORT: '1234', HOST: 'example.com', SLIPWAY_UNKNOWN: 'x' });
    assert.equal(config.http_port, 8000);
    assert.equal(config.host, '127.0.0.1');
  });

  test('rollout and poll options: URLs, and durations written for people or in milliseconds', () => {
    const config = resolveServerConfig({ models: ['m'], poll: '5s' }, { SLIPWAY_ROLLOUT_DB: 'postgres://db/ml?schema=slipway', SLIPWAY_ROLLOUT_SYNC: '250' });
    assert.equal(config.rollout_db, 'postgres://db/ml?schema=slipway');
    assert.equal(config.rollout_sync, 250);
    assert.equal(config.poll, 5000);
    assert.throws(() => resolveServerConfig({ models: ['m'], poll: 'often', rollout_db: 'mysql://x' }), (error: Error) => {
      assert.match(error.message, /poll: expected a duration such as 30s, 1m or 1m30s \(or milliseconds\), got "often"/);
      assert.match(error.message, /rollout_db: expected sqlite:PATH or postgres:\/\/…/);
      return true;
    });
  });

  test('strict_readiness reads true/false/1/0 from the environment', () => {
    assert.equal(resolveServerConfig({ models: ['m'] }, { SLIPWAY_STRICT_READINESS: 'true' }).strict_readiness, true);
    assert.equal(resolveServerConfig({ models: ['m'] }, { SLIPWAY_STRICT_READINESS: 'false' }).strict_readiness, false);
    assert.equal(resolveServerConfig({ models: ['m'] }, { SLIPWAY_STRICT_READINESS: '0' }).strict_readiness, false);
  });

  test('process.env is read when no environment is passed', () => {
    const saved = process.env.SLIPWAY_HOST;
    process.env.SLIPWAY_HOST = '10.1.2.3';
    try {
      assert.equal(resolveServerConfig({ models: ['m'] }).host, '10.1.2.3');
    } finally {
      if (saved === undefined) delete process.env.SLIPWAY_HOST;
      else process.env.SLIPWAY_HOST = saved;
    }
  });

  test('port 0 (an ephemeral port) is accepted', () => {
    assert.equal(resolveServerConfig({ models: ['m'], http_port: 0 }, {}).http_port, 0);
  });

  test('CORS origins: a comma-separated list in the environment, a list as flags', () => {
    assert.deepEqual(resolveServerConfig({ models: ['m'] }, { SLIPWAY_CORS_ORIGINS: 'https://a.example, http://127.0.0.1:5173' }).cors_origins, [
      'https://a.example',
      'http://127.0.0.1:5173',
    ]);
    assert.deepEqual(resolveServerConfig({ models: ['m'], cors_origins: ['*'] }, { SLIPWAY_CORS_ORIGINS: 'https://a.example' }).cors_origins, ['*']);
    assert.deepEqual(problemsOf(() => resolveServerConfig({ models: ['m'], cors_origins: ['https://a.example/app'] }, {})), [
      'cors_origins.0: expected an origin such as https://app.example.com (scheme and host, no path), or *',
    ]);
  });
});

describe('resolveServerConfig: problems', () => {
  test('every problem is reported at once, each with its option name', () => {
    const problems = problemsOf(() =>
      resolveServerConfig({ models: [], http_port: 70000, log_level: 'loud' }, { SLIPWAY_BODY_LIMIT_BYTES: 'lots' }),
    );
    assert.deepEqual(problems, [
      'models: give at least one model repository, model folder or .onnx file',
      'http_port: Too big: expected number to be <=65535',
      'body_limit_bytes: Invalid input: expected number, received NaN',
      'log_level: Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent"',
    ]);
  });

  test('negative, empty and unknown values', () => {
    const problems = problemsOf(() =>
      resolveServerConfig(
        { models: ['m'], http_port: -1, host: '', body_limit_bytes: 0, default_max_batch_size: -2, strict_readiness: 'yes' },
        {},
      ),
    );
    assert.deepEqual(problems, [
      'http_port: Too small: expected number to be >=0',
      'host: Too small: expected string to have >=1 characters',
      'body_limit_bytes: Too small: expected number to be >0',
      'default_max_batch_size: Too small: expected number to be >=0',
      'strict_readiness: Invalid input',
    ]);
  });

  test('a bad environment value is reported under the option name', () => {
    assert.deepEqual(problemsOf(() => resolveServerConfig({ models: ['m'] }, { SLIPWAY_HTTP_PORT: 'http' })), [
      'http_port: Invalid input: expected number, received NaN',
    ]);
  });

  test('a non-integer port is refused', () => {
    assert.deepEqual(problemsOf(() => resolveServerConfig({ models: ['m'], http_port: '80.5' }, {})), [
      'http_port: Invalid input: expected int, received number',
    ]);
  });

  test('missing models is refused', () => {
    assert.deepEqual(problemsOf(() => resolveServerConfig({}, {})), ['models: Invalid input: expected array, received undefined']);
  });
});

describe('resolveServerConfig: the result is frozen', () => {
  test('the config object cannot be changed', () => {
    const config = resolveServerConfig({ models: ['m'] }, {});
    assert.ok(Object.isFrozen(config));
    assert.throws(() => {
      (config as { http_port: number }).http_port = 1;
    }, TypeError);
    assert.equal(config.http_port, 8000);
  });

  test('the models list cannot be changed either', () => {
    const config = resolveServerConfig({ models: ['m'] }, {});
    assert.ok(Object.isFrozen(config.models));
  });

  test("the caller's flags object is not frozen or changed", () => {
    const models = ['m'];
    const flags = { models, http_port: '8080' };
    resolveServerConfig(flags, {});
    assert.equal(Object.isFrozen(flags), false);
    assert.equal(flags.http_port, '8080');
  });
});

describe('resolveServerConfig: limits, probes and drain', () => {
  test('the environment the generated manifests set is read: SLIPWAY_DRAIN_DELAY_SECONDS, SLIPWAY_HEALTH_PORT', () => {
    const config = resolveServerConfig({ models: ['m'] }, { SLIPWAY_DRAIN_DELAY_SECONDS: '10', SLIPWAY_HEALTH_PORT: '8003' });
    assert.equal(config.drain_delay, 10);
    assert.equal(config.health_port, 8003);
  });

  test('timeouts take durations; the memory budget and connection limit take numbers', () => {
    const config = resolveServerConfig(
      { models: ['m'], request_timeout: '2m', headers_timeout: '20s', keep_alive_timeout: '5s', max_inflight_bytes: '0', max_connections: '100' },
      { SLIPWAY_GRPC_MAX_CONNECTION_AGE: '1h' },
    );
    assert.deepEqual(
      [config.request_timeout, config.headers_timeout, config.keep_alive_timeout, config.max_inflight_bytes, config.max_connections, config.grpc_max_connection_age],
      [120_000, 20_000, 5_000, 0, 100, 3_600_000],
    );
  });

  test('options valid alone but not together are each named', () => {
    const problems = problemsOf(() => resolveServerConfig({ models: ['m'], headers_timeout: '90s', request_timeout: '60s', http_port: 9000, health_port: 9000 }, {}));
    assert.equal(problems.length, 2);
    assert.match(problems[0]!, /^headers_timeout: 90000 ms is above request_timeout \(60000 ms\)/);
    assert.match(problems[1]!, /^health_port: 9000 is the HTTP port/);
  });

  test('max_connections_per_ip: off by default, a positive number from a flag or SLIPWAY_MAX_CONNECTIONS_PER_IP, refused with its name otherwise', () => {
    assert.equal(resolveServerConfig({ models: ['m'] }, {}).max_connections_per_ip, undefined);
    assert.equal(resolveServerConfig({ models: ['m'] }, { SLIPWAY_MAX_CONNECTIONS_PER_IP: '64' }).max_connections_per_ip, 64);
    assert.equal(resolveServerConfig({ models: ['m'], max_connections_per_ip: '8' }, { SLIPWAY_MAX_CONNECTIONS_PER_IP: '64' }).max_connections_per_ip, 8);
    assert.match(problemsOf(() => resolveServerConfig({ models: ['m'], max_connections_per_ip: '0' }, {}))[0]!, /^max_connections_per_ip: /);
  });

  test('metrics_tls: on by default; on/off, true/false from a flag or SLIPWAY_METRICS_TLS', () => {
    assert.equal(resolveServerConfig({ models: ['m'] }, {}).metrics_tls, true);
    assert.equal(resolveServerConfig({ models: ['m'], metrics_tls: 'off' }, {}).metrics_tls, false);
    assert.equal(resolveServerConfig({ models: ['m'] }, { SLIPWAY_METRICS_TLS: 'false' }).metrics_tls, false);
    assert.match(problemsOf(() => resolveServerConfig({ models: ['m'], metrics_tls: 'maybe' }, {}))[0]!, /^metrics_tls: /);
  });

  test('max_queue_wait: off by default; auto, 0, durations and bare milliseconds, in µs; anything else is named', () => {
    const wait = (value: string | undefined, env: Record<string, string> = {}) => resolveServerConfig({ models: ['m'], max_queue_wait: value }, env).max_queue_wait;
    assert.equal(wait(undefined), 0, 'off by default: requests queue, as in Triton');
    assert.equal(wait('auto'), 'auto');
    assert.equal(wait('0'), 0);
    assert.equal(wait('20ms'), 20_000);
    assert.equal(wait('0.5ms'), 500);
    assert.equal(wait('1s'), 1_000_000);
    assert.equal(wait('15'), 15_000);
    assert.equal(wait(undefined, { SLIPWAY_MAX_QUEUE_WAIT: '5ms' }), 5000);
    assert.match(problemsOf(() => wait('soon'))[0]!, /^max_queue_wait: expected auto, 0 \(no bound\) or a duration such as 20ms/);
    assert.match(problemsOf(() => wait('-5'))[0]!, /^max_queue_wait: /);
  });

  test('a negative drain delay is refused with its name', () => {
    assert.match(problemsOf(() => resolveServerConfig({ models: ['m'] }, { SLIPWAY_DRAIN_DELAY_SECONDS: '-1' }))[0]!, /^drain_delay: /);
  });
});
