#!/usr/bin/env node
// Reads vitest's JSON report (written under CI) and prints the plain closing line CI looks for,
// "N passed, N failed". Fails when any test was skipped: under CI nothing may skip silently.
import { readFileSync } from 'node:fs';

const r = JSON.parse(readFileSync('test-results/vitest.json', 'utf8'));
const skipped = [];
for (const file of r.testResults ?? []) {
  for (const t of file.assertionResults ?? []) {
    if (t.status === 'pending' || t.status === 'skipped' || t.status === 'todo') skipped.push(`${file.name}: ${t.fullName}`);
  }
}
if (skipped.length) {
  console.error(`ci: ${skipped.length} test(s) skipped under CI — every test must run here:\n  ${skipped.join('\n  ')}`);
}
console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped.length ? `, ${skipped.length} skipped` : ''}`);
process.exit(r.numFailedTests > 0 || skipped.length > 0 || r.numTotalTests === 0 ? 1 : 0);
