/**
 * `fuselab bench` (issue #6): not implemented yet.
 */
export async function benchCommand(_args: string[]): Promise<number> {
  process.stderr.write('fuselab bench: not implemented yet (issue #6)\n');
  return 2;
}
