/**
 * The browser bundle's entry (scripts/build-web.mjs bundles it with esbuild
 * into dist/web/s2s-web.js, an ES module that also runs in Node given a
 * fetch): the model API of ./web-model.ts, and, when the document has an
 * element #s2s-app (page.html), the page of ./page.ts mounted on it.
 *
 *   import { loadModel, translate } from './s2s-web.js';
 *   await loadModel('model/');
 *   translate('I am happy.').text;
 */
import { mountPage } from './page.js';

export * from './web-model.js';
export { mountPage, attentionFigure, historyFigure } from './page.js';

if (typeof document !== 'undefined' && document.getElementById('s2s-app')) {
  void mountPage(document).catch((err: unknown) => {
    const s = document.getElementById('status');
    if (s) {
      s.textContent = `Error: ${(err as Error).message}`;
      s.dataset.kind = 'error';
    }
  });
}
