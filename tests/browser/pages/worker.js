// tests/browser/pages/worker.js — module Worker entry for the browser test (new Worker(url, {type:'module'})).
//
// Protocol: the page posts {dbOptions, params}; the worker imports /web/index.js, runs check.js's
// runCheck() and runErrorChecks(), judges them with oracle.js inside the worker, and posts back
// {ok:true, run, verdict, errors, errorProblems, isWorker} or {ok:false, error:{name,code,message,stack}}.
// Import failures surface as the Worker's `error` event, which the page turns into a rejection.

import { runCheck, runErrorChecks } from './check.js';
import { verifyRun, verifyErrors } from './oracle.js';

self.onmessage = async (ev) => {
  try {
    const veclite = await import('/web/index.js');
    const { dbOptions = {}, params = {} } = ev.data ?? {};
    const run = await runCheck(veclite, dbOptions, params);
    const verdict = verifyRun(run);
    const errors = await runErrorChecks(veclite, dbOptions);
    self.postMessage({
      ok: true, run, verdict, errors, errorProblems: verifyErrors(errors),
      isWorker: typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope,
      hasImportScripts: typeof importScripts === 'function',
    });
  } catch (e) {
    self.postMessage({ ok: false, error: { name: e?.name, code: e?.code, message: String(e?.message ?? e), stack: String(e?.stack ?? '') } });
  }
};
