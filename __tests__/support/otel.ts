/**
 * OpenTelemetry for tests, through the SDK's in-memory exporters: install global meter and tracer
 * providers before the code under test is built, read counters and finished spans, and take them
 * down again after the file.
 */
import { metrics, trace } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

/** Collects on demand only (`reader.collect()`): a test reads exactly what it caused. */
class TestReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

export interface TestTelemetry {
  reader: MetricReader;
  spans: InMemorySpanExporter;
  /** Removes the global providers again (call in afterAll). */
  uninstall(): void;
}

/** Registers global meter and tracer providers backed by in-memory exporters. */
export function installTestTelemetry(): TestTelemetry {
  const reader = new TestReader();
  const spans = new InMemorySpanExporter();
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
  return {
    reader,
    spans,
    uninstall: () => {
      metrics.disable();
      trace.disable();
    },
  };
}

/** Sum of a counter's data points, per attribute set (JSON of the attributes). */
export function counter(rm: ResourceMetrics, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const sm of rm.scopeMetrics) {
    for (const m of sm.metrics) {
      if (m.descriptor.name !== name) continue;
      for (const dp of m.dataPoints) out[JSON.stringify(dp.attributes)] = (out[JSON.stringify(dp.attributes)] ?? 0) + (dp.value as number);
    }
  }
  return out;
}
