/**
 * `fuselab run` (issue #6): not implemented yet.
 */
export async function runCommand(_args: string[]): Promise<number> {
  process.stderr.write('fuselab run: not implemented yet (issue #6)\n');
  return 2;
}
