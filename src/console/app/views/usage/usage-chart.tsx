/**
 * One usage chart: a stacked bar per bucket, one colour per endpoint or caller (Chart.js on a
 * <canvas>: it sets sizes through the CSSOM and inserts no <style>, so the strict policy holds),
 * and beside it the same numbers as a table, for screen readers and for reading exact values.
 */
import { BarElement, CategoryScale, Chart as ChartJS, Legend, LinearScale, Tooltip, type ChartData, type ChartOptions } from 'chart.js';
import Card from 'react-bootstrap/Card';
import Col from 'react-bootstrap/Col';
import Row from 'react-bootstrap/Row';
import Table from 'react-bootstrap/Table';
import { Bar } from 'react-chartjs-2';
import { formatValue, seriesLabel, type CallerNames, type Metric, type Series } from './timeline.js';

ChartJS.register(CategoryScale, LinearScale, BarElement, Legend, Tooltip);

// Bootstrap's palette, distinguishable on white; `(other)` is grey.
const COLOURS = ['#0d6efd', '#fd7e14', '#198754', '#d63384', '#6f42c1', '#20c997', '#dc3545', '#ffc107', '#0dcaf0', '#6610f2'];
const OTHER = '#adb5bd';

export function UsageChart({ metric, labels, series, names }: { metric: Metric; labels: string[]; series: Series[]; names: CallerNames }) {
  const data: ChartData<'bar'> = {
    labels,
    datasets: series.map((one, index) => ({
      label: seriesLabel(one.key, names),
      data: one.values,
      backgroundColor: one.key === '(other)' ? OTHER : COLOURS[index % COLOURS.length],
    })),
  };
  const options: ChartOptions<'bar'> = {
    // No animation: the numbers are there at once, and nothing moves for people who asked for less motion.
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    scales: { x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true } }, y: { stacked: true, beginAtZero: true, title: { display: true, text: metric.unit } } },
    plugins: { legend: { position: 'bottom' } },
  };
  const rows = labels.flatMap((label, position) => {
    const values = series.map((one) => one.values[position] ?? 0);
    return values.some((value) => value !== 0) ? [{ label, values, total: values.reduce((sum, value) => sum + value, 0) }] : [];
  });
  const titleId = `usage-${metric.id}-title`;

  return (
    <Card className="mb-4" as="section" aria-labelledby={titleId} id={`usage-${metric.id}`}>
      <Card.Body>
        <Card.Title as="h2" className="h5" id={titleId}>
          {metric.title}
        </Card.Title>
        <Row className="g-3">
          <Col lg={7}>
            <div className="usage-chart">
              <Bar data={data} options={options} role="img" aria-label={`${metric.title} per bucket, stacked by series; the table beside it has the numbers`} fallbackContent={<p>The table beside this chart has its numbers.</p>} />
            </div>
          </Col>
          <Col lg={5}>
            {rows.length === 0 ? (
              <p className="text-body-secondary" data-empty>
                None in this range.
              </p>
            ) : (
              // Focusable, so a keyboard can scroll it where the columns are wider than the screen.
              <div className="table-responsive" tabIndex={0} role="region" aria-label={`${metric.title}: the numbers`}>
                <Table size="sm" className="usage-table mb-0" data-metric={metric.id}>
                  <caption>
                    {metric.title} ({metric.unit}) per bucket with any, UTC
                  </caption>
                  <thead>
                    <tr>
                      <th scope="col">Time (UTC)</th>
                      {series.map((one) => (
                        <th scope="col" className="text-end" key={one.key} title={one.key} data-key={one.key}>
                          {seriesLabel(one.key, names)}
                        </th>
                      ))}
                      <th scope="col" className="text-end">
                        Total
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((row) => (
                      <tr key={row.label}>
                        <th scope="row">{row.label}</th>
                        {row.values.map((value, index) => (
                          <td className="text-end" key={series[index]!.key}>
                            {formatValue(value, metric)}
                          </td>
                        ))}
                        <td className="text-end">{formatValue(row.total, metric)}</td>
                      </tr>
                    ))}
                  </tbody>
                </Table>
              </div>
            )}
          </Col>
        </Row>
      </Card.Body>
    </Card>
  );
}
