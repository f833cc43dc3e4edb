/**
 * `fuselab export-triton` (issue #6): not implemented yet.
 */
export async function exportTritonCommand(_args: string[]): Promise<number> {
  process.stderr.write('fuselab export-triton: not implemented yet (issue #6)\n');
  return 2;
}
