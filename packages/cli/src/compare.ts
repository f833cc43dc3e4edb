/**
 * `fuselab compare` (issue #6): not implemented yet.
 */
export async function compareCommand(_args: string[]): Promise<number> {
  process.stderr.write('fuselab compare: not implemented yet (issue #6)\n');
  return 2;
}
