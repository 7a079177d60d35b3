import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRate } from '../../../src/config/parse-rate.js';
import { RateLimiter } from '../../../src/protocol/access/rate-limiter.js';

describe('RateLimiter (token bucket, fake clock)', () => {
  test('allows a burst, then one request per 1/rate seconds, with the RateLimit-* numbers', () => {
    let now = 0;
    const limiter = new RateLimiter({ ratePerSecond: 2, burst: 3 }, () => now);
    assert.deepEqual(
      [1, 2, 3].map(() => limiter.take('a').remaining),
      [2, 1, 0],
    );
    const refused = limiter.take('a');
    assert.equal(refused.allowed, false);
    assert.equal(refused.retryAfterSeconds, 1);
    assert.equal(refused.limit, 3);
    assert.equal(refused.resetSeconds, 2);
    now += 500;
    assert.equal(limiter.take('a').allowed, true);
    assert.equal(limiter.take('a').allowed, false);
    now += 10_000;
    assert.equal(limiter.take('a').remaining, 2, 'a bucket refills up to its burst, no further');
  });

  test('clients have their own buckets', () => {
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1 }, () => 0);
    assert.equal(limiter.take('a').allowed, true);
    assert.equal(limiter.take('a').allowed, false);
    assert.equal(limiter.take('b').allowed, true);
  });

  test('keeps at most maxClients buckets, dropping the least recently seen', () => {
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1 }, () => 0, 2);
    limiter.take('a');
    limiter.take('b');
    limiter.take('a');
    limiter.take('c');
    assert.equal(limiter.clients, 2);
    assert.equal(limiter.take('a').allowed, false, "a was seen more recently than b: its empty bucket is kept");
    assert.equal(limiter.take('b').allowed, true, 'b was dropped: a fresh, full bucket');
  });

  test('a slow rate says how long to wait', () => {
    let now = 0;
    const limiter = new RateLimiter({ ratePerSecond: 0.1, burst: 1 }, () => now);
    limiter.take('a');
    now += 2000;
    assert.equal(limiter.take('a').retryAfterSeconds, 8);
  });

  test('refuses a rate it cannot apply', () => {
    assert.throws(() => new RateLimiter({ ratePerSecond: 0, burst: 1 }), /ratePerSecond > 0/);
    assert.throws(() => new RateLimiter({ ratePerSecond: 1, burst: 0 }), /burst >= 1/);
  });
});

describe('parseRate', () => {
  test('reads per second, minute and hour', () => {
    assert.equal(parseRate('100/s'), 100);
    assert.equal(parseRate('6000/min'), 100);
    assert.equal(parseRate(' 60 / m '), 1);
    assert.equal(parseRate('3600/hour'), 1);
  });
  test('names the expected form', () => {
    assert.throws(() => parseRate('100'), /expected a rate such as 100\/s or 6000\/min, got '100'/);
    assert.throws(() => parseRate('0/s'), /above 0/);
  });
});
