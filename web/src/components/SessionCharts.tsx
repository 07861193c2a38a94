// Lag and throughput of a session over time (the engine keeps up to the last hour of samples,
// one per monitor tick; live "session" events extend the series).
import { useEffect, useRef, useState } from 'react';
import { Card, CardBody, CardTitle, EmptyState, EmptyStateBody, EmptyStateHeader, Grid, GridItem } from '@patternfly/react-core';
import { Chart, ChartArea, ChartAxis, ChartGroup, ChartVoronoiContainer } from '@patternfly/react-charts';
import type { MetricSample } from '../api';
import { formatBytes, formatLag } from '../util';

// The axes in PatternFly's theme colours (CSS variables), so that they read in the light and in
// the dark theme alike: the charts' own theme is fixed light.
const AXIS_STYLE = {
  axis: { stroke: 'var(--pf-v5-global--BorderColor--100)' },
  ticks: { stroke: 'var(--pf-v5-global--BorderColor--100)' },
  tickLabels: { fill: 'var(--pf-v5-global--Color--100)' },
  grid: { stroke: 'var(--pf-v5-global--BorderColor--100)' },
};

function useWidth<T extends HTMLElement>(): [React.RefObject<T>, number] {
  const ref = useRef<T>(null);
  const [w, setW] = useState(500);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setW(Math.max(200, Math.floor(el.clientWidth))));
    ro.observe(el);
    setW(Math.max(200, Math.floor(el.clientWidth)));
    return () => ro.disconnect();
  }, []);
  return [ref, w];
}

function TimeChart({ title, samples, value, format, color }: {
  title: string; samples: MetricSample[]; value: (s: MetricSample) => number | null; format: (v: number) => string;
  color: string;
}) {
  const [ref, width] = useWidth<HTMLDivElement>();
  // Samples whose figure is unknown are left out (a gap), never drawn as 0.
  const data = samples.flatMap((s) => {
    const y = value(s);
    return y === null ? [] : [{ x: new Date(s.at), y }];
  });
  const max = Math.max(0, ...data.map((d) => d.y));
  return (
    <Card isFullHeight>
      <CardTitle component="h2">{title}</CardTitle>
      <CardBody>
        <div ref={ref} role="region" aria-label={`${title} chart`} className="georep-chart">
          {data.length === 0 ? (
            <EmptyState variant="xs">
              <EmptyStateHeader titleText="No samples yet" headingLevel="h3" />
              <EmptyStateBody>The engine records one sample per monitor tick while the session is watched.</EmptyStateBody>
            </EmptyState>
          ) : (
            <Chart
              ariaTitle={title}
              ariaDesc={`${title} over the last ${samples.length} samples`}
              height={220}
              width={width}
              padding={{ top: 20, bottom: 50, left: 80, right: 30 }}
              scale={{ x: 'time', y: 'linear' }}
              domain={{ y: [0, max > 0 ? max * 1.15 : 1] }}
              containerComponent={
                <ChartVoronoiContainer
                  constrainToVisibleArea
                  labels={({ datum }: { datum: { x: Date; y: number } }) => `${datum.x.toLocaleTimeString()}: ${format(datum.y)}`}
                />
              }
            >
              <ChartAxis tickFormat={(t: Date | number) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })}
                tickCount={5} fixLabelOverlap style={AXIS_STYLE} />
              <ChartAxis dependentAxis showGrid tickFormat={(v: number) => format(v)} tickCount={4} style={AXIS_STYLE} />
              <ChartGroup>
                <ChartArea data={data} interpolation="monotoneX" style={{ data: { fill: color, fillOpacity: 0.25, stroke: color } }} />
              </ChartGroup>
            </Chart>
          )}
        </div>
      </CardBody>
    </Card>
  );
}

export function SessionCharts({ samples }: { samples: MetricSample[] }) {
  return (
    <Grid hasGutter md={6}>
      <GridItem>
        <TimeChart title="Lag" samples={samples} value={(s) => s.lag_seconds} format={formatLag}
          color="var(--pf-v5-global--palette--orange-300)" />
      </GridItem>
      <GridItem>
        <TimeChart title="Throughput" samples={samples} value={(s) => s.throughput_bytes_per_second}
          format={(v) => `${formatBytes(v)}/s`} color="var(--pf-v5-global--palette--blue-300)" />
      </GridItem>
    </Grid>
  );
}
