// Progress of a long CLI run on stderr: at most one line every two seconds, so short runs stay quiet.
export function progress(label: (n: number) => string, everyMs = 2000): { add(n: number): void; readonly count: number } {
  let count = 0;
  let last = Date.now();
  return {
    add(n) {
      count += n;
      if (Date.now() - last >= everyMs) {
        last = Date.now();
        process.stderr.write(`${label(count)}\n`);
      }
    },
    get count() {
      return count;
    },
  };
}
