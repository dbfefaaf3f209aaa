import { useState } from 'react';
import type { Api, Usage } from '../api';
import type { ListErrorHandler } from '../useTodos';
import { usePolling } from '../hooks';

interface Props {
  api: Api;
  listId: string;
  onError: ListErrorHandler;
}

export const USAGE_INTERVAL_MS = 2000;
const MAX_SAMPLES = 40;

interface Sample {
  at: number;
  usage: Usage;
}

const number = new Intl.NumberFormat();
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

/** The list's metered usage (owner only), sampled while the list is open. */
export function UsagePanel({ api, listId, onError }: Props) {
  const [samples, setSamples] = useState<Sample[]>([]);

  usePolling(async () => {
    try {
      const usage = await api.usage(listId);
      setSamples((s) => [...s, { at: Date.now(), usage }].slice(-MAX_SAMPLES));
    } catch (error) {
      onError(error, 'Could not load the usage');
    }
  }, USAGE_INTERVAL_MS);

  const last = samples.at(-1)?.usage;
  return (
    <section className="panel" aria-labelledby="usage-title">
      <h3 id="usage-title">Usage</h3>
      {!last ? (
        <p className="muted small">Loading…</p>
      ) : (
        <>
          <dl className="stats">
            <div>
              <dt>Requests</dt>
              <dd data-testid="usage-requests">{number.format(last.requests)}</dd>
            </div>
            <div>
              <dt>Read units</dt>
              <dd>{decimal.format(last.read_units)}</dd>
            </div>
            <div>
              <dt>Write units</dt>
              <dd>{decimal.format(last.write_units)}</dd>
            </div>
            <div>
              <dt>Compute</dt>
              <dd>
                {(last.compute_ms >= 100 ? number : decimal).format(Math.round(last.compute_ms * 10) / 10)}
                <span className="unit"> ms</span>
              </dd>
            </div>
          </dl>
          <RequestsChart values={samples.map((s) => s.usage.requests)} />
        </>
      )}
    </section>
  );
}

const WIDTH = 300;
const HEIGHT = 72;

/** Bars of the request count at each sample (it lags the requests by a few seconds). */
export function RequestsChart({ values }: { values: number[] }) {
  const max = Math.max(1, ...values);
  const slots = Math.max(values.length, 12);
  const slot = WIDTH / slots;
  const bar = Math.max(2, slot * 0.7);
  const label = `Requests over the last ${values.length} sample${values.length === 1 ? '' : 's'}: ${values.join(', ')}`;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT + 2}`} role="img" aria-label={label} preserveAspectRatio="none">
        <line x1="0" y1={HEIGHT + 1} x2={WIDTH} y2={HEIGHT + 1} className="axis" />
        {values.map((value, i) => {
          const h = Math.max(1, (value / max) * (HEIGHT - 4));
          return (
            <rect key={i} x={(slots - values.length + i) * slot + (slot - bar) / 2} y={HEIGHT - h} width={bar} height={h} rx="1.5">
              <title>{`${value} requests`}</title>
            </rect>
          );
        })}
      </svg>
      <figcaption className="muted small">Requests, sampled every {USAGE_INTERVAL_MS / 1000} s while the list is open</figcaption>
    </figure>
  );
}
