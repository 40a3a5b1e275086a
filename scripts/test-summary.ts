// Prints the test log's closing line, `N passed, N failed`: vitest's tests (from its JSON report)
// plus the API fuzz run's cases. A missing or unreadable report counts as one failure, so a run
// that never reached vitest can not read as green.
import { existsSync, readFileSync } from 'node:fs';

const [reportPath = '', fuzzCasesPath = ''] = process.argv.slice(2);

interface VitestReport {
  numPassedTests: number;
  numFailedTests: number;
}

let passed = 0;
let failed = 0;
try {
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as VitestReport;
  passed += report.numPassedTests;
  failed += report.numFailedTests;
} catch (error) {
  console.error(`[tandem] no vitest report at ${reportPath}: ${(error as Error).message}`);
  failed += 1;
}
if (fuzzCasesPath !== '' && existsSync(fuzzCasesPath)) {
  passed += Number(readFileSync(fuzzCasesPath, 'utf8').trim()) || 0;
}
console.log(`${passed} passed, ${failed} failed`);
