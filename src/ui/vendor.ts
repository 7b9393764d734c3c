// The viewer's files from npm (devDependencies): the build copies them into public/vendor/ (dist), so
// that the page loads nothing from elsewhere and the runtime needs no node_modules for them; run from
// the sources, they are read from node_modules.
export const VENDOR: Readonly<Record<string, string>> = {
  'uplot.js': 'uplot/dist/uPlot.iife.min.js',
  'uplot.css': 'uplot/dist/uPlot.min.css',
};
