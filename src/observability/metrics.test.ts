import { describe, expect, it } from 'vitest';
import { MetricsRegistry } from './metrics.ts';

describe('MetricsRegistry', () => {
  it('renders counters, gauges and cumulative histograms in the Prometheus text format', () => {
    const registry = new MetricsRegistry();
    const counter = registry.counter('requests_total', 'Requests.');
    counter.inc({ route: '/a', status: '200' });
    counter.inc({ status: '200', route: '/a' });
    counter.inc({ route: '/b"x', status: '500' });
    registry.gauge('up', 'Up.').collect(() => 1);
    const histogram = registry.histogram('latency_seconds', 'Latency.', [0.1, 1]);
    histogram.observe(0.05);
    histogram.observe(0.5);
    histogram.observe(5);
    expect(registry.render()).toBe(
      [
        '# HELP requests_total Requests.',
        '# TYPE requests_total counter',
        'requests_total{route="/a",status="200"} 2',
        'requests_total{route="/b\\"x",status="500"} 1',
        '# HELP up Up.',
        '# TYPE up gauge',
        'up 1',
        '# HELP latency_seconds Latency.',
        '# TYPE latency_seconds histogram',
        'latency_seconds_bucket{le="0.1"} 1',
        'latency_seconds_bucket{le="1"} 2',
        'latency_seconds_bucket{le="+Inf"} 3',
        'latency_seconds_sum 5.55',
        'latency_seconds_count 3',
        '',
      ].join('\n'),
    );
  });
});
