/**
 * `fuselab build` (issue #6): not implemented yet.
 */
export async function buildCommand(_args: string[]): Promise<number> {
  process.stderr.write('fuselab build: not implemented yet (issue #6)\n');
  return 2;
}
