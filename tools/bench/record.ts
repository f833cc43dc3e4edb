/**
 * Appends a benchmark result to docs/BENCHMARKS.md: machine, date, command and the raw JSON.
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

export function machineDescription(): string {
  const c = cpus();
  return `${c.length} × ${c[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, ${process.platform}-${process.arch}`;
}

export function recordBenchmark(title: string, command: string, result: unknown, notes = ''): void {
  const file = new URL('../../docs/BENCHMARKS.md', import.meta.url);
  if (!existsSync(file)) writeFileSync(file, '# Benchmarks\n\nRaw results, newest last. Each entry names the machine, date and command.\n');
  const entry = [
    '',
    `## ${title} — ${new Date().toISOString().slice(0, 10)}`,
    '',
    `- machine: ${machineDescription()}`,
    `- command: \`${command}\``,
    notes ? `- notes: ${notes}` : '',
    '',
    '```json',
    JSON.stringify(result, null, 2),
    '```',
    '',
  ].filter((l, i, a) => l !== '' || a[i - 1] !== '').join('\n');
  appendFileSync(file, entry);
}
